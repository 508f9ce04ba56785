import warnings

import keras
import numpy as np
import pytest

from textlstm.config import ConfigError, ModelConfig, WideConfig
from textlstm.layers import HashedNgrams, MaskedPooling1D, NonEmptySequences
from textlstm.models import CudnnFallbackWarning, build_classifier, cudnn_report, recurrent_layer
from textlstm.wide.component import WidePath, build_nbsvm, nbsvm_weights
from textlstm.wide.ngrams import char_ngram_table, naive_bayes_weights


def test_lazy_exports_resolve():
    import textlstm.models
    from textlstm.models.heads import compile_classifier

    for name in textlstm.models.__all__:
        assert getattr(textlstm.models, name) is not None, name
    assert textlstm.models.compile_classifier is compile_classifier
    assert textlstm.models.ModelConfig is ModelConfig


@pytest.mark.parametrize(
    "cell,bidi,pooling,classes",
    [
        ("lstm", True, "last", 2),
        ("lstm", False, "max", 5),
        ("gru", True, "mean", 3),
        ("simple_rnn", False, "last", 2),
    ],
)
def test_classifier_shapes(cell, bidi, pooling, classes):
    model = build_classifier(
        ModelConfig(cell=cell, bidirectional=bidi, pooling=pooling, units=[8, 4], embedding_dim=6),
        vocab_size=30,
        num_classes=classes,
    )
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


def test_recurrent_layer_that_leaves_cudnn_warns():
    # model.recurrent_dropout/activation are gone from the config; the Python API still takes them.
    with pytest.warns(CudnnFallbackWarning, match="recurrent_dropout"):
        recurrent_layer("lstm", 4, recurrent_dropout=0.1)
    with pytest.warns(CudnnFallbackWarning, match="activation='relu'"):
        recurrent_layer("gru", 4, activation="relu", bidirectional=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CudnnFallbackWarning)
        recurrent_layer("lstm", 4, bidirectional=True)  # default config: no warning
        build_classifier(ModelConfig(units=[4], rnn_dropout=0.1), 30, 2)  # input dropout keeps cuDNN


def test_non_empty_sequences_and_masked_pooling():
    out = NonEmptySequences(max_length=2)(np.array([[0, 0, 0], [5, 6, 7]]))
    assert np.asarray(out).tolist() == [[1, 0], [5, 6]]
    x = np.array([[[1.0], [5.0], [-9.0]]], "float32")
    mask = np.array([[True, True, False]])
    assert float(MaskedPooling1D("max")(x, mask=mask)[0, 0]) == 5.0
    assert float(MaskedPooling1D("mean")(x, mask=mask)[0, 0]) == 3.0


def test_hashed_ngrams_ignore_padding():
    grams = np.asarray(HashedNgrams(order=2, buckets=1000)(np.array([[3, 4, 0], [3, 4, 5]])))
    # row 0: unigrams 3, 4 and bigram (3,4); padding contributes zeros only
    assert (grams[0] > 0).sum() == 3 and (grams[1] > 0).sum() == 5
    assert grams[0, 0] == grams[1, 0] and grams[0, 3] == grams[1, 3]  # same n-gram, same bucket
    assert grams.max() < 1000


def test_wide_path_is_padding_invariant_and_only_its_scale_trains():
    keras.utils.set_random_seed(0)
    path = WidePath(WideConfig(ngrams=2, buckets=512), 0, None, None)
    model = build_classifier(ModelConfig(units=[4]), 30, 3, wide=[path])
    names = [layer.name for layer in model.layers]
    assert {"wide_0_ngrams", "wide_0_weights", "wide_0_sum", "wide_0_scale", "wide_and_deep"} <= set(names)
    assert "fusion" not in names
    trainable = {w.path.split("/")[0] for w in model.trainable_weights}
    assert "wide_0_scale" in trainable and "wide_0_weights" not in trainable
    a = np.asarray(model(np.array([[3, 4, 5]])))
    b = np.asarray(model(np.array([[3, 4, 5, 0, 0]])))
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_wide_paths_keep_their_weights_fixed_with_char_ngrams():
    """All n-gram weights are fixed (naive Bayes or NBSVM); a joint path learns
    one scale (identity at first), a late path none: it meets the network in `fusion`."""
    keras.utils.set_random_seed(0)
    table = char_ngram_table(["", "[UNK]"] + [f"w{i}" for i in range(28)], 2, 3, buckets=512)
    ratios = np.random.default_rng(0).normal(size=(512, 1)).astype("float32")
    joint = WidePath(WideConfig(ngrams=2, chars=[2, 3], buckets=512), 0, ratios, table)
    late = WidePath(WideConfig(ngrams=1, buckets=512, fusion="late"), 1, ratios, None)
    model = build_classifier(ModelConfig(units=[4]), 30, 2, wide=[joint, late])
    trainable = {w.path.split("/")[0] for w in model.trainable_weights}
    assert "wide_0_scale" in trainable and not trainable & {"wide_0_weights", "wide_1_weights", "fusion"}
    assert "wide_1_scale" not in [layer.name for layer in model.layers]
    np.testing.assert_array_equal(model.get_layer("wide_0_weights").get_weights()[0], ratios)
    np.testing.assert_array_equal(model.get_layer("wide_0_scale").get_weights()[0], [[1.0]])
    np.testing.assert_array_equal(np.asarray(model.get_layer("wide_0_ngrams").char_ngrams), table)
    fusion = model.get_layer("fusion")
    assert [t.name for t in fusion.input] == [
        model.get_layer("wide_and_deep").output.name,
        model.get_layer("wide_1_sum").output.name,
    ]
    np.testing.assert_array_equal(fusion.source_weights.numpy(), [1.0, 0.0])  # the network alone until fitted
    a = np.asarray(model(np.array([[3, 4, 5]])))
    np.testing.assert_allclose(a, np.asarray(model(np.array([[3, 4, 5, 0, 0]]))), atol=1e-6)


