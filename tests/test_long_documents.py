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
