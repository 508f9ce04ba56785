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

import gc
import json
import math
import os
import socket
import time
from pathlib import Path

import keras
import keras_tuner as kt

from textlstm.tuning.distributed import is_chief, serve_oracle, sweep_finished
from textlstm.tuning.hypermodel import TaskHyperModel
from textlstm.tuning.kt_internals import DeclaredSpaceTuner
from textlstm.tuning.space import HYPERBAND_KEYS


def format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def progress_line(trial, total: int | None, objective: str, best, seconds: float | None, tuner_id: str) -> str:
    """`trial n/N hp=value ... -> objective=score (best b) 12.3s [tuner_id]`."""
    n = int(trial.trial_id) + 1
    hps = " ".join(
        f"{k}={format_value(v)}"
        for k, v in trial.hyperparameters.values.items()
        if k not in HYPERBAND_KEYS or k == "tuner/epochs"
    )
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
    schedule = hyperband_schedule(search.max_epochs, search.factor) * search.hyperband_iterations
    return min(schedule, search.max_trials) if search.max_trials else schedule


def hyperband_schedule(max_epochs: int, factor: int) -> int:
    """The number of trials in one Hyperband iteration of keras-tuner's `HyperbandOracle`.

    Brackets `b = 0 .. B-1`, `B` the number of times `max_epochs` can be
    divided by `factor` staying at or above 1 epoch; bracket `b` has `b + 1`
    rounds, round `r` runs `ceil(ceil(1 + log_factor(max_epochs)) / (b + 1) * factor ** (b - r))`
    trials (Li et al., 2018, with keras-tuner's rounding; the same float
    operations as keras-tuner 1.4.8, which `tests/test_private_apis.py` checks).

    Args:
        max_epochs: The most epochs a trial trains (Hyperband's `max_epochs`).
        factor: Hyperband's reduction factor (at least 2).
    """
    brackets, epochs = 0, max_epochs
    while epochs >= 1:  # keras-tuner's min_epochs is 1
        epochs = epochs / factor
        brackets += 1
    last_round = math.ceil(1 + math.log(max_epochs, factor))  # trials in bracket 0's only round
    return sum(math.ceil(last_round / (b + 1) * factor ** (b - r)) for b in range(brackets) for r in range(b + 1))


class SweepDisplay:
    """A chief's trial lines: one per trial a worker finished, printed by
    wrapping the oracle's public `create_trial` and `end_trial` (the chief
    serves them to the workers).

    ```python
    SweepDisplay(tuner.oracle, total).attach()
    ```

    Args:
        oracle: The chief's `keras_tuner.Oracle`.
        total: The planned number of trials, for `trial n/N`.
    """

    def __init__(self, oracle, total):
        self.oracle = oracle
        self.total = total
        self.trial_start: dict[str, float] = {}

    def attach(self) -> SweepDisplay:
        """Wrap the oracle's `create_trial` and `end_trial` (on this oracle instance only)."""
        create, end = self.oracle.create_trial, self.oracle.end_trial

        def create_trial(tuner_id):
            trial = create(tuner_id)
            if trial.status == "RUNNING":
                self.trial_start.setdefault(trial.trial_id, time.perf_counter())
            return trial

        def end_trial(trial):
            tuner = next((t for t, tr in self.oracle.ongoing_trials.items() if tr.trial_id == trial.trial_id), "?")
            end(trial)
            self.on_trial_end(self.oracle.get_trial(trial.trial_id), tuner)

        self.oracle.create_trial, self.oracle.end_trial = create_trial, end_trial
        return self

    def on_trial_end(self, trial, tuner_id: str):
        """Print the line of a trial the oracle has just ended (scored).

        Args:
            trial: The oracle's `Trial`, after `end_trial`.
            tuner_id: The worker that ran it.
        """
        start = self.trial_start.pop(trial.trial_id, None)
        seconds = time.perf_counter() - start if start is not None else None
        best = self.oracle.get_best_trials(1)
        best = best[0].score if best and best[0].status == "COMPLETED" else None
        print(progress_line(trial, self.total, self.oracle.objective.name, best, seconds, tuner_id), flush=True)


class SweepTunerMixin(DeclaredSpaceTuner):
    """Shared by the three tuners: no checkpoints, events, progress lines,
    space declared without building a model (`DeclaredSpaceTuner`), and a
    chief that serves the oracle itself (see `textlstm.tuning.distributed`)."""

    def __init__(
        self, *args, events: str | Path | None = None, total: int | None = None, progress: bool = True, **kwargs
    ):
        self.events = Path(events) if events else None
        self.total = total
        self.progress = progress
        self._trial_start: dict[str, float] = {}
        super().__init__(*args, **kwargs)

    def search(self, *args, **kwargs):
        if is_chief():  # serve the oracle until the workers are done
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
            model = self.build_model(hp)
            results.append(self.hypermodel.fit(hp, model, *args, **kwargs))
        return results

    def build_model(self, hp):
        """A fresh model for `hp` (no Hyperband checkpoint reload), after
        clearing the previous trial's Keras state as keras-tuner does.

        Args:
            hp: The trial's `HyperParameters`.
        """
        keras.backend.clear_session()
        gc.collect()
        model = self.hypermodel.build(hp)
        if not isinstance(model, keras.Model):
            raise kt.errors.FatalTypeError(
                f"the hypermodel's build() returned {type(model).__name__}, not a keras.Model"
            )
        return model

    def save_model(self, trial_id, model, step=0):
        pass

    def load_model(self, trial):
        raise NotImplementedError(
            "sweeps keep no trained weights: retrain the best hyperparameters (textlstm.tuning.tune does)"
        )

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
            print(
                progress_line(ended, self.total, self.oracle.objective.name, best, seconds, self.tuner_id), flush=True
            )

    def _event(self, event: str, trial, **extra):
        if self.events is None:
            return
        record = {
            "event": event,
            "trial": trial.trial_id,
            "status": trial.status,
            "tuner": self.tuner_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "time": time.time(),
            **extra,
        }
        with open(self.events, "a", encoding="utf-8") as f:  # one short append per line
            f.write(json.dumps(record, default=str) + "\n")


class RandomSearchTuner(SweepTunerMixin, kt.RandomSearch):
    """`keras_tuner.RandomSearch` without checkpoints."""


class HyperbandTuner(SweepTunerMixin, kt.Hyperband):
    """`keras_tuner.Hyperband` without checkpoints (promoted trials retrain from scratch)."""


class BayesianTuner(SweepTunerMixin, kt.BayesianOptimization):
    """`keras_tuner.BayesianOptimization` without checkpoints."""


def make_tuner(
    hypermodel: TaskHyperModel,
    directory: str | Path,
    overwrite: bool = False,
    events: str | Path | None = None,
    progress: bool = True,
    tuner_id: str | None = None,
):
    """The tuner the hypermodel's `SearchConfig` names, in `directory`."""
    search = hypermodel.search
    objective = kt.Objective(search.objective, direction=search.direction)
    directory = Path(directory)
    common = dict(
        hypermodel=hypermodel,
        objective=objective,
        seed=search.seed,
        directory=str(directory.parent),
        project_name=directory.name,
        overwrite=overwrite,
        events=events,
        progress=progress,
        total=planned_trials(search),
        tuner_id=tuner_id,
        executions_per_trial=search.executions_per_trial,
    )
    if search.tuner == "hyperband":
        tuner = HyperbandTuner(
            max_epochs=search.max_epochs,
            factor=search.factor,
            hyperband_iterations=search.hyperband_iterations,
            **common,
        )
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
