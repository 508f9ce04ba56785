"""End-to-end: fit on the demo corpus, evaluate, predict, save/load, export."""

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import textlstm
from textlstm.classifier import TextClassifier
from textlstm.config import ConfigError, PipelineConfig, TrainConfig, pipeline_from_dict
from textlstm.data.examples import ClassificationExamples, python_records
from textlstm.data.labels import stratified_split
from textlstm.errors import DataError
from textlstm.layers import NonEmptySequences
from textlstm.runner import Runner, write_outputs
from textlstm.trainer import ClassifierTrainer
from textlstm.training import best_epoch
from textlstm.wide.component import FusedAccuracy, fit_late_fusion

QUIET = {"verbose": 0, "tensorboard": False}


def token_ids(clf, texts, vectorizer=0):
    """The token ids the artifact feeds its networks for `texts` (whole texts: each network cuts its LSTM's input)."""
    vectorizer = clf.vectorizers[vectorizer]
    return NonEmptySequences()(vectorizer(tf.constant(texts)))


def network_proba(clf, m, texts):
    """The positive-class probability of network `m` (with its run's vectorizer) alone."""
    run = m if len(clf.vectorizers) > 1 else 0
    return np.asarray(clf.networks[m](token_ids(clf, texts, run)))[:, 0]


def test_lstm_learns_the_demo(trained_demo):
    clf, out = trained_demo
    metrics = clf.evaluate(output_dir=out)
    assert metrics["accuracy"] >= 0.9, metrics["accuracy"]
    assert metrics["count"] == len(clf.splits.test)
    assert np.asarray(metrics["confusion_matrix"]).sum() == metrics["count"]
    assert (out / "confusion_matrix.png").stat().st_size > 5000
    assert clf.data_report["train_padding_fraction"] < 0.15
    assert clf.data_report["bucket_boundaries"]


