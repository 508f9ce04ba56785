"""The encoder-decoder model: config registration, masks, cuDNN eligibility, loss, metric, saving."""

import subprocess
import sys

import keras
import numpy as np
import pytest

import textlstm  # noqa: F401
from textlstm.config import ConfigError, pipeline_from_dict
from textlstm.models.cudnn import cudnn_report
from textlstm.seq2seq.config import Seq2SeqModelConfig
from textlstm.seq2seq.decoding import Seq2SeqInference
from textlstm.seq2seq.model import (
    MaskedSparseCategoricalCrossentropy,
    MaskedTokenAccuracy,
    build_seq2seq,
    compile_seq2seq,
    config_from_model,
)

SRC_V, TGT_V = 30, 14


def small(**kw):
    kw.setdefault("units", [16])
    kw.setdefault("embedding_dim", 8)
    return Seq2SeqModelConfig(**kw)


def batch(rng, n=4, s=7, t=5):
    src = rng.integers(4, SRC_V, size=(n, s))
    tin = rng.integers(4, TGT_V, size=(n, t))
    tin[:, 0] = 2
    for i in range(n):
        src[i, rng.integers(2, s + 1) :] = 0
        tin[i, rng.integers(2, t + 1) :] = 0
    return src, tin


def test_translation_task_registers_without_tensorflow():
    code = (
        "import sys, textlstm.config as c\n"
        "cfg = c.pipeline_from_dict({'task': 'translation', 'model': {'units': [32], 'attention': 'bahdanau'}})\n"
        "assert type(cfg.model).__name__ == 'Seq2SeqModelConfig', cfg.model\n"
        "assert cfg.model.decoder_sizes() == [32]\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_config_validation_and_sizes():
    cfg = pipeline_from_dict({"task": "translation", "model": {"units": [8], "decoder_units": [8, 4]}}).model
    assert cfg.encoder_sizes() == [8] and cfg.decoder_sizes() == [8, 4]
    with pytest.raises(ConfigError, match="attention"):
        pipeline_from_dict({"task": "translation", "model": {"attention": "dot"}})
    with pytest.raises(ConfigError, match="beam_widht"):
        pipeline_from_dict({"task": "translation", "model": {"beam_widht": 3}})
    with pytest.raises(ConfigError):
        Seq2SeqModelConfig(units=[])


@pytest.mark.parametrize(
    "kw",
    [
        dict(attention="luong"),
        dict(attention="bahdanau", encoder_units=[8, 8], decoder_units=[16], bidirectional=False),
        dict(attention="none", units=[8, 8]),
        dict(attention="luong", cell="gru", decoder_units=[12, 12]),
    ],
)
def test_shapes_cudnn_and_padding_invariance(kw):
    keras.utils.set_random_seed(1)
    cfg = small(**kw)
    model = build_seq2seq(cfg, SRC_V, TGT_V)
    src, tin = batch(np.random.default_rng(0))
    logits = model.predict((src, tin), verbose=0)
    assert logits.shape == (4, 5, TGT_V)
    report = cudnn_report(model)
    n_dirs = 2 if cfg.bidirectional else 1
    assert len(report) == n_dirs * len(cfg.encoder_sizes()) + len(cfg.decoder_sizes())
    assert all(row.cudnn for row in report), report
    # Extra right padding on either side changes nothing at real target positions:
    # the encoder mask reaches the RNNs and the attention.
    wide = model.predict((np.pad(src, [(0, 0), (0, 4)]), np.pad(tin, [(0, 0), (0, 3)])), verbose=0)
    valid = tin != 0
    np.testing.assert_allclose(wide[:, :5][valid], logits[valid], atol=1e-5)


def test_masked_loss_and_accuracy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 4, 6)).astype("float32")
    y = np.array([[1, 2, 3, 0], [4, 0, 0, 0]])
    loss = MaskedSparseCategoricalCrossentropy()
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    manual = -np.mean([logp[0, 0, 1], logp[0, 1, 2], logp[0, 2, 3], logp[1, 0, 4]])
    assert float(loss(y, logits)) == pytest.approx(manual, rel=1e-5)
    # More padding: same loss.
    assert float(loss(np.pad(y, [(0, 0), (0, 3)]), np.pad(logits, [(0, 0), (0, 3), (0, 0)]))) == pytest.approx(
        manual, rel=1e-5
    )
    clone = MaskedSparseCategoricalCrossentropy.from_config(loss.get_config())
    assert float(clone(y, logits)) == pytest.approx(manual, rel=1e-5)
    smoothed = MaskedSparseCategoricalCrossentropy(label_smoothing=0.1)
    assert float(smoothed(y, logits)) != pytest.approx(manual, rel=1e-3)

    acc = MaskedTokenAccuracy()
    pred = np.zeros((2, 4, 6), "float32")
    pred[0, 0, 1] = pred[0, 1, 5] = pred[0, 2, 3] = pred[1, 0, 4] = 1  # 3 of 4 real tokens right
    pred[0, 3, 0] = pred[1, 1, 0] = 1  # "right" on padding: must not count
    acc.update_state(y, pred)
    assert float(acc.result()) == pytest.approx(0.75)


