"""`MultiLabelModelConfig`: the classifier's `ModelConfig` with the multi-label rules (TensorFlow-free).

>>> from textlstm.config import pipeline_from_dict
>>> cfg = pipeline_from_dict({"task": "multilabel", "data": {"source": "demo"}, "train": {"thresholds": "tuned"}})
>>> type(cfg.model).__name__, cfg.train.thresholds
('MultiLabelModelConfig', 'tuned')
>>> pipeline_from_dict({"task": "multilabel", "model": {"wide": [{"ngrams": 2}]}})
Traceback (most recent call last):
...
textlstm.errors.ConfigError: model.wide is not supported for task: multilabel yet
"""

from __future__ import annotations

from dataclasses import dataclass

from textlstm.errors import ConfigError
from textlstm.models.config import ModelConfig

MICRO_F1 = "val_micro_f1"
MONITORS = ("val_micro_f1", "val_loss", "val_accuracy", "micro_f1", "loss", "accuracy")


def check_thresholds(value) -> None:
    """`train.thresholds`: a number in (0, 1) or `tuned`."""
    if value == "tuned":
        return
    if isinstance(value, str) or isinstance(value, bool) or not 0.0 < float(value) < 1.0:
        raise ConfigError(f"train.thresholds must be a number between 0 and 1 or tuned, got {value!r}")


@dataclass
class MultiLabelModelConfig(ModelConfig):
    """The same network as `ModelConfig`, with one sigmoid output per label."""

    def check(self, pipeline) -> None:
        """Rules between this section and the rest of a `task: multilabel` pipeline.

        Args:
            pipeline: the `PipelineConfig` this model belongs to.
        """
        if self.wide:
            raise ConfigError("model.wide is not supported for task: multilabel yet")
        ensemble = pipeline.train.ensemble
        if ensemble.members > 1 or ensemble.bagging:
            raise ConfigError("train.ensemble is not supported for task: multilabel yet (set members: 1)")
        if getattr(pipeline.train, "class_weight", None) is not None:
            raise ConfigError("train.class_weight is not supported for task: multilabel")
        check_thresholds(pipeline.train.thresholds)
        if pipeline.data.source.startswith("tfds:") or pipeline.data.format == "folder":
            raise ConfigError("task: multilabel reads TSV/CSV/JSONL files or data.source: demo")
        if pipeline.data.source != "files" and pipeline.data.source != "demo":
            raise ConfigError(f"task: multilabel has no demo variant {pipeline.data.source!r}; use data.source: demo")
        if isinstance(pipeline.data.label, list) and len(pipeline.data.label) < 2:
            raise ConfigError("data.label: list at least two label columns (one 0/1 column per label)")
        if not pipeline.data.label_separator:
            raise ConfigError("data.label_separator must not be empty")
        if pipeline.train.monitor not in MONITORS:
            raise ConfigError(
                f"train.monitor for task: multilabel must be {MICRO_F1}, val_loss or val_accuracy "
                f"(or micro_f1 / loss / accuracy without validation data), got {pipeline.train.monitor!r}"
            )
