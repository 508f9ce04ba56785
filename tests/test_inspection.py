"""`textlstm.inspection` recomputes Keras's LSTM outputs exactly, masks included."""

import argparse

import keras
import numpy as np
import pytest

import textlstm  # noqa: F401  (sets the Keras backend)
from textlstm.config import ModelConfig
from textlstm.inspection import (
    InspectionError,
    add_inspect_arguments,
    inspect_command,
    inspect_gates,
    plot_gates,
)
from textlstm.models import build_classifier

TOL = 1e-5
# Right-padded batch: one full row, one with two padded steps, one with four.
MASK = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]], bool)
CORPUS = ["a good film", "not a good film", "a bad film", "not bad at all", "good acting", "bad plot"]


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(7)


def _randomize(layer):
    """Weights well away from the initializers' (zero bias, small values)."""
    rng = np.random.default_rng(3)
    layer.set_weights([rng.normal(0, 0.6, w.shape).astype("float32") for w in layer.get_weights()])


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras.layers.LSTM(5, return_sequences=True),
        lambda: keras.layers.LSTM(5, return_sequences=True, go_backwards=True),
        lambda: keras.layers.LSTM(5, return_sequences=True, activation="relu", recurrent_activation="hard_sigmoid"),
        lambda: keras.layers.Bidirectional(keras.layers.LSTM(5, return_sequences=True)),
        lambda: keras.layers.Bidirectional(
            keras.layers.LSTM(5, return_sequences=True, use_bias=False), merge_mode="ave"
        ),
    ],
    ids=["lstm", "go_backwards", "relu_hard_sigmoid", "bidirectional", "bidirectional_ave_nobias"],
)
def test_layer_outputs_match_keras_on_random_weights(make):
    layer = make()
    x = np.random.default_rng(0).normal(size=(3, 6, 4)).astype("float32")
    layer(x[:1])
    _randomize(layer)
    expected = keras.ops.convert_to_numpy(layer(x, mask=MASK))
    result = inspect_gates(layer, x, mask=MASK)
    got = result.outputs[0]
    if getattr(layer, "go_backwards", False):
        got = got[:, ::-1]  # Keras returns a go_backwards sequence in processing order
    np.testing.assert_allclose(got, expected, atol=TOL, rtol=0)
    # Padded steps: state carried, gates not computed.
    forward = result.traces[0]
    assert np.isnan(forward.forget_gate[~MASK]).all() and not np.isnan(forward.forget_gate[MASK]).any()
    if not getattr(layer, "go_backwards", False):
        np.testing.assert_array_equal(forward.hidden[1, 4], forward.hidden[1, 3])
        np.testing.assert_array_equal(forward.cell[2, 5], forward.cell[2, 1])


def test_final_states_match_keras_return_state():
    layer = keras.layers.LSTM(4, return_sequences=True, return_state=True)
    x = np.random.default_rng(1).normal(size=(3, 6, 3)).astype("float32")
    layer(x[:1])
    _randomize(layer)
    _, h, c = (keras.ops.convert_to_numpy(t) for t in layer(x, mask=MASK))
    trace = inspect_gates(layer, x, mask=MASK).trace(0)
    np.testing.assert_allclose(trace.hidden[:, -1], h, atol=TOL, rtol=0)
    np.testing.assert_allclose(trace.cell[:, -1], c, atol=TOL, rtol=0)
    # Keras's equations, checked on one step: c = f * c_prev + i * g, h = o * tanh(c).
    t, rows = 3, MASK[:, 3]  # a step that is real in these rows
    np.testing.assert_allclose(
        trace.cell[rows, t],
        trace["f"][rows, t] * trace["c"][rows, t - 1] + trace["i"][rows, t] * trace["g"][rows, t],
        atol=1e-12,
    )
    np.testing.assert_allclose(trace.hidden[rows, t], trace["o"][rows, t] * np.tanh(trace.cell[rows, t]), atol=1e-12)


