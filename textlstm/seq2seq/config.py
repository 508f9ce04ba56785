"""The encoder-decoder config: the `translation` task's model section (see `textlstm.tasks`).

```python
from textlstm.config import pipeline_from_dict
cfg = pipeline_from_dict({"task": "translation", "model": {"units": [128], "attention": "bahdanau"}})
cfg.model.decoder_sizes()  # [128]
```

Importing this module must stay free of TensorFlow: pipelines are checked
without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textlstm.errors import ConfigError

ATTENTIONS = ("luong", "bahdanau", "none")
CELLS = ("lstm", "gru")


@dataclass
class Seq2SeqModelConfig:
    """Encoder-decoder architecture and decoding defaults.

    Encoder: Embedding(mask_zero) -> stack of (bi)directional RNNs returning
    sequences and final states. Decoder: RNN stack started from the encoder's
    final states (a Dense "bridge" resizes them when sizes differ or the
    encoder is bidirectional), attention over the encoder outputs, then
    `Dense(attention_dim, tanh)([decoder output, context])` -> vocabulary logits.

    `units` sizes both stacks unless `encoder_units` / `decoder_units` are set.
    With equally deep stacks decoder layer i starts from encoder layer i's
    states; otherwise every decoder layer starts from the top encoder layer.

    `attention`: `luong` (multiplicative "general" score q.W.k via
    `keras.layers.Attention` on Dense-projected keys), `bahdanau` (additive
    score v.tanh(Wq.q + Wk.k) via `keras.layers.AdditiveAttention`; the
    context is computed from the current decoder output, Luong-style, so
    training stays one parallel pass), or `none`.

    `length_penalty` is GNMT's alpha: hypotheses are ranked by
    log P / ((5 + length) / 6) ** alpha; 0 ranks by raw log-probability.
    """

    cell: str = "lstm"  # lstm | gru
    embedding_dim: int = 64  # both sides
    units: list[int] = field(default_factory=lambda: [128])
    encoder_units: list[int] | None = None  # default: units
    decoder_units: list[int] | None = None  # default: units
    bidirectional: bool = True  # encoder only; the decoder runs left to right
    attention: str = "luong"  # luong | bahdanau | none
    attention_units: int | None = None  # bahdanau score size; default: top decoder size
    attention_dim: int | None = None  # size of the tanh layer over [output, context]; default: top decoder size
    dropout: float = 0.1  # on embeddings and before the output layer
    rnn_dropout: float = 0.0  # input dropout inside the RNN layers (cuDNN-safe)
    beam_width: int = 4
    length_penalty: float = 0.6
    max_decode_length: int = 64

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ConfigError(f"model.cell must be one of {CELLS} for translation, got {self.cell!r}")
        if self.attention not in ATTENTIONS:
            raise ConfigError(f"model.attention must be one of {ATTENTIONS}, got {self.attention!r}")
        for name in ("units", "encoder_units", "decoder_units"):
            sizes = getattr(self, name)
            if sizes is not None and (not sizes or any(int(u) < 1 for u in sizes)):
                raise ConfigError(f"model.{name} must list at least one positive layer size, got {sizes!r}")
        if self.beam_width < 1:
            raise ConfigError(f"model.beam_width must be >= 1, got {self.beam_width}")
        if self.max_decode_length < 1:
            raise ConfigError(f"model.max_decode_length must be >= 1, got {self.max_decode_length}")
        if self.length_penalty < 0:
            raise ConfigError(f"model.length_penalty must be >= 0, got {self.length_penalty}")

    def check(self, pipeline) -> None:
        """Rules between this section and the rest of the pipeline, checked when it is read.

        Args:
            pipeline: the `PipelineConfig` this model belongs to.
        """
        if pipeline.data.format == "folder":
            raise ConfigError(
                "data.format: folder reads a folder-per-label tree as (text, label) rows; task: translation "
                "reads (source, target) pairs from TSV/CSV/JSONL files"
            )
        vectorizer = pipeline.vectorizer
        target = vectorizer.for_target()
        for side, config in (("vectorizer", vectorizer), ("vectorizer.target", target)):
            if config.length_percentile is not None:
                raise ConfigError(
                    f"{side}.max_length: {config.max_length} (a percentile of the training lengths) is for "
                    f"classification; translation needs a number of tokens (e.g. {side}.max_length: 40)"
                )
        if vectorizer.pretrained_vectors or target.pretrained_vectors:
            raise ConfigError("vectorizer.pretrained_vectors is not supported for translation yet")
        if target.level == "subword":
            raise ConfigError(
                "vectorizer.target.level: subword is not supported (decoded pieces are not joined back "
                "into words yet); use word or character for the target side (the source may be subword)"
            )
        if target.max_tokens is not None and target.max_tokens < 5:
            raise ConfigError(
                f"vectorizer.target.max_tokens must be >= 5 (padding, [UNK], [start], [end] and "
                f"at least one token), got {target.max_tokens}"
            )
        if pipeline.train.ensemble.members > 1:
            raise ConfigError("train.ensemble is not supported for translation")
        if pipeline.train.monitor not in ("val_loss", "val_accuracy", "loss", "accuracy"):
            raise ConfigError(
                f"train.monitor must be val_loss or val_accuracy (the masked token accuracy) for "
                f"translation, got {pipeline.train.monitor!r}"
            )

    def encoder_sizes(self) -> list[int]:
        return list(self.encoder_units or self.units)

    def decoder_sizes(self) -> list[int]:
        return list(self.decoder_units or self.units)
