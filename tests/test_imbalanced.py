"""Imbalanced labels: train.class_weight, per-class reports, val_macro_f1, the demo:imbalanced source."""

import dataclasses

import keras
import numpy as np
import pytest

from textlstm.classifier import TextClassifier
from textlstm.config import ConfigError, pipeline_from_dict
from textlstm.data import load_splits
from textlstm.data.examples import ClassificationExamples, python_records, resolve_class_weight
from textlstm.data.labels import stratified_split
from textlstm.evaluation import classification_metrics
from textlstm.trainer import ClassifierTrainer
from textlstm.training_metrics import MacroF1, predicted_probabilities
from textlstm.tuning.space import search_config

QUIET = {"verbose": 0, "tensorboard": False}
TINY_MODEL = {"embedding_dim": 8, "units": [8], "bidirectional": False, "dropout": 0.0}
TINY_DATA = {"source": "demo:imbalanced", "demo_size": 400}


def tiny(train=None, data=None, **sections):
    return pipeline_from_dict(
        {
            "data": data or TINY_DATA,
            "vectorizer": {"max_tokens": 300, "max_length": 20},
            "model": TINY_MODEL,
            "train": {"epochs": 1, "batch_size": 16, "buckets": 0, **QUIET, **(train or {})},
            **sections,
        }
    )


# ------------------------------------------------------------ read-time checks
@pytest.mark.parametrize("value", ["bal", {"positive": 0}, {"positive": -1.5}, {"positive": "x"}, {}, 3])
def test_bad_class_weight_is_a_read_time_error(value):
    with pytest.raises(ConfigError, match="train.class_weight"):
        pipeline_from_dict({"train": {"class_weight": value}})


def test_class_weight_values_are_read():
    assert pipeline_from_dict({"train": {"class_weight": "balanced"}}).train.class_weight == "balanced"
    assert pipeline_from_dict({"train": {"class_weight": {"spam": 2}}}).train.class_weight == {"spam": 2}
    assert pipeline_from_dict({}).train.class_weight is None


def test_balanced_is_scikit_learns_formula():
    counts = [90, 10, 20]
    expected = [120 / (3 * 90), 120 / (3 * 10), 120 / (3 * 20)]
    np.testing.assert_allclose(resolve_class_weight("balanced", ["a", "b", "c"], counts), expected)
    np.testing.assert_allclose(resolve_class_weight({"b": 4, "c": 0.5}, ["a", "b", "c"], counts), [1, 4, 0.5])


def test_unknown_label_fails_at_fit_time_naming_the_key():
    clf = TextClassifier(tiny({"class_weight": {"spam": 2.0}}))
    with pytest.raises(
        ConfigError, match=r"train.class_weight: label 'spam' does not exist \(labels: negative, positive\)"
    ):
        clf.fit()
    assert clf.model is None


# ------------------------------------------------------------ weights reach the loss
def _examples(cfg):
    splits = load_splits(cfg.data, seed=cfg.train.seed)
    return ClassificationExamples.build(splits.train, splits.validation, cfg.vectorizer, cfg.train)


def test_class_weights_reach_the_loss():
    """With the learning rate 0 the network is fixed, so Keras's epoch loss is
    sum(w_i * loss_i) / n over the training examples: compare with a hand computation."""
    cfg = tiny({"class_weight": {"positive": 7.0}, "learning_rate": 0.0, "optimizer": "sgd", "patience": None})
    examples = _examples(cfg)
    assert examples.class_weights == {"negative": 1.0, "positive": 7.0}
    train, val = examples.batches()
    assert len(train.element_spec) == 3 and len(val.element_spec) == 2  # validation is not weighted
    trainer = ClassifierTrainer(examples, cfg)
    keras.utils.set_random_seed(0)
    net = trainer.build()
    ids, y, w = [], [], []
    for x, labels, weights in train:
        ids.append(x)
        y.append(np.asarray(labels))
        w.append(np.asarray(weights))
        np.testing.assert_array_equal(w[-1], np.where(y[-1] == 1, 7.0, 1.0))
    p = np.concatenate([np.asarray(net(x, training=False))[:, 0] for x in ids]).astype("float64")
    y, w = np.concatenate(y), np.concatenate(w)
    p = np.clip(p, 1e-7, 1 - 1e-7)
    loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    history = trainer.train(net).history
    assert history["loss"][0] == pytest.approx((w * loss).sum() / len(y), rel=1e-4)
    assert history["loss"][0] != pytest.approx(loss.mean(), rel=1e-3)


def test_null_class_weight_changes_nothing():
    """Unweighted batches stay `(ids, y)`; weights of 1 give exactly the probabilities of no weights."""
    probs = []
    for weights in (None, {"negative": 1, "positive": 1}):
        cfg = tiny({"class_weight": weights, "epochs": 2, "patience": None})
        examples = _examples(cfg)
        assert len(examples.batches()[0].element_spec) == (2 if weights is None else 3)
        clf = TextClassifier(cfg).fit()
        probs.append(clf.predict_proba([t for t, _ in clf.splits.test.rows]))
        assert ("class_weight" in clf.data_report) == (weights is not None)
    np.testing.assert_array_equal(probs[0], probs[1])


