"""Keras Tuner tuners that keep no per-trial checkpoints and log each trial.

Keras Tuner saves the best epoch's weights of every trial (and Hyperband
reloads them to continue promoted trials), which fills disks on long sweeps.
Here trials write no weights at all: the best configuration is retrained
after the search, and a promoted Hyperband trial trains from scratch for its
round's epochs (an extra cost of about 1/factor of its epochs). A trial
directory holds only `trial.json`.

Each trial that runs in this process appends `begin`/`end` events to
`events.jsonl` and prints one progress line:

    trial 3/12 units_1=64 num_layers=1 ... -> val_accuracy=0.8123 (best 0.8200) 12.3s [tuner0]

```python
from textlstm.config import load_pipeline
from textlstm.tuning.hypermodel import make_hypermodel
from textlstm.tuning.tuners import make_tuner
cfg = load_pipeline("pipelines/sweep_sentiment_demo.yaml", ["data.demo_size=600", "search.max_trials=2"])
hypermodel = make_hypermodel(cfg)
tuner = make_tuner(hypermodel, "runs/sweep_demo/sweep", events="runs/sweep_demo/events.jsonl")
tuner.search()
tuner.get_best_hyperparameters()[0].values
```
"""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import datetime
from pathlib import Path

import keras_tuner as kt
from keras_tuner.src.distribute import utils as dist_utils
from keras_tuner.src.engine import oracle as oracle_module

from textlstm.tuning.distributed import serve_oracle, sweep_finished
from textlstm.tuning.hypermodel import TaskHyperModel
from textlstm.tuning.space import HYPERBAND_KEYS


def format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def progress_line(trial, total: int | None, objective: str, best, seconds: float | None, tuner_id: str) -> str:
    """`trial n/N hp=value ... -> objective=score (best b) 12.3s [tuner_id]`."""
    n = int(trial.trial_id) + 1
    hps = " ".join(f"{k}={format_value(v)}" for k, v in trial.hyperparameters.values.items()
                   if k not in HYPERBAND_KEYS or k == "tuner/epochs")
    hps = hps.replace("tuner/epochs", "epochs")
    if trial.status == "COMPLETED" and trial.score is not None:
        result = f"{objective}={trial.score:.4f}" + (f" (best {best:.4f})" if best is not None else "")
    else:
        message = (trial.message or "").strip().splitlines()
        result = f"{trial.status.lower()}" + (f": {message[-1]}" if message else "")
    took = f" {seconds:.1f}s" if seconds is not None else ""
    return f"trial {n}/{total or '?'} {hps} -> {result}{took} [{tuner_id}]"


def planned_trials(search) -> int | None:
    """How many trials the sweep runs (Hyperband: its schedule, capped by max_trials)."""
    if search.tuner != "hyperband":
        return search.max_trials
    oracle = kt.oracles.HyperbandOracle(max_epochs=search.max_epochs, factor=search.factor)
    brackets = oracle._get_num_brackets()
    schedule = sum(oracle._get_size(b, r) for b in range(brackets) for r in range(b + 1))
    schedule *= search.hyperband_iterations
    return min(schedule, search.max_trials) if search.max_trials else schedule


class SweepDisplay(oracle_module.Display):
    """The oracle's display on a chief: one line per trial a worker finished."""

    def __init__(self, oracle, total):
        super().__init__(oracle, verbose=1)
        self.total = total

    def on_trial_begin(self, trial):
        self.trial_start[trial.trial_id] = datetime.now()
        self.trial_number[trial.trial_id] = int(trial.trial_id) + 1

    def on_trial_end(self, trial):
        start = self.trial_start.get(trial.trial_id)
        seconds = (datetime.now() - start).total_seconds() if start else None
        best = self.oracle.get_best_trials(1)
        best = best[0].score if best and best[0].status == "COMPLETED" else None
        tuner = next((t for t, tr in self.oracle.ongoing_trials.items() if tr.trial_id == trial.trial_id), "?")
        print(progress_line(trial, self.total, self.oracle.objective.name, best, seconds, tuner), flush=True)


