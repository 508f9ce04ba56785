"""The text classifier: Embedding -> (Bi)LSTM stack -> dropout -> dense head.

```python
from textlstm.config import ModelConfig
from textlstm.models import build_classifier
model = build_classifier(ModelConfig(units=[64, 64]), vocab_size=20000, num_classes=2)
model.summary()
```
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from textlstm.config import FUSED_ACCURACY, ConfigError, ModelConfig
from textlstm.layers import HashedNgrams, LogitFusion, MaskedPooling1D
from textlstm.models.ngrams import LeaveOneOutCorrection
from textlstm.models.rnn import recurrent_layer


def build_classifier(
    config: ModelConfig,
    vocab_size: int,
    num_classes: int,
    embeddings: np.ndarray | None = None,
    train_embeddings: bool = True,
    name: str = "classifier",
    ngram_weights: np.ndarray | None = None,
    char_ngrams: np.ndarray | None = None,
    late_ngram_weights: np.ndarray | None = None,
    late_char_ngrams: np.ndarray | None = None,
) -> keras.Model:
    """A functional model from token ids `(batch, time)` (0 = padding) to
    class probabilities: one sigmoid unit for 2 classes, softmax otherwise.

    With `config.ngram_features` (and/or `config.ngram_chars`), a linear path
    over hashed word n-grams (and the character n-grams of each token, given
    as the `char_ngrams` table from `textlstm.models.ngrams.char_ngram_table`)
    is added to the logits ("wide & deep"); `ngram_weights`
    `(ngram_buckets, outputs)` initializes it, e.g. with naive Bayes
    log-count ratios (`textlstm.models.ngrams.naive_bayes_weights`).

    The path that `config.late_path()` describes (the same path with
    `config.ngram_fusion: late`, a second one with `config.late_ngrams`) is
    late: its weights (`late_ngram_weights`, with the `late_char_ngrams`
    table) stay fixed, and its logits meet the network's (the LSTM's, plus the
    joint path's if there is one) in a `LogitFusion` layer that passes the
    network's logits through unchanged until `fit_late_fusion` fits it."""
    if not config.units:
        raise ConfigError("model.units must list at least one layer size")
    if num_classes < 2:
        raise ConfigError(f"need at least 2 classes, got {num_classes}")
    reg = keras.regularizers.L2(config.l2) if config.l2 else None
    ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    if embeddings is not None:
        if embeddings.shape[0] != vocab_size:
            raise ConfigError(f"embedding matrix has {embeddings.shape[0]} rows, vocabulary has {vocab_size}")
        dim = embeddings.shape[1]
    else:
        dim = config.embedding_dim
    embedding = keras.layers.Embedding(vocab_size, dim, mask_zero=True, embeddings_initializer="uniform",
                                       embeddings_regularizer=reg, trainable=train_embeddings, name="embedding")
    x = embedding(ids)
    if embeddings is not None:
        embedding.embeddings.assign(embeddings)  # assigned, not a Constant initializer: see _ngram_weights
    if config.word_dropout:
        # Drops whole tokens (all their embedding channels) during training.
        x = keras.layers.Dropout(config.word_dropout, noise_shape=(None, None, 1), name="word_dropout")(x)
    if config.embedding_dropout:
        x = keras.layers.SpatialDropout1D(config.embedding_dropout, name="embedding_dropout")(x)
    pooled = config.pooling in ("max", "mean")
    for i, units in enumerate(config.units):
        last = i == len(config.units) - 1
        x = recurrent_layer(
            config.cell, units,
            return_sequences=not last or pooled,
            bidirectional=config.bidirectional,
            dropout=config.rnn_dropout,
            recurrent_dropout=config.recurrent_dropout,
            activation=config.activation,
            recurrent_activation=config.recurrent_activation,
            name=f"{config.cell}_{i}",
        )(x)
    if pooled:
        x = MaskedPooling1D(config.pooling, name=f"{config.pooling}_pool")(x)
    if config.dropout:
        x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    outputs = _output_units(num_classes)
    logits = keras.layers.Dense(outputs, kernel_regularizer=reg, name="logits")(x)
    if config.has_joint_path():
        logits = keras.layers.Add(name="wide_and_deep")([logits, _wide_path(ids, config, outputs, ngram_weights,
                                                                            char_ngrams)])
    late = config.late_path()
    if late is not None:
        wide = _wide_path(ids, late, outputs, late_ngram_weights, late_char_ngrams, scaled=False, prefix="late_")
        logits = LogitFusion(trainable=False, name="fusion")([logits, wide])
    return keras.Model(ids, _probabilities(logits), name=name)


