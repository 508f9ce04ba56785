"""Hypermodels: a `keras_tuner.HyperModel` over a task runner.

A task runner is an object with `prepare()`, `datasets(batch_size)` and
`build_network(model_config, train_config, name)` (`TextClassifier` is one;
a seq2seq runner plugs in the same way with its own `TaskHyperModel`
subclass registered in `HYPERMODELS`). The hypermodel declares the search
space from a `SearchConfig`, turns a trial's hyperparameters into the
runner's model/train configs, builds the compiled network with
`build_network` and trains it with `textlstm.training.fit` (early stopping on
the objective, no checkpoints).

```python
import keras_tuner as kt
from textlstm.config import load_pipeline
from textlstm.tuning.hypermodel import make_hypermodel
cfg = load_pipeline("pipelines/sweep_sentiment_demo.yaml", ["data.demo_size=600"])
hypermodel = make_hypermodel(cfg)
hp = kt.HyperParameters()
model = hypermodel.build(hp)                     # prepares the data once, then builds
metrics = hypermodel.fit(hp, model, epochs=1)    # {'val_accuracy': ..., 'val_loss': ..., ...}
hypermodel.configs(hp)[0].units                  # [16]
```
"""

from __future__ import annotations

import contextlib
import dataclasses
import typing

import keras_tuner as kt

from textlstm.config import PipelineConfig, TrainConfig
from textlstm.training import best_index
from textlstm.tuning.space import TRAIN_KEYS, Param, SearchConfig, search_config


def declare(hp: kt.HyperParameters, param: Param, name: str | None = None):
    """Declare `param` in `hp` (or read it back) and return its current value."""
    name = name or param.name
    if param.kind == "fixed":
        return hp.Fixed(name, param.fixed)
    if param.kind == "choice":
        if sorted(map(repr, param.choice)) == ["False", "True"]:
            return hp.Boolean(name, default=param.choice[0])
        return hp.Choice(name, param.choice, default=param.choice[0])
    cls = hp.Int if param.is_int else hp.Float
    return cls(name, param.min, param.max, step=param.step, sampling=param.sampling)


class TaskHyperModel(kt.HyperModel):
    """A hypermodel over a task runner (see the module docstring).

    Subclasses set `task` and may override `configs` for task-specific
    hyperparameters. The runner is prepared lazily, so a chief oracle that
    never trains never reads the data.
    """

    task = "classification"

    def __init__(self, runner, search: SearchConfig, name: str | None = None):
        super().__init__(name=name or f"{self.task}_hypermodel")
        self.runner = runner
        self.search = search
        self._prepared = False

    @property
    def config(self) -> PipelineConfig:
        return self.runner.config

    # ------------------------------------------------------------ the space
    def declare_hyperparameters(self, hp):
        self.values(hp)

    def values(self, hp) -> dict:
        """Declare the space in `hp` and return the active values by name:
        `units_1..units_N` per recurrent layer (active while `num_layers`
        reaches them), then the other parameters."""
        space = dict(self.search.space)
        values = {}
        layers = space.pop("num_layers", None)
        units = space.pop("units", None)
        fixed_layers = len(self.config.model.units)
        if layers is not None:
            values["num_layers"] = n = declare(hp, layers)
            possible = layers.values()
        else:
            n, possible = fixed_layers, [fixed_layers]
        if units is not None:
            for i in range(max(possible)):
                active = [v for v in possible if v > i]
                scope = (hp.conditional_scope("num_layers", active) if layers is not None and len(active) < len(possible)
                         else contextlib.nullcontext())
                with scope:
                    value = declare(hp, units, f"units_{i + 1}")
                if i < n and value is not None:
                    values[f"units_{i + 1}"] = value
        for name, param in space.items():
            values[name] = declare(hp, param)
        return values

    def configs(self, hp) -> tuple:
        """`(model_config, train_config)`: the pipeline's, with this trial's values."""
        values = self.values(hp)
        model, train = self.config.model, self.config.train
        base_units = list(model.units)
        n = int(values.pop("num_layers", len(base_units)))
        units = [int(values.pop(f"units_{i + 1}", base_units[min(i, len(base_units) - 1)])) for i in range(n)]
        train_values = {k: values.pop(k) for k in list(values) if k in TRAIN_KEYS}
        model = dataclasses.replace(model, units=units, **_coerce(type(model), values))
        train = dataclasses.replace(train, **_coerce(TrainConfig, train_values))
        return model, train

    # ----------------------------------------------------- build and train
    def ensure_prepared(self):
        """Prepare the runner once (read the data, fit the vectorizer)."""
        if not self._prepared:
            self.runner.prepare()
            self._prepared = True
        return self.runner

    def build(self, hp):
        model_config, train_config = self.configs(hp)
        return self.ensure_prepared().build_network(model_config, train_config, name=self.task)

    def trial_config(self, hp, epochs: int | None = None) -> TrainConfig:
        """The train config of one trial: early stopping on the objective
        (the model is discarded, so no weights are restored), quiet, no TensorBoard."""
        train = self.configs(hp)[1]
        return dataclasses.replace(train, epochs=epochs or self.search.max_epochs, monitor=self.search.objective,
                                   patience=self.search.patience, restore_best=False, verbose=0,
                                   tensorboard=False)

    def fit(self, hp, model, *args, epochs: int | None = None, callbacks=(), **kwargs) -> dict:
        """Train `model` with the trial's batch size; returns the metrics of
        its best epoch (by the objective), which the oracle records."""
        from textlstm.training import fit

        train_config = self.trial_config(hp, epochs)
        model_config, trial_train = self.configs(hp)
        runner = self.ensure_prepared()
        train_ds, val_ds = runner.datasets(train_config.batch_size)
        scores = self.epoch_scores(model, val_ds, model_config)
        if hasattr(runner, "training_setup"):  # e.g. the classifier's leave-one-out trainer
            model, train_ds, val_ds = runner.training_setup(model, train_ds, val_ds, model_config, trial_train)
        history = fit(model, train_ds, val_ds, train_config, None, callbacks=scores + list(callbacks or ()))
        return best_epoch_metrics(history, self.search.objective, self.search.direction)

    def epoch_scores(self, model, val_ds, model_config) -> list:
        """Callbacks that add the task's own per-epoch scores to the logs
        (none by default)."""
        return []


