"""Translation-like tasks: LSTM encoder-decoder with attention, beam search, BLEU.

```python
from textlstm.seq2seq import Translator
tr = Translator.from_pipeline("pipelines/translate_demo.yaml")
tr.fit(); tr.evaluate(); tr.translate(["3 mar 2021"])
```

Lower level:

```python
from textlstm.seq2seq import Seq2SeqModelConfig, build_seq2seq, Seq2SeqInference
model = build_seq2seq(Seq2SeqModelConfig(units=[64]), source_vocab_size=40, target_vocab_size=16)
inference = Seq2SeqInference(model, start_id=2, end_id=3)
result = inference.beam_search(source_ids, beam_width=4)  # result.ids, result.log_probs, result.attention
```

Submodules: `config` (no TensorFlow), `model`, `decoding`, `metrics`, `demo`,
`data` (vectorizers and teacher-forcing examples), `translator`, `cli` (`textlstm translate`).
Attributes load lazily so `textlstm.config` can import `textlstm.seq2seq.config`
without pulling in TensorFlow.
"""

from textlstm._lazy import lazy_getattr

_LAZY = {
    "Seq2SeqModelConfig": "textlstm.seq2seq.config",
    "build_seq2seq": "textlstm.seq2seq.model",
    "MaskedSparseCategoricalCrossentropy": "textlstm.seq2seq.model",
    "MaskedTokenAccuracy": "textlstm.seq2seq.model",
    "Seq2SeqInference": "textlstm.seq2seq.decoding",
    "DecodeResult": "textlstm.seq2seq.decoding",
    "ids_to_texts": "textlstm.seq2seq.decoding",
    "START_TOKEN": "textlstm.seq2seq.decoding",
    "END_TOKEN": "textlstm.seq2seq.decoding",
    "corpus_scores": "textlstm.seq2seq.metrics",
    "make_date_task": "textlstm.seq2seq.demo",
    "Translator": "textlstm.seq2seq.translator",
    "make_pair_vectorizers": "textlstm.seq2seq.data",
    "pair_examples": "textlstm.seq2seq.data",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = list(_LAZY)
