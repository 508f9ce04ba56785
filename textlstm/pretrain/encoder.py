"""The pretrained encoder artifact: what `textlstm pretrain` writes and a classifier reads.

A folder with

- `encoder.json`: `{"format": "textlstm-encoder", "version": 1, "vectorizer":
  {"level", "max_tokens", "standardize"}, "embedding_dim", "units",
  "bidirectional": true, "cell": "lstm", "vocabulary_size", "trained_on": {...},
  "perplexity": {"forward", "backward"}}`;
- `vocabulary.txt`: the vectorizer's vocabulary, one token a line (`""` and
  `[UNK]` first), separated by `\\n` only;
- `weights.npz`: `embeddings` `(V, d)`, `forward_kernel` `(d, 4u)`,
  `forward_recurrent_kernel` `(u, 4u)`, `forward_bias` `(4u,)`, and `backward_*` likewise
  (Keras's LSTM gate order i, f, c, o);
- `metrics.json`: the training history (written by `textlstm.pretrain.train`).

```python
info = read_encoder_info("runs/imdb_pretrain")   # json only, no TensorFlow
encoder = load_encoder("runs/imdb_pretrain")
vectorizer = encoder.make_vectorizer()           # the same ids as during pretraining
network = build_classifier(ModelConfig(units=[encoder.units], embedding_dim=encoder.embedding_dim),
                           vocab_size=len(encoder.vocabulary), num_classes=2)
apply_encoder(encoder, network)                  # embedding and the first (Bi)LSTM
```

This module imports TensorFlow only inside `Encoder.make_vectorizer`,
`save_encoder` and `apply_encoder`.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textlstm.errors import ConfigError
from textlstm.files import write_bytes_atomic, write_text_atomic

FORMAT = "textlstm-encoder"
VERSION = 1
INFO = "encoder.json"
VOCABULARY = "vocabulary.txt"
WEIGHTS = "weights.npz"
LSTM_WEIGHTS = ("kernel", "recurrent_kernel", "bias")
REQUIRED = ("vectorizer", "embedding_dim", "units", "vocabulary_size", "cell", "bidirectional")


def read_encoder_info(path: str | Path) -> dict:
    """`encoder.json` of an encoder folder (or the file itself), checked; no TensorFlow.

    Args:
        path: the folder `textlstm pretrain` wrote, or its `encoder.json`.

    Raises:
        ConfigError: naming the path, when it is missing or not a textlstm encoder.
    """
    path = Path(path)
    file = path / INFO if path.is_dir() or path.suffix != ".json" else path
    if not file.exists():
        raise ConfigError(f"{path}: no pretrained encoder here (expected {file}, written by textlstm pretrain)")
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{file}: not a valid encoder.json: {err}") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise ConfigError(f"{file}: not a textlstm encoder (format is not {FORMAT!r})")
    if info.get("version") != VERSION:
        raise ConfigError(f"{file}: encoder version {info.get('version')!r}; this textlstm reads version {VERSION}")
    missing = [k for k in REQUIRED if k not in info]
    if missing:
        raise ConfigError(f"{file}: encoder.json lacks {', '.join(missing)}")
    vec = info["vectorizer"]
    if not isinstance(vec, dict) or vec.get("level") != "word" or "standardize" not in vec:
        raise ConfigError(f"{file}: encoder.json 'vectorizer' must give level: word and standardize")
    return info


@dataclass
class Encoder:
    """A loaded encoder.

    Args:
        info: `encoder.json`.
        vocabulary: the tokens in id order (`""`, `[UNK]`, ...).
        embeddings: `(V, embedding_dim)`.
        forward: the forward LSTM's `[kernel, recurrent_kernel, bias]`.
        backward: the backward LSTM's, likewise.
        path: the folder it was loaded from.
    """

    info: dict
    vocabulary: list[str]
    embeddings: np.ndarray
    forward: list[np.ndarray]
    backward: list[np.ndarray]
    path: Path | None = None

    @property
    def units(self) -> int:
        return int(self.info["units"])

    @property
    def embedding_dim(self) -> int:
        return int(self.info["embedding_dim"])

    def make_vectorizer(self, name: str = "vectorizer"):
        """A `keras.layers.TextVectorization` with this vocabulary (fixed) and the
        pretraining standardization: it gives the ids the encoder was trained on.

        Args:
            name: the layer's name.
        """
        import keras

        from textlstm.data.vectorize import STANDARDIZERS

        standardize = self.info["vectorizer"]["standardize"]
        if standardize not in STANDARDIZERS:
            raise ConfigError(f"{self.path}: unknown standardize {standardize!r} in encoder.json")
        return keras.layers.TextVectorization(
            standardize=STANDARDIZERS[standardize],
            split="whitespace",
            output_mode="int",
            vocabulary=list(self.vocabulary),
            name=name,
        )


def load_encoder(path: str | Path) -> Encoder:
    """The encoder in folder `path` (see the module docstring for the files).

    Args:
        path: the folder `textlstm pretrain` wrote.
    """
    path = Path(path)
    info = read_encoder_info(path)
    folder = path if path.is_dir() else path.parent
    vocab_file, weights_file = folder / VOCABULARY, folder / WEIGHTS
    for file in (vocab_file, weights_file):
        if not file.exists():
            raise ConfigError(f"{folder}: incomplete encoder, {file.name} is missing")
    text = vocab_file.read_text(encoding="utf-8")
    vocabulary = text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")
    with np.load(weights_file) as npz:
        arrays = {k: npz[k] for k in npz.files}
    try:
        embeddings = arrays["embeddings"]
        forward = [arrays[f"forward_{k}"] for k in LSTM_WEIGHTS]
        backward = [arrays[f"backward_{k}"] for k in LSTM_WEIGHTS]
    except KeyError as err:
        raise ConfigError(f"{weights_file}: missing array {err}") from None
    v = int(info["vocabulary_size"])
    if len(vocabulary) != v or embeddings.shape != (v, int(info["embedding_dim"])):
        raise ConfigError(
            f"{folder}: vocabulary.txt has {len(vocabulary)} tokens and embeddings {embeddings.shape}, "
            f"encoder.json says vocabulary_size {v}, embedding_dim {info['embedding_dim']}"
        )
    return Encoder(info, vocabulary, embeddings, forward, backward, folder)


def save_encoder(output_dir: str | Path, info: dict, vocabulary: list[str], lm) -> None:
    """Write `encoder.json`, `vocabulary.txt` and `weights.npz` of a trained language model.

    Args:
        output_dir: the folder.
        info: `encoder.json` without `format` and `version`.
        vocabulary: the vectorizer's vocabulary.
        lm: the `textlstm.pretrain.model.BiLanguageModel`.
    """
    out = Path(output_dir)
    bad = [i for i, token in enumerate(vocabulary) if "\n" in token or "\r" in token]
    if bad:
        raise ConfigError(f"vocabulary token {bad[0]} ({vocabulary[bad[0]]!r}) holds a line break")
    arrays = {"embeddings": np.asarray(lm.embedding.embeddings)}
    for prefix, layer in (("forward", lm.forward_lstm), ("backward", lm.backward_lstm)):
        for key, value in zip(LSTM_WEIGHTS, layer.get_weights()):
            arrays[f"{prefix}_{key}"] = np.asarray(value)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes_atomic(out / WEIGHTS, buffer.getvalue())
    write_text_atomic(out / VOCABULARY, "".join(f"{token}\n" for token in vocabulary), newline="")
    full = {"format": FORMAT, "version": VERSION, **info}
    write_text_atomic(out / INFO, json.dumps(full, indent=2) + "\n")


def _check(what: str, encoder_value, model_key: str, model_value) -> None:
    if encoder_value != model_value:
        raise ConfigError(f"encoder has {what} {encoder_value}, {model_key} is {model_value}")


def apply_encoder(encoder: Encoder, network) -> None:
    """Set a classifier's `embedding` layer and first recurrent layer `lstm_0` from `encoder`.

    `lstm_0` may be a `Bidirectional` of LSTMs (forward and backward weights)
    or a plain LSTM (forward weights only), as `textlstm.models.classifier.build_classifier`
    builds them. Shapes are checked first; nothing is assigned on a mismatch.

    Args:
        encoder: from `load_encoder`.
        network: the built classifier.

    Raises:
        ConfigError: naming what differs (vocabulary size, embedding_dim, units, cell).
    """
    import keras

    try:
        embedding = network.get_layer("embedding")
    except ValueError:
        raise ConfigError("the model has no layer named 'embedding' to take the pretrained embeddings") from None
    try:
        rnn = network.get_layer("lstm_0")
    except ValueError:
        names = [layer.name for layer in network.layers]
        raise ConfigError(
            f"the model has no first LSTM layer 'lstm_0' (layers: {names}); the encoder needs model.cell: lstm"
        ) from None
    _check("vocabulary_size", len(encoder.vocabulary), "the model's vocabulary size", embedding.input_dim)
    _check("embedding_dim", encoder.embedding_dim, "model.embedding_dim", embedding.output_dim)
    if isinstance(rnn, keras.layers.Bidirectional):
        layers = [(rnn.forward_layer, encoder.forward), (rnn.backward_layer, encoder.backward)]
    else:
        layers = [(rnn, encoder.forward)]
    for layer, _ in layers:
        if not isinstance(layer, keras.layers.LSTM):
            raise ConfigError(f"layer lstm_0 is a {type(layer).__name__}; the encoder holds LSTM weights")
        _check("units", encoder.units, "model.units[0]", layer.units)
    for layer, weights in layers:
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if expected != [tuple(w.shape) for w in weights]:
            raise ConfigError(f"encoder LSTM weights {[w.shape for w in weights]} do not fit {layer.name}: {expected}")
    embedding.embeddings.assign(encoder.embeddings)
    for layer, weights in layers:
        layer.set_weights(weights)
