"""Keras Tuner sweeps: the search space, the hypermodel, tune() end to end,
no per-trial checkpoints, a refused directory, resuming after kill -9, and
chief/worker mode with separate processes."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from textlstm.config import ConfigError, load_pipeline

PIPELINE = os.path.join(REPO, "pipelines", "sweep_sentiment_demo.yaml")
TINY = [
    "data.demo_size=600",
    "vectorizer.max_length=24",
    "model.embedding_dim=8",
    "model.units=[8]",
    "model.bidirectional=false",
    "train.epochs=1",
    "train.verbose=0",
    "train.tensorboard=false",
    "search.tuner=random",
    "search.max_trials=3",
    "search.max_epochs=1",
    "search.space={units: {choice: [4, 8]}, learning_rate: {min: 0.001, max: 0.02, sampling: log}, "
    "batch_size: {choice: [32, 64]}}",
]
WEIGHT_SUFFIXES = (".h5", ".keras", ".weights", ".index", ".pb")


def search(overrides):
    from textlstm.tuning.space import search_config

    return search_config(load_pipeline(PIPELINE, overrides))


# ----------------------------------------------------------------- the space
def test_default_space_and_inferred_direction():
    s = search(["search={objective: val_loss}"])
    assert s.direction == "min" and s.tuner == "hyperband"
    assert set(s.space) == {
        "units",
        "num_layers",
        "embedding_dim",
        "bidirectional",
        "dropout",
        "learning_rate",
        "batch_size",
    }
    assert s.space["dropout"].values() == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert search([]).space["units"].choice == [16, 32, 64]  # the pipeline's own space


@pytest.mark.parametrize(
    "override, message",
    [
        ("search.space={unts: {choice: [8]}}", "Did you mean 'units'"),
        ("search.space={units: {chioce: [8]}}", "Did you mean 'choice'"),
        ("search.space={units: {choice: []}}", "non-empty list"),
        ("search.space={dropout: {min: 0.5, max: 0.1}}", "greater than max"),
        ("search.space={}", "search space is empty"),
        ("search.space={learning_rate: {min: 0, max: 0.1, sampling: log}}", "needs min > 0"),
        ("search.space={num_layers: {min: 0, max: 2}}", "at least 1 layer"),
        ("search.space={cell: {min: 1, max: 2}}", "not numeric"),
        ("search.space={units: {choice: [8, big]}}", "expected an integer"),
        ("search.objective=val_f1", "reports ['loss', 'accuracy', 'val_loss', 'val_accuracy', 'val_macro_f1']"),
        ("search.tuner=hyperbandd", "Did you mean 'hyperband'"),
        ("search.maxtrials=3", "Did you mean 'max_trials'"),
        ("search.space={wide: {choice: [1, 2]}}", "unknown key 'search.space.wide'"),  # a list of paths: not searched
    ],
)
def test_bad_search_sections_name_the_problem(override, message):
    with pytest.raises(ConfigError) as err:
        search([override])
    assert message in str(err.value)


def test_direction_is_checked_against_the_objective():
    assert search(["search.objective=val_loss", "search.direction=min"]).direction == "min"
    with pytest.raises(ConfigError, match="better when it is minimized"):
        search(["search.objective=val_loss", "search.direction=max"])


def test_objective_defaults_to_the_fused_score_with_a_late_ngram_path():
    late = ["model.wide=[{ngrams: 2}, {ngrams: 2, init: naive_bayes, fusion: late}]"]
    assert search([]).objective == "val_accuracy"
    assert search(late).objective == "val_fused_accuracy"
    assert search(late + ["search.objective=val_loss"]).objective == "val_loss"
    with pytest.raises(ConfigError, match="does not report 'val_fused_accuracy'"):
        search(["search.objective=val_fused_accuracy"])


def test_hypermodel_maps_layers_and_values_to_configs():
    import keras_tuner as kt

    from textlstm.tuning.hypermodel import make_hypermodel

    cfg = load_pipeline(PIPELINE)
    hypermodel = make_hypermodel(cfg)
    hp = kt.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    assert {"units_1", "units_2", "num_layers"} <= {p.name for p in hp.space}
    hp.values.update({"num_layers": 2, "units_1": 64, "bidirectional": False, "batch_size": 64})
    hp.ensure_active_values()
    hp.values["units_2"] = 16
    model, train = hypermodel.configs(hp)
    assert model.units == [64, 16] and model.bidirectional is False and train.batch_size == 64
    hp.values["num_layers"] = 1
    assert hypermodel.configs(hp)[0].units == [64]
    assert not hypermodel._prepared  # declaring and mapping read no data


def test_every_tuner_kind_is_built(tmp_path):
    from textlstm.tuning.hypermodel import make_hypermodel
    from textlstm.tuning.tuners import BayesianTuner, HyperbandTuner, RandomSearchTuner, make_tuner

    for kind, cls in [("random", RandomSearchTuner), ("hyperband", HyperbandTuner), ("bayesian", BayesianTuner)]:
        hypermodel = make_hypermodel(load_pipeline(PIPELINE, TINY + [f"search.tuner={kind}"]))
        tuner = make_tuner(hypermodel, tmp_path / kind)
        assert isinstance(tuner, cls) and tuner.oracle.max_trials == 3
        assert tuner.oracle.objective.name == "val_accuracy" and tuner.oracle.objective.direction == "max"


# ------------------------------------------------------------ tune() locally
def _files(directory):
    return [p for p in Path(directory).rglob("*") if p.is_file()]


def _events(directory):
    from textlstm.tuning.report import read_events

    return read_events(Path(directory) / "events.jsonl")


def test_tune_hyperband_reports_retrains_and_keeps_no_trial_weights(tmp_path):
    import keras

    import textlstm
    from textlstm.tuning import tune

    keras.utils.set_random_seed(0)
    # Hyperband with max_epochs 3: 3 one-epoch trials, the best promoted to 3 epochs (capped at 4 trials).
    overrides = TINY + ["search.tuner=hyperband", "search.max_trials=4", "search.max_epochs=3", "search.patience=null"]
    result = tune(PIPELINE, tmp_path, overrides=overrides, progress=False)

    assert [r["status"] for r in result.trials] == ["COMPLETED"] * 4
    assert sorted(r["trial"] for r in result.trials) == [1, 2, 3, 4]
    assert sorted(r["epochs"] for r in result.trials) == [1, 1, 1, 3]
    assert next(r for r in result.trials if r["epochs"] == 3)["epochs_run"] == 3  # trained from scratch
    scores = [r["val_accuracy"] for r in result.trials]
    assert scores == sorted(scores, reverse=True) and result.best_score == scores[0]
    assert set(result.best_hyperparameters) == {"units_1", "learning_rate", "batch_size"}

    # reports and the same artifact as `textlstm train`
    for name in ("trials.csv", "summary.md", "trials.png", "model.keras", "metrics.json", "search.json"):
        assert (tmp_path / name).is_file(), name
    assert len((tmp_path / "trials.csv").read_text().splitlines()) == 5
    assert "Best: trial" in (tmp_path / "summary.md").read_text()
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["search"]["best_hyperparameters"] == result.best_hyperparameters and "accuracy" in metrics["test"]
    assert metrics["train_seconds"] > 0 and metrics["history"][0]["loss"]  # written by train_evaluate_write
    loaded = textlstm.load(tmp_path / "model.keras")
    best = result.best_hyperparameters
    assert loaded.config.model.units == [best["units_1"]] and result.best_config.model.units == [best["units_1"]]
    assert (loaded.config.train.learning_rate, loaded.config.train.batch_size) == (
        best["learning_rate"],
        best["batch_size"],
    )
    assert loaded.predict(["a great film"])[0].label in ("positive", "negative")
    assert result.classifier.predict(["a great film"])[0].label == loaded.predict(["a great film"])[0].label

    # disk: trial folders hold trial.json only, and the whole oracle stays small
    sweep_files = _files(tmp_path / "sweep")
    assert not [p for p in sweep_files if p.suffix in WEIGHT_SUFFIXES or "checkpoint" in p.name]
    assert {p.name for p in sweep_files if p.parent.name.startswith("trial_")} == {"trial.json"}
    assert sum(p.stat().st_size for p in sweep_files) < 200_000

    # the same call again finds the sweep finished: no trial runs again
    before = len(_events(tmp_path))
    again = tune(PIPELINE, tmp_path, overrides=overrides, progress=False, retrain_best=False)
    assert len(_events(tmp_path)) == before and len(again.trials) == 4

    # a different space in the same directory is refused before any work, unless overwrite
    other = overrides + ["search.space={units: {choice: [4, 16]}}"]
    with pytest.raises(ConfigError, match="different search space.*units.*--overwrite"):
        tune(PIPELINE, tmp_path, overrides=other, progress=False)
    # so is other data or a model change outside the space, before any work
    for change, where in [
        ("data.demo_size=700", "data.demo_size: 600 -> 700"),
        ("model.cell=gru", "model.cell: 'lstm' -> 'gru'"),
    ]:
        with pytest.raises(ConfigError, match=f"trained on something else.*{where}.*--overwrite"):
            tune(PIPELINE, tmp_path, overrides=overrides + [change], progress=False)
    # keys that trials replace or do not use may change
    again = tune(
        PIPELINE,
        tmp_path,
        overrides=overrides + ["train.epochs=2", "train.verbose=1"],
        progress=False,
        retrain_best=False,
    )
    assert len(_events(tmp_path)) == before and len(again.trials) == 4


def test_tune_scores_a_late_fusion_model_on_the_fused_accuracy(tmp_path):
    """With a late n-gram path, trials are scored (and stopped early) on the
    fused model, which is what `textlstm train` keeps, and so is the retrain."""
    import keras

    from textlstm.tuning import tune

    keras.utils.set_random_seed(0)
    late = [
        "model.wide=[{ngrams: 2, buckets: 4096}, {ngrams: 2, buckets: 4096, init: naive_bayes, fusion: late}]",
        "search.max_trials=2",
        "search.max_epochs=2",
        "search.space={units: {choice: [4, 8]}}",
    ]
    result = tune(PIPELINE, tmp_path, overrides=TINY + late, progress=False)
    assert result.objective == "val_fused_accuracy"
    assert [r["status"] for r in result.trials] == ["COMPLETED"] * 2
    for row in result.trials:
        assert 0.0 <= row["val_fused_accuracy"] <= 1.0 and "val_accuracy" in row
    assert result.best_score == max(r["val_fused_accuracy"] for r in result.trials)
    assert result.best_config.train.monitor == "val_fused_accuracy"
    assert "val_fused_accuracy" in result.classifier.history[0] and result.classifier.data_report["fusion"]


def test_a_worker_with_other_trial_inputs_is_warned_not_refused(tmp_path, caplog):
    from textlstm.tuning.sweep import guard_directory

    cfg = load_pipeline(PIPELINE, TINY)
    guard_directory(tmp_path, search(TINY), cfg, overwrite=False)
    other = load_pipeline(PIPELINE, TINY + ["data.demo_size=700"])
    with pytest.raises(ConfigError, match="data.demo_size: 600 -> 700"):
        guard_directory(tmp_path, search(TINY), other, overwrite=False)
    with caplog.at_level("WARNING", logger="textlstm"):
        guard_directory(tmp_path, search(TINY), other, overwrite=False, strict_inputs=False)
    assert "this worker's pipeline differs from the sweep's (data.demo_size: 600 -> 700)" in caplog.text
    # a search.json from before trial inputs were stored resumes as it did
    stored = json.loads((tmp_path / "search.json").read_text())
    del stored["trial_inputs"]
    (tmp_path / "search.json").write_text(json.dumps(stored))
    guard_directory(tmp_path, search(TINY), other, overwrite=False)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_worker_without_chief_fails_within_the_wait(tmp_path, capsys):
    from textlstm.cli import main

    address = f"127.0.0.1:{_free_port()}"
    start = time.perf_counter()
    argv = ["tune", PIPELINE, "--dir", str(tmp_path), "--worker", address, "--wait", "1"]
    assert main(argv + [a for o in TINY for a in ("--set", o)]) == 2
    assert f"could not reach the chief at {address} within 1 s" in capsys.readouterr().err
    assert time.perf_counter() - start < 30
    assert "KERASTUNER_ORACLE_IP" not in os.environ


def test_cli_rejects_a_contradictory_space_with_status_2(tmp_path, capsys):
    from textlstm.cli import main

    argv = ["tune", PIPELINE, "--dir", str(tmp_path), "--set", "search.space={units: {min: 8, max: 4}}"]
    assert main(argv) == 2
    assert "search.space.units: min (8) is greater than max (4)" in capsys.readouterr().err
    assert not (tmp_path / "search.json").exists()


# ------------------------------------------------- processes: kill -9, chief
def _cli(directory, *extra, overrides=TINY):
    cmd = [sys.executable, "-m", "textlstm.cli", "tune", PIPELINE, "--dir", str(directory)]
    for o in overrides:
        cmd += ["--set", o]
    return cmd + list(extra)


ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")


def _wait_for(predicate, proc, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"the sweep exited ({proc.returncode}) before {what}:\n{proc.stdout.read()[-3000:]}")
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"timed out waiting for {what}")


def _runs_per_trial(events):
    begins, ends = {}, {}
    for e in events:
        target = begins if e["event"] == "begin" else ends
        target.setdefault(e["trial"], []).append(e["pid"])
    return begins, ends


def _table(directory):
    import csv

    with open(Path(directory) / "trials.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_sweep_resumes_after_kill_9(tmp_path):
    overrides = TINY + ["search.max_epochs=2", "search.patience=null"]  # 3 trials
    first = subprocess.Popen(
        _cli(tmp_path, "--no-retrain", overrides=overrides),
        cwd=REPO,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def mid_trial():  # one trial finished and the next one begun
        events = _events(tmp_path)
        return any(e["event"] == "end" for e in events) and events[-1]["event"] == "begin"

    _wait_for(mid_trial, first, 240, "a trial finished and the next began")
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed = _events(tmp_path)[-1]["trial"]
    finished_before = {e["trial"] for e in _events(tmp_path) if e["event"] == "end"}
    assert killed not in finished_before and not (tmp_path / "trials.csv").exists()

    second = subprocess.run(
        _cli(tmp_path, "--no-retrain", overrides=overrides),
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "Reloading Tuner" in second.stdout
    begins, ends = _runs_per_trial(_events(tmp_path))
    assert sorted(ends) == ["0", "1", "2"] and all(len(p) == 1 for p in ends.values())
    for trial in finished_before:  # finished trials ran exactly once
        assert len(begins[trial]) == 1 and begins[trial] == ends[trial]
    assert len(begins[killed]) == 2 and ends[killed][0] == begins[killed][1] != first.pid  # rerun after the kill
    rows = _table(tmp_path)
    assert sorted(int(r["trial"]) for r in rows) == [1, 2, 3] and {r["status"] for r in rows} == {"COMPLETED"}
    assert {r["runs"] for r in rows} == {"1", "2"}  # the table shows which trial ran twice


def test_chief_and_two_workers_run_every_trial_once(tmp_path):
    address = f"127.0.0.1:{_free_port()}"
    overrides = TINY + ["search.max_trials=4"]
    chief = subprocess.Popen(
        _cli(tmp_path, "--chief", address, "--no-retrain", overrides=overrides),
        cwd=REPO,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    workers = [
        subprocess.Popen(
            _cli(tmp_path, "--worker", address, "--tuner-id", f"worker-{i}", "--wait", "120", overrides=overrides),
            cwd=REPO,
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in (1, 2)
    ]
    outputs = []
    try:
        for proc in [*workers, chief]:
            out, _ = proc.communicate(timeout=300)
            outputs.append(out)
            assert proc.returncode == 0, out[-3000:]
    finally:
        for proc in [*workers, chief]:
            if proc.poll() is None:
                proc.kill()
    begins, ends = _runs_per_trial(_events(tmp_path))
    assert sorted(ends) == ["0", "1", "2", "3"]
    assert all(len(p) == 1 for p in ends.values()) and all(len(p) == 1 for p in begins.values())
    runners = {e["tuner"] for e in _events(tmp_path)}
    assert runners <= {"worker-1", "worker-2"}  # the chief runs no trials
    rows = _table(tmp_path)
    assert sorted(int(r["trial"]) for r in rows) == [1, 2, 3, 4] and {r["status"] for r in rows} == {"COMPLETED"}
    assert {r["tuner"] for r in rows} == runners
    assert outputs[2].count("/4 ") == 4 and "[worker-" in outputs[2]  # the chief logs each finished trial
    assert not (tmp_path / "model.keras").exists()  # --no-retrain


def test_a_trial_trains_through_the_classifier_trainer():
    """A sweep trial trains what `textlstm train` trains (here an NBSVM wide
    path fitted first, and a late path's fused score), through the same
    `ClassifierTrainer`, not the bare network."""
    import keras_tuner as kt

    from textlstm.trainer import ClassifierTrainer
    from textlstm.tuning.hypermodel import make_hypermodel

    wide = "model.wide=[{ngrams: 2, buckets: 4096, init: nbsvm, epochs: 1}, {ngrams: 1, buckets: 4096, fusion: late}]"
    cfg = load_pipeline(PIPELINE, TINY + [wide])
    hypermodel = make_hypermodel(cfg)
    hp = kt.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    model = hypermodel.build(hp)
    assert isinstance(hypermodel.trainer, ClassifierTrainer)
    assert "nbsvm" in hypermodel.trainer.wide.report[0]  # the NBSVM path was fitted before the trial's network
    metrics = hypermodel.fit(hp, model)
    assert metrics["epochs_run"] == 1 and 0 <= metrics["val_accuracy"] <= 1
    assert 0 <= metrics["val_fused_accuracy"] <= 1  # the trainer's late-path score, the sweep's objective
    assert model.optimizer.iterations.numpy() > 0  # its weights were trained (through the trainer)
