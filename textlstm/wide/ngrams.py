"""Naive Bayes log-count ratios and character n-gram tables for the wide paths.

Wang & Manning (2012, "Baselines and Bigrams") showed that naive Bayes
weights on n-gram presence are a strong sentiment baseline. Summed over the
n-grams of a text they give a linear logit that the LSTM path then corrects.

Character n-grams of each vocabulary entry (`char_ngram_table`) extend the
same path with subword evidence, as fastText does for its word vectors.

>>> import numpy as np
>>> char_ngram_table(["", "[UNK]", "film", "films"], 2, 5, buckets=2**20).shape
(4, 18)
>>> grams = np.array([[1, 2], [1, 3]])  # hashed n-gram ids of two texts (0 pads)
>>> naive_bayes_weights(grams, np.array([1, 0]), num_classes=2, buckets=4).ravel().tolist()
[0.0, 0.0, 0.6931..., -0.6931...]
"""

from __future__ import annotations

import zlib

import numpy as np

MAX_CHAR_NGRAMS_PER_TOKEN = 64


def char_ngram_table(
    vocabulary: list[str], min_n: int, max_n: int, buckets: int, max_per_token: int = MAX_CHAR_NGRAMS_PER_TOKEN
) -> np.ndarray:
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
        grams = dict.fromkeys(word[a : a + n] for n in range(min_n, max_n + 1) for a in range(len(word) - n + 1))
        rows.append([zlib.crc32(g.encode("utf-8")) % (buckets - 1) + 1 for g in list(grams)[:max_per_token]])
    table = np.zeros((len(vocabulary), max(1, max(map(len, rows), default=0))), dtype="int32")
    for index, row in enumerate(rows):
        table[index, : len(row)] = row
    return table


def naive_bayes_counts(
    grams: np.ndarray, labels: np.ndarray, num_classes: int, buckets: int, alpha: float = 1.0
) -> np.ndarray:
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


def naive_bayes_weights(
    grams: np.ndarray, labels: np.ndarray, num_classes: int, buckets: int, alpha: float = 1.0
) -> np.ndarray:
    """Log-count ratios from hashed n-gram ids `grams` (rows of one example,
    0 = padding) and integer `labels`: `naive_bayes_ratios(naive_bayes_counts(...))`."""
    return naive_bayes_ratios(naive_bayes_counts(grams, labels, num_classes, buckets, alpha))