def build_nbsvm(config: ModelConfig, num_classes: int, ngram_weights: np.ndarray,
                char_ngrams: np.ndarray | None = None, name: str = "nbsvm") -> keras.Model:
    """The wide path alone as NBSVM (Wang & Manning 2012): a logistic
    regression whose weight for each n-gram is its naive Bayes ratio times a
    learned factor (starting at 0, L2 `config.ngram_l2`). `nbsvm_weights`
    reads the fitted weights (ratio x factor) back out of it."""
    outputs = _output_units(num_classes)
    ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    gram_ids = ngram_layer(config, char_ngrams)(ids)
    ratios = _ngram_weights(gram_ids, config, outputs, ngram_weights, trainable=False)
    factors = keras.layers.Embedding(config.ngram_buckets, outputs, mask_zero=True, embeddings_initializer="zeros",
                                     embeddings_regularizer=keras.regularizers.L2(config.ngram_l2),
                                     name="ngram_factors")(gram_ids)
    logits = MaskedPooling1D("sum", name="ngram_sum")(keras.layers.Multiply(name="nbsvm")([ratios, factors]))
    logits = keras.layers.Dense(outputs, name="logits")(logits)  # a scale and a bias
    return keras.Model(ids, _probabilities(logits), name=name)


def _output_units(num_classes: int) -> int:
    """Logits per example: one (sigmoid) for 2 classes, one per class (softmax) otherwise."""
    return 1 if num_classes == 2 else num_classes


def _probabilities(logits, name: str | None = "probabilities"):
    """Sigmoid over a single logit, softmax over several."""
    return keras.layers.Activation("sigmoid" if logits.shape[-1] == 1 else "softmax", name=name)(logits)


def nbsvm_weights(model: keras.Model) -> np.ndarray:
    """Per-n-gram weights `(buckets, outputs)` of a fitted `build_nbsvm` model
    (ratio x factor x the final scale), to initialize the wide path."""
    ratios = model.get_layer("ngram_weights").get_weights()[0]
    factors = model.get_layer("ngram_factors").get_weights()[0]
    scale = model.get_layer("logits").get_weights()[0]  # (outputs, outputs)
    return ((ratios * factors) @ scale).astype("float32")


def fusion_sources(model: keras.Model) -> keras.Model:
    """The two logit sources that meet in `model`'s `LogitFusion` layer (the
    network, the late n-gram path) as one model sharing `model`'s weights."""
    return keras.Model(model.inputs, list(model.get_layer("fusion").input))


