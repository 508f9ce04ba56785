"""The encoder-decoder training model, its masked loss and masked token accuracy.

```python
import numpy as np
from textlstm.seq2seq.config import Seq2SeqModelConfig
from textlstm.seq2seq.model import build_seq2seq, compile_seq2seq
model = build_seq2seq(Seq2SeqModelConfig(units=[64]), source_vocab_size=40, target_vocab_size=16)
compile_seq2seq(model)
source = np.array([[5, 6, 7, 0]]); target_in = np.array([[2, 9, 4]]); target_out = np.array([[9, 4, 3]])
model.fit((source, target_in), target_out, verbose=0)
model.predict((source, target_in), verbose=0).shape  # (1, 3, 16): logits
```

Inputs are right-padded token ids with 0 as padding: `source_ids (batch, S)`
and the teacher-forced `target_in_ids (batch, T)` (start token + target);
the output is vocabulary logits `(batch, T, vocab)` to be compared with
`target_out` (target + end token). The layers are named so that
`textlstm.seq2seq.decoding` can rebuild encoder and one-step decoder models
around the same layer objects, also after `keras.saving.load_model`.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops

from textlstm.layers import Metadata, NonEmptySequences
from textlstm.models.rnn import recurrent_layer
from textlstm.seq2seq.config import Seq2SeqModelConfig

METADATA_LAYER = "seq2seq_metadata"
PAD_ID = 0


def _states_per_layer(cell: str) -> int:
    return 2 if cell == "lstm" else 1


class Seq2SeqLayers:
    """The layers of one encoder-decoder, created from a config or looked up by
    name in a built model (so inference reuses the trained objects)."""

    def __init__(self, config: Seq2SeqModelConfig, get):
        self.config = config
        enc, dec = config.encoder_sizes(), config.decoder_sizes()
        n_states = _states_per_layer(config.cell)
        self.source_embedding = get("source_embedding")
        self.target_embedding = get("target_embedding")
        self.source_dropout = get("source_dropout")
        self.target_dropout = get("target_dropout")
        self.non_empty = get("non_empty_source")
        self.encoder = [get(f"encoder_{config.cell}_{i}") for i in range(len(enc))]
        self.decoder = [get(f"decoder_{config.cell}_{j}") for j in range(len(dec))]
        self.bridges = [[get(f"bridge_{j}_{k}") for k in range(n_states)] for j in range(len(dec))]
        self.attention = get("attention")
        self.attention_query = get("attention_query")
        self.attention_key = get("attention_key")
        self.attention_projection = get("attention_projection")
        self.output_dropout = get("output_dropout")
        self.logits = get("logits")

    @classmethod
    def create(cls, config: Seq2SeqModelConfig, source_vocab_size: int, target_vocab_size: int):
        enc, dec = config.encoder_sizes(), config.decoder_sizes()
        top = dec[-1]
        att_units = config.attention_units or top
        n_states = _states_per_layer(config.cell)
        L = keras.layers
        made = {
            "source_embedding": L.Embedding(
                source_vocab_size, config.embedding_dim, mask_zero=True, name="source_embedding"
            ),
            "target_embedding": L.Embedding(
                target_vocab_size, config.embedding_dim, mask_zero=True, name="target_embedding"
            ),
            "source_dropout": L.Dropout(config.dropout, name="source_dropout"),
            "target_dropout": L.Dropout(config.dropout, name="target_dropout"),
            "output_dropout": L.Dropout(config.dropout, name="output_dropout"),
            "non_empty_source": NonEmptySequences(name="non_empty_source"),
            "logits": L.Dense(target_vocab_size, name="logits"),
        }
        for i, units in enumerate(enc):
            made[f"encoder_{config.cell}_{i}"] = recurrent_layer(
                config.cell,
                units,
                return_sequences=True,
                return_state=True,
                bidirectional=config.bidirectional,
                dropout=config.rnn_dropout,
                name=f"encoder_{config.cell}_{i}",
            )
        for j, units in enumerate(dec):
            made[f"decoder_{config.cell}_{j}"] = recurrent_layer(
                config.cell,
                units,
                return_sequences=True,
                return_state=True,
                dropout=config.rnn_dropout,
                name=f"decoder_{config.cell}_{j}",
            )
            source_units = enc[j] if len(enc) == len(dec) else enc[-1]
            source_units *= 2 if config.bidirectional else 1
            for k in range(n_states):
                # h gets tanh (its range); an LSTM's cell state c is unbounded: linear.
                act = "tanh" if k == 0 else None
                made[f"bridge_{j}_{k}"] = (
                    L.Dense(units, activation=act, name=f"bridge_{j}_{k}") if source_units != units else None
                )
        if config.attention == "luong":
            made["attention"] = L.Attention(name="attention")
            made["attention_key"] = L.Dense(top, use_bias=False, name="attention_key")
        elif config.attention == "bahdanau":
            made["attention"] = L.AdditiveAttention(name="attention")
            made["attention_query"] = L.Dense(att_units, use_bias=False, name="attention_query")
            made["attention_key"] = L.Dense(att_units, name="attention_key")
        if config.attention != "none":
            made["attention_projection"] = L.Dense(
                config.attention_dim or top, activation="tanh", name="attention_projection"
            )
        return cls(config, made.get)

    @classmethod
    def from_model(cls, model: keras.Model, config: Seq2SeqModelConfig | None = None):
        config = config or config_from_model(model)
        names = {layer.name for layer in model.layers}
        return cls(config, lambda name: model.get_layer(name) if name in names else None)

    # -- graph pieces shared by the training model and the inference models --

    def encode(self, source_ids, training=None):
        """source ids -> (encoder outputs, encoder mask, decoder initial states)."""
        source_ids = self.non_empty(source_ids)
        mask = ops.not_equal(source_ids, PAD_ID)
        x = self.source_dropout(self.source_embedding(source_ids), training=training)
        per_layer = []
        for layer in self.encoder:
            out = layer(x, training=training)
            x, states = out[0], list(out[1:])
            if self.config.bidirectional:  # [fwd states..., bwd states...] -> concatenated pairs
                half = len(states) // 2
                states = [ops.concatenate([f, b], axis=-1) for f, b in zip(states[:half], states[half:])]
            per_layer.append(states)
        initial = []
        for j in range(len(self.decoder)):
            states = per_layer[j] if len(per_layer) == len(self.decoder) else per_layer[-1]
            for k, state in enumerate(states):
                bridge = self.bridges[j][k]
                initial.append(bridge(state) if bridge is not None else state)
        return x, mask, initial

    def decode(self, target_ids, states, encoder_outputs, encoder_mask, training=None):
        """target ids + states -> (logits, new states, attention weights or None)."""
        n = _states_per_layer(self.config.cell)
        target_mask = ops.not_equal(target_ids, PAD_ID)
        y = self.target_dropout(self.target_embedding(target_ids), training=training)
        new_states = []
        for j, layer in enumerate(self.decoder):
            out = layer(y, initial_state=list(states[j * n : (j + 1) * n]), training=training)
            y, layer_states = out[0], list(out[1:])
            new_states.extend(layer_states)
        weights = None
        if self.config.attention != "none":
            query = self.attention_query(y) if self.attention_query is not None else y
            key = self.attention_key(encoder_outputs)
            context, weights = self.attention(
                [query, encoder_outputs, key],
                mask=[target_mask, encoder_mask],
                return_attention_scores=True,
                training=training,
            )
            y = self.attention_projection(ops.concatenate([y, context], axis=-1))
        logits = self.logits(self.output_dropout(y, training=training))
        return logits, new_states, weights


def config_from_model(model: keras.Model) -> Seq2SeqModelConfig:
    """The `Seq2SeqModelConfig` stored in the model's metadata layer."""
    meta = model.get_layer(METADATA_LAYER).metadata
    return Seq2SeqModelConfig(**meta["config"])


