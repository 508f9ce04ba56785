"""Long documents: the sequence length from a percentile of the training lengths, and
wide paths that read the whole text while the LSTM reads `max_length` tokens."""

import keras
import numpy as np
import pytest

from textlstm.config import ConfigError, VectorizerConfig, apply_overrides, pipeline_from_dict


def _texts(n, seed=0):
    rng = np.random.default_rng(seed)
    words = ["good", "bad", "film", "plot", "actor", "scene", "story", "the"]
    texts, labels = [], []
    for i in range(n):
        length = int(rng.integers(3, 60))
        tokens = list(rng.choice(words, length))
        label = "pos" if i % 2 else "neg"
        tokens.append("great" if label == "pos" else "dull")  # the label word comes last
        texts.append(" ".join(tokens))
        labels.append(label)
    return texts, labels


@pytest.mark.parametrize("value", ["p40", "p101", "q95", "95%", "p"])
def test_a_malformed_percentile_fails_when_read(value):
    with pytest.raises(ConfigError, match="percentile of the training lengths from p50 to p100"):
        VectorizerConfig(max_length=value)


def test_translation_refuses_a_percentile_max_length():
    data = apply_overrides({"task": "translation", "data": {"source": "demo"}}, ["vectorizer.max_length=p95"])
    with pytest.raises(ConfigError, match="translation needs a number of tokens"):
        pipeline_from_dict(data)


def test_max_length_from_the_training_lengths_is_resolved_and_reported():
    from textlstm.classifier import TextClassifier
    from textlstm.data.examples import ClassificationExamples, python_records

    texts, labels = _texts(300)
    cfg = pipeline_from_dict(
        {"vectorizer": {"max_length": "p90"}, "train": {"buckets": 4}, "model": {"units": [8], "embedding_dim": 8}}
    )
    examples = ClassificationExamples.build(python_records(texts, labels, "texts"), None, cfg.vectorizer, cfg.train)
    lengths = np.array([len(t.split()) for t in texts])
    assert examples.max_length == int(np.percentile(lengths, 90, method="higher"))
    assert examples.report["max_length"] == examples.max_length
    assert examples.report["max_length_from"] == "p90 of the training lengths"
    assert examples.report["truncated"] == int((lengths > examples.max_length).sum()) > 0
    assert max(int(x.shape[0]) for x, _ in examples.train) == examples.max_length  # no wide path: cut here

    keras.utils.set_random_seed(0)
    clf = TextClassifier(cfg)
    cfg.train.epochs, cfg.train.verbose, cfg.train.tensorboard = 1, 0, False
    clf.fit(texts[:240], labels[:240], validation=(texts[240:], labels[240:]))
    assert clf.data_report["max_length"] == int(np.percentile(lengths[:240], 90, method="higher"))
    truncate = clf.network.get_layer("truncate")
    assert truncate.max_length == clf.data_report["max_length"]


def _network(max_length, wide):
    from textlstm.models.classifier import build_classifier
    from textlstm.models.config import ModelConfig
    from textlstm.wide.component import WidePath
    from textlstm.wide.config import WideConfig

    paths = []
    if wide:
        config = WideConfig(ngrams=1, buckets=64)
        weights = np.random.default_rng(0).normal(size=(64, 1)).astype("float32")
        paths = [WidePath(config, 0, weights, None)]
    keras.utils.set_random_seed(0)
    return build_classifier(
        ModelConfig(units=[4], embedding_dim=4, pooling="max"), 50, 2, wide=paths, max_length=max_length
    )


def test_the_lstm_reads_max_length_tokens_and_the_wide_path_reads_the_whole_text():
    head = [5, 6, 7]
    a = np.array([head + [8, 9, 10, 11, 0]])
    b = np.array([head + [20, 21, 22, 23, 24]])
    lstm_only = _network(3, wide=False)
    np.testing.assert_allclose(lstm_only(a).numpy(), lstm_only(b).numpy(), atol=1e-7)  # only the head is read
    full_lstm = _network(None, wide=False)
    assert abs(float(full_lstm(a).numpy()[0, 0]) - float(full_lstm(b).numpy()[0, 0])) > 1e-6
    with_wide = _network(3, wide=True)
    assert abs(float(with_wide(a).numpy()[0, 0]) - float(with_wide(b).numpy()[0, 0])) > 1e-4  # tokens 4.. count


