"""`TextClassifier`: fit, evaluate, predict and save a text classifier.

```python
import textlstm
clf = textlstm.TextClassifier.from_pipeline("pipelines/sentiment_demo.yaml")
clf.fit(output_dir="runs/demo")          # or clf.fit(texts, labels, validation=(texts, labels))
clf.evaluate()["accuracy"]               # on the pipeline's test split
clf.predict(["a great film"])            # [Prediction(label='positive', probabilities={...})]
clf.save("runs/demo/model.keras")
textlstm.load("runs/demo/model.keras").predict(["a great film"])
```

The data flows one way: the source's rows (`textlstm.data.load_splits`) ->
examples and batches (`textlstm.data.examples`) -> networks trained by
`textlstm.trainer` -> one string-input Keras model (`textlstm.models.artifact`),
which is the saved artifact: raw strings in, probabilities out, the
vectorizer inside and the label names in its metadata.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from textlstm import __version__
from textlstm.config import PipelineConfig, load_pipeline
from textlstm.data import Splits, load_splits, load_test_split
from textlstm.data.examples import python_records
from textlstm.data.labels import LabelEncoder
from textlstm.data.sources import LabelledFileReader, Records, SkipReport
from textlstm.data.stream import Stream
from textlstm.evaluation import classification_metrics, plot_confusion_matrix, plot_per_class
from textlstm.models.artifact import string_classifier
from textlstm.models.cudnn import cudnn_report
from textlstm.saving import export_saved_model, save_keras
from textlstm.trainer import FitResult, fit_classifier, fit_report


@dataclasses.dataclass
class Prediction:
    """A predicted label and every label's probability."""

    label: str
    probabilities: dict[str, float]

    def as_dict(self) -> dict:
        return {"label": self.label, "probabilities": self.probabilities}


