"""textlstm: tf.data text pipelines and cuDNN-ready LSTM models for Keras.

```python
import textlstm
clf = textlstm.TextClassifier.from_pipeline("pipelines/sentiment_demo.yaml")
clf.fit()
print(clf.evaluate())
clf.save("runs/demo/model.keras")
textlstm.load("runs/demo/model.keras").predict(["a great film"])
```
"""

import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# The user's own TF_CPP_MIN_LOG_LEVEL (None: unset, textlstm's default below), which
# `textlstm.console` respects.
_USER_TF_LOG_LEVEL = _os.environ.get("TF_CPP_MIN_LOG_LEVEL")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

from textlstm._lazy import lazy_getattr  # noqa: E402

_LAZY = {
    "TextClassifier": "textlstm.classifier",
    "MultiLabelClassifier": "textlstm.multilabel.classifier",
    "load": "textlstm.artifact",
    "load_pipeline": "textlstm.config",
    "PipelineConfig": "textlstm.config",
    "DataConfig": "textlstm.config",
    "VectorizerConfig": "textlstm.config",
    "ModelConfig": "textlstm.config",
    "TrainConfig": "textlstm.config",
    "cudnn_report": "textlstm.models.cudnn",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = list(_LAZY)
