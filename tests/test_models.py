import warnings

import keras
import numpy as np
import pytest

from textlstm.config import ConfigError, ModelConfig
from textlstm.layers import MaskedPooling1D, NonEmptySequences
from textlstm.models import CudnnFallbackWarning, build_classifier, cudnn_report, ngram_layer, recurrent_layer


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


def test_char_ngram_table_shares_subwords_between_inflections():
    from textlstm.models.ngrams import char_ngram_table

    long_word = "".join(chr(0x4E00 + i) for i in range(40))  # 40 distinct characters
    table = char_ngram_table(["", "[UNK]", "film", "films", long_word], 2, 5, buckets=1 << 20)
    assert table.dtype == np.int32 and not table[:2].any()       # padding and [UNK] have none
    film, films = set(table[2][table[2] > 0]), set(table[3][table[3] > 0])
    assert len(film) == 5 + 4 + 3 + 2                             # <f fi il lm m> ... <film> in "<film>"
    assert len(film & films) == len(film) - 4                     # all but the four ending in "m>"
    assert (table[4] > 0).sum() == 64 and table.shape[1] == 64     # long tokens are capped
    with pytest.raises(ValueError, match="min <= max"):
        char_ngram_table(["a"], 5, 2, buckets=100)


def test_hashed_ngrams_add_each_tokens_char_ngrams_and_survive_saving(tmp_path):
    from textlstm.layers import HashedNgrams
    from textlstm.models.ngrams import char_ngram_table

    table = char_ngram_table(["", "[UNK]", "good", "film"], 2, 3, buckets=1000)
    layer = HashedNgrams(order=1, buckets=1000, char_ngrams_shape=table.shape)
    layer.char_ngrams.assign(table)
    grams = np.asarray(layer(np.array([[2, 3, 0]])))
    words, chars = grams[0, :3], grams[0, 3:]          # unigrams first, then k char n-grams per position
    assert (words > 0).tolist() == [True, True, False]
    assert chars.shape == (3 * table.shape[1],)
    assert sorted(chars[chars > 0]) == sorted([*table[2][table[2] > 0], *table[3][table[3] > 0]])
    model = keras.Sequential([keras.Input((None,), dtype="int64"), layer])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(np.asarray(loaded(np.array([[2, 3, 0]]))), grams)


@pytest.mark.parametrize("learn", ["scale", "all"])
def test_wide_path_learning_modes(learn):
    from textlstm.models.ngrams import char_ngram_table

    keras.utils.set_random_seed(0)
    table = char_ngram_table(["", "[UNK]"] + [f"w{i}" for i in range(28)], 2, 3, buckets=512)
    ratios = np.random.default_rng(0).normal(size=(512, 1)).astype("float32")
    config = ModelConfig(units=[4], ngram_features=2, ngram_chars=[2, 3], ngram_buckets=512, ngram_learn=learn)
    model = build_classifier(config, 30, 2, ngram_weights=ratios, char_ngrams=table)
    trainable = {w.path.split("/")[0] for w in model.trainable_weights}
    assert ("ngram_weights" in trainable) == (learn == "all")
    assert ("ngram_scale" in trainable) == (learn == "scale")
    a = np.asarray(model(np.array([[3, 4, 5]])))
    np.testing.assert_allclose(a, np.asarray(model(np.array([[3, 4, 5, 0, 0]]))), atol=1e-6)


def test_nbsvm_learns_factors_on_its_ratios_and_hands_them_over():
    from textlstm.models import build_nbsvm, nbsvm_weights

    keras.utils.set_random_seed(0)
    # token 3 is positive, 4 negative; the ratios know only token 3
    ratios = np.zeros((64, 1), "float32")
    ids = np.array([[3, 0], [4, 0], [3, 5], [4, 5]] * 16)
    y = np.array([1, 0, 1, 0] * 16, "float32")
    config = ModelConfig(ngram_features=1, ngram_buckets=64, ngram_l2=1e-4)
    from textlstm.layers import HashedNgrams
    g3, g4 = np.asarray(HashedNgrams(1, 64)(np.array([[3, 4]])))[0]
    ratios[g3], ratios[g4] = 1.0, -0.5
    model = build_nbsvm(config, 2, ratios)
    assert [w.path.split("/")[0] for w in model.trainable_weights] == ["ngram_factors", "logits", "logits"]
    assert np.allclose(nbsvm_weights(model), 0.0)              # factors start at 0
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    model.fit(ids, y, epochs=20, verbose=0)
    weights = nbsvm_weights(model)[:, 0]
    assert weights[g3] > 0 > weights[g4]
    mask = np.ones(64, bool)
    mask[[g3, g4]] = False
    assert np.allclose(weights[mask], 0.0)                      # no ratio, no weight


