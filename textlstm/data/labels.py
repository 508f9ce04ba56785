"""Label names <-> ids, and a deterministic stratified validation split.

```python
enc = LabelEncoder.fit(["pos", "neg", "pos"])
enc.names, enc.encode(["neg"], where=["f.tsv:3"])  # (['neg', 'pos'], array([0]))
```
"""

from __future__ import annotations

import random
from collections import defaultdict

import numpy as np

from textlstm.data.sources import DataError


def _sort_key(label: str):
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


class LabelEncoder:
    """Maps label strings to ids 0..K-1; numeric labels sort numerically."""

    def __init__(self, names: list[str]):
        if len(names) < 2:
            raise DataError(f"need at least 2 distinct labels to train a classifier, found {names}")
        self.names = list(names)
        self.index = {n: i for i, n in enumerate(self.names)}

    @classmethod
    def fit(cls, labels, names: list[str] | None = None) -> LabelEncoder:
        """Names from the training labels (or given `names`, e.g. TFDS ClassLabel)."""
        if names:
            return cls(list(names))
        return cls(sorted(set(map(str, labels)), key=_sort_key))

    @property
    def num_classes(self) -> int:
        return len(self.names)

    @property
    def binary(self) -> bool:
        return len(self.names) == 2

    def encode(self, labels, where: list[str] | None = None) -> np.ndarray:
        ids = []
        for i, label in enumerate(labels):
            label = str(label)
            if label not in self.index:
                loc = f"{where[i]}: " if where else ""
                raise DataError(f"{loc}label '{label}' never occurs in the training data (known: {self.names})")
            ids.append(self.index[label])
        return np.asarray(ids, dtype="int64")


def stratified_split(labels, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (train, validation): `fraction` of each class, chosen with `seed`."""
    if not 0 < fraction < 1:
        raise DataError(f"data.validation_fraction must be between 0 and 1, got {fraction}")
    by_class = defaultdict(list)
    for i, label in enumerate(labels):
        by_class[str(label)].append(i)
    rng = random.Random(seed)
    train, val = [], []
    for label in sorted(by_class):
        idx = by_class[label]
        rng.shuffle(idx)
        n_val = int(round(len(idx) * fraction))
        if len(idx) >= 2:
            n_val = min(max(n_val, 1), len(idx) - 1)
        else:
            n_val = 0
        val += idx[:n_val]
        train += idx[n_val:]
    return sorted(train), sorted(val)
