"""Data: sources, labels, vectorizers and tf.data batching.

With `data.cache: memory` (the default) the splits are `Records` in memory;
with `disk` or `none` file sources are `Stream`s (`textlstm.data.stream`),
re-read from the files on every pass, and a validation split held out of
train is a seeded hash split of the rows rather than a stratified one.

```python
from textlstm.config import DataConfig
from textlstm.data import load_splits
splits = load_splits(DataConfig(source="demo"), task="classification")
len(splits.train), splits.report()
```
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from textlstm import tasks
from textlstm.config import DataConfig
from textlstm.data.labels import LabelEncoder, stratified_split
from textlstm.data.sources import DataError, Records, SkipReport, read_records, refuse_label_folders
from textlstm.data.stream import HASH_SPLIT, Holdout, Stream


@dataclass
class Splits:
    """Train/validation/test `Records` (or, streamed, `Stream`s) of one source; test may be None."""

    train: Records | Stream
    validation: Records | Stream
    test: Records | Stream | None
    source: str

    @property
    def streamed(self) -> bool:
        return isinstance(self.train, Stream)

    def report(self) -> dict:
        """Rows and skips per split (a streamed split not yet read is read once for its counts)."""
        out = {"source": self.source}
        for name in ("train", "validation", "test"):
            recs = getattr(self, name)
            if recs is not None:
                held_out = isinstance(recs, Stream) and recs.holdout is not None
                skipped = SkipReport() if held_out and recs.holdout.validation else recs.skipped  # counted in train
                out[name] = {"rows": len(recs), "skipped": skipped.as_dict()}
        if self.streamed:
            out["streamed"] = True
            if self.train.holdout is not None:
                out["validation_split"] = HASH_SPLIT
        return out


def _fields(config: DataConfig, task: str) -> list:
    """The two columns of the task's examples (e.g. text and label)."""
    return [getattr(config, name) for name in tasks.get(task).fields]


def _check_path(config: DataConfig, task: str, path: str) -> None:
    if not tasks.get(task).label_folders:
        refuse_label_folders(path, config.format, task)


def _sample(recs: Records, n: int | None, seed: int) -> Records:
    if not n or len(recs) <= n:
        return recs
    idx = sorted(random.Random(seed).sample(range(len(recs)), n))
    return Records(
        [recs.rows[i] for i in idx], [recs.where[i] for i in idx], recs.skipped, recs.source, recs.label_names
    )


def _read_split(config: DataConfig, task: str, path_or_split: str, tfds_name: str | None) -> Records:
    fields = _fields(config, task)
    if tfds_name:
        from textlstm.data.tfds_source import read_tfds

        return read_tfds(
            tfds_name,
            path_or_split,
            [str(f) for f in fields],
            data_dir=config.data_dir,
            max_examples=config.max_examples,
        )
    _check_path(config, task, path_or_split)
    return read_records(
        path_or_split,
        fields,
        format=config.format,
        header=config.header,
        encoding=config.encoding,
        on_bad_row=config.on_bad_row,
        classes=getattr(config, "classes", None),
    )


def _stream(config: DataConfig, task: str, path: str, holdout: Holdout | None = None) -> Stream:
    tfds_name = config.tfds_name
    label_names = None
    if tfds_name:
        from textlstm.data.tfds_source import tfds_label_names

        label_names = tfds_label_names(tfds_name, [str(f) for f in _fields(config, task)], config.data_dir)
    else:
        _check_path(config, task, path)
    return Stream(
        path,
        _fields(config, task),
        format=config.format,
        header=config.header,
        encoding=config.encoding,
        on_bad_row=config.on_bad_row,
        classes=getattr(config, "classes", None),
        holdout=holdout,
        max_rows=config.max_examples,
        label_names=label_names,
        tfds=(tfds_name, path, config.data_dir) if tfds_name else None,
    )