def _trained_classifier(config, vocab=30):
    model = build_classifier(config, vocab_size=vocab, num_classes=2)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy")
    rng = np.random.default_rng(0)
    ids = rng.integers(1, vocab, size=(64, 6))
    model.fit(ids, (ids[:, 0] > vocab // 2).astype("float32"), epochs=2, batch_size=16, verbose=0)
    return model


def _padded_ids(vocab=30):
    return np.where(MASK, np.random.default_rng(5).integers(1, vocab, size=MASK.shape), 0)


@pytest.mark.parametrize("bidirectional", [True, False], ids=["bidirectional", "unidirectional"])
def test_trained_stacked_model_matches_keras(bidirectional):
    config = ModelConfig(
        embedding_dim=6,
        units=[5, 4],
        bidirectional=bidirectional,
        pooling="max" if bidirectional else "last",
        dropout=0.3,
    )
    model = _trained_classifier(config)
    names = ["lstm_0", "lstm_1"]
    ids = _padded_ids()
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    expected = [keras.ops.convert_to_numpy(y) for y in probe([ids])]
    result = inspect_gates(model, ids)
    assert result.num_layers == 2
    assert {(t.index, t.direction) for t in result.traces} == (
        {(0, "forward"), (0, "backward"), (1, "forward"), (1, "backward")}
        if bidirectional
        else {(0, "forward"), (1, "forward")}
    )
    np.testing.assert_allclose(result.outputs[0], expected[0], atol=TOL, rtol=0)
    if bidirectional:  # both layers return sequences (max pooling)
        np.testing.assert_allclose(result.outputs[1], expected[1], atol=TOL, rtol=0)
        backward = result.trace(1, "backward")
        # The backward direction starts on the padding: zero state there, zero output.
        assert (backward.hidden[~MASK] == 0).all() and (backward.output[~MASK] == 0).all()
    else:  # the top layer returns its last output, carried over the padding
        np.testing.assert_allclose(result.outputs[1][:, -1], expected[1], atol=TOL, rtol=0)


def _string_model(network):
    vectorizer = keras.layers.TextVectorization(max_tokens=30, name="vectorizer")
    vectorizer.adapt(CORPUS)
    text = keras.Input(shape=(1,), dtype="string", name="text")
    return keras.Model(text, network(vectorizer(text)), name="text_model"), vectorizer


def test_string_model_finds_its_vectorizer():
    network = _trained_classifier(ModelConfig(embedding_dim=6, units=[5], bidirectional=True))
    model, vectorizer = _string_model(network)
    result = inspect_gates(model, "Not a GOOD film!")
    assert result.tokens == ["not", "a", "good", "film"]
    np.testing.assert_array_equal(result.ids, np.asarray(vectorizer(["not a good film"]))[0])
    assert result.trace(0, "backward").hidden.shape == (4, 5)
    # Same numbers from the id model with an explicit vectorizer.
    by_ids = inspect_gates(network, "not a good film", vectorizer=vectorizer)
    np.testing.assert_allclose(by_ids.outputs[0], result.outputs[0])
    table = result.table(0, "backward")
    assert "good" in table and len(table.splitlines()) == 2 + 4


def test_errors_name_what_is_supported():
    gru = build_classifier(ModelConfig(cell="gru", embedding_dim=4, units=[3]), vocab_size=10, num_classes=2)
    with pytest.raises(InspectionError, match="GRU: only LSTM is supported"):
        inspect_gates(gru, [1, 2, 3])
    with pytest.raises(InspectionError, match="SimpleRNN: only LSTM"):
        inspect_gates(keras.layers.SimpleRNN(3), np.zeros((4, 2)))
    ids = keras.Input(shape=(None,), dtype="int64")
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(10, 4)(ids))
    bag = keras.Model(ids, keras.layers.Dense(1)(pooled))
    with pytest.raises(InspectionError, match=r"no LSTM layers; supported: LSTM and Bidirectional\(LSTM\)"):
        inspect_gates(bag, [1, 2])
    network = build_classifier(ModelConfig(embedding_dim=4, units=[3]), vocab_size=30, num_classes=2)
    model, _ = _string_model(network)
    with pytest.raises(InspectionError, match="vectorizes to no tokens"):
        inspect_gates(model, "?! ...")
    with pytest.raises(InspectionError, match="pass vectorizer="):
        inspect_gates(network, "a good film")
    with pytest.raises(InspectionError, match="out of range"):
        inspect_gates(network, [1, 2]).trace(layer=3)
    assert issubclass(InspectionError, ValueError)


def test_plot_and_command_write_a_png(tmp_path, capsys):
    import matplotlib.image

    network = _trained_classifier(ModelConfig(embedding_dim=6, units=[5], bidirectional=True))
    model, _ = _string_model(network)
    result = inspect_gates(model, "not a good film")
    fig = plot_gates(result, layer=0, direction="backward", path=tmp_path / "direct.png")
    assert len(fig.axes) >= 6  # six panels (+ colour bars)
    pixels = matplotlib.image.imread(tmp_path / "direct.png")
    assert pixels.shape[0] > 300 and pixels[..., :3].std() > 0.05

    path = tmp_path / "model.keras"
    model.save(path)
    args = add_inspect_arguments(argparse.ArgumentParser()).parse_args(
        [str(path), "not a good film", "--output", str(tmp_path / "gates.png"), "--direction", "backward"]
    )
    assert inspect_command(args) == 0
    out = capsys.readouterr().out
    assert "not" in out and "film" in out and "backward" in out
    assert (tmp_path / "gates.png").stat().st_size > 10_000
