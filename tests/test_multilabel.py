"""task: multilabel: label formats, read-time checks, metrics, thresholds, a tiny train/save/load round trip and the CLI."""

import json

import numpy as np
import pytest

import textlstm
from conftest import write
from textlstm.config import DataConfig, pipeline_from_dict
from textlstm.errors import ConfigError, DataError
from textlstm.multilabel.data import MultiHotEncoder, load_multilabel_splits, read_multilabel
from textlstm.multilabel.demo import LABELS, demo_multilabel
from textlstm.multilabel.metrics import multilabel_metrics, tune_thresholds

TINY = {
    "task": "multilabel",
    "data": {"source": "demo", "demo_size": 300},
    "vectorizer": {"max_tokens": 300, "max_length": 24},
    "model": {"units": [8], "embedding_dim": 8},
    "train": {"epochs": 2, "verbose": 0, "tensorboard": False, "thresholds": "tuned", "monitor": "val_micro_f1"},
}


# ---------------------------------------------------------------- reading
def test_jsonl_list_of_labels(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"text": "a b", "labels": ["x", "y"]}\n\n{"text": "c", "labels": ["y"]}\n')
    recs = read_multilabel(path, DataConfig(label="labels"))
    assert recs.rows == [("a b", ("x", "y")), ("c", ("y",))]
    assert recs.where == [f"{path}:1", f"{path}:3"]


def test_separator_joined_field(tmp_path):
    path = write(tmp_path / "a.tsv", "text\tlabel\na b\tx|y\nc\ty\n")
    assert read_multilabel(path, DataConfig()).rows == [("a b", ("x", "y")), ("c", ("y",))]
    path = write(tmp_path / "b.csv", 'label,text\n"x;y",a b\n')
    assert read_multilabel(path, DataConfig(label_separator=";")).rows == [("a b", ("x", "y"))]


def test_one_column_per_label(tmp_path):
    path = write(tmp_path / "a.csv", "text,sports,politics,negative\na b,1,0,1\nc,0,1,0\n")
    recs = read_multilabel(path, DataConfig(label=["sports", "politics", "negative"]))
    assert recs.rows == [("a b", ("sports", "negative")), ("c", ("politics",))]
    path = write(tmp_path / "b.jsonl", '{"text": "a", "p": 1, "q": true}\n')
    assert read_multilabel(path, DataConfig(label=["p", "q"])).rows == [("a", ("p", "q"))]


@pytest.mark.parametrize(
    "name, text, config",
    [
        ("a.jsonl", '{"text": "a", "labels": ["x"]}\n{"text": "b", "labels": []}\n', {"label": "labels"}),
        ("a.tsv", "text\tlabel\na\tx\nb\t|\n", {}),
        ("a.csv", "text,p,q\na,1,0\nb,0,0\n", {"label": ["p", "q"]}),
    ],
)
def test_a_row_without_labels_names_file_and_line(tmp_path, name, text, config):
    path = write(tmp_path / name, text)
    with pytest.raises(DataError, match=f"{path}:[23]: no labels"):
        read_multilabel(path, DataConfig(**config))
    recs = read_multilabel(path, DataConfig(on_bad_row="skip", **config))
    assert len(recs) == 1 and recs.skipped.counts == {"no labels": 1}


def test_bad_flag_and_unknown_label(tmp_path):
    path = write(tmp_path / "a.csv", "text,p,q\na,1,maybe\n")
    with pytest.raises(DataError, match=r"a.csv:2: label column q must be 0 or 1"):
        read_multilabel(path, DataConfig(label=["p", "q"]))
    enc = MultiHotEncoder.fit([("a", "b"), ("b",)])
    assert enc.encode([("b",), ("a", "b")]).tolist() == [[0.0, 1.0], [1.0, 1.0]]
    with pytest.raises(DataError, match=r"f.jsonl:7: label 'c' never occurs"):
        enc.encode([("a",), ("c",)], where=["f.jsonl:3", "f.jsonl:7"])


def test_held_out_validation_and_demo():
    train, val, test = demo_multilabel(300, seed=1)
    assert (len(train), len(val), len(test)) == (240, 30, 30)
    assert all(1 <= len(labels) - 1 <= 2 and labels[-1] in ("negative", "positive") for _, labels in train)
    assert {label for _, labels in train for label in labels} == set(LABELS)
    assert demo_multilabel(300, seed=1) == (train, val, test)
    splits = load_multilabel_splits(DataConfig(source="demo", demo_size=300), seed=1)
    assert splits.train.rows == train