class SweepTunerMixin:
    """Shared by the three tuners: no checkpoints, events, progress lines,
    space declared without building a model, and a chief that serves the
    oracle itself (see `textlstm.tuning.distributed`)."""

    def __init__(self, *args, events: str | Path | None = None, total: int | None = None, progress: bool = True,
                 **kwargs):
        self.events = Path(events) if events else None
        self.total = total
        self.progress = progress
        self._trial_start: dict[str, float] = {}
        super().__init__(*args, **kwargs)

    # -------------------------------------------------- space, no building
    def _populate_initial_space(self):
        # Keras Tuner builds the model to discover the space; the space is
        # declared directly here, so starting a tuner reads no data.
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)

    def search(self, *args, **kwargs):
        if dist_utils.is_chief_oracle():  # serve the oracle until the workers are done
            self.save()
            if not sweep_finished(self.oracle):
                address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
                serve_oracle(self.oracle, address)
            return
        super().search(*args, **kwargs)

    # ---------------------------------------------------- trials, no weights
    def run_trial(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        if "tuner/epochs" in hp.values:  # Hyperband: this round's epochs, from scratch
            kwargs["epochs"] = hp.values["tuner/epochs"]
        kwargs.pop("initial_epoch", None)
        results = []
        for _ in range(self.executions_per_trial):
            model = self._try_build(hp)
            results.append(self.hypermodel.fit(hp, model, *args, **kwargs))
        return results

    def _build_hypermodel(self, hp):
        # Skips Hyperband's reload of the promoted trial's checkpoint.
        return kt.Tuner._build_hypermodel(self, hp)

    def save_model(self, trial_id, model, step=0):
        pass

    def load_model(self, trial):
        raise NotImplementedError("sweeps keep no trained weights: retrain the best hyperparameters "
                                  "(textlstm.tuning.tune does)")

    # ------------------------------------------------------- events, lines
    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._trial_start[trial.trial_id] = time.perf_counter()
        self._event("begin", trial)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)  # reports to the oracle, saves
        seconds = time.perf_counter() - self._trial_start.pop(trial.trial_id, time.perf_counter())
        ended = self.oracle.get_trial(trial.trial_id)
        self._event("end", ended, seconds=round(seconds, 3), score=ended.score)
        if self.progress:
            best = self.oracle.get_best_trials(1)
            best = best[0].score if best and best[0].status == "COMPLETED" else None
            print(progress_line(ended, self.total, self.oracle.objective.name, best, seconds, self.tuner_id),
                  flush=True)

    def _event(self, event: str, trial, **extra):
        if self.events is None:
            return
        record = {"event": event, "trial": trial.trial_id, "status": trial.status, "tuner": self.tuner_id,
                  "host": socket.gethostname(), "pid": os.getpid(), "time": time.time(), **extra}
        with open(self.events, "a", encoding="utf-8") as f:  # one short append per line
            f.write(json.dumps(record, default=str) + "\n")


class RandomSearchTuner(SweepTunerMixin, kt.RandomSearch):
    """`keras_tuner.RandomSearch` without checkpoints."""


class HyperbandTuner(SweepTunerMixin, kt.Hyperband):
    """`keras_tuner.Hyperband` without checkpoints (promoted trials retrain from scratch)."""


class BayesianTuner(SweepTunerMixin, kt.BayesianOptimization):
    """`keras_tuner.BayesianOptimization` without checkpoints."""


def make_tuner(hypermodel: TaskHyperModel, directory: str | Path, overwrite: bool = False,
               events: str | Path | None = None, progress: bool = True, tuner_id: str | None = None):
    """The tuner the hypermodel's `SearchConfig` names, in `directory`."""
    search = hypermodel.search
    objective = kt.Objective(search.objective, direction=search.direction)
    directory = Path(directory)
    common = dict(hypermodel=hypermodel, objective=objective, seed=search.seed, directory=str(directory.parent),
                  project_name=directory.name, overwrite=overwrite, events=events, progress=progress,
                  total=planned_trials(search), tuner_id=tuner_id,
                  executions_per_trial=search.executions_per_trial)
    if search.tuner == "hyperband":
        tuner = HyperbandTuner(max_epochs=search.max_epochs, factor=search.factor,
                               hyperband_iterations=search.hyperband_iterations, **common)
        if search.max_trials:
            tuner.oracle.max_trials = search.max_trials  # caps the schedule
    elif search.tuner == "bayesian":
        tuner = BayesianTuner(max_trials=search.max_trials, num_initial_points=search.num_initial_points, **common)
    else:
        tuner = RandomSearchTuner(max_trials=search.max_trials, **common)
    if isinstance(tuner.oracle, kt.Oracle):
        tuner.oracle.verbose = 0  # Keras Tuner's own tables; the progress lines replace them
    else:  # a worker's OracleClient: back off while the oracle has nothing to hand out
        create = tuner.oracle.create_trial

        def create_trial(tuner_id):
            trial = create(tuner_id)
            if trial.status == "IDLE":
                time.sleep(1)
            return trial

        tuner.oracle.create_trial = create_trial
    return tuner

