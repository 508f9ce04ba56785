"""`MultiLabelClassifier`: the runner of `task: multilabel` (fit, evaluate, predict, save).

```python
import textlstm
clf = textlstm.MultiLabelClassifier.from_pipeline("pipelines/multilabel_demo.yaml")
clf.fit(output_dir="runs/multilabel_demo")   # or clf.fit(texts, [["a", "b"], ["b"]], validation=(...))
clf.evaluate()["micro_f1"]
clf.predict(["the score was not dull"])     # [MultiLabelPrediction(labels=['music', 'positive'], ...)]
```

It is a `TextClassifier` whose examples carry multi-hot targets
(`textlstm.multilabel.data.MultiHotEncoder`) and whose network has one
sigmoid output per label, trained with binary cross-entropy by the same
`ClassifierTrainer` loop; the validation micro-F1 at threshold 0.5 is logged
each epoch as `val_micro_f1`. The per-label thresholds (`train.thresholds`)
are stored in the artifact's metadata.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import keras
import numpy as np

from textlstm.classifier import TextClassifier
from textlstm.config import DataConfig, PipelineConfig
from textlstm.data import Splits
from textlstm.data.examples import ClassificationExamples, python_records
from textlstm.data.sources import Records, SkipReport
from textlstm.errors import ConfigError, DataError
from textlstm.multilabel.data import MultiHotEncoder, load_multilabel_splits, read_multilabel
from textlstm.multilabel.metrics import decide, multilabel_metrics, tune_thresholds
from textlstm.trainer import ClassifierTrainer, FitResult, Run, fit_report
from textlstm.training import make_optimizer

log = logging.getLogger("textlstm")


@dataclasses.dataclass
class MultiLabelPrediction:
    """The chosen labels of one text (probability >= its label's threshold) and every label's probability."""

    labels: list[str]
    probabilities: dict[str, float]

    def as_dict(self) -> dict:
        return {"labels": self.labels, "probabilities": self.probabilities}


class MultiLabelTrainer(ClassifierTrainer):
    """`ClassifierTrainer` for multi-hot targets: one sigmoid per label, binary cross-entropy,
    per-label `accuracy` and micro-F1 (threshold 0.5) as `micro_f1`."""

    multilabel = True

    def compile(self, net: keras.Model, train_config) -> keras.Model:
        """Compile `net` with binary cross-entropy, per-label accuracy and micro-F1.

        Args:
            net: a network from `build_classifier(..., multilabel=True)`.
            train_config: the optimizer settings.
        """
        net.compile(
            optimizer=make_optimizer(train_config),
            loss=keras.losses.BinaryCrossentropy(),
            metrics=[
                keras.metrics.BinaryAccuracy(name="accuracy"),
                keras.metrics.F1Score(average="micro", threshold=0.5, name="micro_f1"),
            ],
        )
        return net


def _label_lists(labels, name: str) -> list[tuple]:
    out = []
    for i, value in enumerate(labels):
        value = (value,) if isinstance(value, str) else tuple(str(v) for v in value)
        if not value:
            raise DataError(f"{name}[{i}]: no labels")
        out.append(value)
    return out


class MultiLabelClassifier(TextClassifier):
    """A multi-label text classifier described by a `PipelineConfig` (`task: multilabel`;
    a `textlstm.runner.Runner`).

    Args:
        config: the pipeline; None: the defaults with `task: multilabel`.
    """

    task = "multilabel"

    def __init__(self, config: PipelineConfig | None = None):
        super().__init__(config or PipelineConfig(task="multilabel", model=_default_model()))
        self.thresholds: list[float] = []

    # ------------------------------------------------------------------ fit
    def fit(self, texts=None, labels=None, validation=None, output_dir: str | Path | None = None):
        """Train on the pipeline's data, or on texts and label lists given in Python.

        Args:
            texts: training texts (None: read the pipeline's `data` section).
            labels: one list of labels per text.
            validation: `(texts, label lists)` for early stopping and tuned thresholds.
            output_dir: where checkpoints, `history.csv` and TensorBoard logs go.
        """
        cfg = self.config
        if texts is None:
            self.splits = load_multilabel_splits(cfg.data, cfg.train.seed)
        else:
            val = Records([], [], SkipReport(), "python")
            if validation:
                val = python_records(validation[0], _label_lists(validation[1], "validation"), "validation")
            self.splits = Splits(python_records(texts, _label_lists(labels, "labels"), "texts"), val, None, "python")
        out = Path(output_dir) if output_dir else None
        keras.utils.set_random_seed(cfg.train.seed)
        examples = ClassificationExamples.build(
            self.splits.train, self.splits.validation, cfg.vectorizer, cfg.train, label_encoder=MultiHotEncoder
        )
        trainer = MultiLabelTrainer(examples, cfg)
        trained = trainer.train(trainer.build(), output_dir=out)
        result = FitResult([Run(cfg.train.seed, examples, trainer, [trained])])
        self.thresholds = self._thresholds(trained.network, examples)
        self.data_report = fit_report(result, self.splits, cfg)
        self.data_report["thresholds"] = dict(zip(examples.labels.names, self.thresholds))
        return self._adopt(result)

    def _thresholds(self, network: keras.Model, examples: ClassificationExamples) -> list[float]:
        setting = self.config.train.thresholds
        if setting != "tuned":
            return [float(setting)] * examples.labels.num_classes
        if examples.validation is None:
            raise ConfigError(
                "train.thresholds: tuned picks each label's threshold on validation data: give validation "
                "texts (or data.validation / data.validation_fraction), or set train.thresholds: 0.5"
            )
        batches = examples.validation.padded_batch(256)  # not shuffled: the same order twice
        y = np.concatenate([y.numpy() for _, y in batches])
        return tune_thresholds(y, network.predict(batches, verbose=0))

    def _metadata(self) -> dict:
        return {**super()._metadata(), "thresholds": list(self.thresholds)}

    @classmethod
    def from_artifact(cls, model: keras.Model, meta: dict) -> MultiLabelClassifier:
        """The classifier of a loaded artifact (`textlstm.load` calls this)."""
        clf = super().from_artifact(model, meta)
        clf.labels = MultiHotEncoder(meta["labels"])
        clf.thresholds = [float(t) for t in meta.get("thresholds") or [0.5] * len(meta["labels"])]
        return clf

    # ------------------------------------------------------------ inference
    def predict(self, texts, batch_size: int = 256) -> list[MultiLabelPrediction]:
        """Per text, the labels whose probability reaches their threshold, and every label's probability.

        Args:
            texts: a string or a list of strings.
            batch_size: texts per batch.
        """
        names = self.label_names
        probs = self.predict_proba(texts, batch_size)
        return [
            MultiLabelPrediction([n for n, on in zip(names, chosen) if on], {n: float(v) for n, v in zip(names, p)})
            for p, chosen in zip(probs, decide(probs, self.thresholds))
        ]

    def evaluate(self, texts=None, labels=None, output_dir: str | Path | None = None, where=None) -> dict:
        """Micro/macro P/R/F1, per-label scores, subset accuracy and Hamming loss, on texts
        and label lists or on the test split (`output_dir` is accepted for the runner contract).

        Args:
            texts: texts to score (None: the pipeline's test split).
            labels: one list of labels per text.
            output_dir: unused (no plots yet).
            where: each row's origin, for error messages (e.g. `file.jsonl:12`).
        """
        self._require_model()
        if texts is None:
            if self.splits is None:
                self.splits = load_multilabel_splits(self.config.data, self.config.train.seed)
            if self.splits.test is None:
                raise DataError("no test data: set data.test")
            (texts, labels), where = self.splits.test.columns(), self.splits.test.where
        labels = _label_lists(labels, "labels")
        y = self.labels.encode(labels, where or [f"labels[{i}]" for i in range(len(labels))])
        return multilabel_metrics(y, self.predict_proba(texts), self.label_names, self.thresholds)

    def read_labelled(self, path: str | Path, config: DataConfig | None = None) -> Records:
        """The `(text, labels)` rows of a labelled file (`data.labels` columns), read as the pipeline's
        `data:` section (or `config`) says, for `evaluate(*records.columns())`.

        Args:
            path: one TSV, CSV or JSONL file (`textlstm.multilabel.data.read_multilabel`; not a label folder).
            config: the `data:` section to read it with (default: the pipeline's).
        """
        return read_multilabel(path, config or self.config.data)

    def __repr__(self) -> str:
        state = "trained" if self.model is not None else "untrained"
        return f"MultiLabelClassifier({state}, labels={self.label_names}, model={self.config.model})"


def _default_model():
    from textlstm.multilabel.config import MultiLabelModelConfig

    return MultiLabelModelConfig()
