"""The long-range task separates SimpleRNN from LSTM (quick setting: one
distance, one seed, well under a minute of training).

The quick setting was checked to pass for seeds 0, 1 and 2
(`run(dataclasses.replace(QUICK, seeds=(s,)))`)."""

import argparse
import dataclasses
import json

import numpy as np
import pytest

import textlstm  # noqa: F401  (sets the Keras backend)
from textlstm.longrange import (
    FULL,
    QUICK,
    LongRangeResult,
    add_longrange_arguments,
    build_model,
    longrange_command,
    make_task,
    run,
    state_gradient_norms,
    token_vectors,
)


def test_task_label_lives_only_in_the_first_token():
    ids, labels = make_task(distance=30, size=200, vocabulary=100, seed=3, variable=True)
    assert ids.shape == (200, 31)
    np.testing.assert_array_equal(ids[:, 0], labels + 1)
    assert set(np.unique(ids[:, 1:])) <= set(range(3, 103)) | {0}
    lengths = (ids != 0).sum(axis=1)
    assert lengths.min() >= 2 and lengths.max() == 31
    assert (ids[:, 1:][ids[:, 1:] != 0] > 2).all()  # markers never reappear
    again, _ = make_task(distance=30, size=200, vocabulary=100, seed=3, variable=True)
    np.testing.assert_array_equal(ids, again)
    fixed, _ = make_task(distance=30, size=50, seed=4)
    assert (fixed != 0).all()  # test sequences have exactly `distance` distractors


def test_tokens_are_loud_frozen_vectors():
    vectors = token_vectors(FULL, seed=0)
    assert vectors.shape == (FULL.vocabulary + 3, FULL.embedding_dim)
    np.testing.assert_allclose(np.linalg.norm(vectors[1:], axis=1), FULL.embedding_scale, rtol=1e-5)
    assert not vectors[0].any()
    model = build_model("lstm", QUICK, seed=0)
    embedding = model.get_layer("embedding")
    assert not embedding.trainable
    np.testing.assert_allclose(embedding.get_weights()[0], vectors)


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm"])
def test_state_gradients_unroll_the_model_itself(cell):
    """The step-by-step unrolling reproduces the model's predictions, padded
    steps change nothing, and at initialization the gradient reaching the first
    state is far below the one at the last state (it vanishes)."""
    import keras

    keras.utils.set_random_seed(0)
    model = build_model(cell, QUICK, seed=0)
    ids, _ = make_task(distance=40, size=16, vocabulary=QUICK.vocabulary, seed=0)
    norms, logits = state_gradient_norms(model, ids, return_logits=True)
    np.testing.assert_allclose(1 / (1 + np.exp(-logits)), model.predict(ids, verbose=0)[:, 0], atol=1e-5)
    assert norms.shape == (41,)
    assert norms[-1] > 0 and norms[0] < 1e-3 * norms[-1]
    padded = np.concatenate([ids, np.zeros((16, 5), dtype=ids.dtype)], axis=1)
    norms_padded = state_gradient_norms(model, padded)
    np.testing.assert_allclose(norms_padded[:41], norms, rtol=1e-4, atol=1e-30)


@pytest.fixture(scope="module")
def quick_result():
    return run(QUICK)


def test_lstm_remembers_where_simple_rnn_cannot(quick_result):
    (distance,) = QUICK.distances
    assert quick_result.accuracy("lstm", distance) >= 0.95
    assert quick_result.accuracy("simple_rnn", distance) <= 0.6


def test_gradient_vanishes_much_faster_for_simple_rnn(quick_result):
    """|dz/ds_0| / |dz/ds_T|: the share of the output's gradient that flows back
    to the marker. It shrinks for both cells, but for seeds 0-2 the LSTM keeps
    at least 1e9 times more of it than the SimpleRNN, at initialization and
    after training; 1e5 leaves room."""
    (distance,) = QUICK.distances
    grads = quick_result.gradients[distance]
    assert len(grads["lstm"]) == len(grads["simple_rnn"]) == distance + 1
    for initial in (True, False):
        lstm = quick_result.memory_ratio("lstm", distance, initial)
        simple = quick_result.memory_ratio("simple_rnn", distance, initial)
        assert 0 < lstm < 1
        assert simple < 1e-5 * lstm
    assert quick_result.gradient_per_step("simple_rnn", distance) < quick_result.gradient_per_step("lstm", distance)


def test_command_writes_table_json_and_plots(tmp_path, capsys, monkeypatch, quick_result):
    import textlstm.longrange as longrange

    seen = {}

    def fake_run(settings, verbose=False):
        seen["settings"] = settings
        return quick_result

    monkeypatch.setattr(longrange, "run", fake_run)
    args = add_longrange_arguments(argparse.ArgumentParser()).parse_args(
        ["--quick", "--output", str(tmp_path), "--epochs", "5"]
    )
    assert longrange_command(args) == 0
    assert seen["settings"] == dataclasses.replace(QUICK, epochs=5)
    out = capsys.readouterr().out
    assert "simple_rnn" in out and "gradient reaching the marker" in out
    data = json.loads((tmp_path / "longrange.json").read_text())
    assert {r["cell"] for r in data["rows"]} == {"simple_rnn", "lstm"}
    assert {r["seed"] for r in data["rows"]} == set(QUICK.seeds)
    for name in ("accuracy.png", "gradients.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_table_and_plots_summarise_seeds_and_survive_zero_gradients():
    settings = dataclasses.replace(QUICK, distances=(5, 50), seeds=(0, 1, 2))
    result = LongRangeResult(settings)
    for d in settings.distances:
        for cell in settings.cells:
            for seed, acc in zip(settings.seeds, (0.5, 0.7, 0.9)):
                result.rows.append(
                    {
                        "cell": cell,
                        "distance": d,
                        "seed": seed,
                        "accuracy": acc,
                        "epochs": 3,
                        "memory_ratio": 2.0,
                        "initial_memory_ratio": 0.0,
                        "gradient_per_step": 0.9,
                        "initial_gradient_per_step": 0.5,
                    }
                )
        zeros = [0.0] * 10 + [1e-3] * (d - 9)
        result.gradients[d] = {c: zeros for c in settings.cells}
        result.initial_gradients[d] = {c: zeros for c in settings.cells}
    assert result.accuracy("lstm", 50) == pytest.approx(0.7)
    table = result.table()
    assert "0.700 [0.500, 0.900]" in table and "0.50 -> 0.90" in table
    result.plot_accuracy()
    fig = result.plot_gradients()
    assert all(
        np.isfinite(np.asarray(line.get_ydata(), float)).all() and (np.asarray(line.get_ydata(), float) > 0).all()
        for ax in fig.axes
        for line in ax.get_lines()
    )
