"""Streamed splits: rows re-read from files (globs of shards, `.gz`) each pass, never held in memory.

A `Stream` describes one split: the files, the parse settings of
`textlstm.data.sources` and, for a validation split held out of the
training files, which side of the hash split it keeps. It is the
`data.cache: disk | none` counterpart of `Records`: iterating it reads the
files line by line again, so memory stays bounded however many rows there
are. `scan` is the one Python statistics pass over a split (rows, label
counts, skips, a reservoir sample of texts), which raises `DataError` with
`file:line` for a bad row; `dataset` gives the rows as tf.data chunks of
`(texts, label ids)`.

```python
train = Stream("shards/train-*.tsv.gz", [1, 0], holdout=Holdout(seed=42, fraction=0.1, validation=False))
stats = train.scan(sample_size=10000)
stats.rows, stats.label_counts, len(stats.sample)
```

Held-out validation rows: a row belongs to validation iff a keyed hash of its
text (BLAKE2b, keyed by `train.seed`) falls under `data.validation_fraction`,
so the split is deterministic, independent of file order and sharding, and
duplicate texts land on one side. It is not stratified by label.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from textlstm.data.sources import SkipReport, iter_rows
from textlstm.errors import DataError

HASH_SPLIT = "hash of the text keyed by train.seed (deterministic, not stratified)"


@dataclass(frozen=True)
class Holdout:
    """One side of the hash validation split of a training source.

    Args:
        seed: keys the hash (`train.seed`).
        fraction: the share of rows held out for validation.
        validation: True: keep the held-out rows; False: keep the others.
    """

    seed: int
    fraction: float
    validation: bool

    def __post_init__(self):
        if not 0 < self.fraction < 1:
            raise DataError(f"data.validation_fraction must be between 0 and 1, got {self.fraction}")

    def keeps(self, text: str) -> bool:
        """Whether this side keeps the row of `text`.

        >>> a, b = Holdout(1, 0.5, True), Holdout(1, 0.5, False)
        >>> a.keeps("a good film") != b.keeps("a good film")
        True
        """
        return in_validation(text, self.seed, self.fraction) == self.validation


def in_validation(text: str, seed: int, fraction: float) -> bool:
    """Whether a keyed hash of `text` puts its row in the validation split.

    Args:
        text: the row's text.
        seed: the hash key (`train.seed`).
        fraction: the validation share.
    """
    key = int(seed).to_bytes(8, "little", signed=True)
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8, key=key).digest()
    return int.from_bytes(digest, "little") < fraction * 2.0**64


def reservoir(items, size: int, seed: int) -> list:
    """A uniform sample of `size` items of an iterable of unknown length in one
    pass and bounded memory (Algorithm R), seeded; all items when there are fewer.

    Args:
        items: the iterable.
        size: the sample size.
        seed: seeds the draw.

    >>> reservoir(range(3), 5, 0), len(reservoir(range(1000), 10, 0))
    ([0, 1, 2], 10)
    """
    sampler = Reservoir(size, seed)
    for item in items:
        sampler.add(item)
    return sampler.sample


class Reservoir:
    """Algorithm R, one item at a time (see `reservoir`).

    Args:
        size: the sample size.
        seed: seeds the draw.
    """

    def __init__(self, size: int, seed: int):
        self.size, self.seen, self.sample = size, 0, []
        self._rng = random.Random(seed)

    def add(self, item) -> None:
        if self.seen < self.size:
            self.sample.append(item)
        else:
            j = self._rng.randrange(self.seen + 1)
            if j < self.size:
                self.sample[j] = item
        self.seen += 1


@dataclass
class StreamStats:
    """What one pass over a stream found.

    Args:
        rows: the rows kept.
        label_counts: rows per label name.
        skipped: the rows skipped (`on_bad_row: skip`).
        sample: the reservoir sample of texts, or None when none was asked for.
        first_seen: where each label first occurs.
    """

    rows: int
    label_counts: Counter
    skipped: SkipReport
    sample: list[str] | None = None
    first_seen: dict[str, str] = field(default_factory=dict)

    def check_labels(self, labels) -> None:
        """Raise `DataError` naming the first row of a label `labels` does not know.

        Args:
            labels: a `LabelEncoder`.
        """
        for label, where in self.first_seen.items():
            if label not in labels.index:
                labels.encode([label], [where])  # raises, naming the row


class _Tally:
    """The running counts of one side of a scan."""

    def __init__(self, limit: int | None, sample_size: int | None, seed: int):
        self.limit, self.n, self.counts, self.first_seen = limit, 0, Counter(), {}
        self.sampler = Reservoir(sample_size, seed) if sample_size else None

    @property
    def full(self) -> bool:
        return self.limit is not None and self.n >= self.limit

    def add(self, text: str, label: str, where: str) -> None:
        self.n += 1
        self.counts[label] += 1
        self.first_seen.setdefault(label, where)
        if self.sampler is not None:
            self.sampler.add(text)

    def stats(self, source: str, skipped: SkipReport) -> StreamStats:
        if not self.n:
            raise DataError(f"{source}: no usable rows in this split ({skipped})")
        sample = self.sampler.sample if self.sampler else None
        return StreamStats(self.n, self.counts, skipped, sample, self.first_seen)


@dataclass
class Stream:
    """A re-iterable description of one split's `(text, label)` rows, read from files each pass.

    Args:
        path: a file, a folder-per-label tree or a glob of files (plain or `.gz`).
        fields: the text and label columns (names or 0-based indices).
        format: as `data.format`.
        header: as `data.header`.
        encoding: as `data.encoding`.
        on_bad_row: as `data.on_bad_row`.
        classes: as `data.classes` (folder trees).
        holdout: the side of the hash validation split this stream keeps (None: every row).
        max_rows: at most the first this many rows (`data.max_examples`), or None.
        label_names: the label names in id order, when the source names them.
        tfds: `(name, split, data_dir)` of a TFDS split read instead of `path`, or None.
    """

    path: str
    fields: list
    format: str = "auto"
    header: bool | None = None
    encoding: str = "utf-8"
    on_bad_row: str = "error"
    classes: list[str] | None = None
    holdout: Holdout | None = None
    max_rows: int | None = None
    label_names: list[str] | None = None
    tfds: tuple[str, str, str | None] | None = None
    stats: StreamStats | None = field(default=None, repr=False)

    @property
    def source(self) -> str:
        return f"tfds:{self.tfds[0]}[{self.tfds[1]}]" if self.tfds else str(self.path)

    def rows(self, skipped: SkipReport | None = None) -> Iterator[tuple[tuple, str]]:
        """`(row, where)` of each row, read from the files now.

        Args:
            skipped: counts the rows skipped (None: not counted).
        """
        skipped = SkipReport() if skipped is None else skipped
        if self.tfds is not None:
            from textlstm.data.tfds_source import iter_tfds

            name, split, data_dir = self.tfds
            rows = iter_tfds(name, split, [str(f) for f in self.fields], data_dir=data_dir, skipped=skipped)
        else:
            rows = iter_rows(
                self.path,
                self.fields,
                format=self.format,
                header=self.header,
                encoding=self.encoding,
                on_bad_row=self.on_bad_row,
                classes=self.classes,
                skipped=skipped,
            )
        if self.holdout is not None:
            rows = (r for r in rows if self.holdout.keeps(r[0][0]))
        return itertools.islice(rows, self.max_rows) if self.max_rows else rows

    def complements(self, other: Stream) -> bool:
        """Whether `other` is the other side of this stream's hash split (the same rows otherwise)."""
        mine, theirs = self.holdout, other.holdout
        if mine is None or theirs is None or mine.validation == theirs.validation:
            return False
        same = dataclasses.replace(other, holdout=mine, stats=None) == dataclasses.replace(self, stats=None)
        return same and (mine.seed, mine.fraction) == (theirs.seed, theirs.fraction)

    def scan(
        self, sample_size: int | None = None, seed: int = 0, labels=None, held_out: Stream | None = None
    ) -> StreamStats:
        """One pass: rows, label counts, skips and (with `sample_size`) a seeded
        reservoir sample of the texts; kept in `stats`. A bad row raises `DataError` here.

        Args:
            sample_size: how many texts to sample (None: none).
            seed: seeds the sample.
            labels: a `LabelEncoder`: a label it does not know raises `DataError` naming `file:line`.
            held_out: the other side of this stream's hash split (`complements`), counted in the same
                pass (its `stats` are set too; its skips are counted here, once).
        """
        skipped = SkipReport()
        mine = _Tally(self.max_rows, sample_size, seed)
        if held_out is None:
            for (text, label), where in self.rows(skipped):
                mine.add(text, label, where)
        else:
            if not self.complements(held_out):
                raise ValueError("held_out must be the other side of this stream's hash split")
            theirs = _Tally(held_out.max_rows, None, seed)
            everything = dataclasses.replace(self, holdout=None, max_rows=None, stats=None)
            for (text, label), where in everything.rows(skipped):
                tally = theirs if held_out.holdout.keeps(text) else mine
                if not tally.full:
                    tally.add(text, label, where)
                elif mine.full and theirs.full:
                    break
            held_out.stats = theirs.stats(held_out.source, SkipReport())
        self.stats = mine.stats(self.source, skipped)
        if labels is not None:
            self.stats.check_labels(labels)
        return self.stats

    def __len__(self) -> int:
        return (self.stats or self.scan()).rows

    @property
    def skipped(self) -> SkipReport:
        return (self.stats or self.scan()).skipped

    def chunks(self, size: int = 512) -> Iterator[tuple[list[str], list[str], list[str]]]:
        """`(texts, labels, wheres)` lists of up to `size` rows, read from the files now.

        Args:
            size: rows per chunk.
        """
        rows = self.rows()
        while True:
            chunk = list(itertools.islice(rows, size))
            if not chunk:
                return
            (texts, labels), wheres = zip(*(r for r, _ in chunk)), [w for _, w in chunk]
            yield list(texts), list(labels), wheres

    def dataset(self, labels, chunk: int = 512):
        """A tf.data dataset of `(texts, label ids)` chunks (1-D, up to `chunk`
        rows), re-reading the files on each pass; its element order is the files' order.

        Args:
            labels: the `LabelEncoder` that maps names to ids (an unknown label raises `DataError`).
            chunk: rows per element.
        """
        import tensorflow as tf

        def generate():
            for texts, names, wheres in self.chunks(chunk):
                yield np.asarray(texts, dtype=object), labels.encode(names, wheres)

        signature = (tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.int64))
        return tf.data.Dataset.from_generator(generate, output_signature=signature)

    def texts(self, chunk: int = 1024):
        """A tf.data dataset of the texts in 1-D chunks (for `TextVectorization.adapt`).

        Args:
            chunk: texts per element.
        """
        import tensorflow as tf

        def generate():
            for texts, _, _ in self.chunks(chunk):
                yield np.asarray(texts, dtype=object)

        return tf.data.Dataset.from_generator(generate, output_signature=tf.TensorSpec([None], tf.string))
