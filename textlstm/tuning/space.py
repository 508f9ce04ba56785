"""The `search:` section of a pipeline file, validated into dataclasses (no TensorFlow).

```yaml
search:
  tuner: hyperband           # random | hyperband | bayesian
  objective: val_accuracy    # val_accuracy | val_loss | val_macro_f1 | accuracy | loss
  max_trials: 12
  max_epochs: 6
  space:
    units: {choice: [32, 64, 128]}                    # per layer: units_1, units_2, ...
    num_layers: {min: 1, max: 2}
    embedding_dim: {choice: [64, 128]}
    dropout: {min: 0.1, max: 0.5, step: 0.1}
    learning_rate: {min: 1.0e-4, max: 1.0e-2, sampling: log}
    batch_size: {choice: [32, 64]}
    bidirectional: {choice: [true, false]}
```

```python
from textlstm.config import load_pipeline
from textlstm.tuning.space import search_config
cfg = load_pipeline("pipelines/sweep_sentiment_demo.yaml")
search = search_config(cfg)
search.space["units"].choice        # [16, 32, 64]
search.direction                    # 'max' (inferred from val_accuracy)
```

Without a `space:` key the default space below is searched; a given `space:`
replaces it, and keys it leaves out keep the pipeline's values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass, field
from typing import Any

from textlstm import tasks
from textlstm.config import PipelineConfig, TrainConfig
from textlstm.errors import ConfigError
from textlstm.models.config import MACRO_F1
from textlstm.schema import check_type as _check_type
from textlstm.schema import from_dict
from textlstm.schema import suggest as _suggest
from textlstm.wide.config import FUSED_ACCURACY

TUNERS = ("random", "hyperband", "bayesian")
TUNER_ALIASES = {
    "randomsearch": "random",
    "random_search": "random",
    "bayesian_optimization": "bayesian",
    "bayesianoptimization": "bayesian",
}
SAMPLINGS = ("linear", "log", "reverse_log")
TRAIN_KEYS = ("batch_size", "learning_rate", "optimizer", "clipnorm")
DEFAULT_SPACE = {
    "units": {"choice": [32, 64, 128]},
    "num_layers": {"min": 1, "max": 2},
    "embedding_dim": {"choice": [64, 128]},
    "bidirectional": {"choice": [True, False]},
    "dropout": {"min": 0.1, "max": 0.5, "step": 0.1},
    "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
    "batch_size": {"choice": [32, 64]},
}
# Bookkeeping values Hyperband adds to a trial's hyperparameters.
HYPERBAND_KEYS = ("tuner/epochs", "tuner/initial_epoch", "tuner/bracket", "tuner/round", "tuner/trial_id")
# Metrics every task's models report (plus val_* when there is validation data).
TASK_METRICS = {"classification": ("loss", "accuracy"), "multilabel": ("loss", "accuracy", "micro_f1")}


@dataclass
class Param:
    """One hyperparameter: a `choice` list, a `min`..`max` range, or a `fixed` value."""

    name: str
    choice: list | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    sampling: str = "linear"
    fixed: Any = None

    @property
    def kind(self) -> str:
        if self.choice is not None:
            return "choice"
        return "fixed" if self.min is None else "range"

    @property
    def is_int(self) -> bool:
        return all(
            isinstance(v, int) and not isinstance(v, bool) for v in (self.min, self.max, self.step) if v is not None
        )

    def values(self) -> list:
        """Every value for a choice or stepped range (None for a continuous range)."""
        if self.kind == "choice":
            return list(self.choice)
        if self.kind == "fixed":
            return [self.fixed]
        if self.step is None and not self.is_int:
            return None
        step = self.step or 1
        count = int(round((self.max - self.min) / step)) + 1
        return [self.min + i * step if self.is_int else round(self.min + i * step, 10) for i in range(count)]


@dataclass
class SearchConfig:
    """A validated `search:` section."""

    tuner: str = "hyperband"
    objective: str | None = None  # None: val_fused_accuracy with a late n-gram path, else val_accuracy
    direction: str | None = None  # max | min; None: inferred from the objective
    max_trials: int | None = 12  # hyperband: caps its schedule
    executions_per_trial: int = 1
    max_epochs: int = 6  # epochs per trial (hyperband: of the longest rounds)
    factor: int = 3  # hyperband reduction factor
    hyperband_iterations: int = 1
    num_initial_points: int | None = None  # bayesian
    patience: int | None = 2  # early stopping inside a trial
    seed: int | None = None  # None: train.seed
    retrain_epochs: int | None = None  # None: train.epochs (with train.patience)
    space: dict = field(default_factory=lambda: dict(DEFAULT_SPACE))

    def fingerprint(self) -> dict:
        """What must match for a sweep directory to be resumed."""
        keys = ("tuner", "objective", "direction", "max_epochs", "factor", "hyperband_iterations")
        return {"space": {k: dataclasses.asdict(p) for k, p in self.space.items()}} | {
            k: getattr(self, k) for k in keys
        }

    def fingerprint_hash(self) -> str:
        text = json.dumps(self.fingerprint(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _param(name: str, spec, hint, where: str) -> Param:
    if not isinstance(spec, dict):  # a bare value: fixed
        return Param(name, fixed=_check_type(spec, hint, where))
    known = {"choice", "min", "max", "step", "sampling"}
    for key in spec:
        if key not in known:
            raise ConfigError(
                f"unknown key '{where}.{key}'.{_suggest(str(key), known)}"
                " A parameter is {choice: [...]} or {min: A, max: B[, step: S, sampling: log]}"
            )
    if "choice" in spec:
        if set(spec) - {"choice"}:
            raise ConfigError(f"{where}: give either 'choice' or 'min'/'max', not both")
        values = spec["choice"]
        if not isinstance(values, (list, tuple)) or not values:
            raise ConfigError(f"{where}.choice: needs a non-empty list of values, got {values!r}")
        values = [_check_type(v, hint, f"{where}.choice") for v in values]
        if len(set(map(repr, values))) != len(values):
            raise ConfigError(f"{where}.choice: has repeated values {values}")
        return Param(name, choice=values)
    if "min" not in spec or "max" not in spec:
        raise ConfigError(f"{where}: a range needs both 'min' and 'max' (or give 'choice: [...]')")
    numeric = hint if hint in (int, float) else None
    if numeric is None:
        raise ConfigError(f"{where}: '{name}' is not numeric; use 'choice: [...]'")
    lo, hi = (_check_type(spec[k], numeric, f"{where}.{k}") for k in ("min", "max"))
    step = _check_type(spec["step"], numeric, f"{where}.step") if spec.get("step") is not None else None
    sampling = str(spec.get("sampling", "linear")).lower()
    if lo > hi:
        raise ConfigError(f"{where}: min ({lo}) is greater than max ({hi})")
    if step is not None and step <= 0:
        raise ConfigError(f"{where}.step: must be positive, got {step}")
    if sampling not in SAMPLINGS:
        raise ConfigError(
            f"{where}.sampling: expected one of {list(SAMPLINGS)}, got '{sampling}'.{_suggest(sampling, SAMPLINGS)}"
        )
    if sampling != "linear" and lo <= 0:
        raise ConfigError(f"{where}: {sampling} sampling needs min > 0, got {lo}")
    if sampling != "linear" and step is not None:
        raise ConfigError(f"{where}: give either 'step' or '{sampling}' sampling, not both")
    return Param(name, min=lo, max=hi, step=step, sampling=sampling)


def _space_hints(task: str) -> dict:
    """Searchable names and their types: the task's model fields plus some train fields."""
    model_cls = tasks.get(task).model_config
    hints = {k: v for k, v in typing.get_type_hints(model_cls).items() if k not in ("units", "wide")}
    hints.update({"units": int, "num_layers": int})
    train_hints = typing.get_type_hints(TrainConfig)
    hints.update({k: train_hints[k] for k in TRAIN_KEYS})
    # Optional numbers (clipnorm: float | None) are searched as numbers.
    return {k: next((a for a in typing.get_args(v) if a in (int, float)), v) for k, v in hints.items()}


