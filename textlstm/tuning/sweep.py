"""`tune`: run a sweep from a pipeline file, write its reports, retrain the best.

```python
from textlstm.tuning import tune
result = tune("pipelines/sweep_sentiment_demo.yaml", "runs/sweep_demo",
              overrides=["data.demo_size=600", "search.max_trials=2", "search.max_epochs=1"])
result.best_hyperparameters     # {'units_1': 32, 'num_layers': 1, ...}
result.trials[0]                # {'trial': 2, 'status': 'COMPLETED', 'val_accuracy': 0.81, ...}
result.classifier.predict(["a great film"])
```

The sweep directory holds:

    search.json     the search space and its hash, and what trials train on (a change is refused)
    sweep/          the oracle: oracle.json, tuner0.json, trial_NN/trial.json (no weights)
    events.jsonl    begin/end of every trial run, by tuner and process
    trials.csv, summary.md, trials.png
    model.keras, metrics.json, history.csv, ...   the retrained best configuration,
                                                  as written by `textlstm train`

Running the same call again resumes: finished trials are kept, a trial that
was cut off runs again. In distributed mode the chief serves the oracle and
then writes the reports and retrains; workers only run trials.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

from textlstm import tasks
from textlstm.config import ConfigError, PipelineConfig, apply_overrides, load_pipeline, pipeline_from_dict
from textlstm.tuning.space import SearchConfig, search_config

log = logging.getLogger("textlstm")

# Everything a sweep writes in its directory (removed by overwrite=True).
SWEEP_OUTPUTS = (
    "search.json",
    "sweep",
    "events.jsonl",
    "trials.csv",
    "summary.md",
    "trials.png",
    "model.keras",
    "metrics.json",
    "history.csv",
    "history.partial.csv",
    "learning_curves.png",
    "confusion_matrix.png",
    "checkpoints",
    "backup",
    "logs",
)


@dataclasses.dataclass
class TuneResult:
    """What `tune` found: the best hyperparameters (and the pipeline config
    with them), the table of trials (best first) and the retrained runner
    (`TextClassifier`) with its test metrics. A worker's result holds only the
    end events of the trials it ran."""

    directory: Path
    role: str  # local | chief | worker
    objective: str
    best_hyperparameters: dict
    best_score: float | None
    trials: list[dict]
    best_config: PipelineConfig | None = None  # the pipeline with the best hyperparameters
    classifier: Any = None
    metrics: dict | None = None
    seconds: float = 0.0


def _pipeline(pipeline, overrides) -> tuple[PipelineConfig, str | None]:
    if isinstance(pipeline, PipelineConfig):
        cfg = pipeline_from_dict(apply_overrides(pipeline.to_dict(), overrides)) if overrides else pipeline
        return cfg, None
    return load_pipeline(pipeline, overrides), str(pipeline) if pipeline else None


def guard_directory(
    directory: Path, search: SearchConfig, cfg: PipelineConfig, overwrite: bool, strict_inputs: bool = True
) -> None:
    """Store the search space and the trials' inputs (`trial_inputs`) in
    `directory/search.json`, or check that those stored there are the same;
    `overwrite` clears a previous sweep. With `strict_inputs=False` (workers)
    different inputs are only logged."""
    marker = directory / "search.json"
    if overwrite:
        for name in SWEEP_OUTPUTS:
            path = directory / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    elif marker.exists():
        stored = json.loads(marker.read_text(encoding="utf-8"))
        if stored.get("hash") != search.fingerprint_hash():
            changes = _differences(
                stored.get("fingerprint", {}), json.loads(json.dumps(search.fingerprint(), default=str))
            )
            raise ConfigError(
                f"{directory} holds a sweep with a different search space ({'; '.join(changes)}); "
                "pass --overwrite (overwrite=True) to start over, or use another directory"
            )
        if "trial_inputs" in stored and stored["trial_inputs"] != trial_inputs(cfg):  # older sweeps did not store them
            changes = "; ".join(_differences(stored["trial_inputs"], trial_inputs(cfg)))
            if not strict_inputs:  # a worker on another machine may see the same data under another path
                log.warning("%s: this worker's pipeline differs from the sweep's (%s)", directory, changes)
                return
            raise ConfigError(
                f"{directory} holds a sweep whose trials trained on something else ({changes}); "
                "pass --overwrite (overwrite=True) to start over, or use another directory"
            )
        return
    elif (directory / "sweep").exists():
        raise ConfigError(f"{directory}/sweep holds a sweep without search.json; pass --overwrite to start over")
    directory.mkdir(parents=True, exist_ok=True)
    record = {
        "hash": search.fingerprint_hash(),
        "fingerprint": search.fingerprint(),
        "task": cfg.task,
        "trial_inputs": trial_inputs(cfg),
        "pipeline": cfg.to_dict(),
    }
    tmp = marker.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    tmp.replace(marker)  # atomic: a chief and workers may start together


# Train keys that trials replace (search.max_epochs, .patience, .objective) or that do
# not change what a trial computes.
_NOT_TRIAL_INPUTS = {"epochs", "patience", "monitor", "ensemble", "verbose", "tensorboard"}


def trial_inputs(cfg: PipelineConfig) -> dict:
    """What the trials train on besides the search space: the data, vectorizer
    and model sections and the train keys a trial uses. A sweep directory is
    resumed only with the same (file contents are not compared, only paths)."""
    d = cfg.to_dict()
    train = {k: v for k, v in d["train"].items() if k not in _NOT_TRIAL_INPUTS}
    return json.loads(
        json.dumps(
            {"task": d["task"], "data": d["data"], "vectorizer": d["vectorizer"], "model": d["model"], "train": train},
            default=str,
        )
    )


def _differences(old: dict, new: dict) -> list[str]:
    """`key.path: old -> new` for each value that differs."""
    return _changes(old, new, "") or ["stored hash differs"]


def _changes(old: dict, new: dict, prefix: str) -> list[str]:
    out = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _changes(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out


def best_pipeline(cfg: PipelineConfig, hypermodel, hp) -> PipelineConfig:
    """The pipeline with the trial's hyperparameters, the retrain epochs, and
    early stopping on the sweep's objective (as in the trials)."""
    model, train = hypermodel.configs(hp)
    train = dataclasses.replace(
        train, epochs=hypermodel.search.retrain_epochs or cfg.train.epochs, monitor=hypermodel.search.objective
    )
    return dataclasses.replace(cfg, model=model, train=train, search=None)