def test_training_outputs_and_history(trained_demo):
    clf, out = trained_demo
    history = (out / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch") and "val_accuracy" in history[0] and "epoch_time" in history[0]
    assert len(history) - 1 == len(clf.history[0]["loss"])
    assert (out / "checkpoints" / "best.weights.h5").exists()
    assert not (out / "backup").exists()  # removed after a completed run


def test_predict_save_load_roundtrip(trained_demo, tmp_path):
    clf, _ = trained_demo
    texts = ["a great film", "the plot was not good", "", "!!!"]
    preds = clf.predict(texts)
    assert [set(p.probabilities) for p in preds] == [{"negative", "positive"}] * 4
    assert all(abs(sum(p.probabilities.values()) - 1) < 1e-5 for p in preds)
    path = clf.save(tmp_path / "model.keras")
    loaded = textlstm.load(path)
    assert loaded.label_names == clf.label_names
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    assert loaded.predict(["a great film"])[0].label in ("negative", "positive")
    assert loaded.config.model.units == clf.config.model.units


def test_artifact_leaves_out_optimizer_state(trained_demo, tmp_path):
    import io
    import zipfile

    import h5py

    clf, _ = trained_demo
    net = clf.networks[0]
    assert net.compiled and net.optimizer.variables  # trained with Adam: moments exist in memory
    path = clf.save(tmp_path / "model.keras")
    with zipfile.ZipFile(path) as archive:
        names = []
        h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r").visit(names.append)
        config = json.loads(archive.read("config.json"))
    assert names and not [n for n in names if "optimizer" in n]

    def compile_configs(node):
        if isinstance(node, dict):
            yield from ([node["compile_config"]] if "compile_config" in node else [])
            for value in node.values():
                yield from compile_configs(value)
        elif isinstance(node, list):
            for value in node:
                yield from compile_configs(value)

    assert not [c for c in compile_configs(config) if c]
    assert net.compiled and net.optimizer is not None  # the classifier in memory keeps its optimizer


def test_negation_flips_prediction(trained_demo):
    clf, _ = trained_demo
    pos, neg = clf.predict(["the acting was great", "the acting was not great"])
    assert pos.label == "positive" and neg.label == "negative"


def test_saved_model_signature_takes_strings(trained_demo, tmp_path):
    clf, _ = trained_demo
    clf.export(tmp_path / "saved")
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    sig = loaded.signatures["serve"]
    spec = sig.structured_input_signature[1]["text"]
    assert spec.dtype == tf.string and spec.shape.as_list() == [None]
    out = list(sig(text=tf.constant(["a great film", "the acting was not great"])).values())[0].numpy()
    np.testing.assert_allclose(
        out[:, 0], clf.predict_proba(["a great film", "the acting was not great"])[:, 1], atol=1e-5
    )


def test_fit_from_python_lists_multiclass_and_unseen_label():
    keras.utils.set_random_seed(1)
    words = {"sports": "goal match team", "tech": "code chip software", "food": "pasta soup bread"}
    texts, labels = [], []
    for i in range(90):
        label = list(words)[i % 3]
        texts.append(" ".join(np.random.default_rng(i).permutation(words[label].split())) + " today")
        labels.append(label)
    cfg = pipeline_from_dict(
        {
            "model": {"units": [8], "embedding_dim": 8},
            "train": {"epochs": 15, "verbose": 0, "learning_rate": 0.02, "patience": None},
        }
    )
    clf = TextClassifier(cfg).fit(texts, labels, validation=(texts[:9], labels[:9]))
    assert clf.label_names == ["food", "sports", "tech"]
    assert clf.evaluate(texts, labels)["accuracy"] > 0.9
    assert clf.predict(["soup and bread"])[0].label == "food"
    with pytest.raises(DataError, match=r"row 2.*label 'music' never occurs"):
        clf.evaluate(["a", "b"], ["food", "music"], where=["row 1", "row 2"])


def test_empty_texts_are_counted_not_fully_masked():
    keras.utils.set_random_seed(0)
    texts = ["good film", "bad film", "!!!", "...", "good", "bad"] * 5
    labels = ["p", "n", "p", "n", "p", "n"] * 5
    cfg = pipeline_from_dict(
        {"model": {"units": [4], "embedding_dim": 4}, "train": {"epochs": 1, "verbose": 0, "patience": None}}
    )
    clf = TextClassifier(cfg).fit(texts, labels, validation=(texts, labels))
    assert clf.data_report["empty_after_standardization_skipped"] == 10
    assert clf.data_report["train_examples"] == 20
    assert np.isfinite(clf.predict_proba(["!!!", ""])).all()


def test_unfitted_classifier_says_so():
    with pytest.raises(RuntimeError, match="not trained"):
        TextClassifier(PipelineConfig()).predict(["x"])


def test_classifier_is_a_runner():
    clf = TextClassifier(pipeline_from_dict({"data": {"source": "demo"}}))
    assert isinstance(clf, Runner)
    assert clf.history == [] and clf.data_report == {} and not clf.has_test_data


def test_data_report_describes_the_run(trained_demo):
    clf, _ = trained_demo
    report = clf.data_report
    assert {
        "source",
        "train",
        "validation",
        "test",
        "labels",
        "vocabulary_size",
        "train_examples",
        "empty_after_standardization_skipped",
        "truncated",
        "mean_length",
        "bucket_boundaries",
        "train_padding_fraction",
    } <= set(report)
    assert report["labels"] == clf.label_names == ["negative", "positive"]
    assert report["vocabulary_size"] == len(clf.vectorizer.get_vocabulary())
    assert report["train_examples"] == report["train"]["rows"] == len(clf.splits.train)
    assert not {"wide", "fusion", "ensemble"} & set(report)  # no wide path, one network
    assert [n.name for n in clf.networks] == ["classifier"] and len(clf.history) == 1
    assert clf.has_test_data and len(clf.splits.test) == report["test"]["rows"]


def test_write_outputs_writes_the_artifact_and_metrics(trained_demo, tmp_path):
    clf, _ = trained_demo
    report = write_outputs(clf, tmp_path / "out", {"accuracy": 0.5}, {"note": "x"})
    written = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert written == json.loads(json.dumps(report, default=str))
    assert written["test"] == {"accuracy": 0.5} and written["note"] == "x"
    assert written["history"] == clf.history and written["data"]["train_examples"] == clf.data_report["train_examples"]
    assert len(written["cudnn"]) == 2  # one row per direction of the BiLSTM
    assert (tmp_path / "out" / "learning_curves.png").stat().st_size > 5000
    np.testing.assert_allclose(
        textlstm.load(tmp_path / "out" / "model.keras").predict_proba(["a great film"]),
        clf.predict_proba(["a great film"]),
        atol=1e-6,
    )
    assert not list((tmp_path / "out").glob("*.tmp*"))  # written through temporary names, renamed into place


def test_texts_and_labels_must_pair_up():
    clf = TextClassifier(pipeline_from_dict({"train": QUIET}))
    with pytest.raises(DataError, match=r"texts: give one label per text \(3 texts, 2 labels\)"):
        clf.fit(["a", "b", "c"], ["p", "n"])
    with pytest.raises(DataError, match=r"texts: give one label per text \(2 texts, no labels\)"):
        clf.fit(["a", "b"])
    with pytest.raises(DataError, match=r"validation: give one label per text"):
        clf.fit(["a", "b"], ["p", "n"], validation=(["a"], ["p", "n"]))


def test_backup_and_restore_resumes_a_killed_run(tmp_path):
    """A run that dies mid-training resumes from its last finished epoch."""
    overrides = {
        "data": {"source": "demo", "demo_size": 600},
        "model": {"units": [8], "embedding_dim": 8},
        "train": {"epochs": 4, "verbose": 0, "patience": None, "tensorboard": False},
    }

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt("simulated kill")

    import textlstm.training as training

    original = training.make_callbacks
    training.make_callbacks = lambda *a, **k: original(*a, **k) + [Crash()]
    try:
        with pytest.raises(KeyboardInterrupt):
            TextClassifier(pipeline_from_dict(overrides)).fit(output_dir=tmp_path)
    finally:
        training.make_callbacks = original
    assert (tmp_path / "backup").exists()
    clf = TextClassifier(pipeline_from_dict(overrides)).fit(output_dir=tmp_path)
    assert len(clf.history[0]["loss"]) == 2  # only epochs 3 and 4 ran again
    epochs = [int(line.split(",")[0]) for line in (tmp_path / "history.csv").read_text().splitlines()[1:]]
    assert epochs == [0, 1, 2, 3]


@pytest.mark.parametrize("init", ["naive_bayes", "nbsvm"])
def test_ngram_wide_path_trains_saves_and_loads(tmp_path, init):
    keras.utils.set_random_seed(0)
    texts = ["good fun film", "great acting", "dull plot", "awful boring film", "good story", "boring acting"] * 6
    labels = ["pos", "pos", "neg", "neg", "pos", "neg"] * 6
    cfg = pipeline_from_dict(
        {
            "model": {
                "units": [4],
                "embedding_dim": 4,
                "bidirectional": False,
                "wide": [{"ngrams": 2, "buckets": 4096, "chars": [2, 4], "init": init, "epochs": 3}],
            },
            "train": {"epochs": 2, "verbose": 0, "patience": None},
        }
    )
    clf = TextClassifier(cfg).fit(texts, labels, validation=(texts[:6], labels[:6]))
    weights = clf.network.get_layer("wide_0_weights").get_weights()[0]
    assert (weights > 0).any() and (weights < 0).any()  # naive Bayes ratios (or NBSVM weights), both signs
    wide = clf.data_report["wide"]
    assert len(wide) == 1 and wide[0]["init"] == init and wide[0]["fusion"] == "joint"
    assert ("nbsvm" in wide[0]) == (init == "nbsvm")
    if init == "nbsvm":
        nbsvm = wide[0]["nbsvm"]
        assert 1 <= nbsvm["epochs_run"] <= 3 and 1 <= nbsvm["best_epoch"] <= nbsvm["epochs_run"]
        assert 0.0 <= nbsvm["best_val_accuracy"] <= 1.0
    chars = clf.network.get_layer("wide_0_ngrams").get_weights()[0]
    vocab = clf.vectorizer.get_vocabulary()
    assert (
        chars.shape[0] == len(vocab) and (chars[vocab.index("boring")] > 0).sum() == 7 + 6 + 5
    )  # 2..4-grams of "<boring>"
    assert clf.predict(["good film", "boring plot"])[0].label == "pos"
    loaded = textlstm.load(clf.save(tmp_path / "m.keras"))
    np.testing.assert_allclose(loaded.predict_proba(["good film"]), clf.predict_proba(["good film"]), atol=1e-6)


@pytest.mark.parametrize(
    "history,patience,expected",
    [
        ({"val_accuracy": [0.6, 0.8, 0.7]}, 2, 2),
        ({"val_accuracy": [0.6, 0.8, 0.7]}, None, 3),  # no early stopping: the last epoch's weights
        ({"accuracy": [0.5, 0.9, 0.7]}, 2, 2),  # no validation: the training metric
        ({"loss": [0.5, 0.4, 0.45]}, 2, 3),  # the monitor was never reported: nothing was restored
    ],
)
def test_best_epoch(history, patience, expected):
    tc = TrainConfig(patience=patience)
    assert best_epoch(history, tc) == expected


LATE = [{"ngrams": 2, "buckets": 4096, "fusion": "late"}]  # the LSTM alone, then the n-gram path fused late
STACKED = [
    {"ngrams": 2, "buckets": 4096},  # LSTM + joint path, then a second path fused late
    {"ngrams": 2, "buckets": 4096, "chars": [2, 4], "init": "nbsvm", "fusion": "late", "epochs": 3},
]


# Binary stacked paths are trained in test_two_joint_paths_and_a_late_path and the bagging test.
@pytest.mark.parametrize("classes,mode", [(2, "late"), (3, "stacked")])
def test_late_fusion_trains_the_network_then_fits_the_combiner(tmp_path, classes, mode):
    """A late path: the LSTM trains without it, then one weight per source
    and a bias are fitted on the validation split; the saved model computes
    exactly that weighted sum. Stacked: the same, with the LSTM trained
    together with a joint n-gram path and a second, NBSVM-fitted path fused late."""
    keras.utils.set_random_seed(0)
    words = {"pos": "good fun great", "neg": "dull awful boring", "mid": "plain fine average"}
    names = list(words)[:classes]
    texts = [f"{words[n].split()[i % 3]} film {words[n].split()[(i + 1) % 3]}" for i in range(12) for n in names]
    labels = [n for _ in range(12) for n in names]
    cfg = pipeline_from_dict(
        {
            "model": {
                "units": [4],
                "embedding_dim": 4,
                "bidirectional": False,
                "wide": LATE if mode == "late" else STACKED,
            },
            "train": {"epochs": 1, "verbose": 0, "patience": None, "tensorboard": False, "ensemble": {"members": 2}},
        }
    )
    val_texts, val_labels = texts[: 3 * classes], labels[: 3 * classes]
    clf = TextClassifier(cfg).fit(texts, labels, validation=(val_texts, val_labels), output_dir=tmp_path / "run")
    assert [f["examples"] for f in clf.data_report["fusion"]] == [3 * classes] * 2
    # A plain ensemble: member m seeded 42 + m, one vectorizer, networks classifier_<m>.
    assert [m["seed"] for m in clf.data_report["ensemble"]] == [42, 43]
    assert [n.name for n in clf.networks] == ["classifier_0", "classifier_1"] and len(clf.vectorizers) == 1
    assert not np.array_equal(*(n.get_layer("embedding").get_weights()[0] for n in clf.networks))
    rows = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert rows[0].startswith("member,epoch,") and [r.split(",")[0] for r in rows[1:]] == ["0", "1"]
    assert (tmp_path / "run" / "member_1" / "history.csv").exists()
    net = clf.network
    late = "wide_0" if mode == "late" else "wide_1"
    fusion = net.get_layer("fusion")
    trainable = {v.path for v in net.trainable_weights}
    assert not fusion.trainable and all(w.path not in trainable for w in fusion.weights)
    assert not any(w.path in trainable for w in net.get_layer(f"{late}_weights").weights)
    assert f"{late}_scale" not in [layer.name for layer in net.layers]
    network = "logits" if mode == "late" else "wide_and_deep"  # the first source: the LSTM (+ its joint path)
    report = clf.data_report["fusion"][0]
    assert set(report["accuracy"]) == {"network", late, "fused"} and len(report["wide_weights"]) == 1
    if mode == "stacked":
        wide = clf.data_report["wide"]
        assert "nbsvm" in wide[1] and "nbsvm" not in wide[0]
        assert [w["fusion"] for w in wide] == ["joint", "late"]
        assert net.get_layer("wide_0_scale").kernel.path in trainable  # the joint path trained with the LSTM
        late_grams = np.asarray(net.get_layer("wide_1_ngrams").char_ngrams)
        assert late_grams.any() and "char_ngrams" not in [w.name for w in net.get_layer("wide_0_ngrams").weights]
    weights, bias = fusion.source_weights.numpy(), fusion.bias.numpy()
    assert not np.allclose(weights, [1.0, 0.0])  # fitted, no longer the LSTM alone
    assert weights[1] > 0 and report["accuracy"]["fused"] == 1.0
    np.testing.assert_allclose(weights, [report["network_weight"], *report["wide_weights"]], rtol=1e-6)
    # The network is the weighted sum of its two paths' logits.
    ids = token_ids(clf, val_texts)
    deep, wide = keras.Model(net.inputs, [net.get_layer(network).output, net.get_layer(f"{late}_sum").output])(ids)
    fused = weights[0] * np.asarray(deep) + weights[1] * np.asarray(wide) + bias
    expected = 1 / (1 + np.exp(-fused)) if classes == 2 else np.asarray(keras.ops.softmax(fused))
    np.testing.assert_allclose(np.asarray(net(ids)), expected, atol=1e-5)
    # Fitting the combiner again moves only its own weights.
    validation = [(ids, clf.labels.encode(val_labels))]
    before = {w.path: w.numpy().copy() for w in net.weights}
    fusion.source_weights.assign([1.0, 0.0])
    fit_late_fusion(net, validation)
    moved = {w.path for w in net.weights if not np.array_equal(w.numpy(), before[w.path])}
    assert moved and moved <= {w.path for w in fusion.weights}
    loaded = textlstm.load(clf.save(tmp_path / "m.keras"))
    np.testing.assert_allclose(loaded.predict_proba(texts[:4]), clf.predict_proba(texts[:4]), atol=1e-6)


def test_two_joint_paths_and_a_late_path(tmp_path):
    """Joint paths are summed with the LSTM in `wide_and_deep`, each with its
    own scale; the late path meets the result in `fusion`."""
    keras.utils.set_random_seed(0)
    texts = [f"{w} film {v}" for w in ("good", "fun", "dull", "awful") for v in ("today", "again", "now")] * 3
    labels = ["pos" if t.split()[0] in ("good", "fun") else "neg" for t in texts]
    cfg = pipeline_from_dict(
        {
            "model": {
                "units": [4],
                "embedding_dim": 4,
                "bidirectional": False,
                "wide": [
                    {"ngrams": 1, "buckets": 4096},
                    {"ngrams": 0, "chars": [2, 3], "buckets": 4096, "init": "zeros"},
                    {"ngrams": 2, "buckets": 4096, "fusion": "late"},
                ],
            },
            "train": {"epochs": 1, "patience": None, **QUIET},
        }
    )
    clf = TextClassifier(cfg).fit(texts, labels, validation=(texts[::4], labels[::4]))
    net = clf.network
    layers = {layer.name for layer in net.layers}
    assert {f"wide_{i}_{part}" for i in range(3) for part in ("ngrams", "weights", "sum")} <= layers
    assert {"wide_0_scale", "wide_1_scale", "wide_and_deep", "fusion"} <= layers and "wide_2_scale" not in layers
    summed = [t.name for t in net.get_layer("wide_and_deep").input]
    assert summed == [net.get_layer(n).output.name for n in ("logits", "wide_0_scale", "wide_1_scale")]
    assert [t.name for t in net.get_layer("fusion").input] == [
        net.get_layer("wide_and_deep").output.name,
        net.get_layer("wide_2_sum").output.name,
    ]
    assert not net.get_layer("wide_1_weights").get_weights()[0].any()  # init: zeros
    assert net.get_layer("wide_0_weights").get_weights()[0].any()
    assert [w["init"] for w in clf.data_report["wide"]] == ["naive_bayes", "zeros", "naive_bayes"]
    (fusion,) = clf.data_report["fusion"]
    # The late path is reported under its position in model.wide, as its layers are named.
    assert len(fusion["wide_weights"]) == 1 and set(fusion["accuracy"]) == {"network", "wide_2", "fused"}
    probe = ["good film now", "awful film", "fun", ""]
    loaded = textlstm.load(clf.save(tmp_path / "m.keras"))
    np.testing.assert_array_equal(loaded.predict_proba(probe), clf.predict_proba(probe))


@pytest.mark.parametrize(
    "model,train,message",
    [
        ({"wide": [{"fusion": "early"}]}, {}, r"model.wide\[0\]: fusion must be joint or late, got 'early'"),
        (
            {"wide": [{"ngrams": 2}, {"init": "glove"}]},
            {},
            r"model.wide\[1\]: init must be naive_bayes, nbsvm or zeros",
        ),
        ({"wide": [{"ngrams": 0}]}, {}, r"model.wide\[0\]: a wide path needs n-grams"),
        ({"wide": [{"chars": [4, 2]}]}, {}, r"model.wide\[0\]: chars must be \[min, max\]"),
        ({"wide": [{"chars": [3]}]}, {}, r"model.wide\[0\]: chars must be \[min, max\]"),
        ({"wide": [{"buckets": 1}]}, {}, r"model.wide\[0\]: buckets must be at least 2"),
        ({"wide": [{"epochs": 0}]}, {}, r"model.wide\[0\]: epochs must be at least 1"),
        ({"wide": [{"char": [2, 4]}]}, {}, r"unknown key 'model.wide\[0\].char'.*Did you mean 'chars'"),
        ({"wide": [{"ngrams": "two"}]}, {}, r"model.wide\[0\].ngrams: expected an integer"),
        ({"wide": [[2, 4]]}, {}, r"model.wide\[0\]: expected a mapping"),
        ({"wide": [{"ngrams": 2}]}, {"monitor": "val_fused_accuracy"}, "this model has none"),
        ({}, {"monitor": "val_fused_accuracy"}, "this model has none"),
        ({"ngram_features": 2}, {}, "unknown key 'model.ngram_features'"),  # the old keys are gone
        ({"recurrent_dropout": 0.1}, {}, "unknown key 'model.recurrent_dropout'"),
    ],
)
def test_wide_config_errors_at_read_time(model, train, message):
    with pytest.raises(ConfigError, match=message):
        pipeline_from_dict({"model": {"units": [4], **model}, "train": {**QUIET, **train}})


def test_wide_config_accepts_one_mapping_and_a_late_monitor():
    cfg = pipeline_from_dict(
        {"model": {"wide": {"chars": [2, 5], "fusion": "late"}}, "train": {"monitor": "val_fused_accuracy"}}
    )
    (path,) = cfg.model.wide
    assert path.chars == [2, 5] and path.late and cfg.model.has_late_path


def test_late_path_needs_validation_data():
    cfg = pipeline_from_dict(
        {
            "model": {"units": [4], "embedding_dim": 4, "bidirectional": False, "wide": LATE},
            "train": {"epochs": 1, **QUIET},
        }
    )
    with pytest.raises(ConfigError, match="a late wide path .* fits its fusion weights on validation data"):
        TextClassifier(cfg).fit(["good film", "bad film"] * 4, ["p", "n"] * 4)


def test_fused_accuracy_is_logged_each_epoch_and_leaves_training_unchanged(tmp_path):
    """FusedAccuracy adds val_fused_accuracy (the fusion fitted on the
    validation split at that epoch) to the logs, puts the fusion weights back,
    and so trains exactly the weights that training without it does; with
    train.monitor: val_fused_accuracy the kept epoch is the best fused one."""
    texts = [f"{w} film {v}" for w in ("good", "fun", "dull", "awful") for v in ("today", "again", "now")] * 3
    labels = ["pos" if t.split()[0] in ("good", "fun") else "neg" for t in texts]
    validation = (texts[::5], labels[::5])
    cfg = pipeline_from_dict(
        {
            "model": {
                "units": [4],
                "embedding_dim": 4,
                "bidirectional": False,
                "wide": [
                    {"ngrams": 2, "buckets": 4096},
                    {"ngrams": 2, "buckets": 4096, "init": "nbsvm", "fusion": "late", "epochs": 2},
                ],
            },
            "train": {"epochs": 2, "verbose": 0, "monitor": "val_fused_accuracy", "patience": 3, "tensorboard": False},
        }
    )
    keras.utils.set_random_seed(0)
    clf = TextClassifier(cfg).fit(texts, labels, validation=validation, output_dir=tmp_path / "run")
    fused = clf.history[0]["val_fused_accuracy"]
    assert len(fused) == 2 and all(0.0 <= f <= 1.0 for f in fused)
    assert "val_fused_accuracy" in (tmp_path / "run" / "history.csv").read_text().splitlines()[0]
    # Early stopping on the fused score keeps its best epoch.
    assert best_epoch(clf.history[0], cfg.train) == 1 + int(np.argmax(fused))

    # The callback alone: the logged score is fit_late_fusion's, the fusion weights are put back.
    examples = ClassificationExamples.build(
        python_records(texts, labels, "texts"), python_records(*validation, "validation"), cfg.vectorizer, cfg.train
    )
    net, val = clf.network, examples.batches()[1]
    fusion = net.get_layer("fusion")
    fusion.source_weights.assign([1.0, 0.0])
    before = [w.copy() for w in fusion.get_weights()]
    logs = {}
    FusedAccuracy(net, val).on_epoch_end(0, logs)
    assert all(np.array_equal(a, b) for a, b in zip(before, fusion.get_weights()))
    assert logs["val_fused_accuracy"] == fit_late_fusion(net, val)["accuracy"]["fused"]

    # Training with and without it gives the same network.
    trainer = ClassifierTrainer(examples, cfg)
    tc = dataclasses.replace(cfg.train, monitor="val_accuracy", patience=None)
    trainer.wide.paths()  # the NBSVM fit (which draws random numbers) happens once, before either network

    def trained(callbacks):
        from textlstm.training import fit

        keras.utils.set_random_seed(3)
        model = trainer.build()
        train_ds, val_ds = examples.batches()
        fit(model, train_ds, val_ds, tc, callbacks=callbacks(model, val_ds))
        return [w.numpy() for w in model.weights if "fusion" not in w.path]

    plain, scored = trained(lambda m, v: []), trained(lambda m, v: [FusedAccuracy(m, v)])
    assert len(plain) == len(scored) and all(np.array_equal(a, b) for a, b in zip(plain, scored))


def test_learning_curves_show_the_fused_score():
    from textlstm.evaluation import plot_history

    fig = plot_history(
        {
            "loss": [0.7, 0.5],
            "accuracy": [0.6, 0.8],
            "val_loss": [0.7, 0.6],
            "val_accuracy": [0.6, 0.7],
            "val_fused_accuracy": [0.7, 0.75],
        }
    )
    panels = {ax.get_title(): [line.get_label() for line in ax.get_lines()] for ax in fig.axes}
    assert panels == {"loss": ["train", "validation"], "accuracy": ["train", "validation", "validation, fused"]}


def test_subword_classifier_trains_saves_and_loads(tmp_path):
    pytest.importorskip("tensorflow_text")
    keras.utils.set_random_seed(0)
    cfg = pipeline_from_dict(
        {
            "data": {"source": "demo", "demo_size": 400},
            "vectorizer": {"level": "subword", "max_tokens": 200, "max_length": 40},
            "model": {"units": [8], "embedding_dim": 8},
            "train": {"epochs": 1, "verbose": 0, "tensorboard": False},
        }
    )
    clf = TextClassifier(cfg).fit()
    assert any(t.startswith("##") for t in clf.vectorizer.get_vocabulary())
    texts = ["an unforgettable film", "the plot was not dull"]
    loaded = textlstm.load(clf.save(tmp_path / "m.keras"))
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    assert loaded.config.vectorizer.level == "subword"


def test_bagging_members_are_whole_runs_on_their_own_validation_splits(tmp_path, monkeypatch):
    """train.ensemble.bagging: member m is the pipeline run with seed 42 + 1000 m
    on its own validation split of the pooled rows (own vectorizer, wide paths
    and fusion); the artifact averages the members' probabilities."""
    texts = [f"{w} film {v}" for w in ("good", "fun", "dull", "awful") for v in ("today", "again", "now", "yet")] * 2
    labels = ["pos" if t.split()[0] in ("good", "fun") else "neg" for t in texts]
    model = {"units": [4], "embedding_dim": 4, "bidirectional": False, "wide": STACKED}
    train = {"epochs": 2, "verbose": 0, "patience": None, "tensorboard": False}
    cfg = pipeline_from_dict(
        {
            "data": {"validation_fraction": 0.25},
            "model": model,
            "train": {**train, "ensemble": {"members": 2, "bagging": True}},
        }
    )
    seen = []  # the (train, validation) rows each run's examples were built from
    build = ClassificationExamples.build
    monkeypatch.setattr(
        ClassificationExamples,
        "build",
        staticmethod(lambda tr, va, *a, **k: seen.append((tr, va)) or build(tr, va, *a, **k)),
    )
    clf = TextClassifier(cfg).fit(texts[:24], labels[:24], validation=(texts[24:], labels[24:]), output_dir=tmp_path)
    monkeypatch.undo()
    report = clf.data_report
    assert [m["seed"] for m in report["ensemble"]] == [42, 1042]
    assert [m["train_examples"] for m in report["ensemble"]] == [24, 24]
    assert all("fused_accuracy" in m for m in report["ensemble"])
    assert [n.name for n in clf.networks] == ["classifier_0", "classifier_1"]
    assert [v.name for v in clf.vectorizers] == ["vectorizer_0", "vectorizer_1"]
    assert len(seen) == 2
    (_, first), (_, second) = seen
    assert first.columns()[0] != second.columns()[0]  # different validation texts ...
    for train_rows, val_rows in seen:  # ... each drawn from all 32 rows, a quarter of each class
        train_texts, val_texts = train_rows.columns()[0], val_rows.columns()[0]
        assert sorted(train_texts + val_texts) == sorted(texts) and len(val_texts) == 8
        assert val_rows.columns()[1].count("pos") == 4
    assert [f["examples"] for f in report["fusion"]] == [8, 8]  # each member's fusion on its own split
    assert "nbsvm" in report["wide"][1] and "nbsvm" not in report["wide"][0]
    probe = ["good film now", "awful film", "fun", ""]
    members = [network_proba(clf, m, probe) for m in range(2)]
    np.testing.assert_allclose(clf.predict_proba(probe)[:, 1], (members[0] + members[1]) / 2, atol=1e-6)
    # Member 0 is exactly the run without bagging on the seed-42 split.
    tr, va = stratified_split(labels, 0.25, 42)
    plain = TextClassifier(pipeline_from_dict({"data": {"validation_fraction": 0.25}, "model": model, "train": train}))
    plain.fit(
        [texts[i] for i in tr], [labels[i] for i in tr], validation=([texts[i] for i in va], [labels[i] for i in va])
    )
    np.testing.assert_allclose(members[0], plain.predict_proba(probe)[:, 1], atol=1e-6)
    # Each member's files in member_<m>/; one history.csv with every member's epochs.
    assert (tmp_path / "member_0" / "history.csv").exists() and (tmp_path / "member_1" / "history.csv").exists()
    assert (tmp_path / "member_1" / "checkpoints" / "best.weights.h5").exists()
    rows = (tmp_path / "history.csv").read_text().splitlines()
    assert rows[0].startswith("member,epoch,") and [r.split(",")[0] for r in rows[1:]] == ["0", "0", "1", "1"]
    loaded = textlstm.load(clf.save(tmp_path / "model.keras"))
    assert len(loaded.networks) == 2 and len(loaded.vectorizers) == 2
    np.testing.assert_allclose(loaded.predict_proba(probe), clf.predict_proba(probe), atol=1e-6)


@pytest.mark.parametrize(
    "train,data,message",
    [
        ({"ensemble": {"members": 1, "bagging": True}}, {}, "set train.ensemble.members to 2 or more"),
        (
            {"ensemble": {"members": 2, "bagging": True}},
            {"source": "files", "train": "train.tsv", "validation": "val.tsv"},
            "remove data.validation",
        ),
        ({"ensemble": {"members": 0}}, {}, "train.ensemble.members must be at least 1"),
        ({"ensemble": 2}, {}, "train.ensemble: expected a mapping"),  # the old forms are gone
        ({"ensemble": {"members": 2}, "bagging": True}, {}, "unknown key 'train.bagging'"),
        ({"refit": True}, {}, "unknown key 'train.refit'"),
    ],
)
def test_ensemble_config_errors_at_read_time(train, data, message):
    with pytest.raises(ConfigError, match=message):
        pipeline_from_dict({"data": data, "train": train})


def test_plots_stay_out_of_pyplot(tmp_path):
    """The run's plots are plain Figures: a sweep writing them for every trial does not pile
    them up in pyplot's registry (nor does a notebook show the ones written to files)."""
    import matplotlib.pyplot as plt

    from textlstm.evaluation import plot_confusion_matrix, plot_history, plot_per_class
    from textlstm.tuning.report import plot_trials

    plt.close("all")
    plot_history({"loss": [0.7, 0.5], "val_loss": [0.7, 0.6]}, tmp_path / "h.png")
    plot_confusion_matrix([[3, 1], [0, 4]], ["a", "b"], tmp_path / "c.png")
    plot_per_class({"a": {"precision": 1.0, "recall": 0.75, "f1": 0.86, "support": 4}}, tmp_path / "p.png")
    rows = [{"trial": i, "status": "COMPLETED", "val_accuracy": 0.5 + i / 10, "units": 8 * (i + 1)} for i in range(3)]
    plot_trials(rows, tmp_path / "t.png", "val_accuracy", "max")
    assert plt.get_fignums() == []
    assert all((tmp_path / f).stat().st_size > 1000 for f in ("h.png", "c.png", "p.png", "t.png"))
