"""Small Keras layers that textlstm models and artifacts need.

All are registered as serializable so a saved `.keras` file loads with
`keras.saving.load_model` once `textlstm` is imported.
"""

from __future__ import annotations

import json

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="textlstm")
class NonEmptySequences(keras.layers.Layer):
    """Truncate token-id rows to `max_length` and give a row that is all
    padding a single OOV token (id 1).

    A text that standardizes to nothing would otherwise become a fully masked
    row, which the cuDNN kernel rejects. A batch of width 0 is widened to 1.

    >>> import numpy as np
    >>> NonEmptySequences()(np.array([[0, 0], [5, 0]])).numpy().tolist()
    [[1, 0], [5, 0]]
    """

    def __init__(self, oov_id: int = 1, max_length: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.oov_id = oov_id
        self.max_length = max_length

    def call(self, ids):
        if self.max_length:
            ids = ids[:, : self.max_length]
        width = ops.shape(ids)[1]
        ids = ops.cond(
            ops.equal(width, 0),
            lambda: ops.zeros((ops.shape(ids)[0], 1), dtype=ids.dtype),
            lambda: ids,
        )
        empty = ops.logical_not(ops.any(ops.not_equal(ids, 0), axis=1, keepdims=True))
        first = ops.where(empty, ops.full_like(ids[:, :1], self.oov_id), ids[:, :1])
        return ops.concatenate([first, ids[:, 1:]], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None)

    def get_config(self):
        return {**super().get_config(), "oov_id": self.oov_id, "max_length": self.max_length}


@keras.saving.register_keras_serializable(package="textlstm")
class MaskedPooling1D(keras.layers.Layer):
    """Max, mean or sum over the time axis, ignoring masked (padded) steps."""

    def __init__(self, mode: str = "max", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("max", "mean", "sum"):
            raise ValueError(f"pooling mode must be 'max', 'mean' or 'sum', got {mode!r}")
        self.mode = mode
        self.supports_masking = True

    def call(self, x, mask=None):
        if mask is None:
            return {"max": ops.max, "mean": ops.mean, "sum": ops.sum}[self.mode](x, axis=1)
        m = ops.expand_dims(ops.cast(mask, x.dtype), -1)
        if self.mode == "max":
            return ops.max(x + (m - 1.0) * 1e9, axis=1)
        total = ops.sum(x * m, axis=1)
        return total if self.mode == "sum" else total / ops.maximum(ops.sum(m, axis=1), 1.0)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="textlstm")
class Metadata(keras.layers.Layer):
    """Identity layer that carries JSON metadata (label names, config) inside a
    saved model, so one `.keras` file is the whole artifact."""

    def __init__(self, metadata: dict | str | None = None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        self.metadata = metadata or {}

    def call(self, x):
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "metadata": json.dumps(self.metadata)}


@keras.saving.register_keras_serializable(package="textlstm")
class HashedNgrams(keras.layers.Layer):
    """Ids of the 1..`order`-grams of right-padded token-id rows, hashed into
    `buckets` (0 stays padding): the input of a linear bag-of-n-grams path.

    With `char_ngrams_shape=(vocabulary_size, k)` the layer also emits, for
    every token, the hashed character n-grams of its vocabulary entry (a
    fastText-style subword table of `k` ids per token, 0-padded, built by
    `textlstm.wide.ngrams.char_ngram_table` and stored as a weight), so rare
    and unseen inflections share evidence with their stems.

    >>> import numpy as np
    >>> tuple(HashedNgrams(order=2, buckets=100)(np.array([[3, 4, 0]])).shape)  # 2 unigrams, 1 bigram, 2 pads
    (1, 5)
    """

    def __init__(self, order: int = 2, buckets: int = 2**18, char_ngrams_shape=None, **kwargs):
        super().__init__(**kwargs)
        self.order = order
        self.buckets = buckets
        self.char_ngrams_shape = tuple(char_ngrams_shape) if char_ngrams_shape else None
        if self.char_ngrams_shape:
            self.char_ngrams = self.add_weight(
                shape=self.char_ngrams_shape, initializer="zeros", dtype="int32", trainable=False, name="char_ngrams"
            )

    def call(self, ids):
        ids = ops.cast(ids, "int64")
        grams = [ops.where(ids > 0, (ids * 2654435761) % (self.buckets - 1) + 1, 0)] if self.order else []
        for n in range(2, self.order + 1):
            h = ids[:, : ops.shape(ids)[1] - n + 1]
            valid = h > 0
            for k in range(1, n):
                nxt = ids[:, k : ops.shape(ids)[1] - n + 1 + k]
                h = h * 1000003 + nxt
                valid = ops.logical_and(valid, nxt > 0)
            grams.append(ops.where(valid, (h * n) % (self.buckets - 1) + 1, 0))
        if self.char_ngrams_shape:
            # Out-of-range ids (none in practice) map to row 0, which is all padding.
            rows = ops.where(ids < self.char_ngrams_shape[0], ids, 0)
            chars = ops.take(self.char_ngrams, ops.cast(rows, "int32"), axis=0)  # (batch, time, k)
            grams.append(ops.cast(ops.reshape(chars, (ops.shape(ids)[0], -1)), "int64"))
        return ops.concatenate(grams, axis=1) if len(grams) > 1 else grams[0]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None)

    def get_config(self):
        return {
            **super().get_config(),
            "order": self.order,
            "buckets": self.buckets,
            "char_ngrams_shape": list(self.char_ngrams_shape) if self.char_ngrams_shape else None,
        }


@keras.saving.register_keras_serializable(package="textlstm")
class LogitFusion(keras.layers.Layer):
    """Late fusion of several models' logits: `sum_i w_i * logits_i + b`, one
    weight per source and one bias per output (stacking with a linear
    combiner). It starts as the first source alone (`w = [1, 0, ...]`,
    `b = 0`), so a model can train its first source before the weights are
    fitted (see `textlstm.wide.component.fit_late_fusion`).

    >>> import numpy as np
    >>> LogitFusion()([np.ones((2, 1)), np.full((2, 1), 5.0)]).numpy().ravel().tolist()
    [1.0, 1.0]
    """

    def build(self, input_shapes):
        sources, outputs = len(input_shapes), input_shapes[0][-1]
        self.source_weights = self.add_weight(shape=(sources,), initializer="zeros", name="source_weights")
        self.source_weights.assign(ops.one_hot(0, sources))
        self.bias = self.add_weight(shape=(outputs,), initializer="zeros", name="bias")

    def call(self, inputs):
        fused = self.bias
        for i, logits in enumerate(inputs):
            fused = fused + self.source_weights[i] * logits
        return fused

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]