def _log_softmax(logits):
    z = logits - logits.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _reference_loss(y, logits, smoothing=0.0, weights=None):
    """numpy: (smoothed) cross-entropy per token, weighted mean over real (non-0) tokens."""
    vocab = logits.shape[-1]
    target = (1 - smoothing) * np.eye(vocab)[y] + smoothing / vocab
    per_token = -(target * _log_softmax(logits.astype("float64"))).sum(-1)
    w = (y != 0).astype("float64") * (1.0 if weights is None else weights)
    return (per_token * w).sum() / w.sum()


def _ragged_batch(rng, vocab=9):
    """Rows with 0, 1, 3, 5 and 6 padding positions of 7."""
    y = rng.integers(1, vocab, size=(5, 7))
    for row, pads in enumerate([0, 1, 3, 5, 6]):
        y[row, 7 - pads :] = 0
    return y, rng.normal(scale=2.0, size=(5, 7, vocab)).astype("float32")


def test_masked_loss_is_the_mean_over_real_tokens_only():
    y, logits = _ragged_batch(np.random.default_rng(5))
    manual = _reference_loss(y, logits)
    loss = MaskedSparseCategoricalCrossentropy()
    assert float(loss(y, logits)) == pytest.approx(manual, rel=1e-5)
    # Not the mean over all positions, nor a mean of per-row means.
    assert manual != pytest.approx(_reference_loss(np.where(y == 0, 1, y), logits), rel=1e-3)
    # The same as Keras's public ignore_class loss.
    public = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    assert float(loss(y, logits)) == pytest.approx(float(public(y, logits)), rel=1e-5)
    # Per sequence and per token sample weights weight the real tokens' mean.
    w_row = np.array([1.0, 2.0, 0.5, 3.0, 1.0], "float32")
    assert float(loss(y, logits, sample_weight=w_row)) == pytest.approx(
        _reference_loss(y, logits, weights=w_row[:, None]), rel=1e-5
    )
    w_tok = np.random.default_rng(6).uniform(0.5, 2.0, size=y.shape).astype("float32")
    assert float(loss(y, logits, sample_weight=w_tok)) == pytest.approx(
        _reference_loss(y, logits, weights=w_tok), rel=1e-5
    )
    # Predictions carrying a Keras mask (here a public Masking layer's, on the real tokens): the same mean.
    masked = keras.layers.Masking(0.0)(np.where(y[..., None] == 0, 0.0, logits).astype("float32"))
    assert float(loss(y, masked)) == pytest.approx(manual, rel=1e-5)
    # The other reductions: sum over real tokens, per-token values with 0 on padding.
    per_token = np.asarray(MaskedSparseCategoricalCrossentropy(reduction=None)(y, logits))
    assert (per_token[y == 0] == 0).all()
    assert float(MaskedSparseCategoricalCrossentropy(reduction="sum")(y, logits)) == pytest.approx(
        per_token.sum(), rel=1e-5
    )
    assert float(per_token.sum() / (y != 0).sum()) == pytest.approx(manual, rel=1e-5)


def test_padding_values_do_not_change_the_loss_or_get_gradients():
    import tensorflow as tf

    y, logits = _ragged_batch(np.random.default_rng(7))
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=0.1)
    noisy = logits.copy()
    noisy[y == 0] = np.random.default_rng(8).normal(scale=1e4, size=noisy[y == 0].shape)
    noisy[1, -1] = noisy[4, 2] = np.nan
    assert y[1, -1] == 0 and y[4, 2] == 0
    assert float(loss(y, noisy)) == pytest.approx(float(loss(y, logits)), rel=1e-6)
    # Extra padding columns change nothing either.
    assert float(loss(np.pad(y, [(0, 0), (0, 4)]), np.pad(logits, [(0, 0), (0, 4), (0, 0)]))) == pytest.approx(
        float(loss(y, logits)), rel=1e-6
    )
    # Nor does another pad id.
    shifted = MaskedSparseCategoricalCrossentropy(pad_id=-1, label_smoothing=0.1)
    assert float(shifted(np.where(y == 0, -1, y), logits)) == pytest.approx(float(loss(y, logits)), rel=1e-6)
    x = tf.Variable(noisy)
    with tf.GradientTape() as tape:
        value = loss(y, x)
    grad = tape.gradient(value, x).numpy()
    assert np.isfinite(grad).all() and (grad[y == 0] == 0).all() and (np.abs(grad[y != 0]).sum() > 0)


