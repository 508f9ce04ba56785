"""Classification examples: labelled texts -> label ids, a fitted vectorizer and
unbatched tf.data `(token_ids, label)` examples, with their report.

This is the "examples" stage of the one-way flow source -> examples ->
batches -> network -> fit -> artifact: `ClassificationExamples.build` runs
once per training run (once per member with bagging) and everything after
it only reads what it made.

```python
from textlstm.config import PipelineConfig
from textlstm.data import load_splits
cfg = PipelineConfig()
cfg.data.source = "demo"
splits = load_splits(cfg.data)
examples = ClassificationExamples.build(splits.train, splits.validation, cfg.vectorizer, cfg.train)
train, validation = examples.batches(32)
examples.report["vocabulary_size"]
```
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from textlstm.config import TrainConfig, VectorizerConfig
from textlstm.data.batching import (
    PARALLEL_CALLS,
    batch_by_length,
    bucket_boundaries,
    dataset_options,
    strip_padding,
    with_known_cardinality,
)
from textlstm.data.labels import LabelEncoder
from textlstm.data.sources import Records, SkipReport
from textlstm.data.stream import Stream, reservoir
from textlstm.data.vectorize import load_pretrained_vectors, make_vectorizer
from textlstm.errors import ConfigError, DataError

log = logging.getLogger("textlstm")


def python_records(texts, labels, name: str) -> Records:
    """`Records` of texts and labels given in Python, located as `name[i]`.

    Args:
        texts: the texts.
        labels: one label per text.
        name: how error messages name the list (`texts`, `validation`).
    """
    texts = list(texts)
    labels = list(labels) if labels is not None else None
    if labels is None or len(texts) != len(labels):
        raise DataError(
            f"{name}: give one label per text ({len(texts)} texts, {'no' if labels is None else len(labels)} labels)"
        )
    return Records(list(zip(texts, labels)), [f"{name}[{i}]" for i in range(len(texts))], SkipReport(), "python")


def resolve_class_weight(spec, names: list[str], counts) -> np.ndarray:
    """Each label's training weight from `train.class_weight`.

    `balanced` is scikit-learn's `n_samples / (n_classes * count)` over the
    training labels; a mapping gives labels by name (those left out weigh 1).

    Args:
        spec: `balanced` or `{label: weight}` (checked at read time).
        names: the label names in id order.
        counts: training examples per label id.

    >>> resolve_class_weight("balanced", ["a", "b"], [90, 10]).tolist()
    [0.5555555555555556, 5.0]
    >>> resolve_class_weight({"c": 2}, ["a", "b"], [90, 10])
    Traceback (most recent call last):
    ...
    textlstm.errors.ConfigError: train.class_weight: label 'c' does not exist (labels: a, b)
    """
    counts = np.asarray(counts, dtype="float64")
    if spec == "balanced":
        return np.divide(counts.sum(), len(names) * counts, out=np.ones(len(names)), where=counts > 0)
    weights = np.ones(len(names))
    index = {name: i for i, name in enumerate(names)}
    for label, weight in spec.items():
        if str(label) not in index:
            raise ConfigError(f"train.class_weight: label '{label}' does not exist (labels: {', '.join(names)})")
        weights[index[str(label)]] = float(weight)
    return weights


def _non_empty(ids, y):
    return tf.size(ids) > 0


def _fill_empty(ids, y):
    """An empty sequence becomes one [UNK] token (id 1), as in the saved model."""
    return tf.cond(tf.size(ids) > 0, lambda: ids, lambda: tf.ones([1], ids.dtype)), y


def _truncate(max_length):
    def truncate(ids, y):
        return (ids[:max_length] if max_length else ids), y

    return truncate


def resolve_max_length(config: VectorizerConfig, lengths: np.ndarray) -> int | None:
    """The LSTM's sequence length: `vectorizer.max_length`, or its percentile (`pNN`) of the
    training lengths `lengths` (rounded up to a whole token).

    Args:
        config: the vectorizer settings.
        lengths: the training texts' token counts (non-empty ones).

    >>> import numpy as np
    >>> from textlstm.config import VectorizerConfig
    >>> resolve_max_length(VectorizerConfig(max_length="p90"), np.arange(1, 101))
    91
    >>> resolve_max_length(VectorizerConfig(max_length=64), np.arange(1, 101))
    64
    """
    percentile = config.length_percentile
    if percentile is None:
        return config.max_length
    if not len(lengths):
        return None
    return max(1, int(np.ceil(np.percentile(lengths, percentile, method="higher"))))


def _pairs(texts, y, chunk: int = 512) -> tf.data.Dataset:
    """In-memory texts and label ids as `(texts, labels)` chunks, the shape a `Stream` gives."""
    texts = tf.constant(list(texts), dtype=tf.string)
    return tf.data.Dataset.from_tensor_slices((texts, y)).batch(chunk)


def _ids(pairs: tf.data.Dataset, vectorizer, cache: str, path: Path | None) -> tf.data.Dataset:
    """Unbatched `(ids, label)` of `(texts, labels)` chunks: vectorized in parallel,
    trailing padding stripped, then cached in memory, in the file `path` or not at all."""

    def vectorize(texts, y):
        return vectorizer(texts), y

    def strip(ids, y):
        return strip_padding(ids), y

    ds = pairs.map(vectorize, num_parallel_calls=PARALLEL_CALLS)
    if cache == "disk":
        # The vectorized chunks, not the examples: tf.data's file cache keeps an index entry of about
        # 0.5 KB per element in memory (bench/RESULTS.md, section 6), so per example it would grow with the corpus.
        ds = ds.cache(str(path))
    ds = ds.unbatch().map(strip, num_parallel_calls=PARALLEL_CALLS)
    if cache == "memory":
        ds = ds.cache()
    return ds.with_options(dataset_options())


def _length_pass(ids: tf.data.Dataset, num_classes: int) -> tuple[np.ndarray, np.ndarray | None]:
    """One pass over `(ids, label)` examples (it fills their cache): `(histogram of the
    sequence lengths, examples per label id among the non-empty ones)`, in memory
    that does not grow with the number of examples (label counts: None for multi-hot labels)."""
    sizes = ids.map(lambda x, y: (tf.size(x), y), num_parallel_calls=PARALLEL_CALLS).batch(4096)
    histogram = np.zeros(1, "int64")
    counts = np.zeros(num_classes, "int64") if sizes.element_spec[1].shape.rank == 1 else None
    for size, y in sizes:
        size = size.numpy()
        batch = np.bincount(size)
        if len(batch) > len(histogram):
            histogram = np.pad(histogram, (0, len(batch) - len(histogram)))
        histogram[: len(batch)] += batch
        if counts is not None:
            counts += np.bincount(y.numpy()[size > 0], minlength=num_classes)
    return histogram, counts


def _cache_root(cache: str, cache_dir: Path | None, name: str):
    """`(folder for the disk cache, temporary directory to keep alive or None)`;
    the folder is emptied first, so a run never reads (or trips over the lock
    files of) a cache an earlier, possibly killed run left."""
    if cache != "disk":
        return None, None
    if cache_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="textlstm-cache-")
        return Path(tmp.name), tmp
    root = Path(cache_dir) / name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    return root, None


@dataclass
class ClassificationExamples:
    """What the examples stage made from one training split (and its validation split).

    Args:
        labels: the label encoder (names from training, or given).
        vectorizer: the `TextVectorization` adapted on the training texts.
        train: unbatched `(token_ids, label_id)` training examples (none empty).
        validation: the validation examples, or None.
        boundaries: length-bucket boundaries from the training lengths.
        train_config: the batching settings (batch size, buckets, seed).
        embeddings: the pretrained embedding matrix for the vocabulary, or None.
        report: what was made: examples, vocabulary size, lengths, skips.
        class_weights: `{label: weight}` of the training examples from `train.class_weight` (None: unweighted).
        max_length: the LSTM's sequence length (`vectorizer.max_length`, a percentile resolved), or None.
    """

    labels: LabelEncoder
    vectorizer: keras.layers.TextVectorization
    train: tf.data.Dataset
    validation: tf.data.Dataset | None
    boundaries: list[int]
    train_config: TrainConfig
    embeddings: np.ndarray | None = None
    report: dict = field(default_factory=dict)
    class_weights: dict[str, float] | None = None
    max_length: int | None = None
    _batches: dict = field(default_factory=dict, repr=False)
    _cache_dir: object = field(default=None, repr=False)  # keeps a temporary disk cache alive

    @classmethod
    def build(
        cls,
        train: Records | Stream,
        validation: Records | Stream | None,
        vectorizer_config: VectorizerConfig,
        train_config: TrainConfig,
        label_names: list[str] | None = None,
        name: str = "vectorizer",
        label_encoder=LabelEncoder,
        cache: str = "memory",
        cache_dir: Path | None = None,
        full_text: bool = False,
    ) -> ClassificationExamples:
        """Encode the labels, adapt the vectorizer on the training texts and make the examples.

        Rows in memory (`Records`) and streamed rows (`Stream`) differ only up to
        the `(texts, label ids)` chunks; vectorizing, skipping empty texts,
        truncation, the cache and the batches are one code path.

        Args:
            train: the training rows `(text, label)`: `Records`, or a `Stream` (one scan for labels and skips).
            validation: the validation rows, or None (or empty).
            vectorizer_config: the vectorizer settings (`adapt_sample`: adapt on a seeded sample of texts).
            train_config: the batching settings.
            label_names: the label names in id order (e.g. a TFDS ClassLabel's); None: sorted training labels.
            name: the vectorizer layer's name.
            label_encoder: the encoder class (`LabelEncoder`: label ids; `textlstm.multilabel.data.MultiHotEncoder`).
            cache: where the token ids are cached: `memory`, `disk` (files under `cache_dir/name`,
                emptied first; a temporary folder when `cache_dir` is None) or `none` (re-made every epoch).
            cache_dir: the disk cache's folder (e.g. `<output>/cache`).
            full_text: keep every token of the examples (wide n-gram paths read the whole text; the
                network cuts the LSTM's input to `max_length`); False: cut them to `max_length` here.
        """
        sample = vectorizer_config.adapt_sample
        seed = train_config.seed
        if isinstance(train, Stream):  # one pass (with a hash validation split: for both sides)
            held_out = validation if isinstance(validation, Stream) and train.complements(validation) else None
            stats = train.scan(sample, seed, held_out=held_out)
            labels = label_encoder.fit(list(stats.label_counts), label_names or train.label_names)
            adapt_on = stats.sample if sample else train.texts().unbatch()
            adapted_on = len(stats.sample) if sample else stats.rows
            train_pairs = train.dataset(labels)
        else:
            train_texts, train_labels = train.columns() or ([], [])
            labels = label_encoder.fit(train_labels, label_names or train.label_names)
            adapt_on = reservoir(train_texts, sample, seed) if sample else train_texts
            adapted_on = len(adapt_on)
            train_pairs = _pairs(train_texts, labels.encode(train_labels, train.where))
        val_pairs = None
        if isinstance(validation, Stream):  # a label training never saw fails now, naming file:line
            (validation.stats or validation.scan()).check_labels(labels)
            val_pairs = validation.dataset(labels)
        elif validation is not None and len(validation):
            val_texts, val_labels = validation.columns()
            val_pairs = _pairs(val_texts, labels.encode(val_labels, validation.where))
        vectorizer = make_vectorizer(vectorizer_config, adapt_on, name=name)
        vocabulary = vectorizer.get_vocabulary()
        report = {"labels": labels.names, "vocabulary_size": len(vocabulary), "vocabulary_adapted_on": adapted_on}
        embeddings = None
        if vectorizer_config.pretrained_vectors:
            embeddings, report["pretrained_coverage"] = load_pretrained_vectors(
                vectorizer_config.pretrained_vectors, vocabulary, train_config.seed
            )
        root, tmp = _cache_root(cache, cache_dir, name)
        train_ids = _ids(train_pairs, vectorizer, cache, root and root / "train")
        histogram, counts = _length_pass(train_ids, labels.num_classes)  # one pass; also fills the cache
        lengths = np.repeat(np.arange(len(histogram), dtype="int32"), histogram)  # sorted; 4 bytes per example
        keep = lengths > 0
        kept = lengths[keep]
        max_length = resolve_max_length(vectorizer_config, kept)
        cut = _truncate(None if full_text else max_length)
        train_ds = train_ids.filter(_non_empty).map(cut)
        val_ds = None
        if val_pairs is not None:
            val_ids = _ids(val_pairs, vectorizer, cache, root and root / "validation")
            val_ds = val_ids.map(_fill_empty).map(cut)
        boundaries = bucket_boundaries(kept, train_config.buckets, max_length)
        empty = int((~keep).sum())
        if empty:
            log.warning("%d training texts standardize to no tokens; they were skipped", empty)
        report.update(
            {
                "train_examples": int(keep.sum()),
                "empty_after_standardization_skipped": empty,
                "max_length": max_length,
                "max_length_from": (
                    f"{vectorizer_config.max_length} of the training lengths"
                    if vectorizer_config.length_percentile is not None
                    else "vectorizer.max_length"
                ),
                "truncated": int((lengths > max_length).sum()) if max_length else 0,
                "length_percentiles": {
                    f"p{p}": int(np.percentile(kept, p, method="higher")) if len(kept) else 0
                    for p in (50, 90, 95, 99, 100)
                },
                "mean_length": float(kept.mean()) if len(kept) else 0.0,
                "bucket_boundaries": boundaries,
                "cache": cache,
            }
        )
        del lengths, keep, kept
        class_weights = None
        if train_config.class_weight is not None:  # over the training examples kept (none empty)
            if counts is None:
                raise ConfigError("train.class_weight is for single-label classification")
            weights = resolve_class_weight(train_config.class_weight, labels.names, counts)
            class_weights = {n: float(w) for n, w in zip(labels.names, weights)}
        return cls(
            labels,
            vectorizer,
            train_ds,
            val_ds,
            boundaries,
            train_config,
            embeddings,
            report,
            class_weights,
            max_length,
            _cache_dir=tmp,
        )

    def batches(self, batch_size: int | None = None):
        """`(train, validation)` datasets batched by length, right-padded, with
        a known number of batches (validation None without validation data).

        Each call makes new datasets (one counting pass each); the training
        padding fraction of each batch size is kept in `padding`.

        Args:
            batch_size: the batch size (default: `train.batch_size`).
        """
        tc = self.train_config
        batch_size = batch_size or tc.batch_size
        train = self.train
        if self.class_weights is not None:  # training only: validation stays unweighted
            table = tf.constant([self.class_weights[n] for n in self.labels.names], tf.float32)
            train = train.map(lambda ids, y: (ids, y, tf.gather(table, y)))
        train = batch_by_length(
            train, batch_size, self.boundaries, shuffle=True, seed=tc.seed, bucketing=tc.buckets > 1
        )
        train, self._batches[batch_size] = with_known_cardinality(train)
        val = None
        if self.validation is not None:
            val = batch_by_length(self.validation, batch_size, self.boundaries, bucketing=tc.buckets > 1)
            val = with_known_cardinality(val)[0]
        return train, val

    @property
    def padding(self) -> dict:
        """The training padding fraction of each batch size `batches` made."""
        return dict(self._batches)
