"""Multi-label examples: label sets read from TSV/CSV/JSONL files, and multi-hot targets.

Three ways to give a text's labels:

- JSONL: a JSON list, `{"text": "...", "labels": ["sports", "negative"]}` (`data.label: labels`);
- TSV/CSV: one field joined by `data.label_separator` (default `|`): `sports|negative`;
- any format: one 0/1 column per label, `data.label: [sports, politics, negative]`
  (the column names are the label names).

Rows are `(text, labels)` with `labels` a tuple of strings. A row with no
label is a `DataError` naming its file and line (or, with `data.on_bad_row:
skip`, a counted skip); so is a label that training never saw, when
evaluating.

```python
enc = MultiHotEncoder.fit([("a", "b"), ("b",)])
enc.names, enc.encode([("b",)])  # (['a', 'b'], array([[0., 1.]], dtype=float32))
```
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from textlstm.config import DataConfig
from textlstm.data import Splits
from textlstm.data.labels import stratified_split
from textlstm.data.sources import Records, SkipReport, detect_format, read_records
from textlstm.errors import DataError

TRUE = ("1", "1.0", "true", "yes")
FALSE = ("0", "0.0", "false", "no", "")


class MultiHotEncoder:
    """Label names <-> multi-hot float vectors (`(n, num_labels)`, 1.0 where a label applies).

    Args:
        names: the label names, in output order (at least 2).
    """

    multilabel = True

    def __init__(self, names: list[str]):
        if len(names) < 2:
            raise DataError(f"need at least 2 distinct labels to train a multi-label classifier, found {names}")
        self.names = list(names)
        self.index = {n: i for i, n in enumerate(self.names)}

    @classmethod
    def fit(cls, label_sets, names: list[str] | None = None) -> MultiHotEncoder:
        """Names from the training label sets, sorted (or the given `names`)."""
        if names:
            return cls(list(names))
        return cls(sorted({str(label) for labels in label_sets for label in labels}))

    @property
    def num_classes(self) -> int:
        return len(self.names)

    @property
    def binary(self) -> bool:
        return False

    def encode(self, label_sets, where: list[str] | None = None) -> np.ndarray:
        """`(n, num_labels)` float32 multi-hot rows; an unknown label is a `DataError` naming its row."""
        out = np.zeros((len(label_sets), len(self.names)), "float32")
        for i, labels in enumerate(label_sets):
            labels = (labels,) if isinstance(labels, str) else labels
            for label in labels:
                if str(label) not in self.index:
                    loc = f"{where[i]}: " if where else ""
                    raise DataError(f"{loc}label '{label}' never occurs in the training data (known: {self.names})")
                out[i, self.index[str(label)]] = 1.0
        return out


def _bad(where: str, reason: str, on_bad_row: str, skipped: SkipReport) -> None:
    if on_bad_row == "skip":
        skipped.add(where, reason)
    else:
        raise DataError(f"{where}: {reason} (set data.on_bad_row: skip to skip and count such rows)")


def _flag(value, column: str) -> bool | None:
    text = str(int(value) if isinstance(value, bool) else value).strip().lower()
    return True if text in TRUE else False if text in FALSE else None


def _label_set(value, column, separator: str):
    """The labels of one row's label value (a JSON list, a joined string, or None)."""
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(dict.fromkeys(str(v).strip() for v in value if str(v).strip()))
    return tuple(dict.fromkeys(part.strip() for part in str(value).split(separator) if part.strip()))


def _read_jsonl(path: Path, config: DataConfig) -> Records:
    if not path.exists():
        raise DataError(f"{path}: file not found")
    skipped = SkipReport()
    rows, where = [], []
    columns = config.label if isinstance(config.label, list) else None
    text_key = str(config.text)
    for number, line in enumerate(path.read_text(encoding=config.encoding).split("\n"), start=1):
        if not line.strip():
            continue
        loc = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            _bad(loc, f"invalid JSON ({err.msg})", config.on_bad_row, skipped)
            continue
        if not isinstance(obj, dict):
            _bad(loc, "expected a JSON object", config.on_bad_row, skipped)
            continue
        text = obj.get(text_key)
        if text is None or not str(text).strip():
            _bad(loc, f"missing or empty field {text_key}", config.on_bad_row, skipped)
            continue
        if columns:
            labels, bad = _columns(obj, columns)
            if bad:
                _bad(loc, bad, config.on_bad_row, skipped)
                continue
        else:
            labels = _label_set(obj.get(str(config.label)), config.label, config.label_separator)
        if not labels:
            _bad(loc, "no labels", config.on_bad_row, skipped)
            continue
        rows.append((str(text).strip(), labels))
        where.append(loc)
    if not rows:
        raise DataError(f"{path}: no usable rows ({skipped})")
    return Records(rows, where, skipped, str(path))


