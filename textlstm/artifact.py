"""Load saved artifacts and export TF SavedModels.

```python
import textlstm
clf = textlstm.load("runs/demo/model.keras")
clf.predict(["a great film"])
```
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import keras
import tensorflow as tf

import textlstm.data.vectorize  # noqa: F401  registers the standardize functions
import textlstm.layers  # noqa: F401  registers custom layers
from textlstm.config import pipeline_from_dict
from textlstm.data.labels import LabelEncoder
from textlstm.layers import Metadata


class ArtifactError(ValueError):
    """A file that is not a textlstm artifact."""


def read_metadata(model: keras.Model) -> dict:
    for layer in model.layers:
        if isinstance(layer, Metadata):
            return layer.metadata
    raise ArtifactError(f"model '{model.name}' has no textlstm metadata layer (not saved by textlstm?)")


def _register_task_objects() -> None:
    """Import task modules whose custom Keras objects (losses, metrics) saved models may name."""
    import importlib

    for mod in ("textlstm.seq2seq.model", "textlstm.seq2seq.decoding"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError:
            pass


def load_keras_model(path: str | Path) -> keras.Model:
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path}: model file not found")
    _register_task_objects()
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as err:
        raise ArtifactError(f"{path}: cannot load as a Keras model: {type(err).__name__}: {err}") from None


def _nets(model: keras.Model) -> list[keras.Model]:
    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def save_keras(model: keras.Model, path: str | Path) -> Path:
    """Save `model` as a `.keras` file for inference, creating the folder.

    Optimizer state is left out. Keras saves the optimizer of every compiled
    model nested inside `model` (the trained networks), and Adam's two moments
    per weight made up 20 of the 46 MB of an rt_polarity artifact. Training
    resumes from the `BackupAndRestore` backup, not from the artifact."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ArtifactError(f"artifact path must end in .keras, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _without_optimizers(model):
        model.save(path)
    return path


def _models(model: keras.Model):
    """`model` and every model nested in it."""
    yield model
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _models(layer)


@contextmanager
def _without_optimizers(model: keras.Model):
    """Detach the optimizers of `model` and its nested models for the duration
    (an uncompiled model saves neither optimizer variables nor compile config)."""
    compiled = [(m, m.optimizer, m.compiled) for m in _models(model) if getattr(m, "compiled", False)]
    try:
        for m, _, _ in compiled:
            m.optimizer, m.compiled = None, False
        yield
    finally:
        for m, optimizer, was_compiled in compiled:
            m.optimizer, m.compiled = optimizer, was_compiled


def load(path: str | Path):
    """Load a `.keras` artifact written by textlstm: a `TextClassifier`, or a
    `Translator` for translation models."""
    model = load_keras_model(path)
    meta = read_metadata(model)
    task = meta.get("task")
    if task == "classification":
        from textlstm.classifier import TextClassifier

        clf = TextClassifier(pipeline_from_dict(meta["config"]))
        clf.model = model
        clf.labels = LabelEncoder(meta["labels"])
        clf.networks = _nets(model)
        clf.vectorizer = next(l for l in model.layers if isinstance(l, keras.layers.TextVectorization))
        clf.data_report = meta.get("data", {})
        return clf
    if task == "translation":
        from textlstm.seq2seq.translator import Translator

        return Translator.from_artifact(model, meta)
    raise ArtifactError(f"{path}: unknown task {task!r} in metadata")


def export_saved_model(model: keras.Model, path: str | Path) -> Path:
    """Export a string-input model as a TF SavedModel with a `serve` signature
    taking `tf.string` of shape `[None]` (Keras's default export can infer a
    float input for models that contain TextVectorization)."""
    path = Path(path)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve",
        fn=lambda text: model(text, training=False),
        input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="text")],
    )
    archive.write_out(str(path), verbose=False)
    return path


def describe(path: str | Path) -> dict:
    """What `textlstm info` prints: task, labels, config, data report, layers."""
    from textlstm.models.cudnn import cudnn_report

    model = load_keras_model(path)
    meta = read_metadata(model)
    return {
        "path": str(path),
        "task": meta.get("task"),
        "labels": meta.get("labels"),
        "textlstm_version": meta.get("textlstm_version"),
        "parameters": int(model.count_params()),
        "cudnn": [str(r) for r in cudnn_report(model)],
        "data": meta.get("data"),
        "config": meta.get("config"),
    }


def write_outputs(runner, output_dir: str | Path, history: dict | None, metrics: dict | None = None,
                  extra: dict | None = None) -> dict:
    """What `textlstm train` leaves for any trained runner (TextClassifier,
    Translator): model.keras, metrics.json (with `extra` keys added) and
    learning_curves.png (history.csv is written during `fit`)."""
    from textlstm.evaluation import plot_history

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    runner.save(out / "model.keras")
    if history:
        plot_history(history, out / "learning_curves.png")
    report = {"data": runner.data_report, "cudnn": [str(r) for r in runner.cudnn_report()], "history": runner.history}
    if metrics is not None:
        report["test"] = metrics
    report |= extra or {}
    (out / "metrics.json").write_text(json.dumps(report, indent=2, default=str))
    return report


def dumps(obj) -> str:
    return json.dumps(obj, indent=2, default=str)
