"""The encoder-decoder model: config registration, masks, cuDNN eligibility, loss, metric, saving."""

import subprocess
import sys

import numpy as np
import pytest

import textlstm  # noqa: F401
import keras

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
        src[i, rng.integers(2, s + 1):] = 0
        tin[i, rng.integers(2, t + 1):] = 0
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


@pytest.mark.parametrize("kw", [
    dict(attention="luong"),
    dict(attention="bahdanau", encoder_units=[8, 8], decoder_units=[16], bidirectional=False),
    dict(attention="none", units=[8, 8]),
    dict(attention="luong", cell="gru", decoder_units=[12, 12]),
])
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
        manual, rel=1e-5)
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
    np.testing.assert_allclose(loaded.predict((src, tin), verbose=0), model.predict((src, tin), verbose=0),
                               atol=1e-5)
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
