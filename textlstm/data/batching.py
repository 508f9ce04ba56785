"""tf.data plumbing: vectorize in parallel, cache, shuffle, batch by length.

Sequences are right-padded with 0 (what cuDNN's masks need) and grouped with
`Dataset.bucket_by_sequence_length`, so a batch is padded only to its own
longest member. Bucket boundaries come from the training lengths.

```python
ids = vectorized(["a good film", "dull"], vectorizer)        # 1-D id tensors
ds = batch_by_length(tf.data.Dataset.zip((ids, labels)), batch_size=32,
                     boundaries=bucket_boundaries([3, 1], 4))
padding_fraction(ds)  # pad positions / all positions
```
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

# Parallelism is set explicitly and tf.data autotuning is off: with autotuning
# on, `fit` was seen to stall for seconds at epoch boundaries on 2-core machines
# while the previous epoch's iterator shut down.
PARALLEL_CALLS = max(2, os.cpu_count() or 2)
PREFETCH = 2


def dataset_options() -> tf.data.Options:
    options = tf.data.Options()
    options.autotune.enabled = False
    options.deterministic = True
    return options


def strip_padding(ids):
    """A right-padded 1-D id tensor without its trailing padding (id 0 is only ever padding).

    Args:
        ids: `(time,)` int ids.

    >>> import tensorflow as tf
    >>> strip_padding(tf.constant([4, 2, 0, 0])).numpy().tolist()
    [4, 2]
    """
    return ids[: tf.math.count_nonzero(ids, dtype=tf.int32)]


def vectorized(texts, vectorizer, chunk: int = 512) -> tf.data.Dataset:
    """A cached dataset of 1-D int64 id tensors, one per text, no padding.

    Texts are vectorized in chunks with a parallel `map` (TextVectorization
    works on batches); trailing padding is stripped again before unbatching.
    """
    texts = tf.data.Dataset.from_tensor_slices(tf.constant(list(texts), dtype=tf.string))
    ds = texts.batch(chunk).map(vectorizer, num_parallel_calls=PARALLEL_CALLS).unbatch()
    ds = ds.map(strip_padding, num_parallel_calls=PARALLEL_CALLS)
    return ds.cache().with_options(dataset_options())


def sequence_lengths(ids: tf.data.Dataset) -> np.ndarray:
    """Length of every sequence in a dataset of 1-D tensors (one pass)."""
    sizes = ids.map(tf.size, num_parallel_calls=PARALLEL_CALLS).batch(4096)
    return np.concatenate([b.numpy() for b in sizes] or [np.zeros(0, "int32")])


def bucket_boundaries(lengths, num_buckets: int, max_length: int | None = None) -> list[int]:
    """Upper-exclusive boundaries at the quantiles of `lengths` (after truncation)."""
    lengths = np.asarray(lengths)
    if max_length:
        lengths = np.minimum(lengths, max_length)
    lengths = lengths[lengths > 0]
    if len(lengths) == 0 or num_buckets <= 1:
        return []
    qs = np.quantile(lengths, np.linspace(0, 1, num_buckets + 1)[1:-1])
    bounds = sorted({int(q) + 1 for q in qs if int(q) + 1 <= lengths.max()})
    return [b for b in bounds if b > lengths.min()]


def _max_length(inputs):
    """The longest 1-D sequence among an element's inputs (its targets do not count: a multilabel
    target is a 1-D multi-hot vector as long as the label set, and a translation's decoder
    target is as long as its decoder input, which is among the inputs)."""
    parts = [t for t in tf.nest.flatten(inputs) if t.shape.rank == 1]
    return tf.reduce_max(tf.stack([tf.shape(t)[0] for t in parts]))


def batch_by_length(
    ds: tf.data.Dataset,
    batch_size: int,
    boundaries: list[int],
    *,
    shuffle: bool = False,
    shuffle_buffer: int = 10000,
    seed: int | None = None,
    bucketing: bool = True,
) -> tf.data.Dataset:
    """Shuffle (optionally), batch elements `(x, y)` (or `(x, y, sample_weight)`) whose sequences are 1-D
    tensors, padding each batch at the end to its longest member, and prefetch.

    With `bucketing`, elements of similar length are batched together
    (`bucket_by_sequence_length`); without it, plain `padded_batch`.
    """
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if bucketing and boundaries:
        ds = ds.bucket_by_sequence_length(
            element_length_func=lambda *element: _max_length(element[0]),  # of x in (x, y) or (x, y, weight)
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            pad_to_bucket_boundary=False,
        )
    else:
        ds = ds.padded_batch(batch_size)
    return ds.prefetch(PREFETCH).with_options(dataset_options())


def batch_stats(ds: tf.data.Dataset) -> tuple[int, float]:
    """`(batches, padding fraction)` of one pass; the fraction is pad positions
    / all positions over the 2-D int inputs."""
    pad = total = batches = 0
    for element in ds:  # (x, y) or (x, y, sample_weight)
        batches += 1
        for t in tf.nest.flatten(element[0]):
            if t.dtype.is_integer and t.shape.rank == 2:
                pad += int(tf.size(t) - tf.math.count_nonzero(t, dtype=tf.int32))
                total += int(tf.size(t))
    return batches, (pad / total if total else 0.0)


def padding_fraction(ds: tf.data.Dataset) -> float:
    """Pad positions / all positions over the 2-D int inputs of one pass."""
    return batch_stats(ds)[1]


def with_known_cardinality(ds: tf.data.Dataset) -> tuple[tf.data.Dataset, float]:
    """`(ds, padding fraction)` with the batch count declared to tf.data.

    Bucketing hides the count, but it is the same every epoch (bucket sizes do
    not depend on the order), so declaring it gives Keras a progress bar with a
    total. One pass measures both."""
    batches, fraction = batch_stats(ds)
    return ds.apply(tf.data.experimental.assert_cardinality(batches)), fraction