def test_wide_path_config_errors():
    with pytest.raises(ConfigError, match="ngram_learn must be"):
        build_classifier(ModelConfig(units=[4], ngram_features=2, ngram_buckets=64, ngram_learn="svm"), 30, 2)
    with pytest.raises(ConfigError, match="character n-gram table"):
        build_classifier(ModelConfig(units=[4], ngram_chars=[2, 4], ngram_buckets=64), 30, 2)


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


@pytest.mark.parametrize("num_classes", [2, 3])
def test_leave_one_out_correction_equals_ratios_without_the_text(num_classes):
    """The corrected sum for a counted text equals the sum of the ratios
    recomputed from counts without that text (up to the unchanged totals);
    texts with label -1 get no correction."""
    from textlstm.models.ngrams import LeaveOneOutCorrection, naive_bayes_counts, naive_bayes_ratios

    rng = np.random.default_rng(0)
    buckets = 5000  # the smoothing mass keeps the totals nearly fixed, as with 2**20 buckets
    grams = rng.integers(1, 50, size=(40, 6))
    grams[:, 4:] = 0  # padding
    labels = rng.integers(0, num_classes, size=40)
    counts = naive_bayes_counts(grams, labels, num_classes, buckets)
    layer = LeaveOneOutCorrection(counts)
    correction = np.asarray(layer([grams, labels]))
    full = naive_bayes_ratios(counts)
    for i in (0, 7, 23):
        without = naive_bayes_counts(np.delete(grams, i, 0), np.delete(labels, i), num_classes, buckets)
        left_out = naive_bayes_ratios(without)  # as if text i had never been counted
        row = grams[i][grams[i] > 0]
        expected = left_out[row].sum(0) - full[row].sum(0)
        np.testing.assert_allclose(correction[i], expected, atol=0.01)  # the totals moved by 4 of ~5,000
        assert np.abs(correction[i]).max() > 0.1
    np.testing.assert_array_equal(np.asarray(layer([grams[:3], np.full(3, -1)])), 0.0)


def test_leave_one_out_trainer_shares_weights_and_corrects_training_texts():
    from textlstm.models import leave_one_out_trainer
    from textlstm.models.ngrams import naive_bayes_counts, naive_bayes_ratios

    config = ModelConfig(units=[4], embedding_dim=4, ngram_features=1, ngram_buckets=64)
    ids = np.array([[2, 3, 0], [4, 5, 6], [2, 7, 0], [4, 8, 9]])
    labels = np.array([1, 0, 1, 0])
    gram_ids = np.asarray(ngram_layer(config)(ids))
    counts = naive_bayes_counts(gram_ids, labels, 2, 64)
    model = build_classifier(config, 10, 2, ngram_weights=naive_bayes_ratios(counts))
    trainer = leave_one_out_trainer(model, counts)
    assert {id(v) for v in trainer.trainable_variables} == {id(v) for v in model.trainable_variables}
    # Not counted (-1): the trainer is the model. Counted: less sure of its own label.
    np.testing.assert_allclose(trainer([ids, np.full(4, -1)]), model(ids), atol=1e-6)
    own = np.asarray(trainer([ids, labels]))[:, 0]
    plain = np.asarray(model(ids))[:, 0]
    assert (own[labels == 1] < plain[labels == 1]).all() and (own[labels == 0] > plain[labels == 0]).all()
    with pytest.raises(ConfigError, match="fixed naive Bayes weights"):
        leave_one_out_trainer(build_classifier(ModelConfig(units=[4], embedding_dim=4), 10, 2), counts)


def test_initial_tables_are_weights_not_config(tmp_path):
    """Naive Bayes ratios and pretrained vectors are assigned as weights: the
    saved model's JSON config stays small, and loading restores the values."""
    import zipfile

    rng = np.random.default_rng(0)
    ratios = rng.normal(size=(2**15, 1)).astype("float32")
    vectors = rng.normal(size=(30, 16)).astype("float32")
    model = build_classifier(ModelConfig(units=[4], ngram_features=2, ngram_buckets=2**15, embedding_dim=16), 30, 2,
                             embeddings=vectors, ngram_weights=ratios)
    np.testing.assert_array_equal(model.get_layer("ngram_weights").get_weights()[0], ratios)
    np.testing.assert_array_equal(model.get_layer("embedding").get_weights()[0], vectors)
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        assert archive.getinfo("config.json").file_size < 100_000  # the ratios alone are ~600 KB of JSON
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.get_layer("ngram_weights").get_weights()[0], ratios)
    np.testing.assert_array_equal(loaded.get_layer("embedding").get_weights()[0], vectors)
