"""The classifier's output head and its loss: one sigmoid logit for two
classes, one softmax logit per class otherwise.

>>> output_units(2), output_units(5)
(1, 5)
"""

from __future__ import annotations

import keras

from textlstm.config import TrainConfig
from textlstm.training import make_optimizer


def output_units(num_classes: int) -> int:
    """Logits per example: one (sigmoid) for 2 classes, one per class (softmax) otherwise.

    Args:
        num_classes: the number of labels.
    """
    return 1 if num_classes == 2 else num_classes


def probabilities(logits, name: str | None = "probabilities"):
    """Sigmoid over a single logit, softmax over several.

    Args:
        logits: a symbolic `(batch, outputs)` tensor.
        name: the activation layer's name.
    """
    return keras.layers.Activation("sigmoid" if logits.shape[-1] == 1 else "softmax", name=name)(logits)


def compile_classifier(net: keras.Model, num_classes: int, train_config: TrainConfig) -> keras.Model:
    """Compile a probabilities-out classifier with its loss, accuracy and the configured optimizer.

    Args:
        net: a model whose output is `probabilities(...)`.
        num_classes: the number of labels.
        train_config: optimizer, learning rate, clipping.
    """
    if num_classes == 2:
        loss = keras.losses.BinaryCrossentropy()
        metrics = [keras.metrics.BinaryAccuracy(name="accuracy")]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    net.compile(optimizer=make_optimizer(train_config), loss=loss, metrics=metrics)
    return net
