"""End-to-end: fit on the demo corpus, evaluate, predict, save/load, export."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import textlstm
from textlstm.classifier import TextClassifier
from textlstm.config import ConfigError, PipelineConfig, TrainConfig, pipeline_from_dict
from textlstm.data.labels import stratified_split
from textlstm.data.sources import DataError
from textlstm.models import FusedAccuracy, fit_late_fusion
from textlstm.training import best_epoch


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
    np.testing.assert_allclose(out[:, 0], clf.predict_proba(["a great film", "the acting was not great"])[:, 1], atol=1e-5)


def test_fit_from_python_lists_multiclass_and_unseen_label():
    keras.utils.set_random_seed(1)
    words = {"sports": "goal match team", "tech": "code chip software", "food": "pasta soup bread"}
    texts, labels = [], []
    for i in range(90):
        label = list(words)[i % 3]
        texts.append(" ".join(np.random.default_rng(i).permutation(words[label].split())) + " today")
        labels.append(label)
    cfg = pipeline_from_dict({"model": {"units": [8], "embedding_dim": 8},
                              "train": {"epochs": 15, "verbose": 0, "learning_rate": 0.02, "patience": None}})
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
    cfg = pipeline_from_dict({"model": {"units": [4], "embedding_dim": 4},
                              "train": {"epochs": 1, "verbose": 0, "patience": None}})
    clf = TextClassifier(cfg).fit(texts, labels, validation=(texts, labels))
    assert clf.data_report["empty_after_standardization_skipped"] == 10
    assert clf.data_report["train_examples"] == 20
    assert np.isfinite(clf.predict_proba(["!!!", ""])).all()


def test_unfitted_classifier_says_so():
    with pytest.raises(RuntimeError, match="not trained"):
        TextClassifier(PipelineConfig()).predict(["x"])


def test_backup_and_restore_resumes_a_killed_run(tmp_path):
    """A run that dies mid-training resumes from its last finished epoch."""
    overrides = {"data": {"source": "demo", "demo_size": 600},
                 "model": {"units": [8], "embedding_dim": 8},
                 "train": {"epochs": 4, "verbose": 0, "patience": None, "tensorboard": False}}

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
    cfg = pipeline_from_dict({"model": {"units": [4], "embedding_dim": 4, "ngram_features": 2, "ngram_buckets": 4096,
                                        "ngram_chars": [2, 4], "ngram_init": init, "ngram_epochs": 3},
                              "train": {"epochs": 2, "verbose": 0, "patience": None}})
    clf = TextClassifier(cfg).fit(texts, labels, validation=(texts[:6], labels[:6]))
    weights = clf.network.get_layer("ngram_weights").get_weights()[0]
    assert (weights > 0).any() and (weights < 0).any()  # naive Bayes ratios (or NBSVM weights), both signs
    assert ("nbsvm" in clf.data_report) == (init == "nbsvm")
    chars = clf.network.get_layer("ngrams").get_weights()[0]
    vocab = clf.vectorizer.get_vocabulary()
    assert chars.shape[0] == len(vocab) and (chars[vocab.index("boring")] > 0).sum() == 7 + 6 + 5  # 2..4-grams of "<boring>"
    assert clf.predict(["good film", "boring plot"])[0].label == "pos"
    loaded = textlstm.load(clf.save(tmp_path / "m.keras"))
    np.testing.assert_allclose(loaded.predict_proba(["good film"]), clf.predict_proba(["good film"]), atol=1e-6)


@pytest.mark.parametrize("init", ["naive_bayes", "nbsvm"])
def test_refit_trains_again_on_training_plus_validation(tmp_path, init):
    """train.refit: validation chooses the epochs, then the model (and its
    vocabulary and naive Bayes path) is trained again on train + validation."""
    keras.utils.set_random_seed(0)
    texts = ["good fun film", "great acting", "dull plot", "awful boring film", "good story", "boring acting"] * 6
    labels = ["pos", "pos", "neg", "neg", "pos", "neg"] * 6
    val_texts, val_labels = ["superb film", "tedious plot", "good superb story", "boring tedious acting"], \
        ["pos", "neg", "pos", "neg"]
    cfg = pipeline_from_dict({"model": {"units": [4], "embedding_dim": 4, "ngram_features": 2, "ngram_buckets": 4096,
                                        "ngram_init": init, "ngram_epochs": 4},
                              "train": {"epochs": 4, "verbose": 0, "patience": 2, "refit": True, "ensemble": 2,
                                        "tensorboard": False}})
    clf = TextClassifier(cfg).fit(texts, labels, validation=(val_texts, val_labels), output_dir=tmp_path)
    chosen = [best_epoch(h, cfg.train) for h in clf.history]
    refit = clf.data_report["refit"]
    assert refit["epochs"] == chosen and all(1 <= e <= 4 for e in chosen)
    assert [len(h["loss"]) for h in clf.refit_history] == chosen  # exactly the chosen epochs, no early stop
    assert all("val_loss" not in h for h in clf.refit_history)
    assert (refit["selection_train_examples"], refit["train_examples"]) == (36, 40)
    assert "superb" in clf.vectorizer.get_vocabulary()  # a word seen only in validation
    assert (tmp_path / "refit" / "member_1" / "history.csv").exists()
    members = [r.split(",")[0] for r in (tmp_path / "history.csv").read_text().splitlines()[1:]]
    assert members == ["0"] * len(clf.history[0]["loss"]) + ["1"] * len(clf.history[1]["loss"])
    assert len(clf.networks) == 2
    if init == "nbsvm":  # the n-gram path is refitted for the epochs its validation run chose
        assert refit["nbsvm"]["epochs_run"] == clf.data_report["nbsvm"]["best_epoch"]
    loaded = textlstm.load(clf.save(tmp_path / "m.keras"))
    np.testing.assert_allclose(loaded.predict_proba(["superb film"]), clf.predict_proba(["superb film"]), atol=1e-6)


def test_refit_needs_validation_data():
    cfg = pipeline_from_dict({"model": {"units": [4], "embedding_dim": 4},
                              "train": {"epochs": 1, "verbose": 0, "refit": True}})
    with pytest.raises(ConfigError, match="train.refit needs validation data"):
        TextClassifier(cfg).fit(["good", "bad"] * 4, ["p", "n"] * 4)


@pytest.mark.parametrize("history,patience,restore,expected", [
    ({"val_accuracy": [0.6, 0.8, 0.7]}, 2, True, 2),
    ({"val_accuracy": [0.6, 0.8, 0.7]}, None, True, 3),  # no early stopping: the last epoch's weights
    ({"val_accuracy": [0.6, 0.8, 0.7]}, 2, False, 3),
    ({"accuracy": [0.5, 0.9, 0.7]}, 2, True, 2),  # no validation: the training metric
    ({"loss": [0.5, 0.4, 0.45]}, 2, True, 3),  # the monitor was never reported: nothing was restored
])
def test_best_epoch(history, patience, restore, expected):
    tc = TrainConfig(patience=patience, restore_best=restore)
    assert best_epoch(history, tc) == expected


def test_leave_one_out_training_fits_saves_and_loads(tmp_path):
    """model.ngram_leave_one_out: the trainer (with each text left out of the
    naive Bayes counts) is what fit trains; the saved model is the plain one."""
    keras.utils.set_random_seed(0)
    texts = ["good fun film", "great acting", "dull plot", "awful boring film", "good story", "boring acting",
             "a rare gem", "a rare mess"] * 4
    labels = ["pos", "pos", "neg", "neg", "pos", "neg", "pos", "neg"] * 4
    overrides = {"model": {"units": [4], "embedding_dim": 4, "ngram_features": 2, "ngram_buckets": 4096,
                           "ngram_leave_one_out": True},
                 "train": {"epochs": 3, "verbose": 0, "patience": None, "tensorboard": False}}
    clf = TextClassifier(pipeline_from_dict(overrides)).fit(texts, labels, validation=(texts[:8], labels[:8]))
    train, val = clf.datasets()
    trainer, train, val = clf.training_setup(clf.network, train, val)
    (ids, label), y = next(iter(train))
    np.testing.assert_array_equal(label.numpy(), y.numpy())
    assert (next(iter(val))[0][1].numpy() == -1).all()
    assert "leave_one_out" in [layer.name for layer in trainer.layers]
    assert "leave_one_out" not in [layer.name for layer in clf.network.layers]
    # Left out of the counts, a training text is predicted less confidently than by the saved model.
    left_out = trainer.predict_on_batch([ids, label])[:, 0]
    assert (np.abs(left_out - 0.5) < np.abs(clf.network.predict_on_batch(ids)[:, 0] - 0.5)).mean() > 0.9
    assert clf.predict(["good fun film", "awful boring film"])[0].label == "pos"
    loaded = textlstm.load(clf.save(tmp_path / "m.keras"))
    np.testing.assert_allclose(loaded.predict_proba(["a rare gem"]), clf.predict_proba(["a rare gem"]), atol=1e-6)
    with pytest.raises(ConfigError, match="ngram_leave_one_out needs the naive Bayes n-gram path"):
        pipeline_from_dict({**overrides, "model": {**overrides["model"], "ngram_init": "nbsvm"}})


LATE = {"ngram_fusion": "late"}  # the LSTM alone, then the n-gram path fused late
STACKED = {"late_ngrams": {"ngram_chars": [2, 4], "ngram_init": "nbsvm"}}  # LSTM + joint path, then a second path


@pytest.mark.parametrize("classes,mode", [(2, "late"), (3, "late"), (2, "stacked"), (3, "stacked")])
def test_late_fusion_trains_the_network_then_fits_the_combiner(tmp_path, classes, mode):
    """model.ngram_fusion: late: the LSTM trains without the n-gram path, then
    one weight per path and a bias are fitted on the validation split; the
    saved model computes exactly that weighted sum. model.late_ngrams: the
    same, with the LSTM trained together with its joint n-gram path and a
    second, NBSVM-fitted path fused late."""
    keras.utils.set_random_seed(0)
    words = {"pos": "good fun great", "neg": "dull awful boring", "mid": "plain fine average"}
    names = list(words)[:classes]
    texts = [f"{words[n].split()[i % 3]} film {words[n].split()[(i + 1) % 3]}" for i in range(12) for n in names]
    labels = [n for _ in range(12) for n in names]
    cfg = pipeline_from_dict({"model": {"units": [4], "embedding_dim": 4, "ngram_features": 2, "ngram_buckets": 4096,
                                        **(LATE if mode == "late" else STACKED)},
                              "train": {"epochs": 1, "verbose": 0, "patience": None, "tensorboard": False,
                                        "ensemble": 2}})
    clf = TextClassifier(cfg).fit(texts, labels, validation=(texts[:3 * classes], labels[:3 * classes]))
    assert [f["examples"] for f in clf.data_report["fusion"]] == [3 * classes] * 2
    net = clf.network
    fusion = net.get_layer("fusion")
    trainable = {v.path for v in net.trainable_weights}
    assert not fusion.trainable and all(w.path not in trainable for w in fusion.weights)
    assert not any(w.path in trainable for w in net.get_layer("late_ngram_weights").weights)
    network = "logits" if mode == "late" else "wide_and_deep"  # the first source: the LSTM (+ its joint path)
    if mode == "stacked":
        assert "late_nbsvm" in clf.data_report and "nbsvm" not in clf.data_report
        assert net.get_layer("ngram_scale").kernel.path in trainable  # the joint path trained with the LSTM
        late_grams = np.asarray(net.get_layer("late_ngrams").char_ngrams)
        assert late_grams.any() and "char_ngrams" not in [w.name for w in net.get_layer("ngrams").weights]
    weights, bias = fusion.source_weights.numpy(), fusion.bias.numpy()
    assert not np.allclose(weights, [1.0, 0.0])  # fitted, no longer the LSTM alone
    assert weights[1] > 0 and clf.data_report["fusion"][0]["accuracy"]["fused"] == 1.0
    # The network is the weighted sum of its two paths' logits.
    ids = next(iter(clf.datasets()[1]))[0]
    deep, wide = keras.Model(net.inputs, [net.get_layer(network).output, net.get_layer("late_ngram_sum").output])(ids)
    fused = weights[0] * np.asarray(deep) + weights[1] * np.asarray(wide) + bias
    expected = 1 / (1 + np.exp(-fused)) if classes == 2 else np.asarray(keras.ops.softmax(fused))
    np.testing.assert_allclose(np.asarray(net(ids)), expected, atol=1e-5)
    # Fitting the combiner again moves only its own weights.
    before = {w.path: w.numpy().copy() for w in net.weights}
    fusion.source_weights.assign([1.0, 0.0])
    fit_late_fusion(net, clf.datasets()[1])
    moved = {w.path for w in net.weights if not np.array_equal(w.numpy(), before[w.path])}
    assert moved and moved <= {w.path for w in fusion.weights}
    loaded = textlstm.load(clf.save(tmp_path / "m.keras"))
    np.testing.assert_allclose(loaded.predict_proba(texts[:4]), clf.predict_proba(texts[:4]), atol=1e-6)


@pytest.mark.parametrize("extra,train,validation,message", [
    ({}, {}, False, "fits the fusion weights on validation data"),
    ({}, {"refit": True}, True, "train.refit cannot be combined with a late n-gram path"),
    ({"ngram_learn": "all"}, {}, True, "cannot be combined with model.ngram_learn: all"),
    ({"ngram_fusion": "early"}, {}, True, "model.ngram_fusion must be joint or late"),
    ({"ngram_features": 0}, {}, True, "set model.ngram_features"),
    ({"ngram_fusion": "joint", **STACKED}, {}, False, "fits the fusion weights on validation data"),
    ({"ngram_fusion": "joint", **STACKED}, {"refit": True}, True, "train.refit cannot be combined"),
    (STACKED, {}, True, "with model.ngram_fusion: late the main path is already late"),
    ({"ngram_fusion": "joint", "late_ngrams": {"ngram_char": [2, 4]}}, {}, True,
     "unknown key 'model.late_ngrams.ngram_char'.*Did you mean 'ngram_chars'"),
    ({"ngram_fusion": "joint", "late_ngrams": {"ngram_fusion": "joint"}}, {}, True,
     "unknown key 'model.late_ngrams.ngram_fusion'"),
    ({"ngram_fusion": "joint", "late_ngrams": {"ngram_features": 0}}, {}, True, "model.late_ngrams needs n-grams"),
    ({"ngram_fusion": "joint", "late_ngrams": {"ngram_features": "two"}}, {}, True,
     "model.late_ngrams.ngram_features: expected an integer"),
    ({"ngram_fusion": "joint", "late_ngrams": [2, 4]}, {}, True, "model.late_ngrams: expected a mapping"),
    ({"ngram_fusion": "joint"}, {"monitor": "val_fused_accuracy"}, True, "this model has none"),
])
def test_late_fusion_config_errors(extra, train, validation, message):
    with pytest.raises(ConfigError, match=message):
        cfg = pipeline_from_dict({"model": {"units": [4], "embedding_dim": 4, "ngram_features": 2,
                                            "ngram_buckets": 4096, "ngram_fusion": "late", **extra},
                                  "train": {"epochs": 1, "verbose": 0, "tensorboard": False, **train}})
        TextClassifier(cfg).fit(["good film", "bad film"] * 4, ["p", "n"] * 4,
                                validation=(["good", "bad"], ["p", "n"]) if validation else None)


def test_fused_accuracy_is_logged_each_epoch_and_leaves_training_unchanged(tmp_path):
    """FusedAccuracy adds val_fused_accuracy (the fusion fitted on the
    validation split at that epoch) to the logs, puts the fusion weights back,
    and so trains exactly the weights that training without it does; with
    train.monitor: val_fused_accuracy the kept epoch is the best fused one."""
    texts = [f"{w} film {v}" for w in ("good", "fun", "dull", "awful") for v in ("today", "again", "now")] * 3
    labels = ["pos" if t.split()[0] in ("good", "fun") else "neg" for t in texts]
    validation = (texts[::5], labels[::5])
    cfg = pipeline_from_dict({"model": {"units": [4], "embedding_dim": 4, "ngram_features": 2, "ngram_buckets": 4096,
                                        "late_ngrams": {"ngram_init": "nbsvm"}},
                              "train": {"epochs": 3, "verbose": 0, "patience": None, "tensorboard": False}})
    clf = TextClassifier(cfg).fit(texts, labels, validation=validation, output_dir=tmp_path / "run")
    fused = clf.history[0]["val_fused_accuracy"]
    assert len(fused) == 3 and all(0.0 <= f <= 1.0 for f in fused)
    assert "val_fused_accuracy" in (tmp_path / "run" / "history.csv").read_text().splitlines()[0]

    # The callback alone: the logged score is fit_late_fusion's, the fusion weights are put back.
    net, val = clf.network, clf.datasets()[1]
    fusion = net.get_layer("fusion")
    fusion.source_weights.assign([1.0, 0.0])
    before = [w.copy() for w in fusion.get_weights()]
    logs = {}
    FusedAccuracy(net, val).on_epoch_end(0, logs)
    assert all(np.array_equal(a, b) for a, b in zip(before, fusion.get_weights()))
    assert logs["val_fused_accuracy"] == fit_late_fusion(net, val)["accuracy"]["fused"]

    # Training with and without it gives the same network.
    def trained(callbacks):
        from textlstm.training import fit

        keras.utils.set_random_seed(3)
        model = clf.build_network()
        train_ds, val_ds = clf.datasets()
        fit(model, train_ds, val_ds, cfg.train, callbacks=callbacks(model, val_ds))
        return [w.numpy() for w in model.weights if "fusion" not in w.path]

    plain, scored = trained(lambda m, v: []), trained(lambda m, v: [FusedAccuracy(m, v)])
    assert len(plain) == len(scored) and all(np.array_equal(a, b) for a, b in zip(plain, scored))

    # Early stopping on the fused score keeps its best epoch.
    cfg.train.monitor, cfg.train.patience = "val_fused_accuracy", 3
    keras.utils.set_random_seed(0)
    clf = TextClassifier(cfg).fit(texts, labels, validation=validation)
    assert best_epoch(clf.history[0], cfg.train) == 1 + int(np.argmax(clf.history[0]["val_fused_accuracy"]))


def test_learning_curves_show_the_fused_score():
    from textlstm.evaluation import plot_history

    fig = plot_history({"loss": [0.7, 0.5], "accuracy": [0.6, 0.8], "val_loss": [0.7, 0.6],
                        "val_accuracy": [0.6, 0.7], "val_fused_accuracy": [0.7, 0.75]})
    panels = {ax.get_title(): [line.get_label() for line in ax.get_lines()] for ax in fig.axes}
    assert panels == {"loss": ["train", "validation"], "accuracy": ["train", "validation", "validation, fused"]}


def test_subword_classifier_trains_saves_and_loads(tmp_path):
    pytest.importorskip("tensorflow_text")
    keras.utils.set_random_seed(0)
    cfg = pipeline_from_dict({"data": {"source": "demo", "demo_size": 400},
                              "vectorizer": {"level": "subword", "subword_vocab_size": 200, "max_length": 40},
                              "model": {"units": [8], "embedding_dim": 8},
                              "train": {"epochs": 1, "verbose": 0, "tensorboard": False}})
    clf = TextClassifier(cfg).fit()
    assert any(t.startswith("##") for t in clf.vectorizer.get_vocabulary())
    texts = ["an unforgettable film", "the plot was not dull"]
    loaded = textlstm.load(clf.save(tmp_path / "m.keras"))
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    assert loaded.config.vectorizer.level == "subword"


def test_bagging_members_are_whole_runs_on_their_own_validation_splits(tmp_path):
    """train.bagging: member m is the pipeline run with seed 42 + 1000 m on its
    own validation split of the pooled rows (own vectorizer, n-gram paths and
    fusion); the artifact averages the members' probabilities."""
    texts = [f"{w} film {v}" for w in ("good", "fun", "dull", "awful") for v in ("today", "again", "now", "yet")] * 2
    labels = ["pos" if t.split()[0] in ("good", "fun") else "neg" for t in texts]
    model = {"units": [4], "embedding_dim": 4, "ngram_features": 2, "ngram_buckets": 4096, **STACKED}
    train = {"epochs": 2, "verbose": 0, "patience": None, "tensorboard": False}
    cfg = pipeline_from_dict({"data": {"validation_fraction": 0.25}, "model": model,
                              "train": {**train, "ensemble": 2, "bagging": True}})
    clf = TextClassifier(cfg).fit(texts[:24], labels[:24], validation=(texts[24:], labels[24:]), output_dir=tmp_path)
    first, second = clf.members
    assert [m["seed"] for m in clf.data_report["bagging"]] == [42, 1042]
    assert first._raw[2] != second._raw[2]  # different validation texts ...
    for member in clf.members:  # ... each drawn from all 32 rows, a quarter of each class
        train_texts, _, val_texts, val_y = member._raw
        assert sorted(train_texts + val_texts) == sorted(texts) and len(val_texts) == 8 and sum(val_y) == 4
        assert "late_nbsvm" in member.data_report and len(member.data_report["fusion"]) == 1
    probe = ["good film now", "awful film", "fun", ""]
    np.testing.assert_allclose(clf.predict_proba(probe),
                               (first.predict_proba(probe) + second.predict_proba(probe)) / 2, atol=1e-6)
    # Member 0 is exactly the run without bagging on the seed-42 split.
    tr, va = stratified_split(labels, 0.25, 42)
    plain = TextClassifier(pipeline_from_dict({"data": {"validation_fraction": 0.25}, "model": model, "train": train}))
    plain.fit([texts[i] for i in tr], [labels[i] for i in tr],
              validation=([texts[i] for i in va], [labels[i] for i in va]))
    np.testing.assert_allclose(first.predict_proba(probe), plain.predict_proba(probe), atol=1e-6)
    # Each member's files in member_<m>/; one history.csv with every member's epochs.
    assert (tmp_path / "member_1" / "history.csv").exists()
    rows = (tmp_path / "history.csv").read_text().splitlines()
    assert rows[0].startswith("member,epoch,") and [r.split(",")[0] for r in rows[1:]] == ["0", "0", "1", "1"]
    loaded = textlstm.load(clf.save(tmp_path / "model.keras"))
    assert len(loaded.networks) == 2
    np.testing.assert_allclose(loaded.predict_proba(probe), clf.predict_proba(probe), atol=1e-6)


@pytest.mark.parametrize("train,data,message", [
    ({"ensemble": 1}, {}, "set train.ensemble to 2 or more"),
    ({"refit": True}, {}, "cannot be combined with train.refit"),
    ({}, {"source": "files", "train": "train.tsv", "validation": "val.tsv"}, "remove data.validation"),
])
def test_bagging_config_errors(train, data, message):
    cfg = pipeline_from_dict({"data": data, "train": {"ensemble": 2, "bagging": True, **train}})
    with pytest.raises(ConfigError, match=message):
        TextClassifier(cfg).fit(None if data else ["good", "bad"] * 4, None if data else ["p", "n"] * 4)