class TextClassifier(LabelledFileReader):
    """A text classifier described by a `PipelineConfig` (a `textlstm.runner.Runner`).

    Args:
        config: the pipeline (`task: classification`); None: the defaults.
    """

    task = "classification"

    def __init__(self, config: PipelineConfig | None = None):
        self.config = config or PipelineConfig()
        if self.config.task != self.task:
            raise ValueError(f"{type(self).__name__} needs task: {self.task}, got {self.config.task!r}")
        self.model: keras.Model | None = None  # raw strings -> probabilities
        self.networks: list[keras.Model] = []  # token ids -> probabilities, one per ensemble member
        self.vectorizers: list[keras.layers.TextVectorization] = []  # one per run (bagging: per member)
        self.labels: LabelEncoder | None = None
        self.splits: Splits | None = None
        self.history: list[dict] = []  # one `fit` history per network
        self.data_report: dict = {}

    @classmethod
    def from_pipeline(cls, path: str | Path | None = None, overrides: list[str] | None = None) -> TextClassifier:
        """A classifier for a pipeline file (checked now, before any data is read).

        Args:
            path: the pipeline YAML (None: the defaults).
            overrides: `key.path=value` overrides, as `textlstm train --set`.
        """
        return cls(load_pipeline(path, overrides))

    @property
    def label_names(self) -> list[str]:
        return self.labels.names if self.labels else []

    @property
    def network(self) -> keras.Model:
        """The first token-id network, e.g. for `textlstm.inspection.inspect_gates`."""
        return self.networks[0]

    @property
    def vectorizer(self) -> keras.layers.TextVectorization:
        """The (first run's) vectorizer."""
        return self.vectorizers[0]

    @property
    def has_test_data(self) -> bool:
        """Whether the pipeline's source has a test split to evaluate on."""
        return self.splits is not None and self.splits.test is not None

    # ------------------------------------------------------------------ fit
    def fit(self, texts=None, labels=None, validation=None, output_dir: str | Path | None = None) -> TextClassifier:
        """Train on the pipeline's data source, or on texts and labels given in Python.

        Args:
            texts: training texts (None: read the pipeline's `data` section).
            labels: one label per text.
            validation: `(texts, labels)` for early stopping (and a late wide path's fusion).
            output_dir: where checkpoints, backups, `history.csv` and TensorBoard logs go.
        """
        cfg = self.config
        if texts is None:
            self.splits = load_splits(cfg.data, self.task, cfg.train.seed, hold_out=not cfg.train.ensemble.bagging)
        else:
            val = python_records(*validation, "validation") if validation else Records([], [], SkipReport(), "python")
            self.splits = Splits(python_records(texts, labels, "texts"), val, None, "python")
        result = fit_classifier(cfg, self.splits, Path(output_dir) if output_dir else None)
        self.data_report = fit_report(result, self.splits, cfg)
        return self._adopt(result)

    def _adopt(self, result: FitResult) -> TextClassifier:
        first = result.runs[0].examples
        self.labels = first.labels
        self.vectorizers = [run.examples.vectorizer for run in result.runs]
        self.networks = result.networks
        self.history = result.histories
        parts = [(run.examples.vectorizer, [t.network for t in run.trained]) for run in result.runs]
        self.model = string_classifier(parts, self._metadata())
        return self

    def _metadata(self) -> dict:
        return {
            "textlstm_version": __version__,
            "task": self.task,
            "labels": self.labels.names,
            "config": self.config.to_dict(),
            "data": self.data_report,
        }

    @classmethod
    def from_artifact(cls, model: keras.Model, meta: dict) -> TextClassifier:
        """The classifier of a loaded artifact (`textlstm.load` calls this).

        Args:
            model: the loaded string-input Keras model.
            meta: its metadata (`textlstm.saving.read_metadata`).
        """
        from textlstm.config import saved_pipeline

        clf = cls(saved_pipeline(meta["config"]))
        clf.model = model
        clf.labels = LabelEncoder(meta["labels"])
        clf.networks = [layer for layer in model.layers if isinstance(layer, keras.Model)]
        clf.vectorizers = [layer for layer in model.layers if isinstance(layer, keras.layers.TextVectorization)]
        clf.data_report = meta.get("data", {})
        return clf

    # ------------------------------------------------------------ inference
    def _require_model(self):
        if self.model is None:
            raise RuntimeError("the classifier is not trained: call fit() or textlstm.load(path) first")

    def predict_proba(self, texts, batch_size: int = 256) -> np.ndarray:
        """Class probabilities `(n, num_classes)` for raw strings, batched by length.

        Args:
            texts: a string or a list of strings.
            batch_size: texts per batch.
        """
        self._require_model()
        texts = [texts] if isinstance(texts, str) else list(texts)
        out = np.zeros((len(texts), len(self.label_names)), "float32")
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            p = np.asarray(self.model.predict_on_batch(tf.constant([texts[i] for i in idx])))
            out[idx] = np.concatenate([1.0 - p, p], axis=-1) if p.shape[-1] == 1 else p
        return out

    def predict(self, texts, batch_size: int = 256) -> list[Prediction]:
        """The most probable label of each text, with every label's probability.

        Args:
            texts: a string or a list of strings.
            batch_size: texts per batch.
        """
        names = self.label_names
        return [
            Prediction(names[int(p.argmax())], {n: float(v) for n, v in zip(names, p)})
            for p in self.predict_proba(texts, batch_size)
        ]

    def evaluate(
        self, texts=None, labels=None, output_dir: str | Path | None = None, where: list[str] | None = None
    ) -> dict:
        """Accuracy, macro P/R/F1 and the confusion matrix on texts and labels, or on the test split.

        Args:
            texts: texts to score (None: the pipeline's test split).
            labels: their labels.
            output_dir: also write `confusion_matrix.png` and `per_class.png` (precision/recall/F1 per class) there.
            where: each row's origin, for error messages (e.g. `file.tsv:12`).
        """
        self._require_model()
        y = None
        if texts is None:
            self.splits, test = load_test_split(self.splits, self.config.data, self.task, self.config.train.seed)
            if isinstance(test, Stream):  # data.cache: disk | none: scored chunk by chunk, rows never held
                scored = [(self.labels.encode(l, w), self.predict_proba(t)) for t, l, w in test.chunks(4096)]
                y, proba = (np.concatenate(part) for part in zip(*scored))
            else:
                (texts, labels), where = test.columns(), test.where
        if y is None:
            y, proba = self.labels.encode(labels, where), self.predict_proba(texts)
        metrics = classification_metrics(y, proba, self.label_names)
        if output_dir:
            plot_confusion_matrix(
                metrics["confusion_matrix"], self.label_names, Path(output_dir) / "confusion_matrix.png"
            )
            plot_per_class(metrics["per_class"], Path(output_dir) / "per_class.png")
        return metrics

    # ------------------------------------------------------------ artifacts
    def save(self, path: str | Path) -> Path:
        """Write the one-file artifact (`.keras`): raw strings in, probabilities out.

        Args:
            path: a `.keras` file name.
        """
        self._require_model()
        return save_keras(self.model, path)

    def export(self, path: str | Path) -> Path:
        """Write a TF SavedModel whose `serve` signature takes a `tf.string` vector.

        Args:
            path: the SavedModel directory.
        """
        self._require_model()
        return export_saved_model(self.model, path)

    def cudnn_report(self):
        """One row per recurrent layer (direction): whether it runs on cuDNN on a GPU, and why not."""
        self._require_model()
        return cudnn_report(self.network)

    def __repr__(self) -> str:
        state = "trained" if self.model is not None else "untrained"
        return f"TextClassifier({state}, labels={self.label_names}, model={self.config.model})"