def fit_late_fusion(model: keras.Model, dataset, steps: int = 300, learning_rate: float = 0.05,
                    sources: keras.Model | None = None) -> dict:
    """Fit the `LogitFusion` weights of a `build_classifier` model with a
    late n-gram path (its network already trained) on `dataset` of
    `(token_ids, label)` batches, e.g. the validation split: a logistic
    regression over the network's and the late n-gram path's logits,
    everything else frozen. The logits are computed once; the combiner trains
    full-batch. Returns the fitted weights and each source's accuracy on
    `dataset` (`network` is the LSTM with its joint n-gram path, if any).

    Use data the LSTM and the naive Bayes counts have not seen: on the
    training split the n-gram path looks almost perfect, and the combiner
    would trust it too much. `sources` (`fusion_sources(model)`) can be
    passed to reuse its traced predict function across calls."""
    fusion = model.get_layer("fusion")
    sources = sources or fusion_sources(model)
    deep, wide, y = [], [], []
    for ids, labels in dataset:
        d, w = sources.predict_on_batch(ids)  # traced per shape; once traced ~20x faster than eager calls
        deep.append(np.asarray(d))
        wide.append(np.asarray(w))
        y.append(np.asarray(labels))
    deep, wide, y = np.concatenate(deep), np.concatenate(wide), np.concatenate(y)
    binary = deep.shape[-1] == 1
    inputs = [keras.Input(shape=deep.shape[1:]), keras.Input(shape=wide.shape[1:])]
    fusion.trainable = True
    try:
        combiner = keras.Model(inputs, _probabilities(fusion(inputs), name=None))
        combiner.compile(optimizer=keras.optimizers.Adam(learning_rate),
                         loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy")
        # Full-batch steps in one epoch (per-epoch overhead would dominate).
        batches = tf.data.Dataset.from_tensors(((deep, wide), y)).repeat(steps)
        combiner.fit(batches, epochs=1, verbose=0, shuffle=False)
    finally:
        fusion.trainable = False

    def accuracy(logits):
        predicted = (logits[:, 0] > 0).astype(int) if binary else logits.argmax(-1)
        return float((predicted == y.reshape(-1)).mean())

    fused = np.asarray(fusion([deep, wide]))
    weights = fusion.source_weights.numpy()
    return {"network_weight": float(weights[0]), "ngram_weight": float(weights[1]),
            "bias": fusion.bias.numpy().round(4).tolist(), "examples": int(len(y)),
            "accuracy": {"network": accuracy(deep), "ngrams": accuracy(wide),
                         "fused": accuracy(fused)}}


class FusedAccuracy(keras.callbacks.Callback):
    """Adds `val_fused_accuracy` to each epoch's logs: the accuracy on
    `val_ds` of `model` with its late fusion fitted there (`fit_late_fusion`)
    at that epoch's weights, so that early stopping, checkpoints, the CSV log
    and Keras Tuner can use the fused model's score. The fusion weights are
    put back afterwards, so training itself is unchanged. Three numbers are
    fitted and scored on the same texts, so the score is slightly optimistic.

    Give it before other callbacks (`textlstm.training.fit` runs the
    callbacks it is given first)."""

    def __init__(self, model: keras.Model, val_ds):
        super().__init__()
        self.network = model  # not `self.model`: fit may train a wrapper that shares its weights
        self.val_ds = val_ds
        self.sources = fusion_sources(model)

    def on_epoch_end(self, epoch, logs=None):
        fusion = self.network.get_layer("fusion")
        before = fusion.get_weights()
        try:
            report = fit_late_fusion(self.network, self.val_ds, sources=self.sources)
        finally:
            fusion.set_weights(before)
        if logs is not None:
            logs[FUSED_ACCURACY] = report["accuracy"]["fused"]


def leave_one_out_trainer(model: keras.Model, naive_bayes_counts: np.ndarray) -> keras.Model:
    """The training twin of a `build_classifier` model whose wide path holds
    fixed naive Bayes ratios (`ngram_init: naive_bayes`, `ngram_learn: scale`).

    It takes `[token_ids, label]` and shares every layer and weight with
    `model`; each training text's n-gram sum is corrected to leave that text
    out of the counts (`LeaveOneOutCorrection`), so the LSTM and the scale
    learn from the errors naive Bayes makes on texts it has not seen. Pass
    label -1 for texts that were not counted (validation). Fit the trainer,
    then use `model`."""
    names = {layer.name for layer in model.layers}
    if not {"ngrams", "ngram_sum", "ngram_scale", "logits"} <= names:
        raise ConfigError("leave-one-out training needs the wide n-gram path with fixed naive Bayes weights "
                          "(model.ngram_init: naive_bayes, model.ngram_learn: scale)")
    ids = model.inputs[0]
    label = keras.Input(shape=(), dtype="int32", name="label")
    correction = LeaveOneOutCorrection(naive_bayes_counts, name="leave_one_out")(
        [model.get_layer("ngrams").output, label])
    wide = keras.layers.Add(name="ngram_sum_left_out")([model.get_layer("ngram_sum").output, correction])
    logits = keras.layers.Add(name="wide_and_deep_left_out")(
        [model.get_layer("logits").output, model.get_layer("ngram_scale")(wide)])
    activation = model.get_layer("probabilities").activation
    probs = keras.layers.Activation(activation, name="probabilities_left_out")(logits)
    return keras.Model([ids, label], probs, name=f"{model.name}_trainer")


def ngram_layer(config: ModelConfig, char_ngrams: np.ndarray | None = None, name: str = "ngrams") -> HashedNgrams:
    """The `HashedNgrams` layer for `config`'s wide path, holding the
    character n-gram table `char_ngrams` when `config.ngram_chars` is set."""
    if config.ngram_chars and char_ngrams is None:
        raise ConfigError("model.ngram_chars needs the character n-gram table of the vocabulary (char_ngrams=...)")
    layer = HashedNgrams(config.ngram_features, config.ngram_buckets,
                         char_ngrams_shape=char_ngrams.shape if config.ngram_chars else None, name=name)
    if config.ngram_chars:
        layer.char_ngrams.assign(char_ngrams)
    return layer


def _ngram_weights(gram_ids, config: ModelConfig, outputs: int, init_weights, trainable: bool, prefix: str = ""):
    """One weight per output for each hashed n-gram id (0 = padding, masked).
    `init_weights` are assigned after the layer is built: a `Constant`
    initializer would write all of them (a million per output) into the
    saved model's JSON config as well as into its weights file."""
    layer = keras.layers.Embedding(config.ngram_buckets, outputs, mask_zero=True, embeddings_initializer="zeros",
                                   trainable=trainable, name=f"{prefix}ngram_weights")
    weights = layer(gram_ids)
    if init_weights is not None:
        layer.embeddings.assign(init_weights)
    return weights


def _wide_path(ids, config: ModelConfig, outputs: int, ngram_weights, char_ngrams, scaled: bool = True,
               prefix: str = ""):
    """A linear model over hashed n-grams (as in wide & deep, or fastText):
    the sum of one weight (per output) for every n-gram of the text. Its
    layers' names start with `prefix`."""
    gram_ids = ngram_layer(config, char_ngrams, name=f"{prefix}ngrams")(ids)
    weights = _ngram_weights(gram_ids, config, outputs, ngram_weights, trainable=config.ngram_learn == "all",
                             prefix=prefix)
    wide = MaskedPooling1D("sum", name=f"{prefix}ngram_sum")(weights)
    if config.ngram_learn == "scale" and scaled:
        # A learned scale (identity at first) calibrates the fixed weights.
        wide = keras.layers.Dense(outputs, use_bias=False, kernel_initializer="identity", name="ngram_scale")(wide)
    return wide
