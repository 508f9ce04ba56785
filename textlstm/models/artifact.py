"""The classifier artifact: one Keras model from raw strings to probabilities.

Each run's vectorizer feeds its networks (one run, or one per bagging
member); `NonEmptySequences` gives an empty text one `[UNK]` token (cuDNN
rejects fully masked rows), and each network cuts its LSTM's input itself
(its `truncate` layer); several networks' probabilities are
averaged; a `Metadata` layer carries the label names and the pipeline.

```python
model = string_classifier([(vectorizer, [network])], metadata={"task": "classification"})
model.predict_on_batch(tf.constant(["a great film"]))
```
"""

from __future__ import annotations

import keras

from textlstm.layers import Metadata, NonEmptySequences


def string_classifier(parts, metadata: dict) -> keras.Model:
    """The string-input model around trained token-id networks.

    Args:
        parts: `(vectorizer, [networks])` pairs, one per run.
        metadata: what the artifact carries (task, labels, config, data report).
    """
    text = keras.Input(shape=(), dtype="string", name="text")
    outputs = []
    for i, (vectorizer, networks) in enumerate(parts):
        # whole texts: a network from `build_classifier` cuts its LSTM's input itself, wide paths read every token
        ids = NonEmptySequences(name="non_empty" if len(parts) == 1 else f"non_empty_{i}")(vectorizer(text))
        outputs += [net(ids) for net in networks]
    probs = outputs[0] if len(outputs) == 1 else keras.layers.Average(name="ensemble")(outputs)
    probs = Metadata(metadata, name="metadata")(probs)
    return keras.Model(text, probs, name="text_classifier")
