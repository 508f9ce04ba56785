"""TensorFlow Datasets as a source: `tfds:NAME` in a pipeline file.

```python
from textlstm.data.tfds_source import read_tfds
recs = read_tfds("imdb_reviews", "train", ["text", "label"], data_dir="~/tensorflow_datasets")
```

TFDS retries DNS for minutes when it cannot download; here a dataset that is
not prepared in `data_dir` is checked against a short network probe first and
fails at once with a message saying what to do.
"""

from __future__ import annotations

import concurrent.futures
import socket
from collections.abc import Iterator

from textlstm.data.sources import DataError, Records, SkipReport

PROBE_HOST = ("storage.googleapis.com", 443)


def network_available(timeout: float = 4.0) -> bool:
    """Can the TFDS download host be reached within `timeout` seconds?"""

    def _connect():
        with socket.create_connection(PROBE_HOST, timeout=timeout):
            return True

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(_connect).result(timeout=timeout + 1)
    except Exception:
        return False
    finally:
        pool.shutdown(wait=False)


def _builder(name: str, data_dir: str | None):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir, try_gcs=False)
    except Exception as err:  # DatasetNotFoundError and config errors
        raise DataError(f"tfds:{name}: {type(err).__name__}: {str(err).splitlines()[0]}") from None


def _decode(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _open(name: str, split: str, fields: list[str], data_dir: str | None, download: bool, max_examples: int | None):
    """`(dataset, features, ClassLabel names or None)` of a TFDS split, with clear errors."""
    import tensorflow_datasets as tfds

    builder = _builder(name, data_dir)
    where = f"tfds:{name} (data_dir={data_dir or '~/tensorflow_datasets'})"
    if not builder.is_prepared():
        if not download:
            raise DataError(
                f"{where}: not prepared and download=False; prepare it on a machine with internet "
                f"(`tfds build {name}`) and point data.data_dir at it"
            )
        if not network_available():
            raise DataError(
                f"{where}: not prepared there, and the download host {PROBE_HOST[0]} cannot be reached "
                f"(offline?). Prepare it on a machine with internet (`tfds build {name} --data_dir DIR`), "
                f"copy DIR here and set data.data_dir, or use a TSV/CSV/JSONL source"
            )
    features = builder.info.features
    available = list(features.keys()) if hasattr(features, "keys") else []
    for f in fields:
        if f not in available:
            raise DataError(f"{where}: no feature '{f}'; it has {available}")
    if split not in builder.info.splits and builder.info.splits:
        raise DataError(f"{where}: no split '{split}'; it has {list(builder.info.splits.keys())}")
    try:
        ds = tfds.load(name, split=split, data_dir=data_dir, download=download, try_gcs=False)
    except Exception as err:
        raise DataError(
            f"{where}: loading split '{split}' failed: {type(err).__name__}: {str(err).splitlines()[0]}"
        ) from None
    if max_examples:
        ds = ds.take(max_examples)
    label_names = None
    for f in fields:
        if isinstance(features[f], tfds.features.ClassLabel):
            label_names = list(features[f].names)
    return ds, features, label_names


def _rows(ds, features, label_names, name, split, fields, data_dir, skipped: SkipReport) -> Iterator[tuple[tuple, str]]:
    import tensorflow_datasets as tfds

    count = 0
    for i, ex in enumerate(tfds.as_numpy(ds)):
        values = []
        for f in fields:
            v = ex[f]
            if label_names is not None and isinstance(features[f], tfds.features.ClassLabel):
                v = label_names[int(v)] if int(v) >= 0 else ""
            values.append(_decode(v).strip())
        if any(not v for v in values):
            skipped.add(f"tfds:{name}[{split}]#{i}", "empty field")
            continue
        count += 1
        yield tuple(values), f"tfds:{name}[{split}]#{i}"
    if not count:
        where = f"tfds:{name} (data_dir={data_dir or '~/tensorflow_datasets'})"
        raise DataError(f"{where}: split '{split}' has no usable examples ({skipped})")


def iter_tfds(
    name: str,
    split: str,
    fields: list[str],
    *,
    data_dir: str | None = None,
    download: bool = True,
    max_examples: int | None = None,
    skipped: SkipReport | None = None,
) -> Iterator[tuple[tuple, str]]:
    """`(row, where)` of each usable example of a TFDS split, read one at a time (a streamed split).

    Args:
        name: the TFDS data set.
        split: the split name.
        fields: the features to read (ClassLabel ids come as their names).
        data_dir: the TFDS data directory.
        download: whether TFDS may download and prepare it.
        max_examples: at most the first this many examples.
        skipped: counts the examples skipped (empty fields).
    """
    ds, features, label_names = _open(name, split, fields, data_dir, download, max_examples)
    skipped = SkipReport() if skipped is None else skipped
    yield from _rows(ds, features, label_names, name, split, fields, data_dir, skipped)


def tfds_label_names(name: str, fields: list[str], data_dir: str | None = None) -> list[str] | None:
    """The ClassLabel names (in id order) of the first ClassLabel feature among `fields`, or None.

    Args:
        name: the TFDS data set.
        fields: the features read.
        data_dir: the TFDS data directory.
    """
    import tensorflow_datasets as tfds

    features = _builder(name, data_dir).info.features
    for f in fields:
        if f in features and isinstance(features[f], tfds.features.ClassLabel):
            return list(features[f].names)
    return None


def read_tfds(
    name: str,
    split: str,
    fields: list[str],
    *,
    data_dir: str | None = None,
    download: bool = True,
    max_examples: int | None = None,
) -> Records:
    """Rows of `fields` from a TFDS split; ClassLabel names come along."""
    ds, features, label_names = _open(name, split, fields, data_dir, download, max_examples)
    skipped = SkipReport()
    rows = _rows(ds, features, label_names, name, split, fields, data_dir, skipped)
    return Records.collect(rows, skipped, f"tfds:{name}[{split}]", label_names)
