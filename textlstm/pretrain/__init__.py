"""Pretraining an LSTM encoder on unlabeled text (`textlstm pretrain`).

A forward and a backward LSTM language model sharing one embedding (and one
softmax) are trained on any text files (Dai & Le 2015, "Semi-supervised
sequence learning"; ELMo's separate directions); their embedding and LSTM
weights then initialize a classifier's `embedding` and first
`Bidirectional(LSTM)` layer `lstm_0`.

```python
from textlstm.pretrain import apply_encoder, load_encoder, pretrain, read_encoder_info
report = pretrain("pipelines/imdb_pretrain.yaml", "runs/imdb_pretrain")
encoder = load_encoder("runs/imdb_pretrain")
vectorizer = encoder.make_vectorizer()
apply_encoder(encoder, network)
```

Modules: `config` (the pipeline file, no TensorFlow), `corpus` (texts, ids,
segments, tf.data), `model` (`BiLanguageModel`, `SoftmaxLoss`), `encoder` (the
artifact: `read_encoder_info` without TensorFlow, `load_encoder`,
`apply_encoder`), `train` (`pretrain`), `cli` (`textlstm pretrain`).
Importing this package does not import TensorFlow.
"""

from textlstm._lazy import lazy_getattr

_LAZY = {
    "pretrain": "textlstm.pretrain.train",
    "load_pretrain_pipeline": "textlstm.pretrain.config",
    "PretrainConfig": "textlstm.pretrain.config",
    "read_encoder_info": "textlstm.pretrain.encoder",
    "load_encoder": "textlstm.pretrain.encoder",
    "apply_encoder": "textlstm.pretrain.encoder",
    "Encoder": "textlstm.pretrain.encoder",
    "BiLanguageModel": "textlstm.pretrain.model",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = list(_LAZY)
