"""Saving and loading Keras files: the `.keras` artifact and the TF SavedModel.

Every file is written to a temporary name and renamed into place
(`textlstm.files`), so a run killed while saving leaves the previous good
artifact. Loading registers textlstm's custom Keras objects first.

```python
path = save_keras(model, "runs/demo/model.keras")
model = load_keras_model(path)
read_metadata(model)["task"]  # 'classification'
```
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import keras
import tensorflow as tf

import textlstm.data.vectorize  # noqa: F401  registers the standardize functions and WordPieceSplit
import textlstm.layers  # noqa: F401  registers the custom layers
import textlstm.models.heads  # noqa: F401  registers the classifier's loss
import textlstm.seq2seq.decoding  # noqa: F401  registers the translator's objects
import textlstm.seq2seq.model  # noqa: F401  registers the translator's loss and metric
from textlstm.errors import ArtifactError
from textlstm.files import atomic_directory, atomic_path
from textlstm.layers import Metadata


def read_metadata(model: keras.Model) -> dict:
    for layer in model.layers:
        if isinstance(layer, Metadata):
            return layer.metadata
    raise ArtifactError(f"model '{model.name}' has no textlstm metadata layer (not saved by textlstm?)")


def load_keras_model(path: str | Path) -> keras.Model:
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path}: model file not found")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as err:
        raise ArtifactError(f"{path}: cannot load as a Keras model: {type(err).__name__}: {err}") from None


def save_keras(model: keras.Model, path: str | Path) -> Path:
    """Save `model` as a `.keras` file for inference, creating the folder.

    Optimizer state is left out. Keras saves the optimizer of every compiled
    model nested inside `model` (the trained networks), and Adam's two moments
    per weight made up 20 of the 46 MB of an rt_polarity artifact. Training
    resumes from the `BackupAndRestore` backup, not from the artifact.

    The file is written to `<stem>.tmp-<pid>.keras` and renamed into place, so
    a run killed while saving leaves the previous `path` (`textlstm.files`)."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ArtifactError(f"artifact path must end in .keras, got {path}")
    with _without_optimizers(model), atomic_path(path) as tmp:
        model.save(tmp)
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


def export_saved_model(model: keras.Model, path: str | Path) -> Path:
    """Export a string-input model as a TF SavedModel with a `serve` signature
    taking `tf.string` of shape `[None]` (Keras's default export can infer a
    float input for models that contain TextVectorization).

    Written to a temporary folder next to `path`, which then replaces `path`
    (`textlstm.files.atomic_directory`): a killed export leaves the previous one."""
    path = Path(path)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve",
        fn=lambda text: model(text, training=False),
        input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="text")],
    )
    with atomic_directory(path) as tmp:
        archive.write_out(str(tmp), verbose=False)
    return path