def build_seq2seq(
    config: Seq2SeqModelConfig,
    source_vocab_size: int,
    target_vocab_size: int,
    metadata: dict | None = None,
    name: str = "seq2seq",
) -> keras.Model:
    """Training model `(source_ids, target_in_ids) -> logits (batch, T, vocab)`.

    `metadata` (JSON-able, e.g. vocabularies and start/end ids) is stored with
    the config in a `Metadata` layer, so a saved `.keras` file is complete.
    """
    if source_vocab_size < 3 or target_vocab_size < 4:
        raise ValueError("vocabularies need padding, OOV and (target) start/end ids")
    layers = Seq2SeqLayers.create(config, source_vocab_size, target_vocab_size)
    source = keras.Input(shape=(None,), dtype="int64", name="source_ids")
    target_in = keras.Input(shape=(None,), dtype="int64", name="target_in_ids")
    meta = {
        "config": dataclasses.asdict(config),
        "source_vocab_size": source_vocab_size,
        "target_vocab_size": target_vocab_size,
        **(metadata or {}),
    }
    # Identity on the (unmasked) source ids: carries the metadata into saved files.
    encoder_outputs, encoder_mask, states = layers.encode(Metadata(meta, name=METADATA_LAYER)(source))
    logits, _, _ = layers.decode(target_in, states, encoder_outputs, encoder_mask)
    return keras.Model([source, target_in], logits, name=name)