def _load_streams(config: DataConfig, task: str, seed: int) -> Splits:
    """File (or TFDS) splits as `Stream`s; without data.validation, the seeded hash split of train."""
    tfds_name = config.tfds_name
    train_ref = config.train or ("train" if tfds_name else None)
    if not train_ref:
        raise DataError("data.train is not set: give a training file or folder (or data.source: demo)")
    if config.validation:
        train, validation = _stream(config, task, train_ref), _stream(config, task, config.validation)
    else:
        fraction = config.validation_fraction
        train = _stream(config, task, train_ref, Holdout(seed, fraction, validation=False))
        validation = _stream(config, task, train_ref, Holdout(seed, fraction, validation=True))
    test_ref = config.test or ("test" if tfds_name else None)
    test = _stream(config, task, test_ref) if test_ref else None
    return Splits(train, validation, test, config.source)


def load_splits(config: DataConfig, task: str = "classification", seed: int = 42, hold_out: bool = True) -> Splits:
    """Read train/validation/test for `task` from the source `config` names.

    Without a validation set, a deterministic split of `validation_fraction`
    of train (stratified by label for classification) is held out.

    Args:
        config: the data section.
        task: the task whose fields are read (`textlstm.tasks`).
        seed: seeds the held-out split and `max_examples` sampling.
        hold_out: False: keep every training row in `train` (validation empty
            unless the source has one), e.g. for bagging, which splits per member.

    With `data.cache: disk | none`, file sources of `task: classification`
    come back as `Stream`s (nothing is read yet; `max_examples`: the first
    rows of each split) and a held-out validation split is the seeded hash
    split (`textlstm.data.stream`); TFDS splits stream too; the demo source stays in memory.
    """
    source = config.source
    if config.cache != "memory" and task == "classification" and config.demo_name is None:
        return _load_streams(config, task, seed)
    if config.demo_name is not None:
        train, val, test = tasks.get(task).demo_splits(config.demo_size, seed, config.demo_name)
        as_recs = lambda rows, name: Records(
            list(rows), [f"demo[{name}]#{i}" for i in range(len(rows))], SkipReport(), f"demo[{name}]"
        )
        splits = Splits(as_recs(train, "train"), as_recs(val, "validation"), as_recs(test, "test"), source)
        for name in ("train", "validation", "test"):
            setattr(splits, name, _sample(getattr(splits, name), config.max_examples, seed))
        return splits
    tfds_name = config.tfds_name
    train_ref = config.train or ("train" if tfds_name else None)
    if not train_ref:
        raise DataError("data.train is not set: give a training file or folder (or data.source: demo)")
    train = _sample(_read_split(config, task, train_ref, tfds_name), config.max_examples, seed)
    val_ref = config.validation
    if val_ref:
        validation = _sample(_read_split(config, task, val_ref, tfds_name), config.max_examples, seed)
    elif not hold_out:
        validation = Records([], [], SkipReport(), train.source, train.label_names)
    else:
        keys = [r[1] for r in train.rows] if task == "classification" else [0] * len(train)
        tr_idx, va_idx = stratified_split(keys, config.validation_fraction, seed)
        pick = lambda idx: Records(
            [train.rows[i] for i in idx], [train.where[i] for i in idx], SkipReport(), train.source, train.label_names
        )
        validation = pick(va_idx)
        skipped = train.skipped
        train = pick(tr_idx)
        train.skipped = skipped
    test_ref = config.test or ("test" if tfds_name else None)
    test = _sample(_read_split(config, task, test_ref, tfds_name), config.max_examples, seed) if test_ref else None
    return Splits(train, validation, test, source)


def load_test_split(splits: Splits | None, config: DataConfig, task: str, seed: int) -> tuple[Splits, Records]:
    """`(splits, test records)`, reading the splits first when `splits` is None;
    a clear error when the source has no test data."""
    if splits is None:
        splits = load_splits(config, task, seed)
    if splits.test is None:
        raise DataError("no test data: set data.test (for TFDS, the split name)")
    return splits, splits.test


__all__ = [
    "DataConfig",
    "DataError",
    "LabelEncoder",
    "Records",
    "SkipReport",
    "Splits",
    "Stream",
    "load_splits",
    "read_records",
    "load_test_split",
]
