"""`pretrain()`: read texts, adapt the vectorizer, train the bidirectional LM, write the encoder.

```python
from textlstm.pretrain import pretrain
report = pretrain("pipelines/imdb_pretrain.yaml", "runs/imdb_pretrain")
report["perplexity"], report["tokens_per_second"]
```

The run folder gets `encoder.json`, `vocabulary.txt`, `weights.npz`
(`textlstm.pretrain.encoder`) and `metrics.json`: the per-epoch history
(`loss`, `forward_loss`, `backward_loss` with the sampled softmax; their `val_`
versions with the full softmax, `val_forward_loss` / `val_backward_loss`
token-weighted, i.e. the per-token cross-entropies; `val_*_perplexity`,
`epoch_time`, `train_time`, `tokens_per_second`),
the perplexities, the data report and the configuration.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import keras
import numpy as np

from textlstm.data.sources import SkipReport
from textlstm.data.vectorize import make_vectorizer
from textlstm.errors import DataError
from textlstm.files import write_text_atomic
from textlstm.pretrain.config import PretrainConfig, load_pretrain_pipeline
from textlstm.pretrain.corpus import Corpus, read_texts
from textlstm.pretrain.encoder import save_encoder
from textlstm.pretrain.model import BiLanguageModel
from textlstm.training import EpochTimer, resolve_verbose

log = logging.getLogger("textlstm")
METRICS = "metrics.json"


class TokensPerSecond(keras.callbacks.Callback):
    """Adds `tokens_per_second` (training tokens over the epoch's training time,
    validation left out) and `train_time` to each epoch's logs.

    Args:
        tokens: the tokens of one pass over the training segments.
    """

    def __init__(self, tokens: int):
        super().__init__()
        self.tokens = tokens

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._stop = time.perf_counter(), None

    def on_test_begin(self, logs=None):
        if getattr(self, "_start", None) is not None and self._stop is None:
            self._stop = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = (self._stop or time.perf_counter()) - self._start
        if logs is not None:
            logs["train_time"] = seconds
            logs["tokens_per_second"] = self.tokens / max(seconds, 1e-9)
        self._start = None


class Perplexity(keras.callbacks.Callback):
    """Adds `val_forward_perplexity` and `val_backward_perplexity` (exp of the
    full-softmax per-token validation losses) to each epoch's logs."""

    def on_epoch_end(self, epoch, logs=None):
        for direction in ("forward", "backward"):
            loss = (logs or {}).get(f"val_{direction}_loss")
            if loss is not None:
                logs[f"val_{direction}_perplexity"] = math.exp(min(float(loss), 700.0))


