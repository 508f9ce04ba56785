"""The bidirectional LSTM language model: a shared embedding, a forward and a
backward LSTM, and one softmax (V, units) shared by both directions (ELMo's
tied input and output representations).

The forward LSTM reads a right-padded segment left to right and its state at
token t predicts token t + 1. The backward LSTM reads the same segment
reversed within its length (`tf.reverse_sequence`, so the padding stays on
the right and both LSTMs stay eligible for cuDNN) and likewise predicts the
next token of the reversed segment, i.e. the previous one. This is what
`keras.layers.Bidirectional` computes in its backward layer (`go_backwards=True`
over the masked, right-padded sequence: masked steps keep the zero state), so
the weights carry over to a classifier's first `Bidirectional(LSTM)` as they are.

During training the loss is `tf.nn.sampled_softmax_loss` over the
non-padding positions; in inference (`training=False`, validation) it is the
full softmax cross-entropy, computed in chunks of positions, so
`val_forward_loss` / `val_backward_loss` are the true per-token
cross-entropies (perplexity = exp) of each direction.

>>> import numpy as np
>>> lm = BiLanguageModel(vocab_size=50, embedding_dim=8, units=8, sampled=10)
>>> out = lm(np.array([[5, 6, 7, 0], [8, 9, 0, 0]]))
>>> [int(out[k].shape[0]) for k in ("forward", "backward")]  # 2 + 1 predicted tokens per direction
[3, 3]
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="textlstm")
class SoftmaxLoss(keras.layers.Layer):
    """Per-token cross-entropy of next-token targets from hidden states, with
    output weights `(vocab_size, units)` and a bias: sampled softmax when
    `training` (and `sampled < vocab_size`), else the full softmax.

    Args:
        vocab_size: the number of classes.
        sampled: negative classes sampled per step (log-uniform: the vocabulary
            is sorted by frequency).
        chunk: positions per full-softmax chunk (bounds the `(chunk, V)` logits).
    """

    def __init__(self, vocab_size: int, sampled: int, chunk: int = 1024, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = int(vocab_size)
        self.sampled = int(sampled)
        self.chunk = int(chunk)

    def build(self, hidden_shape, targets_shape=None):
        units = hidden_shape[-1]
        self.kernel = self.add_weight(
            name="kernel", shape=(self.vocab_size, units), initializer="glorot_uniform", trainable=True
        )
        self.bias = self.add_weight(name="bias", shape=(self.vocab_size,), initializer="zeros", trainable=True)

    def call(self, hidden, targets, training=False):
        """Args:
        hidden: `(N, units)` states.
        targets: `(N,)` int token ids to predict.
        training: sampled (True) or full (False) softmax.
        """
        targets = tf.cast(targets, tf.int64)
        if training and self.sampled < self.vocab_size - 1:
            return tf.nn.sampled_softmax_loss(
                weights=self.kernel,
                biases=self.bias,
                labels=targets[:, None],
                inputs=hidden,
                num_sampled=self.sampled,
                num_classes=self.vocab_size,
                remove_accidental_hits=True,
            )
        return self._full(hidden, targets)

    def _full(self, hidden, targets):
        n = tf.shape(hidden)[0]
        pad = (-n) % self.chunk
        h = tf.reshape(tf.pad(hidden, [[0, pad], [0, 0]]), [-1, self.chunk, tf.shape(hidden)[1]])
        t = tf.reshape(tf.pad(targets, [[0, pad]]), [-1, self.chunk])

        def one(args):
            hh, tt = args
            logits = tf.matmul(hh, self.kernel, transpose_b=True) + self.bias
            return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tt, logits=logits)

        ce = tf.map_fn(one, (h, t), fn_output_signature=tf.float32, parallel_iterations=1)
        return tf.reshape(ce, [-1])[:n]

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "sampled": self.sampled, "chunk": self.chunk}


def reverse_within_length(ids):
    """Each row of right-padded `ids` reversed within its length (padding stays on the right).

    Args:
        ids: `(batch, time)` int token ids, 0 = padding.
    """
    lengths = tf.reduce_sum(tf.cast(tf.not_equal(ids, 0), tf.int32), axis=1)
    return tf.reverse_sequence(ids, lengths, seq_axis=1, batch_axis=0)


@keras.saving.register_keras_serializable(package="textlstm")
class BiLanguageModel(keras.Model):
    """Forward and backward LSTM language models over right-padded token ids.

    Called on `(batch, time)` ids it returns `{"forward": (N_f,), "backward": (N_b,)}`
    per-token losses (every non-padding position that has a next token); `fit`
    minimizes their mean and logs `forward_loss` / `backward_loss` (token-weighted).

    Args:
        vocab_size: the vocabulary size (ids 0 = padding, 1 = [UNK]).
        embedding_dim: the shared embedding's size.
        units: each direction's LSTM size.
        sampled: sampled-softmax negatives during training.
        dropout: dropout on embeddings and LSTM outputs during training.
    """

    def __init__(self, vocab_size: int, embedding_dim: int, units: int, sampled: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.embedding_dim, self.units = int(vocab_size), int(embedding_dim), int(units)
        self.sampled, self.dropout_rate = int(sampled), float(dropout)
        self.embedding = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")
        # keras defaults (tanh, sigmoid, use_bias, no recurrent dropout): cuDNN-eligible
        self.forward_lstm = keras.layers.LSTM(units, return_sequences=True, name="forward_lstm")
        self.backward_lstm = keras.layers.LSTM(units, return_sequences=True, name="backward_lstm")
        self.dropout = keras.layers.Dropout(dropout, name="dropout")
        self.softmax = SoftmaxLoss(vocab_size, sampled, name="softmax")
        self.forward_loss = keras.metrics.Mean(name="forward_loss")
        self.backward_loss = keras.metrics.Mean(name="backward_loss")

    def build(self, input_shape):
        self.embedding.build(input_shape)
        self.forward_lstm.build((None, None, self.embedding_dim))
        self.backward_lstm.build((None, None, self.embedding_dim))
        self.softmax.build((None, self.units))
        self.built = True

    def hidden(self, ids, lstm, training=False):
        """`(batch, time, units)` states of `lstm` over right-padded `ids`.

        Args:
            ids: `(batch, time)` token ids.
            lstm: `self.forward_lstm` or `self.backward_lstm`.
            training: dropout on or off.
        """
        mask = tf.not_equal(ids, 0)
        x = self.dropout(self.embedding(ids), training=training)
        return self.dropout(lstm(x, mask=mask, training=training), training=training)

    def call(self, ids, training=False):
        ids = tf.cast(ids, tf.int32)
        hs, ts = [], []
        for x, lstm in ((ids, self.forward_lstm), (reverse_within_length(ids), self.backward_lstm)):
            targets = tf.concat([x[:, 1:], tf.zeros_like(x[:, :1])], axis=1)
            valid = tf.not_equal(targets, 0)
            hs.append(tf.boolean_mask(self.hidden(x, lstm, training), valid))
            ts.append(tf.boolean_mask(targets, valid))
        n_forward = tf.shape(ts[0])[0]
        # one softmax call for both directions: one set of negatives, one matmul
        losses = self.softmax(tf.concat(hs, 0), tf.concat(ts, 0), training=training)
        return {"forward": losses[:n_forward], "backward": losses[n_forward:]}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        forward, backward = y_pred["forward"], y_pred["backward"]
        self.forward_loss.update_state(forward)
        self.backward_loss.update_state(backward)
        mean = lambda v: tf.reduce_sum(v) / tf.maximum(tf.cast(tf.size(v), v.dtype), 1.0)
        return 0.5 * (mean(forward) + mean(backward))

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "sampled": self.sampled,
            "dropout": self.dropout_rate,
        }
