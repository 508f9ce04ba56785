"""Slow: the prototype training run on the date task (CPU, a few minutes).

    pytest -m slow tests/test_seq2seq_train.py -s
"""

import time

import pytest

import textlstm  # noqa: F401
import keras

from test_seq2seq_pipeline import make_dataset, make_vectorizers, source_matrix
from textlstm.seq2seq.config import Seq2SeqModelConfig
from textlstm.seq2seq.decoding import Seq2SeqInference
from textlstm.seq2seq.demo import make_date_task
from textlstm.seq2seq.metrics import corpus_scores
from textlstm.seq2seq.model import build_seq2seq, compile_seq2seq


@pytest.mark.slow
def test_date_task_reaches_95_percent_exact_match():
    keras.utils.set_random_seed(0)
    task = make_date_task(n_train=10000, n_validation=500, n_test=1000, seed=0)
    src_vec, tgt_vec, vocab, start_id, end_id = make_vectorizers(task.train)
    train = make_dataset(task.train, src_vec, tgt_vec, start_id, end_id, batch_size=64, shuffle_seed=0)
    epochs, steps = 8, -(-len(task.train) // 64)
    cfg = Seq2SeqModelConfig(embedding_dim=32, units=[128], attention="luong", max_decode_length=12)
    model = build_seq2seq(cfg, src_vec.vocabulary_size(), len(vocab))
    compile_seq2seq(model, learning_rate=keras.optimizers.schedules.CosineDecay(2e-3, epochs * steps))
    start = time.time()
    model.fit(train, epochs=epochs, verbose=0)
    seconds = time.time() - start

    inference = Seq2SeqInference(model, start_id, end_id)
    source = source_matrix([s for s, _ in task.test], src_vec)
    refs = [t for _, t in task.test]
    scores = {}
    for method, kwargs in (("greedy", {}), ("beam", {"beam_width": 4})):
        ids = inference.decode(source, method=method, **kwargs)
        scores[method] = corpus_scores(["".join(vocab[i] for i in row) for row in ids], refs)
    print(f"\ntrained {epochs} epochs in {seconds:.0f}s: {scores}")
    assert scores["greedy"]["exact_match"] >= 0.95
    assert scores["beam"]["exact_match"] >= 0.95
    assert seconds < 300
