"""The console script, run as a user would (subprocesses)."""

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import QUICK_DEMO, REPO

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg"}


def textlstm(*args, stdin=None, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "textlstm.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=ENV,
        cwd=cwd or REPO,
        timeout=600,
    )


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    sets = [x for o in QUICK_DEMO for x in ("--set", o)]
    proc = textlstm("train", "pipelines/sentiment_demo.yaml", *sets, "--output", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_train_writes_artifacts(trained_run):
    out, proc = trained_run
    for name in ("model.keras", "metrics.json", "history.csv", "learning_curves.png", "confusion_matrix.png"):
        assert (out / name).exists(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.85
    assert metrics["data"]["train_padding_fraction"] < 0.15
    assert all("cuDNN" in line for line in metrics["cudnn"])
    summary = json.loads(proc.stdout[proc.stdout.index("{") :])
    assert summary["test"]["accuracy"] == metrics["test"]["accuracy"]
    assert metrics["train_seconds"] > 0 and summary["train_seconds"] == round(metrics["train_seconds"], 1)
    assert isinstance(metrics["history"], list) and "val_accuracy" in metrics["history"][0]
    # the device it trains on, one plain line before the summary
    assert re.search(r"^textlstm: training on (CPU \(no GPU visible\)|1 GPU \(.+\))$", proc.stdout, re.M), proc.stdout


def test_predict_arguments_and_stdin(trained_run):
    out, _ = trained_run
    proc = textlstm("predict", str(out / "model.keras"), "a great film", "the plot was not good")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(l) for l in proc.stdout.strip().splitlines()]
    assert [l["text"] for l in lines] == ["a great film", "the plot was not good"]
    assert lines[1]["label"] == "negative"
    assert set(lines[0]["probabilities"]) == {"negative", "positive"}
    proc = textlstm("predict", str(out / "model.keras"), stdin="the acting was superb\n\nthe script was dull\n")
    lines = [json.loads(l) for l in proc.stdout.strip().splitlines()]
    assert [l["label"] for l in lines] == ["positive", "negative"]


def test_info_and_evaluate(trained_run, tmp_path):
    out, _ = trained_run
    info = json.loads(textlstm("info", str(out / "model.keras")).stdout)
    assert info["task"] == "classification" and info["labels"] == ["negative", "positive"]
    assert info["config"]["model"]["units"] == [32]
    data = tmp_path / "eval.tsv"
    data.write_text("positive\tthe film was great\nnegative\tthe film was not great\nnegative\tthe plot was dull\n")
    proc = textlstm(
        "evaluate",
        str(out / "model.keras"),
        str(data),
        "--set",
        "data.text=1",
        "--set",
        "data.label=0",
        "--set",
        "data.source=files",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads(proc.stdout)
    assert metrics["count"] == 3 and metrics["accuracy"] >= 2 / 3
    bad = tmp_path / "bad.tsv"
    bad.write_text("positive\tfine\nneutral\tmeh\n")
    proc = textlstm("evaluate", str(out / "model.keras"), str(bad), "--set", "data.text=1", "--set", "data.label=0")
    assert proc.returncode == 2
    assert "bad.tsv:2: label 'neutral' never occurs" in proc.stderr


def test_bad_pipeline_key_is_a_clear_error():
    proc = textlstm("train", "pipelines/sentiment_demo.yaml", "--set", "model.unitz=[8]")
    assert proc.returncode == 2
    assert "unknown key 'model.unitz'" in proc.stderr and "Did you mean 'units'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_data_file_is_a_clear_error(tmp_path):
    proc = textlstm("train", "pipelines/tsv_classification.yaml", "--set", f"data.train={tmp_path}/none.tsv")
    assert proc.returncode == 2 and "none.tsv: file not found" in proc.stderr


def test_train_reports_its_long_steps_on_stderr(tmp_path):
    """The NBSVM fit and the late fusion print a line each (textlstm's INFO
    log); stdout keeps the JSON summary only."""
    sets = [
        "data.source=demo",
        "data.demo_size=600",
        "vectorizer.max_length=24",
        "model.embedding_dim=8",
        "model.units=[8]",
        "model.wide=[{ngrams: 2}, {ngrams: 2, init: nbsvm, fusion: late}]",
        "train.epochs=1",
        "train.verbose=0",
        "train.tensorboard=false",
    ]
    proc = textlstm(
        "train",
        "pipelines/sentiment_demo.yaml",
        *[x for s in sets for x in ("--set", s)],
        "--output",
        str(tmp_path / "run"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "textlstm: fitting wide path 1 as an NBSVM (at most 10 epochs)" in proc.stderr
    assert "textlstm: late fusion on " in proc.stderr
    assert json.loads(proc.stdout[proc.stdout.index("{") :])["test"]["accuracy"] > 0


def test_a_subcommand_that_fails_to_import_is_not_swallowed(monkeypatch):
    """The subcommands are registered without hiding import errors: a broken
    module fails `textlstm` loudly instead of dropping its command."""
    from textlstm import cli

    for name, *_ in cli.EXTRA_COMMANDS:
        assert name in cli.build_parser()._subparsers._group_actions[0].choices
    broken = ("broken", "textlstm.no_such_module", "add", "run", "a command whose module does not import")
    monkeypatch.setattr(cli, "EXTRA_COMMANDS", [*cli.EXTRA_COMMANDS, broken])
    with pytest.raises(ModuleNotFoundError, match="textlstm.no_such_module"):
        cli.build_parser()
