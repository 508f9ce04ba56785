"""`textlstm.trainer`: the steps `TextClassifier.fit` and sweep trials share."""

import csv

import keras
import numpy as np

from textlstm.classifier import TextClassifier
from textlstm.config import pipeline_from_dict
from textlstm.data import load_splits
from textlstm.data.examples import ClassificationExamples
from textlstm.runner import train_evaluate_write
from textlstm.trainer import ClassifierTrainer, TrainedNetwork, write_member_history

TINY = {
    "data": {"source": "demo", "demo_size": 300},
    "vectorizer": {"max_length": 32},
    "model": {
        "units": [8],
        "embedding_dim": 8,
        "bidirectional": False,
        "wide": [{"ngrams": 2, "buckets": 4096}, {"ngrams": 1, "buckets": 4096, "fusion": "late"}],
    },
    "train": {"epochs": 1, "verbose": 0, "tensorboard": False, "seed": 7},
}


def test_a_sweep_trial_trains_what_fit_trains(tmp_path):
    """`ClassifierTrainer.build` + `.train` with the pipeline's configs (what a
    Keras Tuner trial runs) gives exactly the network `TextClassifier.fit`
    gives for the same seed, even though fit also writes checkpoints, backups
    and history.csv."""
    cfg = pipeline_from_dict(TINY)
    clf = TextClassifier(cfg)
    report = train_evaluate_write(clf, tmp_path / "run")
    assert {"model.keras", "metrics.json", "history.csv", "learning_curves.png", "confusion_matrix.png"} <= {
        p.name for p in (tmp_path / "run").iterdir()
    }
    assert report["test"]["count"] == 30 and report["train_seconds"] > 0
    assert [m["examples"] for m in clf.data_report["fusion"]] == [30]

    splits = load_splits(cfg.data, "classification", cfg.train.seed)
    keras.utils.set_random_seed(cfg.train.seed)
    examples = ClassificationExamples.build(splits.train, splits.validation, cfg.vectorizer, cfg.train)
    trainer = ClassifierTrainer(examples, cfg)
    assert [p.index for p in trainer.wide.paths()] == [0, 1]
    keras.utils.set_random_seed(cfg.train.seed)
    net = trainer.build(cfg.model, cfg.train, name="trial")
    trained = trainer.train(net, cfg.train)
    assert isinstance(trained, TrainedNetwork) and trained.network is net
    assert examples.vectorizer.get_vocabulary() == clf.vectorizer.get_vocabulary()
    fitted = clf.network
    assert len(net.weights) == len(fitted.weights)  # (an inner layer's name carries a global counter)
    for mine, theirs in zip(net.weights, fitted.weights):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy(), err_msg=mine.path)
    assert trained.history.keys() == clf.history[0].keys()
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "val_fused_accuracy"):
        assert trained.history[key] == clf.history[0][key], key
    assert trained.fusion == clf.data_report["fusion"][0]
    assert trainer.wide.report == clf.data_report["wide"]


def test_write_member_history(tmp_path):
    histories = [{"loss": [0.7, 0.6], "val_accuracy": [0.5, 0.6]}, {"loss": [0.8], "val_fused_accuracy": [0.9]}]
    write_member_history(histories, tmp_path / "history.csv")
    with open(tmp_path / "history.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [
        ["member", "epoch", "loss", "val_accuracy", "val_fused_accuracy"],
        ["0", "0", "0.7", "0.5", ""],
        ["0", "1", "0.6", "0.6", ""],
        ["1", "0", "0.8", "", "0.9"],
    ]