# ---------------------------------------------------------------- config
@pytest.mark.parametrize(
    "section, match",
    [
        ({"model": {"wide": [{"ngrams": 2}]}}, "model.wide is not supported for task: multilabel yet"),
        ({"train": {"ensemble": {"members": 3}}}, "train.ensemble is not supported"),
        ({"train": {"thresholds": 1.5}}, "train.thresholds must be a number between 0 and 1 or tuned"),
        ({"train": {"thresholds": "best"}}, "train.thresholds must be a number between 0 and 1 or tuned"),
        ({"train": {"monitor": "val_macro_f1"}}, "train.monitor for task: multilabel must be val_micro_f1"),
        ({"data": {"label": ["only"]}}, "list at least two label columns"),
    ],
)
def test_read_time_errors(section, match):
    with pytest.raises(ConfigError, match=match):
        pipeline_from_dict({"task": "multilabel", **section})


def test_multilabel_keys_are_refused_elsewhere():
    with pytest.raises(ConfigError, match="for task: multilabel"):
        pipeline_from_dict({"data": {"label": ["a", "b"]}})
    with pytest.raises(ConfigError, match="for task: multilabel"):
        pipeline_from_dict({"train": {"thresholds": "tuned"}})


def test_a_multilabel_sweep_runs_and_retrains(tmp_path):
    """A sweep of task: multilabel: trials train through MultiLabelTrainer on
    multi-hot targets, the objective defaults to val_micro_f1, and the best
    configuration is retrained into a loadable multi-label artifact."""
    from textlstm.tuning import tune

    result = tune(
        "pipelines/multilabel_demo.yaml",
        tmp_path / "sweep",
        overrides=[
            "data.demo_size=300",
            "model.embedding_dim=8",
            "train.epochs=1",
            "train.tensorboard=false",
            "train.verbose=0",
            "search.tuner=random",
            "search.max_trials=2",
            "search.max_epochs=1",
            "search.space={units: {choice: [4, 8]}}",
        ],
        progress=False,
    )
    assert result.objective == "val_micro_f1"
    assert [r["status"] for r in result.trials] == ["COMPLETED", "COMPLETED"]
    assert all(0.0 <= r["val_micro_f1"] <= 1.0 for r in result.trials)
    model = textlstm.load(tmp_path / "sweep" / "model.keras")
    assert type(model).__name__ == "MultiLabelClassifier"
    assert set(model.predict(["the acting was not dull"])[0].probabilities) == set(model.label_names)
    assert "micro_f1" in result.metrics


