"""Hypermodels: a `keras_tuner.HyperModel` per task (named by `textlstm.tasks`).

The hypermodel declares the search space from a `SearchConfig` and turns a
trial's hyperparameters into the task's model/train configs. A subclass
prepares the data once and then builds and trains each trial's network;
`ClassifierHyperModel` does both through `textlstm.trainer.ClassifierTrainer`,
the same object `TextClassifier.fit` trains with, so a trial trains what
`textlstm train` trains (wide paths, NBSVM fits and late fusion included).
What a trial leaves out: ensembles and bagging (one network per trial),
checkpoints and TensorBoard logs; its early stopping watches the sweep's
objective.

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

import keras
import keras_tuner as kt

from textlstm import tasks
from textlstm.config import PipelineConfig, TrainConfig
from textlstm.data import load_splits
from textlstm.data.examples import ClassificationExamples
from textlstm.multilabel.classifier import MultiLabelTrainer
from textlstm.multilabel.data import MultiHotEncoder, load_multilabel_splits
from textlstm.trainer import make_trainer
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
    """The search space of a pipeline's `search:` section over its task.

    Subclasses set `task` and implement `prepare` (read the data once; a chief
    oracle that never trains never reads it), `build_network` and `train`.

    Args:
        config: the pipeline.
        search: its search settings.
        name: the hypermodel's name.
    """

    task = "classification"

    def __init__(self, config: PipelineConfig, search: SearchConfig, name: str | None = None):
        super().__init__(name=name or f"{self.task}_hypermodel")
        self.config = config
        self.search = search
        self._prepared = False

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
                scope = (
                    hp.conditional_scope("num_layers", active)
                    if layers is not None and len(active) < len(possible)
                    else contextlib.nullcontext()
                )
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

    def trial_config(self, hp, epochs: int | None = None) -> TrainConfig:
        """The train config of one trial: early stopping on the objective, quiet, no TensorBoard."""
        train = self.configs(hp)[1]
        return dataclasses.replace(
            train,
            epochs=epochs or self.search.max_epochs,
            monitor=self.search.objective,
            patience=self.search.patience,
            verbose=0,
            tensorboard=False,
        )

    # ----------------------------------------------------- build and train
    def ensure_prepared(self):
        """Prepare the data once (read it, fit the vectorizer)."""
        if not self._prepared:
            self.prepare()
            self._prepared = True
        return self

    def build(self, hp):
        model_config, train_config = self.configs(hp)
        self.ensure_prepared()
        return self.build_network(model_config, train_config)

    def fit(self, hp, model, *args, epochs: int | None = None, callbacks=(), **kwargs) -> dict:
        """Train `model` with the trial's settings; returns the metrics of its
        best epoch (by the objective), which the oracle records."""
        self.ensure_prepared()
        history = self.train(model, self.trial_config(hp, epochs), list(callbacks or ()))
        return best_epoch_metrics(history, self.search.objective, self.search.direction)

    def prepare(self) -> None:
        raise NotImplementedError

    def build_network(self, model_config, train_config):
        raise NotImplementedError

    def train(self, model, train_config: TrainConfig, callbacks: list) -> dict:
        """Train one trial's `model`; returns its `fit` history."""
        raise NotImplementedError


def best_epoch_metrics(history: dict, objective: str, direction: str) -> dict:
    """The metrics of the best epoch of a `training.fit` history (plus `epochs`
    run and `best_epoch`, 1-based)."""
    if objective not in history:
        reported = sorted(k for k in history if k != "epoch_time")
        raise kt.errors.FatalValueError(
            f"search.objective: the model does not report '{objective}' (no validation data?); it reports {reported}"
        )
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
        elif hint is int or (
            typing.get_origin(hint) is not None and int in typing.get_args(hint) and float not in typing.get_args(hint)
        ):
            value = int(value)
        out[name] = value
    return out


class ClassifierHyperModel(TaskHyperModel):
    """The classifier's hypermodel: LSTM units per layer, layers, embedding
    size, bidirectional, dropout, learning rate, batch size, over the
    `ClassifierTrainer` that `TextClassifier.fit` uses."""

    task = "classification"

    def prepare(self) -> None:
        cfg = self.config
        splits = load_splits(cfg.data, self.task, cfg.train.seed)
        keras.utils.set_random_seed(cfg.train.seed)
        self.trainer = make_trainer(cfg, splits.train, splits.validation)  # data.cache: disk: a temporary folder

    def build_network(self, model_config, train_config):
        return self.trainer.build(model_config, train_config, name=self.task)

    def train(self, model, train_config: TrainConfig, callbacks: list) -> dict:
        return self.trainer.train(model, train_config, callbacks=callbacks).history


def make_hypermodel(cfg: PipelineConfig, search: SearchConfig | None = None) -> TaskHyperModel:
    """The hypermodel of `cfg.task` (`textlstm.tasks`).

    Args:
        cfg: the pipeline.
        search: its search settings (default: read from `cfg.search`).
    """
    return tasks.get(cfg.task).hypermodel_class()(cfg, search or search_config(cfg))


class MultiLabelHyperModel(ClassifierHyperModel):
    """The multi-label classifier's hypermodel: the classifier's space, trained
    by `MultiLabelTrainer` on multi-hot targets (the trainer `MultiLabelClassifier.fit` uses)."""

    task = "multilabel"

    def prepare(self) -> None:
        cfg = self.config
        splits = load_multilabel_splits(cfg.data, cfg.train.seed)
        keras.utils.set_random_seed(cfg.train.seed)
        examples = ClassificationExamples.build(
            splits.train, splits.validation, cfg.vectorizer, cfg.train, label_encoder=MultiHotEncoder
        )
        self.trainer = MultiLabelTrainer(examples, cfg)