def test_char_ngram_table_shares_subwords_between_inflections():
    long_word = "".join(chr(0x4E00 + i) for i in range(40))  # 40 distinct characters
    table = char_ngram_table(["", "[UNK]", "film", "films", long_word], 2, 5, buckets=1 << 20)
    assert table.dtype == np.int32 and not table[:2].any()  # padding and [UNK] have none
    film, films = set(table[2][table[2] > 0]), set(table[3][table[3] > 0])
    assert len(film) == 5 + 4 + 3 + 2  # <f fi il lm m> ... <film> in "<film>"
    assert len(film & films) == len(film) - 4  # all but the four ending in "m>"
    assert (table[4] > 0).sum() == 64 and table.shape[1] == 64  # long tokens are capped
    with pytest.raises(ValueError, match="min <= max"):
        char_ngram_table(["a"], 5, 2, buckets=100)


def test_hashed_ngrams_add_each_tokens_char_ngrams_and_survive_saving(tmp_path):
    table = char_ngram_table(["", "[UNK]", "good", "film"], 2, 3, buckets=1000)
    layer = HashedNgrams(order=1, buckets=1000, char_ngrams_shape=table.shape)
    layer.char_ngrams.assign(table)
    grams = np.asarray(layer(np.array([[2, 3, 0]])))
    words, chars = grams[0, :3], grams[0, 3:]  # unigrams first, then k char n-grams per position
    assert (words > 0).tolist() == [True, True, False]
    assert chars.shape == (3 * table.shape[1],)
    assert sorted(chars[chars > 0]) == sorted([*table[2][table[2] > 0], *table[3][table[3] > 0]])
    model = keras.Sequential([keras.Input((None,), dtype="int64"), layer])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(np.asarray(loaded(np.array([[2, 3, 0]]))), grams)


def test_nbsvm_learns_factors_on_its_ratios_and_hands_them_over():
    keras.utils.set_random_seed(0)
    # token 3 is positive, 4 negative; the ratios know only token 3
    ratios = np.zeros((64, 1), "float32")
    ids = np.array([[3, 0], [4, 0], [3, 5], [4, 5]] * 16)
    y = np.array([1, 0, 1, 0] * 16, "float32")
    config = WideConfig(ngrams=1, buckets=64, l2=1e-4)
    g3, g4 = np.asarray(HashedNgrams(1, 64)(np.array([[3, 4]])))[0]
    ratios[g3], ratios[g4] = 1.0, -0.5
    model = build_nbsvm(config, 2, ratios)
    assert [w.path.split("/")[0] for w in model.trainable_weights] == ["ngram_factors", "logits", "logits"]
    assert np.allclose(nbsvm_weights(model), 0.0)  # factors start at 0
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    model.fit(ids, y, epochs=20, verbose=0)
    weights = nbsvm_weights(model)[:, 0]
    assert weights[g3] > 0 > weights[g4]
    mask = np.ones(64, bool)
    mask[[g3, g4]] = False
    assert np.allclose(weights[mask], 0.0)  # no ratio, no weight


def test_wide_path_config_errors():
    with pytest.raises(ConfigError, match=r"model.wide\[1\]: init must be naive_bayes, nbsvm or zeros"):
        ModelConfig(units=[4], wide=[{"ngrams": 2}, {"ngrams": 2, "init": "svm"}])
    with pytest.raises(ConfigError, match="character n-gram table"):
        build_classifier(
            ModelConfig(units=[4]), 30, 2, wide=[WidePath(WideConfig(chars=[2, 4], buckets=64), 0, None, None)]
        )


def test_naive_bayes_weights_point_the_right_way():
    grams = np.array([[5, 7, 0], [5, 8, 0], [6, 7, 0], [6, 8, 0]])
    labels = np.array([1, 1, 0, 0])
    w = naive_bayes_weights(grams, labels, num_classes=2, buckets=10)
    assert w.shape == (10, 1) and w[0, 0] == 0
    assert w[5, 0] > 0 > w[6, 0]  # 5 only in positives, 6 only in negatives
    assert abs(w[7, 0]) < 1e-6  # 7 in both classes equally
    multi = naive_bayes_weights(grams, np.array([0, 1, 2, 2]), num_classes=3, buckets=10)
    assert multi.shape == (10, 3) and multi[6].argmax() == 2


def test_initial_tables_are_weights_not_config(tmp_path):
    """Naive Bayes ratios and pretrained vectors are assigned as weights: the
    saved model's JSON config stays small, and loading restores the values."""
    import zipfile

    rng = np.random.default_rng(0)
    ratios = rng.normal(size=(2**15, 1)).astype("float32")
    vectors = rng.normal(size=(30, 16)).astype("float32")
    path = WidePath(WideConfig(ngrams=2, buckets=2**15), 0, ratios, None)
    model = build_classifier(ModelConfig(units=[4], embedding_dim=16), 30, 2, embeddings=vectors, wide=[path])
    np.testing.assert_array_equal(model.get_layer("wide_0_weights").get_weights()[0], ratios)
    np.testing.assert_array_equal(model.get_layer("embedding").get_weights()[0], vectors)
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        assert archive.getinfo("config.json").file_size < 100_000  # the ratios alone are ~600 KB of JSON
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.get_layer("wide_0_weights").get_weights()[0], ratios)
    np.testing.assert_array_equal(loaded.get_layer("embedding").get_weights()[0], vectors)