def best_epoch_metrics(history: dict, objective: str, direction: str) -> dict:
    """The metrics of the best epoch of a `training.fit` history (plus `epochs`
    run and `best_epoch`, 1-based)."""
    if objective not in history:
        reported = sorted(k for k in history if k != "epoch_time")
        raise kt.errors.FatalValueError(f"search.objective: the model does not report '{objective}' "
                                        f"(no validation data?); it reports {reported}")
    scores = history[objective]
    best = best_index(scores, direction)
    out = {k: v[best] for k, v in history.items() if k != "epoch_time" and len(v) == len(scores)}
    return out | {"best_epoch": best + 1, "epochs_run": len(scores)}


def _coerce(cls, values: dict) -> dict:
    """Values from the oracle (which may come through gRPC as 1/0 or 64.0)
    back to the config field types."""
    hints = typing.get_type_hints(cls)
    out = {}
    for name, value in values.items():
        hint = hints.get(name)
        if hint is bool:
            value = bool(value)
        elif hint is int or (typing.get_origin(hint) is not None and int in typing.get_args(hint)
                             and float not in typing.get_args(hint)):
            value = int(value)
        out[name] = value
    return out


class ClassifierHyperModel(TaskHyperModel):
    """The `TextClassifier` hypermodel: LSTM units per layer, layers,
    embedding size, bidirectional, dropout, learning rate, batch size."""

    task = "classification"

    def epoch_scores(self, model, val_ds, model_config) -> list:
        """With a late n-gram path, `val_fused_accuracy` each epoch (the
        model that `textlstm train` keeps is the fused one)."""
        from textlstm.models import FusedAccuracy

        return [FusedAccuracy(model, val_ds)] if model_config.late_path() is not None and val_ds is not None else []


def _classifier(cfg):
    from textlstm.classifier import TextClassifier

    return TextClassifier(cfg)


# task -> (runner factory taking a PipelineConfig, hypermodel class)
HYPERMODELS: dict[str, tuple] = {"classification": (_classifier, ClassifierHyperModel)}


def make_hypermodel(cfg: PipelineConfig, search: SearchConfig | None = None) -> TaskHyperModel:
    """The registered hypermodel for `cfg.task`, over a fresh runner."""
    from textlstm.config import ConfigError

    if cfg.task not in HYPERMODELS:
        raise ConfigError(f"no hypermodel for task '{cfg.task}'; sweeps support {sorted(HYPERMODELS)}")
    make_runner, cls = HYPERMODELS[cfg.task]
    return cls(make_runner(cfg), search or search_config(cfg))
