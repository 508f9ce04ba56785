"""Write output files so that a killed run never leaves a half-written one.

Each writer writes to a temporary name in the target's folder and renames it
into place when it has finished (`os.replace`, atomic within one file
system): a reader, or the next run, sees the previous complete file or the new
complete one, never a truncated one. A run killed while writing leaves the
previous file in place, and at most a stray temporary file next to it, named
`<stem>.tmp-<pid><suffix>` (`model.tmp-1234.keras`), which nothing reads.

```python
from textlstm.files import atomic_directory, atomic_path, write_text_atomic
write_text_atomic("runs/x/metrics.json", json.dumps(report))
with atomic_path("runs/x/model.keras") as tmp:      # runs/x/model.tmp-1234.keras
    model.save(tmp)
with atomic_directory("runs/x/saved_model") as tmp:  # runs/x/saved_model.tmp-1234
    tf.saved_model.save(module, str(tmp))
```

Only the standard library is used here (no TensorFlow).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "atomic_directory",
    "atomic_path",
    "is_temporary",
    "temporary_name",
    "write_bytes_atomic",
    "write_text_atomic",
]

_TMP = ".tmp-"
_OLD = ".old-"


def temporary_name(path: str | Path, tag: str = _TMP) -> Path:
    """The temporary sibling of `path` that the writers here use: the same
    folder and suffix (Keras only saves to names ending in `.keras`), with
    `.tmp-<pid>` before the suffix.

    Args:
        path: the file or folder that will be written.
        tag: `.tmp-` (the default) for what is being written, `.old-` for a
            folder being replaced.

    >>> from pathlib import Path
    >>> name = temporary_name("runs/x/model.keras")
    >>> name.parent == Path("runs/x"), name.suffix, name.name.startswith("model.tmp-")
    (True, '.keras', True)
    """
    path = Path(path)
    suffix = path.suffix
    stem = path.name[: len(path.name) - len(suffix)]
    return path.with_name(f"{stem}{tag}{os.getpid()}{suffix}")


def is_temporary(path: str | Path) -> bool:
    """Whether `path` is named like a writer's temporary file or folder here
    (`model.tmp-1234.keras`, `saved_model.old-1234`), which is never a result.

    Args:
        path: a file name or path.

    >>> is_temporary("runs/x/model.tmp-1234.keras"), is_temporary("runs/x/model.keras")
    (True, False)
    """
    name = Path(path).name
    return any(tag in name and name.split(tag, 1)[1].split(".", 1)[0].isdigit() for tag in (_TMP, _OLD))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _fsync(path: Path) -> None:
    """Flush a finished file to disk before it is renamed into place, so a
    power cut cannot leave the new name on an empty file (best effort)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to `path` to write a file to; on success it
    is renamed onto `path`, on an error (or interrupt) it is removed and
    `path` is left as it was.

    The parent folder is created. The temporary name keeps the suffix of
    `path` (see `temporary_name`), so writers that check it (Keras's
    `model.save`, matplotlib's `savefig`) accept it.

    Args:
        path: the file to write.
        fsync: flush the new file to disk before the rename.

    Yields:
        The temporary path (which does not exist yet).

    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / "notes.txt") as tmp:
    ...     _ = tmp.write_text("complete")
    >>> (folder / "notes.txt").read_text(), sorted(p.name for p in folder.iterdir())
    ('complete', ['notes.txt'])
    >>> try:
    ...     with atomic_path(folder / "notes.txt") as tmp:
    ...         _ = tmp.write_text("half")
    ...         raise RuntimeError("killed while writing")
    ... except RuntimeError:
    ...     pass
    >>> (folder / "notes.txt").read_text(), sorted(p.name for p in folder.iterdir())
    ('complete', ['notes.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    _remove(tmp)  # left by a killed process that had the same pid
    try:
        yield tmp
        if fsync:
            _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def write_bytes_atomic(path: str | Path, data: bytes, fsync: bool = True) -> Path:
    """Write `data` to `path` through a temporary file (see `atomic_path`).

    Args:
        path: the file to write; its folder is created.
        data: the whole content.
        fsync: flush the new file to disk before the rename.

    Returns:
        `path`, as a `Path`.
    """
    with atomic_path(path, fsync=fsync) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(
    path: str | Path, text: str, encoding: str = "utf-8", newline: str | None = None, fsync: bool = True
) -> Path:
    """Write `text` to `path` through a temporary file (see `atomic_path`):
    `path` holds the old text or the new, never part of the new.

    Args:
        path: the file to write; its folder is created.
        text: the whole content.
        encoding: the text encoding.
        newline: as for `open` (None translates `\\n` to the platform's line ending).
        fsync: flush the new file to disk before the rename.

    Returns:
        `path`, as a `Path`.

    >>> import json, tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "metrics.json"
    >>> write_text_atomic(path, json.dumps({"accuracy": 0.9})) == path
    True
    >>> json.loads(path.read_text())
    {'accuracy': 0.9}
    """
    with atomic_path(path, fsync=fsync) as tmp:
        with open(tmp, "w", encoding=encoding, newline=newline) as f:
            f.write(text)
    return Path(path)


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder path next to `path` to write a folder (a
    SavedModel) to; on success the old `path` is renamed away, the new one
    renamed in and the old one removed. On an error the temporary folder is
    removed and `path` is left as it was.

    Between the two renames `path` is briefly missing, with the previous
    version complete at `<name>.old-<pid>`; if a kill lands exactly there, the
    next `atomic_directory(path)` moves that version back first.

    Args:
        path: the folder to write.

    Yields:
        The temporary path (which does not exist yet; the writer creates it).

    >>> import tempfile
    >>> from pathlib import Path
    >>> target = Path(tempfile.mkdtemp()) / "saved_model"
    >>> for version in ("1", "2"):
    ...     with atomic_directory(target) as tmp:
    ...         tmp.mkdir()
    ...         _ = (tmp / "version.txt").write_text(version)
    >>> (target / "version.txt").read_text(), sorted(p.name for p in target.parent.iterdir())
    ('2', ['saved_model'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _recover(path)
    tmp, old = temporary_name(path), temporary_name(path, _OLD)
    _remove(tmp)
    _remove(old)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{tmp}: nothing was written")
        if path.exists() or path.is_symlink():
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        if old.exists() and not path.exists():
            os.replace(old, path)  # put the previous version back
        raise
    _remove(old)


def _recover(path: Path) -> None:
    """If `path` is missing but a previous version was renamed away
    (`<name>.old-<pid>`, a kill between `atomic_directory`'s renames), move
    the newest such version back."""
    if path.exists() or path.is_symlink():
        return
    olds = [p for p in path.parent.glob(f"{path.name}{_OLD}*") if is_temporary(p)]
    if olds:
        os.replace(max(olds, key=lambda p: p.stat().st_mtime), path)
