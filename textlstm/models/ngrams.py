"""Naive Bayes log-count ratios for the wide n-gram path of the classifier.

Wang & Manning (2012, "Baselines and Bigrams") showed that naive Bayes
weights on n-gram presence are a strong sentiment baseline. Summed over the
n-grams of a text they give a linear logit that the LSTM path then corrects.

Character n-grams of each vocabulary entry (`char_ngram_table`) extend the
same path with subword evidence, as fastText does for its word vectors.

```python
table = char_ngram_table(["", "[UNK]", "film", "films"], 2, 5, buckets=2**20)  # (4, k)
w = naive_bayes_weights(grams, labels, num_classes=2, buckets=2**20)  # (buckets, 1)
```

`LeaveOneOutCorrection` lets a training text see the ratios as if it had not
been counted (see `textlstm.models.leave_one_out_trainer`).
"""

from __future__ import annotations

import zlib

import keras
import numpy as np
from keras import ops

MAX_CHAR_NGRAMS_PER_TOKEN = 64


def char_ngram_table(vocabulary: list[str], min_n: int, max_n: int, buckets: int,
                     max_per_token: int = MAX_CHAR_NGRAMS_PER_TOKEN) -> np.ndarray:
    """`(len(vocabulary), k)` int32 ids of the `min_n`..`max_n` character
    n-grams of each entry written as `<entry>` (so prefixes and suffixes are
    their own n-grams), hashed with CRC-32 into `1..buckets-1`; 0 pads a row.
    Entries 0 (padding) and 1 (`[UNK]`) get no n-grams. An entry's n-grams
    are kept shortest first and capped at `max_per_token` (a 15-letter word
    with n = 2..5 has 62), so a few very long tokens cannot widen the table."""
    if not 1 <= min_n <= max_n:
        raise ValueError(f"character n-gram range must satisfy 1 <= min <= max, got [{min_n}, {max_n}]")
    rows = []
    for index, entry in enumerate(vocabulary):
        if index < 2 or not entry:
            rows.append([])
            continue
        word = f"<{entry}>"
        grams = dict.fromkeys(word[a:a + n] for n in range(min_n, max_n + 1) for a in range(len(word) - n + 1))
        rows.append([zlib.crc32(g.encode("utf-8")) % (buckets - 1) + 1 for g in list(grams)[:max_per_token]])
    table = np.zeros((len(vocabulary), max(1, max(map(len, rows), default=0))), dtype="int32")
    for index, row in enumerate(rows):
        table[index, :len(row)] = row
    return table


def naive_bayes_counts(grams: np.ndarray, labels: np.ndarray, num_classes: int, buckets: int,
                       alpha: float = 1.0) -> np.ndarray:
    """`(num_classes, buckets)`: in how many texts of each class every hashed
    n-gram id occurs (presence, not counts), plus the smoothing `alpha`.
    `grams` holds rows of one example's ids (0 = padding)."""
    present = np.zeros((num_classes, buckets), dtype="float64")
    for row, label in zip(grams, labels):
        present[int(label), np.unique(row[row > 0])] += 1.0
    present += alpha
    present[:, 0] = alpha
    return present


def naive_bayes_ratios(counts: np.ndarray) -> np.ndarray:
    """Log-count ratios `(buckets, columns)` from `naive_bayes_counts`.
    Binary: one column, log p(g|1)/p(g|0). Multi-class: one column per class,
    log p(g|k)/p(g|not k). Row 0 (padding) is zero."""
    totals = counts.sum(axis=1, keepdims=True)
    if counts.shape[0] == 2:
        weights = (np.log(counts[1] / totals[1]) - np.log(counts[0] / totals[0]))[:, None]
    else:
        rest = counts.sum(axis=0, keepdims=True) - counts
        weights = (np.log(counts / totals) - np.log(rest / rest.sum(axis=1, keepdims=True))).T
    weights[0] = 0.0
    return weights.astype("float32")


def naive_bayes_weights(grams: np.ndarray, labels: np.ndarray, num_classes: int, buckets: int,
                        alpha: float = 1.0) -> np.ndarray:
    """Log-count ratios from hashed n-gram ids `grams` (rows of one example,
    0 = padding) and integer `labels`: `naive_bayes_ratios(naive_bayes_counts(...))`."""
    return naive_bayes_ratios(naive_bayes_counts(grams, labels, num_classes, buckets, alpha))


class LeaveOneOutCorrection(keras.layers.Layer):
    """Per-text correction that turns the sum of naive Bayes ratios over a
    training text's n-grams into the sum it would have if that text had not
    been counted (leave-one-out).

    Naive Bayes ratios computed on the training split are optimistic on that
    split: an n-gram seen once carries its one text's label. Summed over a
    text, they make the training texts look almost solved (about 96% training
    accuracy after one epoch on rt_polarity, against 80% on validation), so
    whatever is trained on top of them (the LSTM, the scale) learns from
    residuals that do not exist on new text. Inputs: hashed n-gram ids
    `(batch, n)` and the text's label `(batch,)`, -1 for texts that were not
    counted (validation), which get no correction. The class totals are left
    as they are (one text moves them by well under 0.1%).

    >>> counts = naive_bayes_counts(np.array([[1, 2], [1, 3]]), np.array([1, 0]), 2, buckets=4)
    >>> layer = LeaveOneOutCorrection(counts)
    >>> round(float(layer([np.array([[1, 2]]), np.array([1])])[0, 0]), 3)  # log(1/2) twice
    -1.386
    """

    def __init__(self, counts, **kwargs):
        super().__init__(**kwargs)
        counts = np.asarray(counts, "float32")
        self.num_classes, self.buckets = counts.shape
        self.counts = self.add_weight(shape=(self.buckets, self.num_classes), trainable=False, name="counts",
                                      initializer=keras.initializers.Constant(counts.T))

    def call(self, inputs):
        grams, label = inputs
        label = ops.reshape(ops.cast(label, "int32"), (-1,))
        counted = ops.cast(label >= 0, "float32")[:, None, None]  # (batch, 1, 1)
        own = ops.one_hot(ops.maximum(label, 0), self.num_classes)[:, None, :] * counted  # (batch, 1, classes)
        c = ops.take(self.counts, ops.cast(grams, "int32"), axis=0)  # (batch, n, classes)
        rest = ops.sum(c, axis=-1, keepdims=True) - c
        floor = 1e-3  # only reached if a text was not counted under the label it is given
        diff = (ops.log(ops.maximum(c - own, floor)) - ops.log(c)
                - ops.log(ops.maximum(rest - (counted - own), floor)) + ops.log(rest))
        if self.num_classes == 2:
            diff = diff[..., 1:]  # the binary ratio is class 1's column (its rest is class 0)
        present = ops.cast(grams > 0, "float32")[..., None]
        return ops.sum(diff * present, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1 if self.num_classes == 2 else self.num_classes)