@pytest.mark.parametrize("smoothing", [0.1, 0.3])
def test_label_smoothing_matches_a_numpy_reference(smoothing):
    y, logits = _ragged_batch(np.random.default_rng(9))
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=smoothing)
    assert float(loss(y, logits)) == pytest.approx(_reference_loss(y, logits, smoothing), rel=1e-5)
    clone = MaskedSparseCategoricalCrossentropy.from_config(loss.get_config())
    assert float(clone(y, logits)) == pytest.approx(_reference_loss(y, logits, smoothing), rel=1e-5)


def test_saved_loss_configs_still_mean_over_real_tokens():
    # Models saved before the loss used "mean_with_sample_weight" store Keras's default reduction.
    saved = keras.saving.serialize_keras_object(MaskedSparseCategoricalCrossentropy(label_smoothing=0.1))
    assert saved["registered_name"] == "textlstm>MaskedSparseCategoricalCrossentropy"
    saved["config"]["reduction"] = "sum_over_batch_size"
    loss = keras.saving.deserialize_keras_object(saved)
    assert type(loss) is MaskedSparseCategoricalCrossentropy
    y, logits = _ragged_batch(np.random.default_rng(10))
    assert float(loss(y, logits)) == pytest.approx(_reference_loss(y, logits, 0.1), rel=1e-5)


def test_compiled_loss_is_the_real_token_mean_of_the_models_logits():
    # evaluate runs the loss compiled in a tf.function: still the real-token mean.
    keras.utils.set_random_seed(11)
    model = compile_seq2seq(build_seq2seq(small(), SRC_V, TGT_V), label_smoothing=0.1)
    src, tin = batch(np.random.default_rng(12), n=6)
    tout = np.concatenate([tin[:, 1:], np.zeros((6, 1), int)], 1)
    tout[np.arange(6), (tin != 0).sum(1) - 1] = 3
    logits = model.predict((src, tin), verbose=0)
    evaluated = model.evaluate((src, tin), tout, batch_size=6, verbose=0, return_dict=True)
    assert evaluated["loss"] == pytest.approx(_reference_loss(tout, logits, 0.1), rel=1e-4)


def test_fit_reduces_loss_and_save_load_roundtrip(tmp_path):
    keras.utils.set_random_seed(3)
    cfg = small(attention="bahdanau", dropout=0.0)
    model = compile_seq2seq(build_seq2seq(cfg, SRC_V, TGT_V, metadata={"note": "x"}), learning_rate=1e-2)
    src, tin = batch(np.random.default_rng(2), n=16)
    tout = np.concatenate([tin[:, 1:], np.zeros((16, 1), int)], 1)
    tout[np.arange(16), (tin != 0).sum(1) - 1] = 3
    hist = model.fit((src, tin), tout, epochs=15, verbose=0, batch_size=16)
    assert hist.history["loss"][-1] < 0.8 * hist.history["loss"][0]

    path = tmp_path / "s2s.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict((src, tin), verbose=0), model.predict((src, tin), verbose=0), atol=1e-5)
    assert config_from_model(loaded) == cfg
    assert loaded.get_layer("seq2seq_metadata").metadata["note"] == "x"
    a = Seq2SeqInference(model, 2, 3).greedy(src, max_length=6)
    b = Seq2SeqInference(loaded, 2, 3).greedy(src, max_length=6)
    np.testing.assert_array_equal(a.ids, b.ids)


def test_inference_models_share_the_training_layers():
    keras.utils.set_random_seed(4)
    model = build_seq2seq(small(), SRC_V, TGT_V)
    inference = Seq2SeqInference(model, 2, 3)
    for name in ("logits", "decoder_lstm_0", "attention_key", "target_embedding"):
        assert inference.step_model.get_layer(name) is model.get_layer(name)
    assert inference.encoder_model.get_layer("encoder_lstm_0") is model.get_layer("encoder_lstm_0")
    src, _ = batch(np.random.default_rng(3))
    before = inference.greedy(src, max_length=4).scores
    bias = model.get_layer("logits").bias
    bias.assign(bias.numpy() + np.linspace(0, 3, TGT_V))  # a training update seen without rebuilding
    after = inference.greedy(src, max_length=4).scores
    assert not np.allclose(before, after)
