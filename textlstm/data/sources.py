"""Read examples from TSV/CSV/JSONL files (plain or gzipped, one file or a glob of shards) and folder-per-label trees.

Every reader is a row iterator that reads line by line (`iter_rows`), so a
file is never held in memory whole; `read_records` materializes it into
`Records`: the rows (tuples of strings, one per requested field), where each
row came from (`file:line`) and a `SkipReport` counting anything that was
skipped. With `on_bad_row="error"` (the default) a bad row raises
`DataError` naming the file, line and problem instead. The streaming path
(`textlstm.data.stream`) re-reads the same iterator, so both paths share the
parsing, the errors and the skip counting.

A path may be a glob (`shards/train-*.tsv.gz`, expanded in sorted order);
a `.gz` suffix means gzip, and the format comes from the suffix before it.

```python
from textlstm.data.sources import read_records
recs = read_records("train.tsv", fields=[1, 0])  # text column 1, label column 0
texts, labels = recs.columns()
print(recs.skipped)
```
"""

from __future__ import annotations

import csv
import glob
import gzip
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from textlstm.errors import DataError

FORMATS = ("tsv", "csv", "jsonl", "folder")
GLOB_CHARS = "*?["


@dataclass
class SkipReport:
    """Counts of skipped rows by reason, with the first few locations."""

    counts: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    max_examples: int = 5

    def add(self, where: str, reason: str) -> None:
        self.counts[reason] += 1
        if len(self.examples) < self.max_examples:
            self.examples.append(f"{where}: {reason}")

    def update(self, other: SkipReport) -> None:
        self.counts.update(other.counts)
        room = self.max_examples - len(self.examples)
        self.examples.extend(other.examples[: max(room, 0)])

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict:
        return {"total": self.total, "by_reason": dict(self.counts), "first": list(self.examples)}

    def __str__(self) -> str:
        if not self.total:
            return "no rows skipped"
        reasons = ", ".join(f"{n} {r}" for r, n in self.counts.most_common())
        return f"skipped {self.total} rows ({reasons}); first: " + "; ".join(self.examples)


@dataclass
class Records:
    """Rows read from one source, with their origins and what was skipped."""

    rows: list[tuple]
    where: list[str]
    skipped: SkipReport = field(default_factory=SkipReport)
    source: str = ""
    label_names: list[str] | None = None  # from TFDS ClassLabel features

    def __len__(self) -> int:
        return len(self.rows)

    def columns(self) -> tuple[list, ...]:
        if not self.rows:
            return ()
        return tuple(list(col) for col in zip(*self.rows))

    @classmethod
    def collect(cls, rows, skipped: SkipReport, source: str, label_names: list[str] | None = None) -> Records:
        """The `(row, where)` pairs of a row iterator (`iter_rows`, `iter_folder`, ...) held in memory.

        Args:
            rows: the `(row, where)` pairs.
            skipped: the report the iterator counts its skips in.
            source: the source's name.
            label_names: the label names in id order, when the source names them.
        """
        kept, where = [], []
        for row, loc in rows:
            kept.append(row)
            where.append(loc)
        return cls(kept, where, skipped, source, label_names)

    def head(self, n: int) -> Records:
        return Records(self.rows[:n], self.where[:n], self.skipped, self.source, self.label_names)


def is_glob(path: str | Path) -> bool:
    """Whether `path` is a glob pattern (`*`, `?` or `[`)."""
    return any(c in str(path) for c in GLOB_CHARS)


def expand(path: str | Path) -> list[Path]:
    """The files a path names: itself, or a glob's matches in sorted order.

    Args:
        path: a file, a folder or a glob (`shards/train-*.tsv.gz`).
    """
    if not is_glob(path):
        return [Path(path)]
    matches = sorted(glob.glob(str(path)))
    if not matches:
        raise DataError(f"{path}: no files match this pattern")
    return [Path(m) for m in matches]