def _columns(values: dict, columns: list[str]) -> tuple[tuple, str | None]:
    labels = []
    for column in columns:
        flag = _flag(values.get(column, ""), column)
        if flag is None:
            return (), f"label column {column} must be 0 or 1, got {values.get(column)!r}"
        if flag:
            labels.append(column)
    return tuple(labels), None


def read_multilabel(path: str | Path, config: DataConfig) -> Records:
    """`(text, labels)` rows of one TSV/CSV/JSONL file, read as `config` says.

    Args:
        path: the file.
        config: the data section (`text`, `label`, `label_separator`, `format`, `header`, ...).
    """
    path = Path(path)
    fmt = detect_format(path, config.format)
    if fmt == "folder":
        raise DataError(f"{path}: task: multilabel reads TSV/CSV/JSONL files, not label folders")
    if fmt == "jsonl":
        return _read_jsonl(path, config)
    columns = config.label if isinstance(config.label, list) else None
    fields = [config.text, *(columns or [config.label])]
    # Zero flags are not empty values for the reader; read them as text and decide here.
    recs = read_records(
        path, fields, format=fmt, header=config.header, encoding=config.encoding, on_bad_row=config.on_bad_row
    )
    rows, where = [], []
    for row, loc in zip(recs.rows, recs.where):
        if columns:
            labels, bad = _columns(dict(zip(columns, row[1:])), columns)
            if bad:
                _bad(loc, bad, config.on_bad_row, recs.skipped)
                continue
        else:
            labels = _label_set(row[1], config.label, config.label_separator)
        if not labels:
            _bad(loc, "no labels", config.on_bad_row, recs.skipped)
            continue
        rows.append((row[0], labels))
        where.append(loc)
    if not rows:
        raise DataError(f"{path}: no usable rows ({recs.skipped})")
    return Records(rows, where, recs.skipped, str(path))


def _sample(recs: Records, n: int | None, seed: int) -> Records:
    if not n or len(recs) <= n:
        return recs
    idx = sorted(random.Random(seed).sample(range(len(recs)), n))
    return Records([recs.rows[i] for i in idx], [recs.where[i] for i in idx], recs.skipped, recs.source)


def load_multilabel_splits(config: DataConfig, seed: int = 42) -> Splits:
    """Train/validation/test `(text, labels)` rows of a `task: multilabel` data section.

    Without a validation file, a seeded `validation_fraction` of train is held
    out (stratified by each row's label set).

    Args:
        config: the data section.
        seed: seeds the held-out split, the demo corpus and `max_examples` sampling.
    """
    if config.source == "demo":
        from textlstm.multilabel.demo import demo_multilabel

        parts = demo_multilabel(config.demo_size, seed)
        recs = [
            Records(list(rows), [f"demo[{name}]#{i}" for i in range(len(rows))], SkipReport(), f"demo[{name}]")
            for rows, name in zip(parts, ("train", "validation", "test"))
        ]
        return Splits(*(_sample(r, config.max_examples, seed) for r in recs), "demo")
    if not config.train:
        raise DataError("data.train is not set: give a training file (or data.source: demo)")
    train = _sample(read_multilabel(config.train, config), config.max_examples, seed)
    if config.validation:
        validation = _sample(read_multilabel(config.validation, config), config.max_examples, seed)
    else:
        keys = ["|".join(sorted(labels)) for _, labels in train.rows]
        tr, va = stratified_split(keys, config.validation_fraction, seed)
        pick = lambda idx, skipped: Records(
            [train.rows[i] for i in idx], [train.where[i] for i in idx], skipped, train.source
        )
        train, validation = pick(tr, train.skipped), pick(va, SkipReport())
    test = _sample(read_multilabel(config.test, config), config.max_examples, seed) if config.test else None
    return Splits(train, validation, test, config.source)
