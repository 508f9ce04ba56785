import warnings

import keras
import numpy as np
import pytest

from textlstm.config import ModelConfig
from textlstm.layers import MaskedPooling1D, NonEmptySequences
from textlstm.models import CudnnFallbackWarning, build_classifier, cudnn_report, recurrent_layer


@pytest.mark.parametrize("cell,bidi,pooling,classes", [
    ("lstm", True, "last", 2), ("lstm", False, "max", 5), ("gru", True, "mean", 3), ("simple_rnn", False, "last", 2),
])
def test_classifier_shapes(cell, bidi, pooling, classes):
    model = build_classifier(ModelConfig(cell=cell, bidirectional=bidi, pooling=pooling, units=[8, 4],
                                         embedding_dim=6), vocab_size=30, num_classes=classes)
    out = model(np.array([[3, 4, 5, 0], [7, 0, 0, 0]]))
    assert out.shape == (2, 1 if classes == 2 else classes)
    if classes > 2:
        np.testing.assert_allclose(np.asarray(out).sum(axis=1), 1.0, rtol=1e-5)


def test_padding_does_not_change_predictions():
    keras.utils.set_random_seed(0)
    model = build_classifier(ModelConfig(units=[8, 8], pooling="max"), vocab_size=30, num_classes=2)
    short = np.asarray(model(np.array([[3, 4, 5]])))
    padded = np.asarray(model(np.array([[3, 4, 5, 0, 0, 0]])))
    np.testing.assert_allclose(short, padded, atol=1e-6)


def test_every_built_lstm_is_cudnn_eligible():
    model = build_classifier(ModelConfig(units=[8, 8], bidirectional=True), 30, 2)
    rows = cudnn_report(model)
    assert len(rows) == 4 and all(r.cudnn for r in rows), rows
    gru = build_classifier(ModelConfig(cell="gru", units=[8]), 30, 2)
    assert all(r.cudnn for r in cudnn_report(gru))


def test_report_explains_fallbacks():
    inp = keras.Input((None, 4))
    x = keras.layers.LSTM(3, recurrent_dropout=0.2, return_sequences=True)(inp)
    x = keras.layers.GRU(3, reset_after=False, return_sequences=True)(x)
    x = keras.layers.LSTM(3, activation="relu", unroll=True)(x)
    rows = cudnn_report(keras.Model(inp, x))
    assert [r.cudnn for r in rows] == [False, False, False]
    assert "recurrent_dropout=0.2" in rows[0].reasons
    assert "reset_after=False" in rows[1].reasons
    assert {"activation is relu, not tanh", "unroll=True"} <= set(rows[2].reasons)
    simple = cudnn_report(keras.Sequential([keras.Input((None, 2)), keras.layers.SimpleRNN(2)]))
    assert not simple[0].cudnn and "no cuDNN kernel" in simple[0].reasons[0]


def test_config_that_leaves_cudnn_warns():
    with pytest.warns(CudnnFallbackWarning, match="recurrent_dropout"):
        build_classifier(ModelConfig(recurrent_dropout=0.1), 30, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CudnnFallbackWarning)
        recurrent_layer("lstm", 4, bidirectional=True)  # default config: no warning


def test_non_empty_sequences_and_masked_pooling():
    out = NonEmptySequences(max_length=2)(np.array([[0, 0, 0], [5, 6, 7]]))
    assert np.asarray(out).tolist() == [[1, 0], [5, 6]]
    x = np.array([[[1.0], [5.0], [-9.0]]], "float32")
    mask = np.array([[True, True, False]])
    assert float(MaskedPooling1D("max")(x, mask=mask)[0, 0]) == 5.0
    assert float(MaskedPooling1D("mean")(x, mask=mask)[0, 0]) == 3.0


def test_hashed_ngrams_ignore_padding():
    from textlstm.layers import HashedNgrams

    grams = np.asarray(HashedNgrams(order=2, buckets=1000)(np.array([[3, 4, 0], [3, 4, 5]])))
    # row 0: unigrams 3, 4 and bigram (3,4); padding contributes zeros only
    assert (grams[0] > 0).sum() == 3 and (grams[1] > 0).sum() == 5
    assert grams[0, 0] == grams[1, 0] and grams[0, 3] == grams[1, 3]  # same n-gram, same bucket
    assert grams.max() < 1000


def test_wide_path_is_padding_invariant_and_trainable():
    keras.utils.set_random_seed(0)
    model = build_classifier(ModelConfig(units=[4], ngram_features=2, ngram_buckets=512), 30, 3)
    assert "ngram_weights" in [l.name for l in model.layers]
    a = np.asarray(model(np.array([[3, 4, 5]])))
    b = np.asarray(model(np.array([[3, 4, 5, 0, 0]])))
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_naive_bayes_weights_point_the_right_way():
    from textlstm.models.ngrams import naive_bayes_weights

    grams = np.array([[5, 7, 0], [5, 8, 0], [6, 7, 0], [6, 8, 0]])
    labels = np.array([1, 1, 0, 0])
    w = naive_bayes_weights(grams, labels, num_classes=2, buckets=10)
    assert w.shape == (10, 1) and w[0, 0] == 0
    assert w[5, 0] > 0 > w[6, 0]          # 5 only in positives, 6 only in negatives
    assert abs(w[7, 0]) < 1e-6            # 7 in both classes equally
    multi = naive_bayes_weights(grams, np.array([0, 1, 2, 2]), num_classes=3, buckets=10)
    assert multi.shape == (10, 3) and multi[6].argmax() == 2
