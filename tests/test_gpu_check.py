"""bench/gpu_check.py on a CPU: a clean "no GPU" report, CPU throughput for
the three models, and a cuDNN detector that says yes and no when it should.

The detector's positive answer is checked without a GPU by tracing (never
running) the training step with Keras's GPU probe patched to say a GPU is
there: Keras then emits the real `CudnnRNNV3` ops, which the detector must
attribute to the right layers, and must not attribute to layers that Keras
keeps on the generic kernel.
"""

import importlib
import importlib.util
import json
import math
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "bench", "gpu_check.py")
EXPECTED_DIRECTIONS = {"demo_classifier": 2, "stacked_classifier": 4, "translation": 3}


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(spec.name, None)
        raise
    return module


@pytest.fixture(scope="module")
def report(gpu_check):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this test checks the no-GPU report; run bench/gpu_check.py itself on a GPU")
    return gpu_check.run_check(quick=True, steps=1, cpu_steps=1, warmup=1, pool=2)


@pytest.fixture
def pretend_gpu(monkeypatch):
    """Make Keras believe a GPU is visible, so that tracing emits cuDNN ops (running them would fail)."""
    rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
    # A Keras internal, patched in this test only (the package does not use it): fail loudly if it moves.
    assert hasattr(rnn, "_is_gpu_available"), (
        "keras.src.backend.tensorflow.rnn._is_gpu_available is gone: update this test"
    )
    monkeypatch.setattr(rnn, "_is_gpu_available", lambda: True)


def test_no_gpu_report(report):
    json.dumps(report)  # JSON-able as is
    for key in ("status", "versions", "build", "gpu", "settings", "summary", "models", "fully_masked_row"):
        assert key in report
    assert report["gpu"] is None
    assert report["status"].startswith("no GPU")
    assert {"tensorflow", "keras"} <= set(report["versions"])
    assert {"cuda_version", "cudnn_version"} <= set(report["build"])
    assert report["fully_masked_row"]["status"] == "no GPU"
    assert set(report["models"]) == set(EXPECTED_DIRECTIONS)
    for name, model in report["models"].items():
        assert model["cudnn"] == "no GPU" and model["cudnn_fraction"] is None
        assert model["gpu_cudnn"] == {"status": "no GPU"} and model["gpu_generic"] == {"status": "no GPU"}
        assert model["speedup_cudnn_vs_generic_gpu"] is None and model["speedup_cudnn_vs_cpu"] is None
        cpu = model["cpu"]
        assert cpu["status"] == "ok" and cpu["loss_finite"]
        assert math.isfinite(cpu["examples_per_s"]) and cpu["examples_per_s"] > 0
        assert report["summary"][name]["examples_per_s"]["cpu"] == cpu["examples_per_s"]
        # The detector: a definite False for every LSTM direction on the CPU.
        assert len(cpu["layers"]) == EXPECTED_DIRECTIONS[name] == len(model["lstm_layers"])
        assert all(v is False for v in cpu["layers"].values())
        assert cpu["cudnn_layers"] == 0 and cpu["fraction"] == 0.0 and cpu["cudnn_ops"] == {}
        # use_cudnn=True makes Keras refuse, as it must without a GPU.
        assert model["strict_use_cudnn_true"]["ok"] is False
        assert "use_cudnn=True" in model["strict_use_cudnn_true"]["error"]


def test_cli_prints_and_writes_json(gpu_check, tmp_path, capsys):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("no-GPU check")
    out = tmp_path / "results" / "gpu_check.json"
    gpu_check.main(["--quick", "--models", "demo_classifier", "--steps", "1", "--cpu-steps", "1", "--output", str(out)])
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert list(printed["models"]) == ["demo_classifier"] and printed["gpu"] is None