def test_the_wide_path_sees_the_whole_text_in_training_and_in_the_artifact(tmp_path):
    from textlstm.classifier import TextClassifier

    texts, labels = _texts(300, seed=1)
    cfg = pipeline_from_dict(
        {
            "vectorizer": {"max_length": 4},
            "model": {"units": [4], "embedding_dim": 4, "wide": [{"ngrams": 1, "buckets": 512}]},
            "train": {"epochs": 6, "verbose": 0, "tensorboard": False, "learning_rate": 0.02, "patience": None},
        }
    )
    keras.utils.set_random_seed(0)
    clf = TextClassifier(cfg).fit(texts[:240], labels[:240], validation=(texts[240:], labels[240:]))
    # the label word is last, after token 4 for most texts: only a path that reads the whole text can learn it
    accuracy = clf.evaluate(texts[240:], labels[240:])["accuracy"]
    assert accuracy > 0.9
    clf.save(tmp_path / "m.keras")
    from textlstm import load

    loaded = load(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict_proba(texts[240:]), clf.predict_proba(texts[240:]), atol=1e-5)


def test_translation_keeps_a_fixed_default_length():
    cfg = pipeline_from_dict({"task": "translation", "data": {"source": "demo"}})
    assert cfg.vectorizer.max_length == 200 and cfg.vectorizer.for_target().max_length == 200
    assert pipeline_from_dict({"data": {"source": "demo"}}).vectorizer.max_length == "p95"  # classification


def _chunked_pair(chunk_length):
    from textlstm.models.classifier import build_classifier
    from textlstm.models.config import ModelConfig

    keras.utils.set_random_seed(3)
    kw = dict(units=[6], embedding_dim=5, pooling="max", dropout=0.0)
    chunked = build_classifier(ModelConfig(chunk_length=chunk_length, **kw), vocab_size=30, num_classes=2)
    whole = build_classifier(ModelConfig(**kw), vocab_size=30, num_classes=2)
    for name in ("embedding", "lstm_0", "logits"):
        whole.get_layer(name).set_weights(chunked.get_layer(name).get_weights())
    return chunked, whole


def test_a_chunked_lstm_reads_each_chunk_on_its_own_and_pools_over_all():
    """With chunk_length C, a document of at most C tokens scores as the whole-document
    network with the same weights; a longer one pools the states of its chunks, each
    read from a fresh state: the maximum of the chunks' pooled states."""
    chunked, whole = _chunked_pair(4)
    short = np.array([[5, 6, 7, 0, 0, 0]])
    np.testing.assert_allclose(chunked(short).numpy(), whole(short).numpy(), rtol=1e-5)
    long = np.array([[5, 6, 7, 8, 9, 10, 11, 0, 0, 0]])
    pooled = keras.Model(whole.input, whole.get_layer("max_pool").output)
    parts = [pooled(long[:, :4]).numpy(), pooled(long[:, 4:7]).numpy()]
    logits = whole.get_layer("logits")(np.maximum(*parts))
    expected = keras.activations.sigmoid(logits).numpy()
    np.testing.assert_allclose(chunked(long).numpy(), expected, rtol=1e-5)
    assert not np.allclose(chunked(long).numpy(), whole(long).numpy())
    # trailing padding, and padding that adds whole empty chunks, change nothing
    wider = np.pad(long, [[0, 0], [0, 9]])
    np.testing.assert_allclose(chunked(wider).numpy(), chunked(long).numpy(), rtol=1e-6)
    np.testing.assert_allclose(chunked(long[:, :7]).numpy(), chunked(long).numpy(), rtol=1e-6)


def test_a_chunked_network_saves_and_loads(tmp_path):
    chunked, _ = _chunked_pair(3)
    ids = np.array([[5, 6, 7, 8, 9, 0], [4, 0, 0, 0, 0, 0]])
    chunked.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again(ids).numpy(), chunked(ids).numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "model, match",
    [
        ({"chunk_length": 1, "pooling": "max"}, "at least 2 tokens"),
        ({"chunk_length": 50, "pooling": "last"}, "needs pooling: max or mean"),
    ],
)
def test_chunk_length_is_checked_when_read(model, match):
    with pytest.raises(ConfigError, match=match):
        pipeline_from_dict({"model": model})


def test_gate_inspection_reads_a_chunked_network_chunk_by_chunk():
    from textlstm.inspection import inspect_gates

    chunked, _ = _chunked_pair(4)
    ids = np.array([5, 6, 7, 8, 9, 10, 11])
    states = keras.Model(chunked.input, chunked.get_layer("merge_chunks").output)(ids[None]).numpy()[0]
    result = inspect_gates(chunked, ids)
    np.testing.assert_allclose(result.outputs[0], states[: len(ids)], atol=1e-5)
    assert result.trace(0, "forward").hidden.shape == (7, 6)
