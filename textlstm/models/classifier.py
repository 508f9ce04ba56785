"""The classifier network: Embedding -> (Bi)LSTM stack -> pooling -> dropout -> dense head.

The network takes a text's whole token ids: it cuts them to `max_length`
for the LSTM, while the wide n-gram paths read every token.

>>> from textlstm.models.config import ModelConfig
>>> model = build_classifier(ModelConfig(units=[8, 8], embedding_dim=8), vocab_size=100, num_classes=3)
>>> model.output_shape
(None, 3)
"""

from __future__ import annotations

import keras
import numpy as np

from textlstm.errors import ConfigError
from textlstm.layers import MaskedPooling1D, NonEmptySequences
from textlstm.models.config import ModelConfig
from textlstm.models.heads import output_units, probabilities
from textlstm.models.rnn import recurrent_layer
from textlstm.wide.component import add_wide_paths


def build_classifier(
    config: ModelConfig,
    vocab_size: int,
    num_classes: int,
    embeddings: np.ndarray | None = None,
    train_embeddings: bool = True,
    name: str = "classifier",
    wide=(),
    multilabel: bool = False,
    max_length: int | None = None,
) -> keras.Model:
    """A functional model from right-padded token ids `(batch, time)` (0 =
    padding) to class probabilities: one sigmoid unit for 2 classes, softmax otherwise.

    Args:
        config: the layers.
        vocab_size: the vectorizer's vocabulary size.
        num_classes: the number of labels (at least 2).
        embeddings: a pretrained `(vocab_size, dim)` matrix, or None.
        train_embeddings: whether pretrained embeddings are fine-tuned.
        name: the model's name.
        wide: prepared wide paths (`textlstm.wide.component.WideComponent.paths()`), added to the logits.
        multilabel: one sigmoid output per label (`task: multilabel`) instead.
        max_length: the LSTM reads the first `max_length` tokens (None: all); wide paths read all.
    """
    if num_classes < 2:
        raise ConfigError(f"need at least 2 classes, got {num_classes}")
    ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    if embeddings is not None:
        if embeddings.shape[0] != vocab_size:
            raise ConfigError(f"embedding matrix has {embeddings.shape[0]} rows, vocabulary has {vocab_size}")
        dim = embeddings.shape[1]
    else:
        dim = config.embedding_dim
    embedding = keras.layers.Embedding(
        vocab_size,
        dim,
        mask_zero=True,
        embeddings_initializer="uniform",
        trainable=train_embeddings,
        name="embedding",
    )
    seq = NonEmptySequences(max_length=max_length, name="truncate")(ids) if max_length else ids
    x = embedding(seq)
    if embeddings is not None:
        embedding.embeddings.assign(embeddings)  # assigned, not a Constant initializer (kept out of the JSON config)
    if config.word_dropout:
        # Drops whole tokens (all their embedding channels) during training.
        x = keras.layers.Dropout(config.word_dropout, noise_shape=(None, None, 1), name="word_dropout")(x)
    if config.embedding_dropout:
        x = keras.layers.SpatialDropout1D(config.embedding_dropout, name="embedding_dropout")(x)
    pooled = config.pooling in ("max", "mean")
    for i, units in enumerate(config.units):
        last = i == len(config.units) - 1
        x = recurrent_layer(
            config.cell,
            units,
            return_sequences=not last or pooled,
            bidirectional=config.bidirectional,
            dropout=config.rnn_dropout,
            name=f"{config.cell}_{i}",
        )(x)
    if pooled:
        x = MaskedPooling1D(config.pooling, name=f"{config.pooling}_pool")(x)
    if config.dropout:
        x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    units = num_classes if multilabel else output_units(num_classes)
    logits = keras.layers.Dense(units, name="logits")(x)
    if wide:
        logits = add_wide_paths(ids, logits, list(wide))
    probs = keras.layers.Activation("sigmoid", name="probabilities")(logits) if multilabel else probabilities(logits)
    return keras.Model(ids, probs, name=name)
