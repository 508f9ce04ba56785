"""Per-epoch validation metrics of a classifier that Keras does not compute.

`MacroF1` adds `val_macro_f1` to each epoch's logs, so `train.monitor:
val_macro_f1` can drive early stopping and the best checkpoint, and a sweep
can use it as its objective. `textlstm.trainer.ClassifierTrainer.train` adds
it when the monitor is `val_macro_f1` or `train.class_weight` is set.

```python
history = fit(net, train_ds, val_ds, config, callbacks=[MacroF1(net, val_ds, num_classes=2)])
history["val_macro_f1"]
```
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from textlstm.evaluation import classification_metrics
from textlstm.models.config import MACRO_F1


def predicted_probabilities(network: keras.Model, batches, predict=None) -> tuple[np.ndarray, np.ndarray]:
    """`(label ids, probabilities (n, num_classes))` of `network` over `(x, y)` batches.

    Args:
        network: a token-id classifier (one sigmoid output for two classes, else softmax).
        batches: a dataset of `(token_ids, label_ids)` batches.
        predict: token ids -> probabilities (default: `network.predict_on_batch`).
    """
    predict = predict or network.predict_on_batch
    ys, ps = [], []
    for element in batches:
        x, y = element[0], element[1]
        p = np.asarray(predict(x))
        ps.append(np.concatenate([1.0 - p, p], axis=-1) if p.shape[-1] == 1 else p)
        ys.append(np.asarray(y).reshape(-1))
    if not ys:
        return np.zeros(0, "int64"), np.zeros((0, 0))
    return np.concatenate(ys), np.concatenate(ps)


class MacroF1(keras.callbacks.Callback):
    """Adds `val_macro_f1` to each epoch's logs: the macro-averaged F1 on
    `val_ds` of the network at that epoch's weights (argmax predictions).

    With a late wide path the score is of the network as trained: its fusion
    layer passes the network's logits through until the fusion is fitted after
    training (`val_fused_accuracy` scores the fused model). Give it before the
    standard callbacks (`textlstm.training.fit` runs the callbacks it is given
    first), so early stopping, the checkpoint and the CSV log see the value.

    Args:
        model: the classifier being trained.
        val_ds: the validation batches `(token_ids, label_ids)`.
        num_classes: the number of labels.
    """

    def __init__(self, model: keras.Model, val_ds, num_classes: int):
        super().__init__()
        self.network = model  # not `self.model`: Keras sets that to the model being fitted
        self.val_ds = val_ds
        self.num_classes = num_classes
        # One traced function for every batch length (bucketed batches differ in length).
        self._predict = tf.function(lambda ids: self.network(ids, training=False), reduce_retracing=True)

    def on_epoch_end(self, epoch, logs=None):
        y, probs = predicted_probabilities(self.network, self.val_ds, self._predict)
        score = classification_metrics(y, probs, [str(i) for i in range(self.num_classes)])["macro_f1"]
        if logs is not None:
            logs[MACRO_F1] = score
