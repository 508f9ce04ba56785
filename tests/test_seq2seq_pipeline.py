"""A minimal tf.data pipeline for the seq2seq tests (phase 1 only: the data
layer in `textlstm.data` replaces it) and checks of that pipeline.

Character-level `TextVectorization` per side; targets become
`[start] + chars` (decoder input) and `chars + [end]` (decoder output);
`padded_batch` pads on the right with 0.
"""

import numpy as np
import pytest

import textlstm  # noqa: F401  (sets the Keras backend)
import keras
import tensorflow as tf

from textlstm.seq2seq.decoding import ids_to_texts, special_ids, target_vocabulary
from textlstm.seq2seq.demo import make_date_task


def make_vectorizers(pairs):
    """(source vectorizer, target vectorizer, target vocabulary list, start id, end id)."""
    source = keras.layers.TextVectorization(standardize="lower", split="character")
    source.adapt(tf.constant([s for s, _ in pairs]))
    plain = keras.layers.TextVectorization(standardize=None, split="character")
    plain.adapt(tf.constant([t for _, t in pairs]))
    vocabulary = target_vocabulary(plain.get_vocabulary())
    target = keras.layers.TextVectorization(standardize=None, split="character", vocabulary=vocabulary)
    start_id, end_id = special_ids(target.get_vocabulary())
    return source, target, target.get_vocabulary(), start_id, end_id


def make_dataset(pairs, source_vec, target_vec, start_id, end_id, batch_size=64, shuffle_seed=None):
    """((source_ids, target_in_ids), target_out_ids) batches, right-padded with 0."""
    ds = tf.data.Dataset.from_tensor_slices(([s for s, _ in pairs], [t for _, t in pairs]))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(pairs), seed=shuffle_seed, reshuffle_each_iteration=True)

    def encode(src, tgt):
        src_ids = tf.cast(source_vec(src), tf.int64)
        tgt_ids = tf.cast(target_vec(tgt), tf.int64)
        target_in = tf.concat([[tf.constant(start_id, tf.int64)], tgt_ids], 0)
        target_out = tf.concat([tgt_ids, [tf.constant(end_id, tf.int64)]], 0)
        return (src_ids, target_in), target_out

    return ds.map(encode, num_parallel_calls=tf.data.AUTOTUNE).padded_batch(batch_size).prefetch(2)


def source_matrix(texts, source_vec):
    """Right-padded int64 matrix of source ids."""
    return source_vec(tf.constant(texts)).numpy().astype(np.int64)


def test_pipeline_teacher_forcing_and_right_padding():
    pairs = make_date_task(n_train=50, n_validation=1, n_test=1, seed=3).train
    src_vec, tgt_vec, vocab, start_id, end_id = make_vectorizers(pairs)
    assert vocab[:4] == ["", "[UNK]", "[start]", "[end]"] and (start_id, end_id) == (2, 3)
    (src, tin), tout = next(iter(make_dataset(pairs[:8], src_vec, tgt_vec, start_id, end_id, batch_size=8)))
    src, tin, tout = src.numpy(), tin.numpy(), tout.numpy()
    assert (tin[:, 0] == start_id).all()
    np.testing.assert_array_equal(tin[:, 1:], tout[:, :-1])  # shifted by one (ISO dates: no padding)
    assert (tout[:, -1] == end_id).all()
    for row, (text, _) in zip(src, pairs[:8]):
        n = len(text)
        assert (row[:n] != 0).all() and (row[n:] == 0).all()  # right padding
    assert ids_to_texts(tout, vocab, end_id=end_id, separator="") == [t for _, t in pairs[:8]]
