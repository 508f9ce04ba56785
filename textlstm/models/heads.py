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


@keras.saving.register_keras_serializable(package="textlstm")
class SmoothedSparseCategoricalCrossentropy(keras.losses.Loss):
    """Cross-entropy of integer labels against softmax probabilities with
    label smoothing (Keras's sparse loss has none): the labels are one-hot
    encoded and smoothed as `keras.losses.CategoricalCrossentropy` does.

    Args:
        label_smoothing: the smoothing in [0, 1).

    >>> import keras, numpy as np
    >>> loss = SmoothedSparseCategoricalCrossentropy(0.1)
    >>> expected = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)(np.eye(3)[[2]], np.array([[0.2, 0.3, 0.5]]))
    >>> bool(abs(float(loss(np.array([2]), np.array([[0.2, 0.3, 0.5]]))) - float(expected)) < 1e-6)
    True
    """

    def __init__(self, label_smoothing: float = 0.0, name: str = "smoothed_sparse_categorical_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        classes = keras.ops.shape(y_pred)[-1]
        one_hot = keras.ops.one_hot(keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,)), classes)
        return keras.losses.categorical_crossentropy(one_hot, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def compile_classifier(net: keras.Model, num_classes: int, train_config: TrainConfig) -> keras.Model:
    """Compile a probabilities-out classifier with its loss, accuracy and the configured optimizer.

    Args:
        net: a model whose output is `probabilities(...)`.
        num_classes: the number of labels.
        train_config: optimizer, learning rate, clipping, label smoothing.
    """
    smoothing = train_config.label_smoothing
    if num_classes == 2:
        loss = keras.losses.BinaryCrossentropy(label_smoothing=smoothing)
        metrics = [keras.metrics.BinaryAccuracy(name="accuracy")]
    else:
        loss = (
            SmoothedSparseCategoricalCrossentropy(smoothing)
            if smoothing
            else keras.losses.SparseCategoricalCrossentropy()
        )
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    net.compile(optimizer=make_optimizer(train_config), loss=loss, metrics=metrics)
    return net