def test_detector_finds_cudnn_in_every_textlstm_lstm(gpu_check, pretend_gpu):
    """Traced as on a GPU, every LSTM direction of the three models is
    attributed a cuDNN op; with use_cudnn=False set by the script, none is
    (checked on the stacked model)."""
    import keras

    for name, spec in gpu_check.model_specs().items():
        keras.utils.set_random_seed(0)
        model = spec.build()
        found = gpu_check.cudnn_layers(model, gpu_check.train_step_function(model, spec.signature))
        assert found["fraction"] == 1.0 and found["unattributed"] == 0, (name, found)
        assert found["cudnn_ops"].get("CudnnRNNV3") == EXPECTED_DIRECTIONS[name]
        assert found["cudnn_ops"].get("CudnnRNNBackpropV3") == EXPECTED_DIRECTIONS[name]
        if name == "stacked_classifier":  # set_use_cudnn reaches both directions of every Bidirectional
            gpu_check.set_use_cudnn(model, False)
            generic = gpu_check.cudnn_layers(model, gpu_check.train_step_function(model, spec.signature))
            assert generic["cudnn_layers"] == 0 and generic["cudnn_ops"] == {}, generic


def test_detector_says_no_for_layers_keras_keeps_generic(gpu_check, pretend_gpu):
    """In one model traced as on a GPU: a plain LSTM is on cuDNN, one with
    recurrent_dropout and a Bidirectional with use_cudnn=False are not; and
    the cuDNN op cannot run on a CPU (its kernel is GPU-only, so a step that
    holds it and runs has used the GPU)."""
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    ids = keras.Input((None,), dtype="int64")
    x = keras.layers.Embedding(50, 8, mask_zero=True)(ids)
    x = keras.layers.LSTM(8, return_sequences=True, name="plain")(x)
    x = keras.layers.LSTM(8, return_sequences=True, recurrent_dropout=0.2, name="recurrent_dropout")(x)
    x = keras.layers.Bidirectional(keras.layers.LSTM(8, use_cudnn=False, name="generic"), name="bi")(x)
    model = keras.Model(ids, keras.layers.Dense(1, activation="sigmoid")(x))
    model.compile("adam", "binary_crossentropy", jit_compile=False)
    signature = [tf.TensorSpec([None, None], tf.int64), tf.TensorSpec([None], tf.float32)]
    step = gpu_check.train_step_function(model, signature)
    found = gpu_check.cudnn_layers(model, step)
    assert found["layers"] == {
        "plain": True,
        "recurrent_dropout": False,
        "bi/forward_generic": False,
        "bi/backward_generic": False,
    }
    assert found["cudnn_layers"] == 1 and found["fraction"] == 0.25 and found["cudnn_ops"]["CudnnRNNV3"] == 1
    assert gpu_check.strict_cudnn_check(model, signature)["ok"] is False  # recurrent_dropout and use_cudnn=False
    with pytest.raises((tf.errors.InvalidArgumentError, tf.errors.NotFoundError), match="CudnnRNN"):
        step(tf.constant(np.array([[3, 4, 0]]), tf.int64), tf.constant([1.0]))


def test_gpu_branch_does_not_claim_a_cudnn_run_that_failed(gpu_check, pretend_gpu):
    """The GPU code path, run on a CPU that Keras is told is a GPU: the cuDNN
    ops are in the graph, but the step cannot run, so the report must say
    error (not "ran cuDNN"), while the generic-kernel and CPU runs still time."""
    spec = gpu_check.model_specs()["demo_classifier"]
    model = gpu_check.check_model(spec, gpu=True, steps=1, cpu_steps=1, warmup=1, pool=1, seed=0)
    assert model["gpu_cudnn"]["status"] == "error" and "CudnnRNN" in model["gpu_cudnn"]["error"]
    assert model["gpu_cudnn"]["fraction"] == 1.0  # in the graph ...
    assert model["cudnn"].startswith("error") and model["cudnn_fraction"] is None  # ... but not shown to run
    assert model["gpu_generic"]["status"] == "ok" and model["gpu_generic"]["cudnn_layers"] == 0
    assert model["cpu"]["status"] == "ok" and model["cpu"]["examples_per_s"] > 0
    assert model["speedup_cudnn_vs_generic_gpu"] is None and model["package_report_agrees"] is None
    assert model["strict_use_cudnn_true"] == {"ok": True}
    masked = gpu_check.fully_masked_row_check(gpu=True)
    assert masked["raw"]["accepted"] is False and masked["raw"]["cudnn"] is True
    assert "CudnnRNN" in masked["raw"]["error"]
