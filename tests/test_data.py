"""Labels, splits, the demo corpus and the tf.data batching."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import write
from textlstm.config import ConfigError, DataConfig, VectorizerConfig, pipeline_from_dict
from textlstm.data import load_splits
from textlstm.data.batching import batch_by_length, bucket_boundaries, padding_fraction, sequence_lengths, vectorized
from textlstm.data.demo import demo_sentiment
from textlstm.data.labels import LabelEncoder, stratified_split
from textlstm.data.sources import DataError
from textlstm.data.vectorize import load_pretrained_vectors, make_vectorizer


def test_label_encoder_sorts_and_rejects_unseen():
    enc = LabelEncoder.fit(["10", "2", "2", "1"])
    assert enc.names == ["1", "2", "10"] and not enc.binary
    assert enc.encode(["2", "10"]).tolist() == [1, 2]
    with pytest.raises(DataError, match=r"test.tsv:7: label '3' never occurs in the training data"):
        enc.encode(["1", "3"], where=["test.tsv:6", "test.tsv:7"])
    with pytest.raises(DataError, match="at least 2 distinct labels"):
        LabelEncoder.fit(["a", "a"])


def test_stratified_split_is_deterministic_and_stratified():
    labels = ["a"] * 80 + ["b"] * 20
    tr, va = stratified_split(labels, 0.1, seed=3)
    assert (tr, va) == stratified_split(labels, 0.1, seed=3)
    assert sorted(tr + va) == list(range(100))
    assert sum(labels[i] == "a" for i in va) == 8 and sum(labels[i] == "b" for i in va) == 2
    assert stratified_split(labels, 0.1, seed=4)[1] != va


def test_demo_corpus_is_seeded_disjoint_and_balanced():
    a = demo_sentiment(600, seed=1)
    assert a == demo_sentiment(600, seed=1)
    assert a != demo_sentiment(600, seed=2)
    train, val, test = a
    assert len(train) == 480 and len(val) == 60 and len(test) == 60
    texts = [set(t for t, _ in split) for split in a]
    assert not (texts[0] & texts[1]) and not (texts[0] & texts[2]) and not (texts[1] & texts[2])
    labels = [l for _, l in train]
    assert abs(labels.count("positive") - labels.count("negative")) < 0.1 * len(labels)


def test_demo_corpus_defeats_bag_of_words():
    """A unigram bag-of-words model cannot solve the demo: word order matters."""
    import keras

    keras.utils.set_random_seed(0)
    train, _, test = demo_sentiment(3000, seed=0)
    vec = keras.layers.TextVectorization(output_mode="multi_hot")
    vec.adapt([t for t, _ in train])
    y = lambda split: np.array([l == "positive" for _, l in split], "float32")
    x = lambda split: vec(tf.constant([t for t, _ in split]))
    model = keras.Sequential([keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    model.fit(x(train), y(train), epochs=30, batch_size=64, verbose=0)
    train_acc = model.evaluate(x(train), y(train), verbose=0)[1]
    test_acc = model.evaluate(x(test), y(test), verbose=0)[1]
    assert train_acc < 0.75 and test_acc < 0.7, (train_acc, test_acc)


def test_load_splits_holds_out_validation_from_files(tmp_path):
    rows = "".join(f"{i % 2}\ttext number {i}\n" for i in range(50))
    cfg = DataConfig(train=str(write(tmp_path / "t.tsv", rows)), text=1, label=0, validation_fraction=0.2)
    splits = load_splits(cfg, seed=0)
    assert len(splits.train) == 40 and len(splits.validation) == 10 and splits.test is None
    assert {r[1] for r in splits.validation.rows} == {"0", "1"}
    with pytest.raises(DataError, match="data.train is not set"):
        load_splits(DataConfig(), seed=0)


def test_vectorizer_standardizes_html_and_punctuation():
    vec = make_vectorizer(VectorizerConfig(), ["Great film!<br />It's <b>fun</b>, isn't it?"])
    vocab = vec.get_vocabulary()
    assert {"great", "film", "it's", "fun", "isn't", "it"} <= set(vocab)
    assert not any(c in "".join(vocab) for c in "<>!?,/")
    chars = make_vectorizer(VectorizerConfig(level="character", standardize="lower"), ["Ab"])
    assert set(chars.get_vocabulary()[2:]) == {"a", "b"}


def test_pretrained_vectors_glove_and_word2vec(tmp_path):
    vocab = ["", "[UNK]", "good", "film", "zzz"]
    glove = write(tmp_path / "g.txt", "good 1 2 3\nfilm 4 5 6\nother 0 0 0\n")
    m, cov = load_pretrained_vectors(glove, vocab)
    assert m.shape == (5, 3) and cov == pytest.approx(2 / 3)
    assert m[2].tolist() == [1, 2, 3] and not m[0].any()
    w2v = write(tmp_path / "w.txt", "2 3\ngood 1 2 3\nfilm 4 5\n")
    with pytest.raises(DataError, match=r"w.txt:3: expected 3 numbers"):
        load_pretrained_vectors(w2v, vocab)


def test_bucketed_batches_are_right_padded_and_tight():
    rng = np.random.default_rng(0)
    texts = [" ".join([f"w{rng.integers(50)}"] * int(n)) for n in rng.integers(1, 60, 400)]
    vec = make_vectorizer(VectorizerConfig(), texts)
    ids = vectorized(texts, vec)
    lengths = sequence_lengths(ids)
    assert lengths.tolist() == [len(t.split()) for t in texts]
    bounds = bucket_boundaries(lengths, 6)
    assert bounds == sorted(bounds) and len(bounds) >= 3
    ds = tf.data.Dataset.zip((ids, tf.data.Dataset.from_tensor_slices(np.zeros(400, "int64"))))
    bucketed = batch_by_length(ds, 16, bounds, shuffle=True, seed=1)
    plain = batch_by_length(ds, 16, bounds, shuffle=True, seed=1, bucketing=False)
    seen = 0
    for x, _ in bucketed:
        x = x.numpy()
        mask = x != 0
        # right padding: once a row hits padding it stays padding; no row fully padded
        assert (np.diff(mask.astype(int), axis=1) <= 0).all()
        assert mask[:, 0].all()
        seen += len(x)
    assert seen == 400
    assert padding_fraction(bucketed) < 0.5 * padding_fraction(plain)


def test_buckets_follow_the_inputs_not_a_long_multi_hot_target():
    # Multilabel targets are 1-D multi-hot vectors as long as the label set: bucketing must not
    # read them as a sequence (with 40 labels every example looked 40 tokens long).
    lengths = [2, 30] * 32
    ids = tf.data.Dataset.from_tensor_slices(tf.ragged.constant([[1] * n for n in lengths]))
    ids = ids.map(lambda r: r)  # ragged rows -> 1-D tensors
    multi_hot = tf.data.Dataset.from_tensor_slices(np.zeros((64, 40), "float32"))
    ds = tf.data.Dataset.zip((ids, multi_hot))
    widths = sorted(int(x.shape[1]) for x, _ in batch_by_length(ds, 32, [10, 20]))
    assert widths == [2, 30]


def test_max_length_boundaries():
    assert bucket_boundaries([5, 500, 1000], 4, max_length=100)[-1] <= 100
    assert bucket_boundaries([], 4) == []


def test_subword_vectorizer_spells_unseen_words_and_saves(tmp_path):
    """level: subword: WordPiece pieces learned on the training texts spell a
    word never seen whole; the vectorizer saves and loads inside a model."""
    pytest.importorskip("tensorflow_text")
    import keras

    import textlstm  # noqa: F401  (registers the saved objects)

    stems = ["watch", "wear", "read", "play", "break", "bear"]
    texts = [
        f"the {a}{s}able film , {s}ing and {a}{s}ed" for s in stems for a in ("un", "re", "") if f"{a}{s}" != "unread"
    ] * 5
    config = VectorizerConfig(level="subword", standardize="lower", max_tokens=100)
    vectorizer = make_vectorizer(config, texts)
    vocabulary = vectorizer.get_vocabulary()
    assert "##able" in vocabulary and "unreadable" not in vocabulary
    ids = vectorizer(tf.constant(["Unreadable ,", "qqq"])).numpy()
    pieces = [vocabulary[i] for i in ids[0] if i]
    assert "".join(p.removeprefix("##") for p in pieces[:-1]) == "unreadable" and pieces[-1] == ","
    assert [vocabulary[i] for i in ids[1] if i] == ["[UNK]"]  # a word the pieces cannot spell
    text = keras.Input(shape=(), dtype="string")
    model = keras.Model(text, vectorizer(text))
    model.save(tmp_path / "v.keras")
    loaded = keras.models.load_model(tmp_path / "v.keras")
    np.testing.assert_array_equal(loaded(tf.constant(["Unreadable ,", "qqq"])).numpy(), ids)


def test_subword_vectorizer_needs_training_texts():
    with pytest.raises(ConfigError, match="learns its pieces from training texts"):
        make_vectorizer(VectorizerConfig(level="subword"), None)


@pytest.mark.parametrize(
    "vectorizer,message",
    [
        ({"level": "subwords"}, "vectorizer.level must be word, character or subword, got 'subwords'"),
        ({"level": "subword", "max_tokens": 10}, "vectorizer.max_tokens must be at least 100 for level: subword"),
    ],
)
def test_bad_vectorizer_settings_fail_when_the_pipeline_is_read(vectorizer, message):
    with pytest.raises(ConfigError, match=message):
        pipeline_from_dict({"vectorizer": vectorizer})


def test_subword_without_tensorflow_text_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorflow_text(name, *args, **kwargs):
        if name.startswith("tensorflow_text"):
            raise ImportError(f"No module named '{name}'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorflow_text)
    with pytest.raises(ConfigError, match=r"pip install 'textlstm\[subword\]'"):
        make_vectorizer(VectorizerConfig(level="subword"), ["a good film", "a dull film"])