def parse_space(space: dict | None, task: str = "classification", where: str = "search.space") -> dict[str, Param]:
    if space is None:
        space = DEFAULT_SPACE
    if not isinstance(space, dict) or not space:
        raise ConfigError(
            f"{where}: the search space is empty; give at least one parameter "
            f"(e.g. units: {{choice: [32, 64]}}) or leave 'space' out for the default space"
        )
    hints = _space_hints(task)
    params = {}
    for name, spec in space.items():
        if name not in hints:
            raise ConfigError(f"unknown key '{where}.{name}'.{_suggest(str(name), hints)} Searchable: {sorted(hints)}")
        params[name] = _param(name, spec, hints[name], f"{where}.{name}")
    if "num_layers" in params:
        p = params["num_layers"]
        if min(p.values()) < 1:
            raise ConfigError(f"{where}.num_layers: needs at least 1 layer, got {p.values()}")
    return params


def reported_metrics(task: str, has_validation: bool = True) -> list[str]:
    base = list(TASK_METRICS.get(task, ("loss",)))
    return base + ([f"val_{m}" for m in base] if has_validation else [])


def infer_direction(objective: str) -> str:
    return "min" if "loss" in objective or "error" in objective else "max"


def search_config(cfg: PipelineConfig) -> SearchConfig:
    """Validate `cfg.search` (a dict or None) into a `SearchConfig`."""
    raw = dict(cfg.search or {})
    space = raw.pop("space", None)
    search = from_dict(SearchConfig, raw, "search")
    search.space = parse_space(space, cfg.task)
    tuner = TUNER_ALIASES.get(search.tuner.lower(), search.tuner.lower())
    if tuner not in TUNERS:
        raise ConfigError(
            f"search.tuner: expected one of {list(TUNERS)}, got '{search.tuner}'.{_suggest(tuner, TUNERS)}"
        )
    search.tuner = tuner
    late = bool(getattr(cfg.model, "has_late_path", False))
    reported = reported_metrics(cfg.task) + ([FUSED_ACCURACY] if late else [])
    if cfg.task == "classification":
        reported.append(MACRO_F1)  # textlstm.training_metrics.MacroF1, added when it is the monitor
    if search.objective is None:
        search.objective = FUSED_ACCURACY if late else "val_micro_f1" if cfg.task == "multilabel" else "val_accuracy"
    if search.objective not in reported:
        raise ConfigError(
            f"search.objective: the model does not report '{search.objective}'; it reports "
            f"{reported}.{_suggest(search.objective, reported)}"
        )
    inferred = infer_direction(search.objective)
    if search.direction is None:
        search.direction = inferred
    elif search.direction not in ("min", "max"):
        raise ConfigError(f"search.direction: expected max or min, got '{search.direction}'")
    elif search.direction != inferred:
        raise ConfigError(
            f"search.direction: '{search.objective}' is better when it is {inferred}imized, "
            f"not {search.direction}imized; leave 'direction' out to infer it"
        )
    for name in ("max_trials", "executions_per_trial", "max_epochs", "hyperband_iterations", "retrain_epochs"):
        value = getattr(search, name)
        if value is not None and value < 1:
            raise ConfigError(f"search.{name}: must be at least 1, got {value}")
    if search.factor < 2:
        raise ConfigError(f"search.factor: hyperband needs a factor of at least 2, got {search.factor}")
    if search.seed is None:
        search.seed = cfg.train.seed
    return search