@keras.saving.register_keras_serializable(package="textlstm")
class MaskedSparseCategoricalCrossentropy(keras.losses.Loss):
    """Token-level sparse cross-entropy averaged over non-padding targets,
    optionally with label smoothing.

    >>> import numpy as np
    >>> loss = MaskedSparseCategoricalCrossentropy()
    >>> float(loss(np.array([[1, 0]]), np.log(np.array([[[.5, .5], [.9, .1]]]))))  # pad ignored
    0.693...

    Without smoothing it equals `keras.losses.SparseCategoricalCrossentropy(
    from_logits=True, ignore_class=pad_id)`; with `label_smoothing=e` each
    real token's target is `(1 - e) * one_hot + e / vocab`. The mean is over
    real target tokens only (and, where `y_pred` carries a Keras mask, only
    those it keeps): the padding mask times any `sample_weight` is passed to
    Keras as the sample weight of its documented `"mean_with_sample_weight"`
    reduction, which divides by the weights' sum. The mean reductions
    (`"sum_over_batch_size"`, the default, `"mean"` and
    `"mean_with_sample_weight"`; saved models store the first) all mean
    that; `"sum"` sums over real tokens and `None` returns per-token losses,
    0 on padding. Only public Keras API: no mask is set on any tensor.

    Args:
        from_logits: Whether `y_pred` are logits (else probabilities).
        pad_id: The target id that marks padding.
        label_smoothing: Share of each target's probability spread over the vocabulary.
        name: The loss's name.
        reduction: See above.
        **kwargs: Passed to `keras.losses.Loss` (e.g. `dtype`).
    """

    MEAN_REDUCTIONS = ("sum_over_batch_size", "mean", "mean_with_sample_weight")

    def __init__(
        self,
        from_logits: bool = True,
        pad_id: int = PAD_ID,
        label_smoothing: float = 0.0,
        name: str = "masked_sparse_categorical_crossentropy",
        reduction="sum_over_batch_size",
        **kwargs,
    ):
        if reduction in self.MEAN_REDUCTIONS:
            reduction = "mean_with_sample_weight"
        super().__init__(name=name, reduction=reduction, **kwargs)
        self.from_logits = from_logits
        self.pad_id = pad_id
        self.label_smoothing = label_smoothing

    def __call__(self, y_true, y_pred, sample_weight=None):
        weights = self.token_weights(y_true, sample_weight)
        return super().__call__(y_true, y_pred, sample_weight=weights)

    def token_weights(self, y_true, sample_weight=None):
        """1 for each real target token, 0 for padding, times `sample_weight`.

        Args:
            y_true: Target ids `(batch, T)`.
            sample_weight: None, per sequence `(batch,)` or per token `(batch, T)`.
        """
        weights = ops.cast(ops.not_equal(ops.cast(y_true, "int32"), self.pad_id), self.dtype)
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, self.dtype)
            while len(sample_weight.shape) < len(weights.shape):
                sample_weight = ops.expand_dims(sample_weight, -1)
            weights = weights * sample_weight
        return weights

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        real = ops.not_equal(y_true, self.pad_id)
        # Padding positions get class 0 and a uniform prediction (equal logits or probabilities): finite
        # values (weighted 0) and zero gradients, whatever the model put there and whatever pad_id is.
        y_true = ops.where(real, y_true, 0)
        y_pred = ops.where(ops.expand_dims(real, -1), y_pred, ops.ones_like(y_pred))
        if self.label_smoothing:
            onehot = ops.one_hot(y_true, ops.shape(y_pred)[-1], dtype=y_pred.dtype)
            losses = keras.losses.categorical_crossentropy(
                onehot, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing
            )
        else:
            losses = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits)
        return ops.where(real, losses, ops.zeros_like(losses))

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "pad_id": self.pad_id,
            "label_smoothing": self.label_smoothing,
        }


@keras.saving.register_keras_serializable(package="textlstm")
class MaskedTokenAccuracy(keras.metrics.Metric):
    """Share of non-padding target tokens predicted exactly (argmax)."""

    def __init__(self, pad_id: int = PAD_ID, name: str = "token_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.pad_id = pad_id
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        mask = ops.cast(ops.not_equal(y_true, self.pad_id), self.dtype)
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, self.dtype)
            mask = mask * (sample_weight if len(sample_weight.shape) == 2 else ops.expand_dims(sample_weight, -1))
        hit = ops.cast(ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), y_true), self.dtype)
        self.correct.assign_add(ops.sum(hit * mask))
        self.count.assign_add(ops.sum(mask))

    def result(self):
        return ops.divide_no_nan(self.correct, self.count)

    def reset_state(self):
        self.correct.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}


def compile_seq2seq(
    model: keras.Model,
    learning_rate: float = 1e-3,
    clipnorm: float | None = 1.0,
    label_smoothing: float = 0.0,
    **kwargs,
) -> keras.Model:
    """Adam + masked cross-entropy on logits + masked token accuracy."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=clipnorm),
        loss=MaskedSparseCategoricalCrossentropy(label_smoothing=label_smoothing),
        metrics=[MaskedTokenAccuracy()],
        **kwargs,
    )
    return model
