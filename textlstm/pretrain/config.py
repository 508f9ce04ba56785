"""Pretrain pipeline files: typed sections, `--set` overrides, every check at read time.

```yaml
name: imdb_pretrain
data: {train: data/unlabeled/*.txt.gz, format: txt, validation_fraction: 0.05}
vectorizer: {max_tokens: 30000, standardize: lower_punctuation_html}
model: {embedding_dim: 128, units: 128}
train: {epochs: 3, batch_size: 64, sequence_length: 100, sampled: 1024}
```

>>> cfg = pretrain_from_dict({"data": {"train": "a.txt"}, "model": {"units": 64}})
>>> cfg.model.units, cfg.vectorizer.level
(64, 'word')
>>> pretrain_from_dict({"train": {"sequence_lenght": 50}})
Traceback (most recent call last):
...
textlstm.errors.ConfigError: unknown key 'train.sequence_lenght'. Did you mean 'sequence_length'?

This module does not import TensorFlow.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from textlstm.config import VectorizerConfig, apply_overrides
from textlstm.errors import ConfigError
from textlstm.schema import choice, from_dict

FORMATS = ("auto", "tsv", "csv", "jsonl", "txt")


@dataclass
class PretrainDataConfig:
    """The unlabeled texts.

    Args:
        train: a file or glob (plain or `.gz`), or a list of them.
        validation: held-out files likewise; None: `validation_fraction` of the
            training documents (seeded) is held out.
        format: `auto` (from the extension: `.txt` is one text per line), `tsv`,
            `csv`, `jsonl` or `txt`.
        text: the text's column (header name, JSON field or 0-based index); not used by `txt`.
        header: whether TSV/CSV files have a header row (None: yes when `text` is a name).
        encoding: the files' text encoding.
        on_bad_row: `error` (stop, naming file and line) or `skip` (skip and count).
        validation_fraction: the held-out share of the training documents.
        max_examples: read at most this many documents (the first N), for quick runs.
    """

    train: str | list[str] | None = None
    validation: str | list[str] | None = None
    format: str = "auto"
    text: str | int = "text"
    header: bool | None = None
    encoding: str = "utf-8"
    on_bad_row: str = "error"
    validation_fraction: float = 0.05
    max_examples: int | None = None

    def __post_init__(self):
        choice(self.format, FORMATS, "data.format")
        choice(self.on_bad_row, ("error", "skip"), "data.on_bad_row")
        if not 0 < self.validation_fraction < 1:
            raise ConfigError(f"data.validation_fraction must be between 0 and 1, got {self.validation_fraction}")
        if self.max_examples is not None and self.max_examples < 1:
            raise ConfigError(f"data.max_examples must be at least 1 (or null), got {self.max_examples}")

    @property
    def train_paths(self) -> list[str]:
        """`train` as a list of files or globs."""
        return _as_list(self.train)

    @property
    def validation_paths(self) -> list[str]:
        """`validation` as a list of files or globs (empty: held out from train)."""
        return _as_list(self.validation)


def _as_list(value) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


@dataclass
class PretrainModelConfig:
    """The language model: a shared embedding, one LSTM per direction, a shared softmax.

    Args:
        embedding_dim: the embedding size (the classifier's `model.embedding_dim`).
        units: the LSTM size of each direction (the classifier's `model.units[0]`).
        dropout: dropout on the embeddings and on the LSTM outputs during training.
    """

    embedding_dim: int = 128
    units: int = 128
    dropout: float = 0.0

    def __post_init__(self):
        for key in ("embedding_dim", "units"):
            if getattr(self, key) < 1:
                raise ConfigError(f"model.{key} must be at least 1, got {getattr(self, key)}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.dropout}")


@dataclass
class PretrainTrainConfig:
    """Training settings.

    Args:
        epochs: passes over the training segments.
        batch_size: segments per batch.
        learning_rate: Adam's learning rate.
        clipnorm: gradient clipping by norm (0: none).
        sequence_length: documents are cut into segments of this many tokens.
        sampled: negative classes of the sampled softmax during training (the
            full softmax is used when the vocabulary is not larger than this);
            validation always uses the full softmax.
        seed: seeds weights, the validation split and shuffling.
        verbose: Keras's `verbose`; `auto`: a progress bar on a terminal, else one line per epoch.
    """

    epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 0.001
    clipnorm: float = 1.0
    sequence_length: int = 100
    sampled: int = 1024
    seed: int = 42
    verbose: str | int = "auto"

    def __post_init__(self):
        for key, low in (("epochs", 1), ("batch_size", 1), ("sequence_length", 2), ("sampled", 1)):
            if getattr(self, key) < low:
                raise ConfigError(f"train.{key} must be at least {low}, got {getattr(self, key)}")
        if self.learning_rate <= 0:
            raise ConfigError(f"train.learning_rate must be positive, got {self.learning_rate}")
        if self.clipnorm < 0:
            raise ConfigError(f"train.clipnorm must be at least 0, got {self.clipnorm}")


@dataclass
class PretrainConfig:
    """A whole pretrain pipeline.

    Args:
        name: the run's name (default output `runs/<name>`).
        data: the texts.
        vectorizer: the `TextVectorization` (`level: word` only; `max_length` is not
            used: documents are cut into `train.sequence_length` segments instead).
        model: the language model.
        train: training settings.
    """

    name: str | None = None
    data: PretrainDataConfig = field(default_factory=PretrainDataConfig)
    vectorizer: VectorizerConfig = field(default_factory=VectorizerConfig)
    model: PretrainModelConfig = field(default_factory=PretrainModelConfig)
    train: PretrainTrainConfig = field(default_factory=PretrainTrainConfig)

    def __post_init__(self):
        if self.vectorizer.level != "word":
            raise ConfigError(
                f"vectorizer.level must be word for pretraining (the encoder's vocabulary is words), "
                f"got {self.vectorizer.level!r}"
            )
        if self.vectorizer.pretrained_vectors:
            raise ConfigError("vectorizer.pretrained_vectors is not used by pretrain; remove it")
        if self.vectorizer.target is not None:
            raise ConfigError("vectorizer.target is for translation; remove it")

    def to_dict(self) -> dict:
        """The configuration as plain data (for metrics.json)."""
        import dataclasses

        return dataclasses.asdict(self)


def pretrain_from_dict(data: dict) -> PretrainConfig:
    """A checked `PretrainConfig` from a parsed mapping.

    Args:
        data: the pipeline mapping (sections `name`, `data`, `vectorizer`, `model`, `train`).
    """
    return from_dict(PretrainConfig, data, "")


def _exists(path: Path) -> bool:
    return bool(glob.glob(str(path))) if any(c in str(path) for c in "*?[") else path.exists()


def resolve_paths(paths: list[str], base: Path | None, key: str) -> list[str]:
    """Each file or glob resolved against the working directory, else the pipeline's
    folder or its parent; a `ConfigError` naming the pattern when nothing matches.

    Args:
        paths: the configured files or globs.
        base: the pipeline file's folder (None: the working directory only).
        key: the dotted key, for the message.
    """
    resolved = []
    for value in paths:
        candidates = [Path(value)]
        if base is not None and not Path(value).is_absolute():
            candidates += [base / value, base.parent / value]
        found = next((c for c in candidates if _exists(c)), None)
        if found is None:
            what = "no files match" if any(c in value for c in "*?[") else "file not found"
            raise ConfigError(f"{key}: {what}: {value}")
        resolved.append(str(found))
    return resolved


def load_pretrain_pipeline(path: str | Path | None = None, overrides: list[str] | None = None) -> PretrainConfig:
    """Read and check a pretrain pipeline YAML file, with `--set` overrides.

    Relative data paths resolve against the working directory if they exist
    there, else against the pipeline file's folder or its parent; a file or
    glob that matches nothing fails here, before TensorFlow loads.

    Args:
        path: the pipeline file (None: defaults plus overrides, relative to the working directory).
        overrides: `key=value` strings, e.g. `["train.epochs=1"]`.
    """
    data: dict = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"pipeline file not found: {path}")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {err}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
    where = f"{path}: " if path is not None else ""
    try:
        cfg = pretrain_from_dict(apply_overrides(data, overrides))
        if not cfg.data.train_paths:
            raise ConfigError("data.train is not set: give text files or globs")
        base = path.parent if path is not None else None
        cfg.data.train = resolve_paths(cfg.data.train_paths, base, "data.train")
        if cfg.data.validation_paths:
            cfg.data.validation = resolve_paths(cfg.data.validation_paths, base, "data.validation")
    except ConfigError as err:
        raise ConfigError(f"{where}{err}") from None
    if cfg.name is None:
        cfg.name = path.stem if path is not None else "pretrain"
    return cfg