# ------------------------------------------------------------ reports
def test_per_class_and_weighted_metrics_by_hand():
    y = [0, 0, 0, 1, 1, 2]
    pred = [0, 0, 1, 1, 0, 2]
    m = classification_metrics(y, np.eye(3)[pred], ["a", "b", "c"])
    # a: tp 2, predicted 3, true 3; b: tp 1, predicted 2, true 2; c: tp 1 of 1
    assert m["per_class"]["a"] == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3})
    assert m["per_class"]["b"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert m["per_class"]["c"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert m["weighted_f1"] == pytest.approx((3 * 2 / 3 + 2 * 0.5 + 1) / 6)
    assert m["weighted_precision"] == pytest.approx((3 * 2 / 3 + 2 * 0.5 + 1) / 6)
    assert m["weighted_recall"] == pytest.approx(m["accuracy"])  # support-weighted recall is accuracy


def test_balanced_fit_reports_weights_macro_f1_and_per_class_plot(tmp_path):
    cfg = tiny({"class_weight": "balanced", "monitor": "val_macro_f1", "epochs": 2, "patience": 1})
    clf = TextClassifier(cfg).fit(output_dir=tmp_path)
    train = [label for _, label in clf.splits.train.rows]
    n, n_pos = len(train), train.count("positive")
    assert clf.data_report["class_weight"] == pytest.approx(
        {"negative": n / (2 * (n - n_pos)), "positive": n / (2 * n_pos)}
    )
    assert "val_macro_f1" in clf.history[0]
    assert "val_macro_f1" in (tmp_path / "history.csv").read_text().splitlines()[0]
    metrics = clf.evaluate(output_dir=tmp_path)
    assert set(metrics["per_class"]) == {"negative", "positive"}
    assert metrics["per_class"]["positive"]["support"] == sum(label == "positive" for _, label in clf.splits.test.rows)
    assert {"weighted_precision", "weighted_recall", "weighted_f1", "macro_f1"} <= set(metrics)
    assert (tmp_path / "per_class.png").stat().st_size > 3000


def test_macro_f1_callback_scores_the_network():
    cfg = tiny()
    examples = _examples(cfg)
    net = ClassifierTrainer(examples, cfg).build()
    _, val = examples.batches()
    logs = {}
    MacroF1(net, val, 2).on_epoch_end(0, logs)
    y, probs = predicted_probabilities(net, val)
    assert logs["val_macro_f1"] == classification_metrics(y, probs, ["n", "p"])["macro_f1"]


def test_val_macro_f1_is_a_monitor_and_a_sweep_objective():
    assert pipeline_from_dict({"train": {"monitor": "val_macro_f1"}}).train.monitor == "val_macro_f1"
    with pytest.raises(ConfigError, match="val_macro_f1"):
        pipeline_from_dict({"train": {"monitor": "val_f1"}})
    cfg = pipeline_from_dict({"search": {"objective": "val_macro_f1"}})
    search = search_config(cfg)
    assert (search.objective, search.direction) == ("val_macro_f1", "max")


# ------------------------------------------------------------ data
def test_demo_imbalanced_is_95_5_in_every_split():
    cfg = pipeline_from_dict({"data": {"source": "demo:imbalanced", "demo_size": 2000}})
    splits = load_splits(cfg.data, seed=3)
    for name in ("train", "validation", "test"):
        labels = [label for _, label in getattr(splits, name).rows]
        assert abs(labels.count("positive") / len(labels) - 0.05) < 0.01, name
    assert 1800 <= len(splits.train) + len(splits.validation) + len(splits.test) <= 2200
    again = load_splits(dataclasses.replace(cfg.data), seed=3)
    assert again.train.rows == splits.train.rows  # seeded


def test_unknown_demo_name_is_a_read_time_error():
    with pytest.raises(ConfigError, match=r"no demo 'demo:balanced'; it has demo, demo:imbalanced"):
        pipeline_from_dict({"data": {"source": "demo:balanced"}})
    with pytest.raises(ConfigError, match="demo:NAME"):
        pipeline_from_dict({"data": {"source": "demo:"}})


def test_stratified_split_keeps_a_rare_class_in_validation():
    labels = ["common"] * 57 + ["rare"] * 3
    for seed in range(5):
        train, val = stratified_split(labels, 0.1, seed)
        assert sorted(train + val) == list(range(60))
        assert [labels[i] for i in val].count("rare") >= 1
        assert [labels[i] for i in train].count("rare") >= 1


def test_python_lists_with_class_weight():
    texts = ["good film", "bad film", "great movie", "awful plot", "dull story", "weak cast"] * 4
    labels = ["pos", "neg", "pos", "neg", "neg", "neg"] * 4
    cfg = tiny({"class_weight": "balanced"}, data={"source": "files"})
    clf = TextClassifier(cfg).fit(texts, labels, validation=(texts[:6], labels[:6]))
    assert clf.data_report["class_weight"] == pytest.approx({"neg": 24 / (2 * 16), "pos": 24 / (2 * 8)})
    python_records(texts, labels, "texts")  # the same rows are valid records