def retrain(cfg: PipelineConfig, directory: Path, search_report: dict):
    """Train the best configuration as `textlstm train` does; returns (runner, test metrics)."""
    from textlstm.runner import train_evaluate_write

    runner = tasks.get(cfg.task).runner_class()(cfg)
    report = train_evaluate_write(runner, directory, extra={"search": search_report})
    return runner, report.get("test")


def tune(
    pipeline: str | Path | PipelineConfig | None,
    directory: str | Path,
    overrides: list[str] | None = None,
    overwrite: bool = False,
    chief: str | None = None,
    worker: str | None = None,
    tuner_id: str | None = None,
    wait: float = 300.0,
    retrain_best: bool = True,
    progress: bool = True,
) -> TuneResult:
    """Run the sweep the pipeline's `search:` section describes in `directory`
    (resuming one that is there), then write trials.csv, summary.md and
    trials.png and retrain the best configuration (see the module docstring).

    `chief="HOST:PORT"` serves the oracle for workers started with
    `worker="HOST:PORT"` (sharing `directory`); a worker waits at most `wait`
    seconds for the chief and returns when the chief has no more trials.
    """
    from textlstm.tuning.distributed import role_environment, wait_for_chief, worker_timeouts
    from textlstm.tuning.hypermodel import make_hypermodel
    from textlstm.tuning.report import plot_trials, read_events, trial_rows, write_csv, write_summary
    from textlstm.tuning.tuners import SweepDisplay, make_tuner, planned_trials

    start = time.perf_counter()
    cfg, source = _pipeline(pipeline, overrides)
    search = search_config(cfg)
    if chief and worker:
        raise ConfigError("give either --chief or --worker, not both")
    role = "chief" if chief else "worker" if worker else "local"
    tuner_id = (
        tuner_id or {"chief": "chief", "local": "tuner0"}.get(role) or f"worker-{socket.gethostname()}-{os.getpid()}"
    )
    if role == "worker" and overwrite:
        raise ConfigError("--overwrite clears the shared sweep directory: give it to the chief, not a worker")
    if role == "worker" and "chief" in tuner_id:
        raise ConfigError(f"a worker's id must not contain 'chief' (Keras Tuner reads it as the chief): {tuner_id}")
    if cfg.train.distribute == "multi_worker":
        raise ConfigError(
            "textlstm tune runs one trial per Keras Tuner worker process, and a train.distribute: multi_worker "
            "trial would need every machine in that one trial: use train.distribute: mirrored (each trial on "
            "all local GPUs) or none (one trial per GPU: one tuner worker per GPU with CUDA_VISIBLE_DEVICES)"
        )
    directory = Path(directory)
    if role == "worker":
        wait_for_chief(worker, wait)  # the chief has written search.json once it answers
    guard_directory(directory, search, cfg, overwrite, strict_inputs=role != "worker")
    hypermodel = make_hypermodel(cfg, search)
    events = directory / "events.jsonl"
    total = planned_trials(search)
    with role_environment(tuner_id, chief or worker):
        with worker_timeouts(worker, wait) if role == "worker" else contextlib.nullcontext():
            tuner = make_tuner(hypermodel, directory / "sweep", events=events, progress=progress, tuner_id=tuner_id)
            if progress:
                where = f" (chief at {chief})" if chief else f" (worker {tuner_id} of {worker})" if worker else ""
                print(
                    f"textlstm: {search.tuner} sweep of {total or '?'} trials on {search.objective}{where} "
                    f"-> {directory}",
                    flush=True,
                )
            if role == "chief":
                SweepDisplay(tuner.oracle, total).attach()
            tuner.search()
    if role == "worker":
        mine = [e for e in read_events(events) if e.get("event") == "end" and e.get("tuner") == tuner_id]
        return TuneResult(directory, role, search.objective, {}, None, mine, seconds=time.perf_counter() - start)

    rows = trial_rows(tuner.oracle, read_events(events), search.objective, search.direction, search.max_epochs)
    write_csv(rows, directory / "trials.csv")
    done = [r for r in rows if r["status"] == "COMPLETED"]
    header = {
        "pipeline": source or cfg.name,
        "tuner": search.tuner,
        "objective": f"{search.objective} ({search.direction})",
        "trials": f"{len(done)} completed of {len(rows)} run ({total or '?'} planned)",
        "sweep seconds": round(time.perf_counter() - start, 1),
    }
    write_summary(rows, directory / "summary.md", header, search.objective)
    if done:
        plot_trials(rows, directory / "trials.png", search.objective, search.direction)
    best = tuner.oracle.get_best_trials(1)
    if not done or not best:
        raise ConfigError(f"no trial completed; see {directory / 'summary.md'} for the errors")
    best_hp = best[0].hyperparameters
    values = {k: v for k, v in best_hp.values.items() if not k.startswith("tuner/")}
    best_cfg = best_pipeline(cfg, hypermodel, best_hp)
    result = TuneResult(directory, role, search.objective, values, best[0].score, rows, best_cfg)
    if progress:
        print(
            f"textlstm: best trial {int(best[0].trial_id) + 1}: {search.objective}={best[0].score:.4f} {values}",
            flush=True,
        )
    if retrain_best:
        if progress:
            print(f"textlstm: retraining the best configuration -> {directory / 'model.keras'}", flush=True)
        report = {
            "objective": search.objective,
            "best_score": best[0].score,
            "best_hyperparameters": values,
            "best_trial": int(best[0].trial_id) + 1,
            "trials": len(rows),
            "completed": len(done),
        }
        result.classifier, result.metrics = retrain(best_cfg, directory, report)
    result.seconds = time.perf_counter() - start
    return result
