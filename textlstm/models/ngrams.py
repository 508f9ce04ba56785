"""Naive Bayes log-count ratios for the wide n-gram path of the classifier.

Wang & Manning (2012, "Baselines and Bigrams") showed that naive Bayes
weights on n-gram presence are a strong sentiment baseline. Summed over the
n-grams of a text they give a linear logit that the LSTM path then corrects.

```python
w = naive_bayes_weights(grams, labels, num_classes=2, buckets=2**20)  # (buckets, 1)
```
"""

from __future__ import annotations

import numpy as np


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
