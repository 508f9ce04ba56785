"""Keras models for classification: the network, its cuDNN-safe recurrent
layers and the cuDNN report (seq2seq lives in `textlstm.seq2seq`).

```python
from textlstm.models import build_classifier, ModelConfig
model = build_classifier(ModelConfig(units=[64, 64]), vocab_size=20000, num_classes=2)
```

Attributes load lazily, so `textlstm.models.config` stays free of TensorFlow.
"""

from textlstm._lazy import lazy_getattr

_LAZY = {
    "ModelConfig": "textlstm.models.config",
    "build_classifier": "textlstm.models.classifier",
    "compile_classifier": "textlstm.models.heads",
    "cudnn_report": "textlstm.models.cudnn",
    "format_report": "textlstm.models.cudnn",
    "CudnnStatus": "textlstm.models.cudnn",
    "recurrent_layer": "textlstm.models.rnn",
    "CudnnFallbackWarning": "textlstm.models.rnn",
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = list(_LAZY)