def _format_suffix(path: Path) -> str:
    """The suffix that names the format: the one before `.gz` for gzipped files."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        return suffixes[-2] if len(suffixes) > 1 else ""
    return path.suffix.lower()


def detect_format(path: str | Path, fmt: str = "auto") -> str:
    if fmt != "auto":
        if fmt not in FORMATS:
            raise DataError(f"unknown data format '{fmt}'; expected one of {', '.join(FORMATS)}")
        return fmt
    path = Path(path)
    if path.is_dir():
        return "folder"
    suffix = _format_suffix(path)
    if suffix in (".tsv", ".txt", ".tab"):
        return "tsv"
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise DataError(f"{path}: cannot tell the format from the extension '{suffix}'; set data.format")


def _lines(path: Path, encoding: str, on_bad_row: str, skipped: SkipReport) -> Iterator[tuple[int, str]]:
    """`(line number, text)` of each physical line, read one at a time (gzip for
    `.gz`), line ending kept; a BOM is stripped; an undecodable line raises or,
    with `on_bad_row: skip`, is counted and read as blank."""
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory (set data.format: folder for a folder-per-label tree)")
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    content = False
    try:
        with opener(path, "rb") as f:
            for number, raw in enumerate(f, start=1):
                if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                content = content or bool(raw.strip())
                try:
                    line = raw.decode(encoding)
                except UnicodeDecodeError as err:
                    if on_bad_row != "skip":
                        raise DataError(
                            f"{path}:{number}: bytes {raw[err.start : err.end]!r} are not valid {encoding} "
                            f"(set data.encoding, e.g. cp1252, or data.on_bad_row: skip)"
                        ) from None
                    skipped.add(f"{path}:{number}", f"undecodable {encoding} bytes")
                    line = "\n"  # keep line numbers aligned; blank lines are ignored
                yield number, line
    except (OSError, EOFError) as err:  # a truncated or corrupt .gz
        raise DataError(f"{path}: cannot be read: {err}") from None
    if not content:
        raise DataError(f"{path}: file is empty")


def _field_index(header: list[str] | None, name: str | int, path: Path) -> int:
    if isinstance(name, int):
        return name
    if header is None:
        raise DataError(f"{path}: column '{name}' requested by name but the file has no header row")
    if name not in header:
        import difflib

        close = difflib.get_close_matches(name, header, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise DataError(f"{path}:1: no column named '{name}' in header {header}.{hint}")
    return header.index(name)


def _bad(path, line, reason, on_bad_row, skipped):
    if on_bad_row == "skip":
        skipped.add(f"{path}:{line}", reason)
    else:
        raise DataError(f"{path}:{line}: {reason} (set data.on_bad_row: skip to skip and count such rows)")


def _iter_delimited(path: Path, fields, fmt, header, encoding, on_bad_row, skipped) -> Iterator[tuple[tuple, str]]:
    lines = _lines(path, encoding, on_bad_row, skipped)
    if fmt == "tsv":
        # TSV has no quoting: a quote character is text, a tab always separates.
        rows_iter = ((number, line.rstrip("\n").rstrip("\r").split("\t")) for number, line in lines)
    else:
        reader = csv.reader(line for _, line in lines)

        def _csv_rows():
            start = 1
            try:
                for row in reader:
                    yield start, row
                    start = reader.line_num + 1
            except csv.Error as err:
                raise DataError(f"{path}:{reader.line_num}: malformed CSV: {err}") from None

        rows_iter = _csv_rows()
    if header is None:
        header = any(isinstance(f, str) for f in fields)
    names = None
    count = 0
    for line, row in rows_iter:
        if not row or all(not c.strip() for c in row):
            continue  # blank line
        if header and names is None:
            names = [c.strip() for c in row]
            idx = [_field_index(names, f, path) for f in fields]
            continue
        if names is None:
            idx = [_field_index(None, f, path) for f in fields]
            names = []
        if max(idx) >= len(row):
            _bad(path, line, f"expected at least {max(idx) + 1} columns, found {len(row)}", on_bad_row, skipped)
            continue
        values = tuple(row[i].strip() for i in idx)
        missing = [str(fields[k]) for k, v in enumerate(values) if not v]
        if missing:
            _bad(path, line, f"empty {', '.join(missing)}", on_bad_row, skipped)
            continue
        count += 1
        yield values, f"{path}:{line}"
    if not count:
        raise DataError(f"{path}: no usable rows ({skipped})")


def _iter_jsonl(path: Path, fields, encoding, on_bad_row, skipped) -> Iterator[tuple[tuple, str]]:
    count = 0
    for number, line in _lines(path, encoding, on_bad_row, skipped):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            _bad(path, number, f"invalid JSON ({err.msg})", on_bad_row, skipped)
            continue
        if not isinstance(obj, dict):
            _bad(path, number, "expected a JSON object", on_bad_row, skipped)
            continue
        values, missing = [], []
        for f in fields:
            v = obj.get(str(f))
            if v is None or (isinstance(v, str) and not v.strip()):
                missing.append(str(f))
            values.append(str(v).strip() if not isinstance(v, bool) else str(int(v)))
        if missing:
            _bad(path, number, f"missing or empty field {', '.join(missing)}", on_bad_row, skipped)
            continue
        count += 1
        yield tuple(values), f"{path}:{number}"
    if not count:
        raise DataError(f"{path}: no usable rows ({skipped})")


def _label_folders(path: Path, classes: list[str] | None) -> list[Path]:
    if not path.is_dir():
        raise DataError(f"{path}: folder not found")
    folders = sorted(p for p in path.iterdir() if p.is_dir())
    if classes:
        missing = [c for c in classes if not (path / c).is_dir()]
        if missing:
            raise DataError(f"{path}: no sub-folder for class {missing}; found {[p.name for p in folders]}")
        folders = [path / c for c in classes]
    if not folders:
        raise DataError(f"{path}: no label sub-folders (expected {path}/<label>/*.txt)")
    return folders


def iter_folder(
    path: str | Path, classes: list[str] | None, encoding: str, on_bad_row: str, skipped: SkipReport
) -> Iterator[tuple[tuple, str]]:
    """`((text, label), where)` of a folder-per-label tree, one file at a time (see `read_folder`).

    Args:
        path: the tree's root.
        classes: the label folders to use (None: all).
        encoding: the files' encoding.
        on_bad_row: `error` or `skip`.
        skipped: counts what is skipped.
    """
    path = Path(path)
    for folder in _label_folders(path, classes):
        files = sorted(folder.glob("*.txt"))
        if not files:
            raise DataError(f"{folder}: no .txt files in label folder '{folder.name}'")
        for file in files:
            try:
                text = file.read_bytes().decode(encoding).strip()
            except UnicodeDecodeError:
                _bad(file, 1, f"not valid {encoding}", on_bad_row, skipped)
                continue
            if not text:
                _bad(file, 1, "empty text", on_bad_row, skipped)
                continue
            yield (text, folder.name), f"{file}:1"


def read_folder(
    path: str | Path, classes: list[str] | None = None, encoding: str = "utf-8", on_bad_row: str = "error"
) -> Records:
    """A folder-per-label tree (`path/<label>/*.txt`, the aclImdb layout):
    rows are `(text, label)`. `classes` limits the folders used (aclImdb's
    `train/unsup` holds unlabeled reviews); folders left out are reported."""
    skipped = SkipReport()
    return Records.collect(iter_folder(path, classes, encoding, on_bad_row, skipped), skipped, str(path))


def iter_rows(
    path: str | Path,
    fields: list[str | int],
    *,
    format: str = "auto",
    header: bool | None = None,
    encoding: str = "utf-8",
    on_bad_row: str = "error",
    classes: list[str] | None = None,
    skipped: SkipReport | None = None,
) -> Iterator[tuple[tuple, str]]:
    """`(row, where)` for each usable row of a file, a folder or a glob of files,
    read line by line; arguments as `read_records`, plus `skipped`, which
    counts the rows skipped (a new report when None)."""
    if on_bad_row not in ("error", "skip"):
        raise DataError(f"data.on_bad_row must be 'error' or 'skip', got {on_bad_row!r}")
    skipped = SkipReport() if skipped is None else skipped
    for file in expand(path):
        fmt = detect_format(file, format)
        if fmt == "folder":
            yield from iter_folder(file, classes, encoding, on_bad_row, skipped)
        elif fmt == "jsonl":
            yield from _iter_jsonl(file, fields, encoding, on_bad_row, skipped)
        else:
            yield from _iter_delimited(file, fields, fmt, header, encoding, on_bad_row, skipped)


def read_records(
    path: str | Path,
    fields: list[str | int],
    *,
    format: str = "auto",
    header: bool | None = None,
    encoding: str = "utf-8",
    on_bad_row: str = "error",
    classes: list[str] | None = None,
) -> Records:
    """Read the requested `fields` (names or 0-based indices) from a file, a
    folder or a glob of files (plain or `.gz`), into memory.

    Headers: with field names a header row is expected (in every file of a
    glob); with indices none is, unless `header=True`. A folder yields
    `(text, label)` rows regardless of `fields`.
    """
    skipped = SkipReport()
    rows = iter_rows(
        path,
        fields,
        format=format,
        header=header,
        encoding=encoding,
        on_bad_row=on_bad_row,
        classes=classes,
        skipped=skipped,
    )
    return Records.collect(rows, skipped, str(path))


def refuse_label_folders(path: str | Path, format: str, task: str) -> None:
    """A `DataError` if `path` is read as a folder-per-label tree, for a task whose rows are not
    `(text, label)` (`textlstm.tasks.Task.label_folders`).

    Args:
        path: a file, folder or glob.
        format: the `data.format` it is read with.
        task: the task's name, for the message.
    """
    if format == "folder" or Path(path).is_dir():
        raise DataError(
            f"{path}: a folder-per-label tree gives (text, folder name) rows, which task: {task} does not "
            f"read; give a TSV/CSV/JSONL file (or a glob of them) with its two columns"
        )


class LabelledFileReader:
    """What `textlstm.runner.Runner.read_labelled` is for a runner whose rows are the two
    columns its task names (`textlstm.tasks.Task.fields`): `TextClassifier` and `Translator`.
    The runner has a `config` (its `PipelineConfig`)."""

    def read_labelled(self, path: str | Path, config=None) -> Records:
        """The labelled rows of `path`, read as the pipeline's `data:` section (or `config`) says
        (format, header, encoding, bad rows, classes), for `evaluate(*records.columns())`.

        Args:
            path: a file, folder or glob.
            config: the `data:` section (`textlstm.config.DataConfig`) to read it with (default: the pipeline's).
        """
        from textlstm import tasks

        config = config or self.config.data
        task = tasks.get(self.config.task)
        if not task.label_folders:
            refuse_label_folders(path, config.format, task.name)
        return read_records(
            path,
            [getattr(config, name) for name in task.fields],
            format=config.format,
            header=config.header,
            encoding=config.encoding,
            on_bad_row=config.on_bad_row,
            classes=config.classes,
        )