# ---------------------------------------------------------------- metrics
def test_metrics_on_a_hand_example():
    y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]])
    p = np.array([[0.9, 0.6, 0.2], [0.1, 0.8, 0.3], [0.7, 0.4, 0.1]])
    m = multilabel_metrics(y, p, ["a", "b", "c"])
    # decisions: [1 1 0], [0 1 0], [1 0 0]; tp a2 b1 c0, fp b1, fn b1 c1
    assert m["micro_precision"] == 0.75 and m["micro_recall"] == 0.6 and m["micro_f1"] == 0.6667
    assert m["per_label"]["a"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
    assert m["per_label"]["b"]["f1"] == 0.5 and m["per_label"]["c"]["f1"] == 0.0
    assert m["macro_f1"] == 0.5 and m["subset_accuracy"] == 0.3333 and m["hamming_loss"] == 0.3333
    assert multilabel_metrics(y, p, ["a", "b", "c"], [0.5, 0.3, 0.5])["per_label"]["b"]["f1"] == 0.8


def test_tuned_thresholds_maximize_each_labels_f1():
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    p = np.array([[0.3, 0.2], [0.1, 0.9], [0.35, 0.6], [0.2, 0.7]])
    t = tune_thresholds(y, p)
    assert t == [0.3, 0.5]  # label 0: any of 0.25 / 0.3 separates, nearest 0.5 wins
    assert multilabel_metrics(y, p, ["a", "b"], t)["per_label"]["a"]["f1"] == 1.0


# ---------------------------------------------------------------- train, save, load, CLI
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from textlstm.multilabel.classifier import MultiLabelClassifier
    from textlstm.runner import train_evaluate_write

    out = tmp_path_factory.mktemp("multilabel")
    clf = MultiLabelClassifier(pipeline_from_dict(TINY))
    report = train_evaluate_write(clf, out)
    return clf, out, report


def test_fit_evaluate_predict_save_load(tiny, tmp_path):
    import textlstm
    from textlstm.runner import Runner

    clf, out, report = tiny
    assert isinstance(clf, Runner) and clf.has_test_data
    assert "val_micro_f1" in clf.history[0] and "val_micro_f1" in (out / "history.csv").read_text()
    assert set(report["test"]) >= {"micro_f1", "macro_f1", "subset_accuracy", "hamming_loss", "per_label"}
    assert json.loads((out / "metrics.json").read_text())["test"]["micro_f1"] == report["test"]["micro_f1"]
    pred = clf.predict(["the score was not dull"])[0]
    assert set(pred.probabilities) == set(LABELS) and set(pred.labels) <= set(LABELS)
    back = textlstm.load(out / "model.keras")
    assert type(back).__name__ == "MultiLabelClassifier" and back.label_names == clf.label_names
    texts = ["the score was not dull but the plot was weak", "", "the acting"]
    np.testing.assert_array_equal(back.predict_proba(texts), clf.predict_proba(texts))
    assert back.thresholds == clf.thresholds and back.evaluate() == report["test"]
    back.export(tmp_path / "saved_model")
    import tensorflow as tf

    exported = tf.saved_model.load(str(tmp_path / "saved_model"))  # kept: its variables die with it
    served = exported.serve(tf.constant(texts))
    np.testing.assert_allclose(np.asarray(served), clf.predict_proba(texts), atol=1e-6)  # one sigmoid per label


def test_tuned_thresholds_are_stored_and_used(tiny):
    import textlstm

    clf, out, report = tiny
    assert len(clf.thresholds) == len(LABELS) and all(0.05 <= t <= 0.95 for t in clf.thresholds)
    assert report["data"]["thresholds"] == dict(zip(clf.label_names, clf.thresholds))
    back = textlstm.load(out / "model.keras")
    back.thresholds = [0.99] * len(LABELS)
    assert back.predict(["the plot"])[0].labels == [
        n for n, p in back.predict(["the plot"])[0].probabilities.items() if p >= 0.99
    ]


def test_python_api_fit_with_label_lists():
    from textlstm.multilabel.classifier import MultiLabelClassifier

    cfg = pipeline_from_dict({**TINY, "train": {**TINY["train"], "thresholds": 0.5, "monitor": "val_loss"}})
    texts = ["red ball", "blue sky", "red sky", "blue ball"] * 4
    labels = [["red", "ball"], ["blue", "sky"], ["red", "sky"], ["blue", "ball"]] * 4
    clf = MultiLabelClassifier(cfg).fit(texts, labels, validation=(texts[:4], labels[:4]))
    assert clf.thresholds == [0.5] * 4 and clf.label_names == ["ball", "blue", "red", "sky"]
    with pytest.raises(DataError, match=r"labels\[1\]: label 'green' never occurs"):
        clf.evaluate(["red", "green"], [["red"], ["green"]])


def test_cli_predict_and_evaluate(tiny, tmp_path, capsys):
    from textlstm.cli import main

    _, out, _ = tiny
    assert main(["predict", str(out / "model.keras"), "the score was great", "the plot"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [line["text"] for line in lines] == ["the score was great", "the plot"]
    assert all(set(line) == {"text", "labels", "probabilities"} and len(line["probabilities"]) == 6 for line in lines)
    data = write(tmp_path / "t.jsonl", '{"text": "the score was great", "labels": ["music", "positive"]}\n')
    assert main(["evaluate", str(out / "model.keras"), str(data), "--set", "data.label=labels"]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed[printed.find("{") :])["micro_f1"] in (0.0, 0.5, 0.6667, 0.8, 1.0)
    bad = write(tmp_path / "u.jsonl", '{"text": "a", "labels": ["music"]}\n{"text": "b", "labels": ["jazz"]}\n')
    assert main(["evaluate", str(out / "model.keras"), str(bad), "--set", "data.label=labels"]) != 0
    assert f"{bad}:2: label 'jazz' never occurs" in capsys.readouterr().err
    assert main(["info", str(out / "model.keras")]) == 0
    printed = capsys.readouterr().out
    info = json.loads(printed[printed.find("{") :])
    assert info["task"] == "multilabel" and sorted(info["labels"]) == sorted(LABELS) and info["cudnn"]
