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
"""

from __future__ import annotations

import zlib

import numpy as np

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


def naive_bayes_weights(grams: np.ndarray, labels: np.ndarray, num_classes: int, buckets: int,
                        alpha: float = 1.0) -> np.ndarray:
    """Log-count ratios from hashed n-gram ids `grams` (rows of one example,
    0 = padding) and integer `labels`. Binary: one column, log p(g|1)/p(g|0).
    Multi-class: one column per class, log p(g|k)/p(g|not k). Row 0 is zero."""
    columns = 1 if num_classes == 2 else num_classes
    present = np.zeros((num_classes, buckets), dtype="float64")
    for row, label in zip(grams, labels):
        present[int(label), np.unique(row[row > 0])] += 1.0  # presence, not counts
    present += alpha
    present[:, 0] = alpha
    totals = present.sum(axis=1, keepdims=True)
    if columns == 1:
        ratio = np.log(present[1] / totals[1]) - np.log(present[0] / totals[0])
        weights = ratio[:, None]
    else:
        rest = present.sum(axis=0, keepdims=True) - present
        weights = (np.log(present / totals) - np.log(rest / rest.sum(axis=1, keepdims=True))).T
    weights[0] = 0.0
    return weights.astype("float32")
