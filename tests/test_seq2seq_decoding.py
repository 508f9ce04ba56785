"""Greedy decoding and beam search: consistency with the training model and
beam search never scoring below greedy, on random and briefly trained models."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import textlstm  # noqa: F401
from textlstm.config import pipeline_from_dict
from textlstm.seq2seq.config import Seq2SeqModelConfig
from textlstm.seq2seq.decoding import (
    Seq2SeqInference,
    ids_to_texts,
    special_ids,
    standardize_keep_brackets,
    target_vocabulary,
)
from textlstm.seq2seq.demo import make_date_task
from textlstm.seq2seq.model import build_seq2seq
from textlstm.seq2seq.translator import Translator

START, END = 2, 3
TOL = 1e-4


def random_sources(rng, n=48, s=9, vocab=30):
    src = rng.integers(4, vocab, size=(n, s))
    for i in range(n):
        src[i, rng.integers(1, s + 1) :] = 0
    return src


def teacher_forced_log_prob(model, source, ids, start_id):
    """Sum of log P(ids[t] | ids[:t], source) under the *training* model."""
    valid = ids != 0
    target_in = np.concatenate([np.full((len(ids), 1), start_id), ids[:, :-1]], axis=1)
    target_in = np.where(np.concatenate([np.ones((len(ids), 1), bool), valid[:, :-1]], 1), target_in, 0)
    logits = model.predict((source, target_in), verbose=0)
    log_probs = keras.ops.convert_to_numpy(keras.ops.log_softmax(logits, axis=-1))
    token = np.take_along_axis(log_probs, ids[..., None].astype(int), axis=-1)[..., 0]
    return (token * valid).sum(1)


def check_decoding(model, inference, source, max_length, start_id, end_id):
    greedy = inference.greedy(source, max_length=max_length)
    beam1 = inference.beam_search(source, beam_width=1, length_penalty=0.0, max_length=max_length)
    np.testing.assert_array_equal(beam1.ids, greedy.ids)
    np.testing.assert_allclose(beam1.scores, greedy.scores, atol=TOL)

    results = {"greedy": greedy}
    for k in (2, 4):
        beam = inference.beam_search(source, beam_width=k, length_penalty=0.0, max_length=max_length)
        raw = inference.beam_search(
            source, beam_width=k, length_penalty=0.0, max_length=max_length, greedy_fallback=False
        )
        assert (beam.scores >= greedy.scores - TOL).all(), (beam.scores - greedy.scores).min()
        # The beams themselves (no fallback) beat or tie greedy almost everywhere.
        assert np.mean(raw.scores >= greedy.scores - TOL) >= 0.9
        assert (beam.scores >= raw.scores - TOL).all()
        results[k] = beam
    for result in results.values():
        # Reported scores are the model's own log-probabilities of the returned ids.
        np.testing.assert_allclose(result.log_probs.sum(1), result.scores, atol=TOL)
        np.testing.assert_allclose(
            teacher_forced_log_prob(model, source, result.ids, start_id), result.scores, atol=1e-3
        )
        # Each row: tokens, then the end token (unless cut at max_length), then only padding.
        for row, n in zip(result.ids, result.lengths):
            assert (row[:n] != 0).all() and (row[n:] == 0).all()
            assert n == max_length or row[n - 1] == end_id
            assert end_id not in row[: n - 1].tolist() and start_id not in row.tolist()
        # Attention: a distribution over real source positions per produced token.
        att = result.attention
        src_valid = (source != 0)[:, None, : att.shape[2]]
        tok_valid = (result.ids != 0)[..., None]
        assert np.abs(att * ~src_valid).max() < 1e-6
        np.testing.assert_allclose(att.sum(-1)[tok_valid[..., 0]], 1.0, atol=1e-4)
    return results


@pytest.mark.parametrize("attention", ["luong", "bahdanau"])
def test_beam_vs_greedy_on_random_model(attention):
    keras.utils.set_random_seed(0)
    cfg = Seq2SeqModelConfig(units=[24], embedding_dim=12, attention=attention)
    model = build_seq2seq(cfg, 30, 11)
    inference = Seq2SeqInference(model, START, END)
    source = random_sources(np.random.default_rng(0))
    results = check_decoding(model, inference, source, 10, START, END)
    # Search matters on an untrained model: beam finds likelier outputs for most sentences.
    assert np.mean(results[4].scores > results["greedy"].scores + TOL) > 0.5


@pytest.fixture(scope="module")
def trained():
    """Two epochs on 1500 dates through the package's data layer and training loop."""
    task = make_date_task(n_train=1500, n_validation=10, n_test=64, seed=1)
    cfg = pipeline_from_dict(
        {
            "task": "translation",
            "vectorizer": {"level": "character", "standardize": "lower", "target": {"standardize": "none"}},
            "model": {"units": [32], "embedding_dim": 16, "max_decode_length": 12},
            "train": {"epochs": 2, "batch_size": 64, "learning_rate": 5e-3, "patience": None, "verbose": 0, "seed": 0},
        }
    )
    translator = Translator(cfg).fit([s for s, _ in task.train], [t for _, t in task.train])
    source = translator.source_ids([s for s, _ in task.test])
    start_id, end_id = special_ids(translator.target_vocabulary)
    return translator.network, translator.inference, source, translator.target_vocabulary, start_id, end_id


def test_beam_vs_greedy_on_trained_model(trained):
    model, inference, source, vocab, start_id, end_id = trained
    results = check_decoding(model, inference, source, 12, start_id, end_id)
    # Briefly trained: outputs look like dates already (end token, digits and dashes).
    texts = ids_to_texts(results[4].ids, vocab, end_id=end_id, separator="")
    assert np.mean([len(t) == 10 and t[4] == "-" for t in texts]) > 0.5


def test_length_penalty_ranks_the_beams(trained):
    model, inference, source, *_ = trained
    for alpha in (0.0, 1.0):
        r = inference.beam_search(source, beam_width=3, length_penalty=alpha, max_length=12, greedy_fallback=False)
        lengths = (r.beam_ids != 0).sum(2)
        ranked = r.beam_scores / ((5.0 + lengths) / 6.0) ** alpha
        assert (np.diff(ranked, axis=1) <= TOL).all()  # best first
        np.testing.assert_array_equal(r.ids, r.beam_ids[:, 0])


def test_decode_batches_and_max_length(trained):
    _, inference, source, vocab, start_id, end_id = trained
    whole = inference.decode(source, method="greedy", batch_size=1000)
    pieces = inference.decode(source, method="greedy", batch_size=7)
    assert whole == pieces and all(end_id not in row for row in whole)
    short = inference.greedy(source, max_length=3)
    assert short.ids.shape[1] <= 3


def test_special_tokens_and_text_helpers():
    vocab = target_vocabulary(["", "[UNK]", "b", "a"])
    assert vocab == ["", "[UNK]", "[start]", "[end]", "b", "a"] and special_ids(vocab) == (2, 3)
    assert ids_to_texts([[4, 5, 3, 4], [5, 0, 0, 0]], vocab, end_id=3, separator="") == ["ba", "a"]
    # Brackets survive the standardization, unlike TextVectorization's default.
    vec = keras.layers.TextVectorization(standardize=standardize_keep_brackets)
    vec.adapt(tf.constant(["[start] Hello, world! [end]"]))
    assert {"[start]", "[end]", "hello", "world"} <= set(vec.get_vocabulary())
    default = keras.layers.TextVectorization()
    default.adapt(tf.constant(["[start] hello [end]"]))
    assert "[start]" not in default.get_vocabulary()