def split_documents(texts: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """`(train, validation)`: a seeded `fraction` of the documents held out (at least one).

    Args:
        texts: the documents.
        fraction: the held-out share.
        seed: the split's seed.
    """
    if len(texts) < 2:
        raise DataError(f"need at least 2 documents to hold out a validation share, got {len(texts)}")
    order = np.random.default_rng(seed).permutation(len(texts))
    n_val = min(max(1, round(len(texts) * fraction)), len(texts) - 1)
    held = np.zeros(len(texts), bool)
    held[order[:n_val]] = True
    return [t for t, h in zip(texts, held) if not h], [t for t, h in zip(texts, held) if h]


def _adapt_texts(texts: list[str], sample: int | None, seed: int) -> list[str]:
    if sample is None or sample >= len(texts):
        return texts
    idx = np.sort(np.random.default_rng(seed).choice(len(texts), size=sample, replace=False))
    return [texts[i] for i in idx]


def pretrain(config: PretrainConfig | str | Path, output_dir: str | Path | None = None, overrides=None) -> dict:
    """Pretrain the bidirectional LSTM language model and write the encoder to `output_dir`.

    Args:
        config: a `PretrainConfig` or a pipeline file.
        output_dir: the run folder (default `runs/<name>`).
        overrides: `key=value` overrides when `config` is a file.

    Returns:
        The report written to `metrics.json`.
    """
    cfg = config if isinstance(config, PretrainConfig) else load_pretrain_pipeline(config, overrides)
    out = Path(output_dir) if output_dir is not None else Path("runs") / (cfg.name or "pretrain")
    keras.utils.set_random_seed(cfg.train.seed)
    start = time.perf_counter()

    skipped = SkipReport()
    texts = read_texts(cfg.data.train_paths, cfg.data, skipped)
    if cfg.data.validation_paths:
        val_texts = read_texts(cfg.data.validation_paths, cfg.data, skipped)
    else:
        texts, val_texts = split_documents(texts, cfg.data.validation_fraction, cfg.train.seed)
    log.info("read %d training and %d validation texts (%s)", len(texts), len(val_texts), skipped)
    vectorizer = make_vectorizer(cfg.vectorizer, _adapt_texts(texts, cfg.vectorizer.adapt_sample, cfg.train.seed))
    vocabulary = [str(t) for t in vectorizer.get_vocabulary()]
    length = cfg.train.sequence_length
    train, val = Corpus.build(vectorizer, texts, length), Corpus.build(vectorizer, val_texts, length)
    del texts, val_texts
    if not val.segments:
        raise DataError("the validation texts have no segment of 2 or more tokens")
    read_seconds = time.perf_counter() - start
    log.info(
        "%d training segments (%d tokens), %d validation segments, vocabulary %d",
        train.segments,
        int(train.lengths.sum()),
        val.segments,
        len(vocabulary),
    )

    lm = BiLanguageModel(
        len(vocabulary), cfg.model.embedding_dim, cfg.model.units, cfg.train.sampled, cfg.model.dropout, name="bilm"
    )
    kwargs = {"clipnorm": cfg.train.clipnorm} if cfg.train.clipnorm else {}
    lm.compile(optimizer=keras.optimizers.Adam(cfg.train.learning_rate, **kwargs))
    seed = cfg.train.seed
    train_tokens = int(train.lengths.sum())
    fit_start = time.perf_counter()
    history = lm.fit(
        train.dataset(cfg.train.batch_size, shuffle=True, seed=seed),
        validation_data=val.dataset(cfg.train.batch_size),
        epochs=cfg.train.epochs,
        callbacks=[EpochTimer(), TokensPerSecond(train_tokens), Perplexity()],
        verbose=resolve_verbose(cfg.train.verbose),
        shuffle=False,
    )
    train_seconds = time.perf_counter() - fit_start
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    perplexity = {d: math.exp(min(hist[f"val_{d}_loss"][-1], 700.0)) for d in ("forward", "backward")}

    trained_on = {
        "rows": train.documents,
        "validation_rows": val.documents,
        "tokens": train.tokens,
        "validation_tokens": val.tokens,
        "segments": train.segments,
        "validation_segments": val.segments,
        "sequence_length": length,
        "empty_after_standardization": train.empty + val.empty,
        "skipped": skipped.as_dict(),
        "files": list(cfg.data.train_paths),
    }
    info = {
        "vectorizer": {
            "level": cfg.vectorizer.level,
            "max_tokens": cfg.vectorizer.max_tokens,
            "standardize": cfg.vectorizer.standardize,
        },
        "embedding_dim": cfg.model.embedding_dim,
        "units": cfg.model.units,
        "bidirectional": True,
        "cell": "lstm",
        "vocabulary_size": len(vocabulary),
        "trained_on": trained_on,
        "perplexity": perplexity,
    }
    save_encoder(out, info, vocabulary, lm)
    tps = hist.get("tokens_per_second", [])
    report = {
        "output": str(out),
        "perplexity": perplexity,
        "history": hist,
        "tokens_per_second": tps,
        "mean_tokens_per_second": float(np.mean(tps)) if tps else None,
        "train_seconds": train_seconds,
        "read_seconds": read_seconds,
        "softmax": "sampled" if cfg.train.sampled < len(vocabulary) - 1 else "full",
        "vocabulary_size": len(vocabulary),
        "data": {"train": train.report(), "validation": val.report(), "skipped": skipped.as_dict()},
        "config": cfg.to_dict(),
    }
    write_text_atomic(out / METRICS, json.dumps(report, indent=2, default=str) + "\n")
    return report
