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
examples = ClassificationExamples.build(load_splits(cfg.data), cfg.vectorizer, cfg.train)
train, validation = examples.batches(32)
examples.report["vocabulary_size"]
```
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from textlstm.config import TrainConfig, VectorizerConfig
from textlstm.data.batching import (
    batch_by_length,
    bucket_boundaries,
    sequence_lengths,
    vectorized,
    with_known_cardinality,
)
from textlstm.data.labels import LabelEncoder
from textlstm.data.sources import Records, SkipReport
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


def _examples(texts, y, vectorizer, max_length, training: bool):
    """Unbatched `(ids, label)` pairs and the id dataset; empty sequences are
    skipped in training and become one [UNK] token otherwise."""
    ids = vectorized(texts, vectorizer)
    ds = tf.data.Dataset.zip((ids, tf.data.Dataset.from_tensor_slices(y)))
    ds = ds.filter(_non_empty) if training else ds.map(_fill_empty)
    return ds.map(_truncate(max_length)), ids


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
    _batches: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        train: Records,
        validation: Records | None,
        vectorizer_config: VectorizerConfig,
        train_config: TrainConfig,
        label_names: list[str] | None = None,
        name: str = "vectorizer",
        label_encoder=LabelEncoder,
    ) -> ClassificationExamples:
        """Encode the labels, adapt the vectorizer on the training texts and make the examples.

        Args:
            train: the training rows `(text, label)`.
            validation: the validation rows, or None (or empty).
            vectorizer_config: the vectorizer settings.
            train_config: the batching settings.
            label_names: the label names in id order (e.g. a TFDS ClassLabel's); None: sorted training labels.
            name: the vectorizer layer's name.
            label_encoder: the encoder class (`LabelEncoder`: label ids; `textlstm.multilabel.data.MultiHotEncoder`).
        """
        train_texts, train_labels = train.columns() or ([], [])
        labels = label_encoder.fit(train_labels, label_names or train.label_names)
        train_y = labels.encode(train_labels, train.where)
        vectorizer = make_vectorizer(vectorizer_config, train_texts, name=name)
        vocabulary = vectorizer.get_vocabulary()
        report = {"labels": labels.names, "vocabulary_size": len(vocabulary)}
        embeddings = None
        if vectorizer_config.pretrained_vectors:
            embeddings, report["pretrained_coverage"] = load_pretrained_vectors(
                vectorizer_config.pretrained_vectors, vocabulary, train_config.seed
            )
        max_length = vectorizer_config.max_length
        train_ds, train_ids = _examples(train_texts, train_y, vectorizer, max_length, training=True)
        val_ds = None
        if validation is not None and len(validation):
            val_texts, val_labels = validation.columns()
            val_ds = _examples(
                val_texts, labels.encode(val_labels, validation.where), vectorizer, max_length, training=False
            )[0]
        lengths = sequence_lengths(train_ids)  # one pass; also fills the cache
        keep = lengths > 0
        boundaries = bucket_boundaries(lengths[keep], train_config.buckets, max_length)
        empty = int((~keep).sum())
        if empty:
            log.warning("%d training texts standardize to no tokens; they were skipped", empty)
        report.update(
            {
                "train_examples": int(keep.sum()),
                "empty_after_standardization_skipped": empty,
                "truncated": int((lengths > max_length).sum()) if max_length else 0,
                "mean_length": float(lengths[keep].mean()) if keep.any() else 0.0,
                "bucket_boundaries": boundaries,
            }
        )
        class_weights = None
        if train_config.class_weight is not None:  # over the training examples kept (none empty)
            if train_y.ndim != 1:
                raise ConfigError("train.class_weight is for single-label classification")
            counts = np.bincount(train_y[keep], minlength=labels.num_classes)
            weights = resolve_class_weight(train_config.class_weight, labels.names, counts)
            class_weights = {n: float(w) for n, w in zip(labels.names, weights)}
        return cls(labels, vectorizer, train_ds, val_ds, boundaries, train_config, embeddings, report, class_weights)

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
