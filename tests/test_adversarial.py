"""`train.adversarial`: adversarial training on the word embeddings (`textlstm.adversarial`)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import textlstm
from textlstm.adversarial import AdversarialNetwork, adversarial_network
from textlstm.classifier import TextClassifier
from textlstm.config import AdversarialConfig, pipeline_from_dict
from textlstm.errors import ConfigError
from textlstm.models.classifier import build_classifier
from textlstm.models.config import ModelConfig
from textlstm.models.heads import compile_classifier
from textlstm.saving import load_keras_model

TINY = {
    "data": {"source": "demo", "demo_size": 300},
    "vectorizer": {"max_length": 32},
    "model": {"units": [8], "embedding_dim": 8, "pooling": "max", "wide": [{"ngrams": 2, "buckets": 1024}]},
    "train": {"epochs": 2, "verbose": 0, "tensorboard": False, "seed": 3, "patience": None},
}


def _net(seed=0, wide=()):
    keras.utils.set_random_seed(seed)
    config = ModelConfig(units=[6], embedding_dim=5, pooling="max", dropout=0.0)
    net = build_classifier(config, vocab_size=40, num_classes=2, max_length=7)
    return compile_classifier(net, 2, pipeline_from_dict({}).train)


IDS = tf.constant([[3, 4, 5, 0, 0, 0, 0, 0], [6, 7, 8, 9, 10, 11, 12, 13], [2, 9, 0, 0, 0, 0, 0, 0]], "int64")
Y = tf.constant([[1.0], [0.0], [1.0]])


def test_the_config_is_checked_when_the_pipeline_is_read():
    cfg = pipeline_from_dict({"train": {"adversarial": {"epsilon": 0.05}}})
    assert cfg.train.adversarial == AdversarialConfig(epsilon=0.05)
    assert pipeline_from_dict({"train": {"adversarial": {}}}).train.adversarial.epsilon == 0.02
    assert pipeline_from_dict({}).train.adversarial is None
    for bad in (0, -0.1, 2, "big", True):
        with pytest.raises(ConfigError, match="train.adversarial.epsilon"):
            pipeline_from_dict({"train": {"adversarial": {"epsilon": bad}}})
    with pytest.raises(ConfigError, match="must be a number in \\(0, 1\\], got 2"):
        pipeline_from_dict({"train": {"adversarial": {"epsilon": 2}}})
    with pytest.raises(ConfigError, match="epsilom"):
        pipeline_from_dict({"train": {"adversarial": {"epsilom": 0.1}}})
    with pytest.raises(ConfigError, match="train.adversarial: expected a mapping"):
        pipeline_from_dict({"train": {"adversarial": 0.1}})
    with pytest.raises(ConfigError, match="task: translation has none to perturb"):
        pipeline_from_dict({"task": "translation", "data": {"source": "demo"}, "train": {"adversarial": {}}})
    with pytest.raises(ConfigError, match="trains on one device"):
        pipeline_from_dict({"train": {"adversarial": {}, "distribute": "mirrored"}})


def test_the_trainee_is_the_network_s_graph():
    """Same weights (the same variables), same predictions, and a compile of its own."""
    net = _net()
    trainee = adversarial_network(net, 0.02)
    assert isinstance(trainee, AdversarialNetwork) and trainee.name == net.name
    assert [id(w) for w in trainee.weights] == [id(w) for w in net.weights]
    np.testing.assert_allclose(trainee(IDS).numpy(), net(IDS).numpy())
    assert trainee.optimizer is not net.optimizer and trainee.compiled
    # the two halves compute the network, and the second reads the padding mask from the ids:
    # whatever is at the padded steps of the embedded sequence, it is not read
    ids, embedded = trainee._parts.embed(IDS)
    mask = tf.cast(trainee._parts.embedding.compute_mask(ids), "float32")[..., None]
    np.testing.assert_allclose(trainee._parts.head([IDS, tf.identity(embedded)]).numpy(), net(IDS).numpy(), rtol=1e-6)
    padded = trainee._parts.head([IDS, embedded + 5.0 * (1.0 - mask)]).numpy()
    np.testing.assert_allclose(padded, net(IDS).numpy(), rtol=1e-6)
    moved = trainee._parts.head([IDS, embedded + 0.5 * mask]).numpy()
    assert not np.allclose(moved, net(IDS).numpy())


def test_the_perturbation_has_the_relative_norm_and_raises_the_loss():
    trainee = adversarial_network(_net(), 0.05)
    ids, embedded = trainee._parts.embed(IDS)
    mask = trainee._parts.embedding.compute_mask(ids)
    loss_fn = keras.losses.BinaryCrossentropy()
    with tf.GradientTape() as tape:
        tape.watch(embedded)
        loss = loss_fn(Y, trainee._parts.head([IDS, tf.identity(embedded)]))
    g = tape.gradient(loss, embedded)
    r = trainee.perturbation(embedded, g, mask).numpy()
    m = mask.numpy()
    assert np.all(r[~m] == 0)  # padding is never moved
    e = embedded.numpy() * m[..., None]
    for i in range(len(r)):
        np.testing.assert_allclose(np.linalg.norm(r[i]), 0.05 * np.linalg.norm(e[i]), rtol=1e-4)
        cos = np.sum(r[i] * g.numpy()[i]) / (np.linalg.norm(r[i]) * np.linalg.norm(g.numpy()[i]))
        assert cos == pytest.approx(1.0, abs=1e-4)  # along the gradient: uphill
    moved = loss_fn(Y, trainee._parts.head([IDS, embedded + r]))
    backwards = loss_fn(Y, trainee._parts.head([IDS, embedded - r]))
    assert float(moved) > float(loss) > float(backwards)


def test_a_step_adds_the_adversarial_gradient():
    """One step of the trainee moves the weights differently from one plain
    step from the same weights (the adversarial pass adds its gradient), and
    trains the network's own variables."""
    plain, adv = _net(seed=1), _net(seed=1)
    for a, b in zip(plain.weights, adv.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    before = [w.numpy().copy() for w in adv.weights]
    trainee = adversarial_network(adv, 0.5)
    keras.utils.set_random_seed(5)
    plain.fit(IDS, Y, epochs=1, batch_size=3, verbose=0, shuffle=False)
    keras.utils.set_random_seed(5)
    logs = trainee.fit(IDS, Y, epochs=1, batch_size=3, verbose=0, shuffle=False).history
    assert set(logs) == {"loss", "accuracy"} and logs["loss"][0] > 0
    changed = [not np.array_equal(b, w.numpy()) for b, w in zip(before, adv.weights)]
    assert all(changed)  # the network's variables were trained
    differs = [not np.allclose(p.numpy(), w.numpy()) for p, w in zip(plain.weights, adv.weights)]
    assert any(differs)


def test_a_pipeline_trains_adversarially_and_saves_the_plain_network(tmp_path):
    cfg = pipeline_from_dict({**TINY, "train": {**TINY["train"], "adversarial": {"epsilon": 0.05}}})
    clf = TextClassifier(cfg).fit(output_dir=tmp_path / "run")  # checkpoints, backups, history.csv
    assert (tmp_path / "run" / "history.csv").read_text().count("\n") == 3
    history = clf.history[0]
    assert len(history["loss"]) == 2 and history["val_accuracy"][-1] > 0.5
    assert not isinstance(clf.network, AdversarialNetwork)
    plain = TextClassifier(pipeline_from_dict(TINY)).fit()
    assert any(not np.allclose(a.numpy(), b.numpy()) for a, b in zip(clf.network.weights, plain.network.weights))
    path = clf.save(tmp_path / "model.keras")
    assert type(load_keras_model(path)).__name__ == "Functional"
    texts = ["a wonderful film, I loved it", "dull and far too long"]
    np.testing.assert_allclose(textlstm.load(path).predict_proba(texts), clf.predict_proba(texts), rtol=1e-5, atol=1e-6)


def test_a_multilabel_pipeline_trains_adversarially(tmp_path):
    from test_multilabel import TINY as MULTI

    from textlstm.multilabel.classifier import MultiLabelClassifier

    cfg = pipeline_from_dict({**MULTI, "train": {**MULTI["train"], "adversarial": {"epsilon": 0.05}}})
    clf = MultiLabelClassifier(cfg).fit()
    assert len(clf.history[0]["loss"]) == 2 and "val_micro_f1" in clf.history[0]
    probabilities = clf.predict(["the score was not dull"])[0].probabilities
    assert all(0.0 <= p <= 1.0 for p in probabilities.values())
