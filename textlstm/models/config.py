"""`ModelConfig`: the classifier's architecture (TensorFlow-free).

Embedding -> (bidirectional) LSTM stack -> pooling -> dropout -> dense head,
plus the optional wide n-gram paths (`textlstm.wide`).

>>> m = ModelConfig(units=[64, 64], wide=[{"ngrams": 2}, {"chars": [2, 5], "init": "nbsvm", "fusion": "late"}])
>>> [path.fusion for path in m.wide], m.has_late_path
(['joint', 'late'], True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textlstm.errors import ConfigError
from textlstm.schema import choice, from_dict
from textlstm.wide.config import FUSED_ACCURACY, WideConfig

CELLS = ("lstm", "gru", "simple_rnn")
POOLINGS = ("last", "max", "mean")
# The validation macro-F1 that `textlstm.training_metrics.MacroF1` adds to the logs.
MACRO_F1 = "val_macro_f1"


@dataclass
class ModelConfig:
    """The classifier's layers.

    Args:
        cell: `lstm`, or `gru` / `simple_rnn` for comparison.
        embedding_dim: embedding size (ignored with pretrained vectors, which set it).
        units: one entry per recurrent layer.
        bidirectional: wrap each recurrent layer in `Bidirectional`.
        pooling: how the sequence is summarized: `last` state, or masked `max` / `mean` over all states.
        dropout: before the dense head.
        embedding_dropout: drops whole embedding channels (`SpatialDropout1D`).
        word_dropout: drops whole tokens' embeddings during training.
        rnn_dropout: input dropout inside the recurrent layers (keeps cuDNN).
        wide: the optional n-gram paths, each a `WideConfig` (empty: the LSTM alone).
    """

    cell: str = "lstm"
    embedding_dim: int = 128
    units: list[int] = field(default_factory=lambda: [64])
    bidirectional: bool = True
    pooling: str = "last"
    dropout: float = 0.3
    embedding_dropout: float = 0.0
    word_dropout: float = 0.0
    rnn_dropout: float = 0.0
    wide: list[WideConfig] = field(default_factory=list)

    def __post_init__(self):
        choice(self.cell, CELLS, "model.cell")
        choice(self.pooling, POOLINGS, "model.pooling")
        if not self.units or any(int(u) < 1 for u in self.units):
            raise ConfigError(f"model.units must list at least one positive layer size, got {self.units!r}")
        for name in ("dropout", "embedding_dropout", "word_dropout", "rnn_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"model.{name} must be in [0, 1), got {getattr(self, name)}")
        self.wide = [
            p if isinstance(p, WideConfig) else from_dict(WideConfig, p, f"model.wide[{i}]")
            for i, p in enumerate(self.wide or [])
        ]

    @property
    def joint_paths(self) -> list[WideConfig]:
        """The wide paths that train with the LSTM."""
        return [p for p in self.wide if not p.late]

    @property
    def late_paths(self) -> list[WideConfig]:
        """The wide paths fused late with the trained network."""
        return [p for p in self.wide if p.late]

    @property
    def has_late_path(self) -> bool:
        return bool(self.late_paths)

    def check(self, pipeline) -> None:
        """Rules between this section and the rest of the pipeline, checked when it is read.

        Args:
            pipeline: the `PipelineConfig` this model belongs to.
        """
        monitor = pipeline.train.monitor
        if monitor == FUSED_ACCURACY and not self.has_late_path:
            raise ConfigError(
                f"train.monitor: {FUSED_ACCURACY} is the score of a late wide path's fusion "
                "(model.wide with fusion: late), and this model has none"
            )
        if monitor not in ("val_accuracy", "val_loss", "accuracy", "loss", MACRO_F1, FUSED_ACCURACY):
            raise ConfigError(
                f"train.monitor must be val_accuracy, val_loss, {MACRO_F1} or {FUSED_ACCURACY} (or accuracy / "
                f"loss without validation data), got {monitor!r}"
            )
