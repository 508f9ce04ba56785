"""`WideConfig`: one n-gram path of the classifier (TensorFlow-free).

In a pipeline, `model.wide` lists the paths:

```yaml
model:
  wide:
    - {ngrams: 2}                                        # joint naive Bayes uni+bigram path
    - {ngrams: 2, chars: [2, 5], init: nbsvm, fusion: late}  # a late NBSVM path with character n-grams
```

>>> WideConfig(ngrams=2, chars=[2, 5], fusion="late").late
True
>>> WideConfig(ngrams=0)
Traceback (most recent call last):
...
textlstm.errors.ConfigError: a wide path needs n-grams: set ngrams (word 1..n-grams) or chars ([min, max])
"""

from __future__ import annotations

from dataclasses import dataclass

from textlstm.errors import ConfigError
from textlstm.schema import choice

# The fused model's validation accuracy, logged each epoch when a late path exists
# (`textlstm.wide.component.FusedAccuracy`); usable as train.monitor and search.objective.
FUSED_ACCURACY = "val_fused_accuracy"

INITS = ("naive_bayes", "nbsvm", "zeros")
FUSIONS = ("joint", "late")


@dataclass
class WideConfig:
    """One linear path over hashed n-grams.

    Args:
        ngrams: word 1..n-grams of the token ids (0: none; then `chars` must be set).
        chars: `[min, max]`: also each token's character min..max-grams
            (`"<film>"` -> `"<f"`, `"fi"`, ...), or None.
        buckets: hash buckets for the n-gram ids.
        init: `naive_bayes` (log-count ratios of the training split, fixed,
            with one learned scale), `nbsvm` (those ratios refined by a
            logistic regression fitted first, alone) or `zeros`.
        fusion: `joint` (logits added to the LSTM's while it trains) or
            `late` (fitted alone, then fused with the trained network by
            weights fitted on the validation split).
        l2: L2 on the NBSVM factors (`init: nbsvm`).
        epochs: at most this many epochs for the NBSVM fit (early stopping on validation).
        learning_rate: the NBSVM fit's learning rate.
    """

    ngrams: int = 2
    chars: list[int] | None = None
    buckets: int = 2**20
    init: str = "naive_bayes"
    fusion: str = "joint"
    l2: float = 5e-4
    epochs: int = 10
    learning_rate: float = 3e-3

    def __post_init__(self):
        choice(self.init, INITS, "init")
        choice(self.fusion, FUSIONS, "fusion")
        chars = self.chars
        if chars is not None and not (
            isinstance(chars, (list, tuple))
            and len(chars) == 2
            and all(isinstance(n, int) for n in chars)
            and 1 <= chars[0] <= chars[1]
        ):
            raise ConfigError(f"chars must be [min, max] with 1 <= min <= max, e.g. [2, 5], got {chars!r}")
        if self.ngrams < 0:
            raise ConfigError(f"ngrams must be >= 0, got {self.ngrams}")
        if not self.ngrams and not chars:
            raise ConfigError("a wide path needs n-grams: set ngrams (word 1..n-grams) or chars ([min, max])")
        if self.buckets < 2:
            raise ConfigError(f"buckets must be at least 2, got {self.buckets}")
        if self.epochs < 1:
            raise ConfigError(f"epochs must be at least 1, got {self.epochs}")

    @property
    def late(self) -> bool:
        """Whether the path is fused late (fitted alone, weighted on validation)."""
        return self.fusion == "late"

    def grams_key(self) -> tuple:
        """The settings that decide which hashed n-grams a text has."""
        return (self.ngrams, self.buckets, *(self.chars or ()))
