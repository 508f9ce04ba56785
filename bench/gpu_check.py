"""Check on a real GPU that textlstm's LSTMs run the cuDNN kernel, and time it.

    python bench/gpu_check.py [--quick] [--output FILE.json]

Prints one JSON object: the TensorFlow and Keras versions, the CUDA/cuDNN
versions TensorFlow was built with, the visible GPUs, and for three models
built with textlstm's own builders

* ``demo_classifier``: Embedding 64 + BiLSTM(64), as in
  ``pipelines/sentiment_demo.yaml`` (vocabulary 5000, lengths up to 64),
* ``stacked_classifier``: Embedding 128 + 2 x BiLSTM(64) on batches shaped
  like rt_polarity (batch 32, right-padded, sentence-like lengths 5..60),
* ``translation``: the encoder-decoder of ``pipelines/translate_demo.yaml``
  (character level, bidirectional encoder, Luong attention),

which LSTM layers (each direction of a ``Bidirectional`` counts as one) ran
the cuDNN kernel, and training examples/s on the GPU with cuDNN (Keras's
default ``use_cudnn="auto"``), on the same GPU with the generic kernel forced
(``use_cudnn=False`` on every LSTM), and on the CPU (generic kernel). Without
a GPU, ``"gpu"`` is null, the GPU runs say ``"no GPU"`` and only the CPU is
timed.

How the cuDNN kernel is detected, so that the check cannot be fooled: the
timed training step is one ``tf.function`` around ``model.train_step``, traced
once. Its graph (with any nested function library) is searched for
``CudnnRNN*`` ops, and each op is attributed to an LSTM by following its
``params`` input back to the captured variable handles: the op belongs to the
layer whose kernel it reads. TensorFlow registers ``CudnnRNN*`` kernels for
GPUs only, so a step that contains such an op and runs has run cuDNN on the
GPU; a GPU run whose step fails is reported as an error, never as cuDNN.
(Ops inside nested functions are counted as ``unattributed``; Keras 3 puts
its LSTM ops in the step's own graph.) As a second, independent check every LSTM is traced once more with
``use_cudnn=True``, which makes Keras raise when cuDNN cannot be used.

Keras 3 does not serialize ``use_cudnn`` (``LSTM.get_config`` leaves it out,
and ``Bidirectional`` copies it to its two directions only when it is
constructed), so ``keras.models.clone_model`` would reset it to ``"auto"``;
this script sets the attribute on every direction before the step is traced,
which is when ``LSTM.inner_loop`` reads it.

The timed step is the same computation as one step of ``model.fit`` (forward,
loss, gradients, optimizer update, loss tracker), without the iterator and
callbacks; batches are made once, put on the device, and cycled.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from textlstm.config import ModelConfig  # noqa: E402
from textlstm.models import build_classifier  # noqa: E402
from textlstm.seq2seq.config import Seq2SeqModelConfig  # noqa: E402
from textlstm.seq2seq.model import build_seq2seq  # noqa: E402

NO_GPU = "no GPU"
CUDNN_OP_PREFIX = "CudnnRNN"
# Forward cuDNN RNN ops and the index of their `params` input (input, input_h, input_c, params, ...).
CUDNN_FORWARD_OPS = {"CudnnRNN": 3, "CudnnRNNV2": 3, "CudnnRNNV3": 3}
FULLY_MASKED_NOTE = (
    "Keras 3 does not fall back to the generic kernel for a fully masked row: with cuDNN its mask check "
    "(tf.Assert) fails the step. textlstm never feeds one: NonEmptySequences gives an all-padding row one "
    "OOV token (in the seq2seq model and in the classifier's string-input model)."
)

QUICK = {"steps": 3, "cpu_steps": 3, "warmup": 1, "pool": 3}
FULL = {"steps": 50, "cpu_steps": 10, "warmup": 5, "pool": 8}


# --------------------------------------------------------------------------- models


@dataclass
class ModelSpec:
    """One model to check: how to build it and the batches it trains on.

    Args:
        name: key of the model in the report.
        description: one line for the report.
        batch_size: examples per training step.
        build: makes a fresh, compiled model (called under the device scope).
        batches: `batches(rng, n)` returns `n` `(x, y)` numpy batches.
        signature: the `tf.function` input signature `[x_spec, y_spec]`.
        lengths: the (min, max) source length drawn, for the report.
    """

    name: str
    description: str
    batch_size: int
    build: Callable[[], keras.Model]
    batches: Callable[[np.random.Generator, int], list]
    signature: list
    lengths: tuple[int, int]


def right_padded(rng: np.random.Generator, lengths: np.ndarray, vocab_size: int) -> np.ndarray:
    """Token ids `(batch, max(lengths))`, row i holding `lengths[i]` ids in
    `[2, vocab_size)` followed by padding (0).

    Args:
        rng: the random generator.
        lengths: one length (>= 1) per row.
        vocab_size: size of the vocabulary (0 = padding, 1 = OOV).
    """
    ids = rng.integers(2, vocab_size, size=(len(lengths), int(lengths.max())), dtype=np.int64)
    ids[np.arange(ids.shape[1])[None, :] >= lengths[:, None]] = 0
    return ids


def _compiled_classifier(units: list[int], embedding_dim: int, vocab_size: int, dropout: float) -> keras.Model:
    """textlstm's binary classifier (sigmoid output), compiled with Adam and binary cross-entropy.

    Args:
        units: one BiLSTM size per layer.
        embedding_dim: embedding size.
        vocab_size: vocabulary size (0 = padding).
        dropout: dropout before the dense head.
    """
    model = build_classifier(
        ModelConfig(units=units, embedding_dim=embedding_dim, bidirectional=True, dropout=dropout), vocab_size, 2
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", jit_compile=False)
    return model


def _classifier_batches(vocab_size: int, batch_size: int, draw_lengths):
    """A `batches(rng, n)` function: right-padded token ids and 0/1 labels.

    Args:
        vocab_size: vocabulary size.
        batch_size: rows per batch.
        draw_lengths: `draw_lengths(rng, size)` returns `size` lengths.
    """

    def batches(rng, n):
        out = []
        for _ in range(n):
            lengths = draw_lengths(rng, batch_size)
            out.append((right_padded(rng, lengths, vocab_size), rng.integers(0, 2, size=batch_size).astype(np.float32)))
        return out

    return batches


def _sentence_lengths(rng, size):
    """rt_polarity-like sentence lengths: right-skewed, mean about 21 tokens, clipped to 5..60.

    Args:
        rng: the random generator.
        size: how many lengths.
    """
    return np.clip(np.round(rng.gamma(4.0, 5.3, size=size)), 5, 60).astype(np.int64)


def _compiled_seq2seq(source_vocab: int, target_vocab: int) -> keras.Model:
    """The translate_demo encoder-decoder (embeddings 32, BiLSTM(128) encoder, LSTM(128) decoder, Luong
    attention, no dropout), compiled with Adam and sparse cross-entropy from logits.

    Args:
        source_vocab: source vocabulary size.
        target_vocab: target vocabulary size.
    """
    config = Seq2SeqModelConfig(units=[128], embedding_dim=32, bidirectional=True, attention="luong", dropout=0.0)
    model = build_seq2seq(config, source_vocab, target_vocab)
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,
    )
    return model


def _seq2seq_batches(source_vocab: int, target_vocab: int, batch_size: int, target_length: int):
    """A `batches(rng, n)` function: `((source_ids, target_in_ids), target_out_ids)`, sources
    right-padded with 6..40 characters, targets `target_length` long (an ISO date and start/end).

    Args:
        source_vocab: source vocabulary size.
        target_vocab: target vocabulary size.
        batch_size: rows per batch.
        target_length: target length with the start (input) or end (output) token.
    """
    start, end = 2, 3  # after padding (0) and OOV (1)

    def batches(rng, n):
        out = []
        for _ in range(n):
            source = right_padded(rng, rng.integers(6, 41, size=batch_size), source_vocab)
            body = rng.integers(4, target_vocab, size=(batch_size, target_length - 1), dtype=np.int64)
            target_in = np.concatenate([np.full((batch_size, 1), start, np.int64), body], axis=1)
            target_out = np.concatenate([body, np.full((batch_size, 1), end, np.int64)], axis=1)
            out.append(((source, target_in), target_out))
        return out

    return batches


def model_specs() -> dict[str, ModelSpec]:
    """The three models checked, by name."""
    ids = tf.TensorSpec([None, None], tf.int64)
    label = tf.TensorSpec([None], tf.float32)
    source_vocab, target_vocab = 60, 16  # characters: lower-cased free-form dates -> digits and "-"
    return {
        "demo_classifier": ModelSpec(
            "demo_classifier",
            "Embedding(5000, 64) + BiLSTM(64), as pipelines/sentiment_demo.yaml",
            32,
            lambda: _compiled_classifier([64], 64, 5000, 0.2),
            _classifier_batches(5000, 32, lambda rng, size: rng.integers(5, 65, size=size)),
            [ids, label],
            (5, 64),
        ),
        "stacked_classifier": ModelSpec(
            "stacked_classifier",
            "Embedding(20000, 128) + 2 x BiLSTM(64), rt_polarity-length batches",
            32,
            lambda: _compiled_classifier([64, 64], 128, 20000, 0.5),
            _classifier_batches(20000, 32, _sentence_lengths),
            [ids, label],
            (5, 60),
        ),
        "translation": ModelSpec(
            "translation",
            "seq2seq of pipelines/translate_demo.yaml: characters, BiLSTM(128) encoder, "
            "LSTM(128) decoder, Luong attention",
            64,
            lambda: _compiled_seq2seq(source_vocab, target_vocab),
            _seq2seq_batches(source_vocab, target_vocab, 64, 11),
            [(ids, ids), tf.TensorSpec([None, None], tf.int64)],
            (6, 40),
        ),
    }


# --------------------------------------------------------------------------- LSTM layers


def lstm_directions(model: keras.layers.Layer, prefix: str = "") -> list[tuple[str, keras.layers.LSTM]]:
    """Every `keras.layers.LSTM` in `model`, each direction of a
    `Bidirectional` separately, as `(path, layer)` (e.g.
    `"lstm_0/forward_lstm"`), in model order.

    Args:
        model: a model or layer.
        prefix: path of `model`'s parent ("" at the top).
    """
    found = []
    children = model.layers if isinstance(model, keras.Model) else [model]
    for layer in children:
        path = f"{prefix}/{layer.name}" if prefix else layer.name
        if isinstance(layer, keras.layers.Bidirectional):
            for direction in (layer.forward_layer, layer.backward_layer):
                if isinstance(direction, keras.layers.LSTM):
                    found.append((f"{path}/{direction.name}", direction))
        elif isinstance(layer, keras.layers.LSTM):
            found.append((path, layer))
        elif isinstance(layer, keras.Model):
            found.extend(lstm_directions(layer, path))
    return found


def set_use_cudnn(model: keras.layers.Layer, value) -> dict[str, object]:
    """Set `use_cudnn` (`"auto"`, True or False) on every LSTM direction of
    `model`; returns the previous values by path. Takes effect for steps
    traced afterwards.

    Args:
        model: a model or layer.
        value: the new `use_cudnn`.
    """
    previous = {}
    for path, layer in lstm_directions(model):
        previous[path] = layer.use_cudnn
        layer.use_cudnn = value
    return previous


# --------------------------------------------------------------------------- detection


def train_step_function(model: keras.Model, signature: list) -> tf.types.experimental.ConcreteFunction:
    """`model.train_step` traced once as a concrete function of `(x, y)`.

    Args:
        model: a compiled model.
        signature: `[x_spec, y_spec]`, with `None` for batch and time.
    """
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)

    def step(x, y):
        return model.train_step((x, y))

    return tf.function(step, input_signature=signature, reduce_retracing=True).get_concrete_function()


def graph_nodes(concrete: tf.types.experimental.ConcreteFunction) -> list[tuple[str, object]]:
    """All nodes of a concrete function's graph, nested function bodies
    included, as `(function name or "", NodeDef)`.

    Args:
        concrete: the traced function.
    """
    graph_def = concrete.graph.as_graph_def()
    nodes = [("", node) for node in graph_def.node]
    for function in graph_def.library.function:
        nodes += [(function.signature.name, node) for node in function.node_def]
    return nodes


def _input_name(name: str) -> str:
    """A node's name from a NodeDef input (`"^name"`, `"name:1"`)."""
    return name.lstrip("^").split(":")[0]


def cudnn_layers(model: keras.layers.Layer, concrete: tf.types.experimental.ConcreteFunction) -> dict:
    """Which LSTM directions of `model` run the cuDNN kernel in `concrete`.

    A direction counts only if a forward `CudnnRNN*` op in the graph reads
    its kernel (followed from the op's `params` input back to the captured
    variable handles); on a CPU, or for a layer Keras keeps on the generic
    kernel (`recurrent_dropout > 0`, `use_cudnn=False`, ...), it is False.

    Args:
        model: the model whose step was traced.
        concrete: the traced step (`train_step_function`).

    Returns:
        `{"layers": {path: bool}, "cudnn_layers": n, "lstm_layers": m,
        "fraction": n / m, "cudnn_ops": {op type: count}, "unattributed": k}`
        (`k`: forward cuDNN ops that read no LSTM kernel of `model`, e.g.
        inside nested functions).
    """
    directions = lstm_directions(model)
    owner = {}  # id of a variable handle -> path
    for path, layer in directions:
        for variable in (layer.cell.kernel, layer.cell.recurrent_kernel):
            owner[id(getattr(variable, "_value", variable).handle)] = path
    placeholder_owner = {
        internal.op.name: owner[id(external)] for external, internal in concrete.graph.captures if id(external) in owner
    }
    nodes = graph_nodes(concrete)
    top = {node.name: node for scope, node in nodes if scope == ""}
    ops, hits, unattributed = {}, set(), 0
    for scope, node in nodes:
        if node.op.startswith(CUDNN_OP_PREFIX):
            ops[node.op] = ops.get(node.op, 0) + 1
        if node.op not in CUDNN_FORWARD_OPS:
            continue
        found = set()
        if scope == "":
            pending, seen = [_input_name(node.input[CUDNN_FORWARD_OPS[node.op]])], set()
            while pending:
                name = pending.pop()
                if name in seen or name not in top:
                    continue
                seen.add(name)
                if name in placeholder_owner:
                    found.add(placeholder_owner[name])
                pending.extend(_input_name(i) for i in top[name].input)
        if found:
            hits |= found
        else:
            unattributed += 1
    layers = {path: path in hits for path, _ in directions}
    n = sum(layers.values())
    return {
        "layers": layers,
        "cudnn_layers": n,
        "lstm_layers": len(layers),
        "fraction": n / len(layers) if layers else None,
        "cudnn_ops": ops,
        "unattributed": unattributed,
    }


def strict_cudnn_check(model: keras.Model, signature: list) -> dict:
    """Trace `model`'s training step with `use_cudnn=True` on every LSTM
    direction, which makes Keras raise when cuDNN cannot be used (no GPU,
    `recurrent_dropout`, ...); `use_cudnn` is put back afterwards.

    Args:
        model: a compiled model.
        signature: `[x_spec, y_spec]`.

    Returns:
        `{"ok": True}` or `{"ok": False, "error": "<first line of the error>"}`.
    """
    previous = set_use_cudnn(model, True)
    try:
        train_step_function(model, signature)
        return {"ok": True}
    except Exception as error:  # noqa: BLE001 - the error is the finding
        return {"ok": False, "error": error_line(error)}
    finally:
        for path, layer in lstm_directions(model):
            layer.use_cudnn = previous[path]


def error_line(error: BaseException) -> str:
    """`"Type: message"` for an exception, unwrapped from TensorFlow's
    "in user code:" traceback and Keras's "Exception encountered when
    calling ..." header, without terminal colour codes.

    Args:
        error: the exception.
    """
    name = type(error).__name__
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith(f"{name}:"):
            message = lines[i]
            if "Exception encountered when calling" in message and i + 1 < len(lines):
                message = f"{name}: {lines[i + 1]}"
            return message[:300]
    # TensorFlow runtime errors: "Graph execution error: / Detected at node ... / File ... / <message> / [[{{node}}]]".
    noise = ("Graph execution error", "Detected at node", "File ", "[[", "[Op:", "in user code")
    kept = [line for line in lines if not line.startswith(noise)]
    return f"{name}: {(kept or lines or [''])[0]}"[:300]


def package_report(model: keras.Model) -> dict | None:
    """textlstm's own static cuDNN report, `{path: eligible}`, or None when
    it cannot be produced (the package API moved).

    Args:
        model: a built model.
    """
    try:
        from textlstm.models import cudnn_report

        return {row.layer: bool(row.cudnn) for row in cudnn_report(model) if row.kind == "LSTM"}
    except Exception:  # noqa: BLE001 - informative only
        return None


# --------------------------------------------------------------------------- timing


def _on_device(batches: list, device: str) -> list:
    """The numpy batches as tensors on `device`.

    Args:
        batches: `(x, y)` numpy batches (x may be a tuple).
        device: e.g. "/GPU:0".
    """
    with tf.device(device):
        return [tf.nest.map_structure(lambda a: tf.identity(tf.constant(a)), batch) for batch in batches]


def _sync(outputs) -> None:
    """Wait for `outputs` (copies them to the host)."""
    for value in tf.nest.flatten(outputs):
        np.asarray(value)


def run_model(
    spec: ModelSpec, device: str, use_cudnn, steps: int, warmup: int, pool: int, seed: int, cross_checks: bool = False
) -> dict:
    """Build `spec`'s model on `device`, trace its training step with
    `use_cudnn` on every LSTM, find which LSTMs run cuDNN, and time `steps`
    steps after `warmup` untimed ones. A failure is reported
    (`"status": "error"`, with what was found before it), not raised.

    Args:
        spec: the model.
        device: e.g. "/GPU:0" or "/CPU:0".
        use_cudnn: "auto" (Keras's default, what textlstm builds) or False.
        steps: timed training steps (>= 1).
        warmup: untimed steps first (>= 1).
        pool: distinct batches, cycled.
        seed: for `keras.utils.set_random_seed` and the batches.
        cross_checks: afterwards, with `use_cudnn` back at "auto", also add
            `strict_use_cudnn_true` (`strict_cudnn_check`) and
            `package_report` (textlstm's static eligibility report).
    """
    keras.backend.clear_session()  # the same layer names for every run
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    gpu = "GPU" in device.upper()
    result = {"status": "ok", "device": device, "use_cudnn": use_cudnn}
    model = None
    with tf.device(device):
        try:
            model = spec.build()
            result["layers"] = {path: None for path, _ in lstm_directions(model)}
            set_use_cudnn(model, use_cudnn)
            start = time.perf_counter()
            concrete = train_step_function(model, spec.signature)
            trace_s = time.perf_counter() - start
            result.update(cudnn_layers(model, concrete))
            result["trace_s"] = round(trace_s, 3)
            batches = _on_device(spec.batches(rng, max(1, pool)), device)
            _reset_memory_stats(device if gpu else None)
            for i in range(max(1, warmup)):
                _sync(concrete(*batches[i % len(batches)]))
            start = time.perf_counter()
            outputs = None
            for i in range(steps):
                outputs = concrete(*batches[i % len(batches)])
            _sync(outputs)
            elapsed = time.perf_counter() - start
            loss = float(np.asarray(outputs["loss"])) if isinstance(outputs, dict) and "loss" in outputs else None
            result.update(
                {
                    "steps": steps,
                    "seconds": round(elapsed, 4),
                    "examples_per_s": round(steps * spec.batch_size / elapsed, 2),
                    "step_ms": round(1000 * elapsed / steps, 3),
                    "loss_finite": loss is not None and math.isfinite(loss),
                }
            )
            if gpu:
                result["peak_gpu_memory_mb"] = _peak_memory_mb(device)
        except Exception as error:  # noqa: BLE001 - reported, so the other runs still report
            result["status"] = "error"
            result["error"] = error_line(error)
        if cross_checks:
            if model is not None:
                set_use_cudnn(model, "auto")
                result["strict_use_cudnn_true"] = strict_cudnn_check(model, spec.signature)
            result["package_report"] = package_report(model) if model is not None else None
    return result


def _reset_memory_stats(device: str | None) -> None:
    """Restart the peak-memory count of a GPU (`device` None: nothing)."""
    if device:
        try:
            tf.config.experimental.reset_memory_stats(device.strip("/"))
        except Exception:  # noqa: BLE001 - informative only
            pass


def _peak_memory_mb(device: str) -> float | None:
    """Peak memory of a GPU since the last reset, in MiB, where TensorFlow reports it."""
    try:
        return round(tf.config.experimental.get_memory_info(device.strip("/"))["peak"] / 2**20, 1)
    except Exception:  # noqa: BLE001 - informative only
        return None


def _ratio(a: dict, b: dict) -> float | None:
    """examples/s of run `a` over run `b`, or None unless both ran."""
    if a.get("status") == "ok" and b.get("status") == "ok":
        return round(a["examples_per_s"] / b["examples_per_s"], 3)
    return None


def check_model(spec: ModelSpec, gpu: bool, steps: int, cpu_steps: int, warmup: int, pool: int, seed: int) -> dict:
    """The report for one model: cuDNN on the GPU, the generic kernel on the
    same GPU, the CPU, and the cross-checks.

    Args:
        spec: the model.
        gpu: whether a GPU is visible.
        steps: timed steps per GPU run.
        cpu_steps: timed steps on the CPU.
        warmup: untimed steps before each timing.
        pool: distinct batches per run.
        seed: random seed.
    """
    runs = {}
    if gpu:
        runs["gpu_cudnn"] = run_model(spec, "/GPU:0", "auto", steps, warmup, pool, seed, cross_checks=True)
        runs["gpu_generic"] = run_model(spec, "/GPU:0", False, steps, warmup, pool, seed)
    else:
        runs["gpu_cudnn"] = {"status": NO_GPU}
        runs["gpu_generic"] = {"status": NO_GPU}
    # The CPU always runs the generic kernel: with a GPU visible, use_cudnn="auto" would emit a cuDNN op that
    # soft placement would move to the GPU, so the generic kernel is forced (on a CPU-only machine "auto" is the same).
    runs["cpu"] = run_model(spec, "/CPU:0", False, cpu_steps, warmup, pool, seed, cross_checks=not gpu)
    checked = runs["gpu_cudnn"] if gpu else runs["cpu"]
    strict = checked.pop("strict_use_cudnn_true", None)
    static = checked.pop("package_report", None)
    directions = next((list(r["layers"]) for r in runs.values() if r.get("layers")), [])
    cudnn = runs["gpu_cudnn"]
    if not gpu:
        verdict, fraction = NO_GPU, None
    elif cudnn["status"] != "ok":
        # A step that holds cuDNN ops and fails has not shown that cuDNN ran.
        verdict, fraction = f"error: {cudnn.get('error')}", None
    else:
        n, fraction = cudnn["cudnn_layers"], cudnn["fraction"]
        verdict = (
            "all LSTM layers ran cuDNN"
            if directions and n == len(directions)
            else f"{n}/{len(directions)} LSTM layers ran cuDNN"
        )
    agrees = None
    if gpu and static is not None and cudnn["status"] == "ok":
        # Does textlstm's static report (textlstm.models.cudnn_report) match what ran?
        agrees = all(static.get(path) == ran for path, ran in cudnn["layers"].items())
    return {
        "description": spec.description,
        "batch_size": spec.batch_size,
        "lengths": list(spec.lengths),
        "lstm_layers": directions,
        "cudnn": verdict,
        "cudnn_fraction": fraction,
        **runs,
        "speedup_cudnn_vs_generic_gpu": _ratio(runs["gpu_cudnn"], runs["gpu_generic"]),
        "speedup_cudnn_vs_cpu": _ratio(runs["gpu_cudnn"], runs["cpu"]),
        "strict_use_cudnn_true": strict,
        "package_report_eligible": static,
        "package_report_agrees": agrees,
    }


def fully_masked_row_check(gpu: bool) -> dict:
    """What cuDNN does with a fully masked row (Keras 3 rejects it), and
    that `NonEmptySequences` avoids it. Only on a GPU.

    Args:
        gpu: whether a GPU is visible.

    Returns:
        `{"status", "note", "raw", "non_empty_sequences"}`, the last two
        each `{"accepted": bool, "cudnn": bool | None, "error": str | None}`.
    """
    if not gpu:
        return {"status": NO_GPU, "note": FULLY_MASKED_NOTE}
    from textlstm.layers import NonEmptySequences

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    result = {"status": "ok", "note": FULLY_MASKED_NOTE}
    ids = np.array([[3, 4, 0], [0, 0, 0]], dtype=np.int64)  # the second row is all padding
    with tf.device("/GPU:0"):
        embedding = keras.layers.Embedding(10, 4, mask_zero=True)
        lstm = keras.layers.LSTM(4)
        for name, guard in (("raw", None), ("non_empty_sequences", NonEmptySequences())):

            def forward(x, guard=guard):
                return lstm(embedding(guard(x) if guard is not None else x))

            entry = {"accepted": False, "cudnn": None, "error": None}
            try:
                concrete = tf.function(forward).get_concrete_function(tf.TensorSpec([None, None], tf.int64))
                entry["cudnn"] = cudnn_layers(lstm, concrete)["cudnn_layers"] == 1
                _sync(concrete(tf.constant(ids)))
                entry["accepted"] = True
            except Exception as error:  # noqa: BLE001 - the error is the finding
                entry["error"] = error_line(error)
            result[name] = entry
    return result


# --------------------------------------------------------------------------- environment


def _jsonable(value):
    """`value` with tuples as lists and anything unusual as `str`."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)


def environment() -> dict:
    """Versions, TensorFlow's CUDA/cuDNN build info and the visible GPUs
    (`"gpu": None` without one)."""
    try:
        textlstm_version = importlib.metadata.version("textlstm")
    except importlib.metadata.PackageNotFoundError:
        textlstm_version = None
    gpus = tf.config.list_physical_devices("GPU")
    devices = []
    for device in gpus:
        try:
            details = tf.config.experimental.get_device_details(device)
        except Exception:  # noqa: BLE001
            details = {}
        devices.append({"name": device.name, "device_type": device.device_type, "details": _jsonable(details)})
    smi = None
    if gpus and shutil.which("nvidia-smi"):
        try:
            smi = (
                subprocess.run(
                    ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                    capture_output=True,
                    text=True,
                    timeout=20,
                    check=False,
                ).stdout.strip()
                or None
            )
        except (OSError, subprocess.SubprocessError):
            smi = None
    build = tf.sysconfig.get_build_info()
    return {
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "textlstm": textlstm_version,
            "keras_backend": keras.backend.backend(),
        },
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "build": {
            "cuda_version": build.get("cuda_version"),
            "cudnn_version": build.get("cudnn_version"),
            "is_cuda_build": build.get("is_cuda_build"),
            "is_rocm_build": build.get("is_rocm_build"),
            "cuda_compute_capabilities": _jsonable(build.get("cuda_compute_capabilities")),
        },
        "gpu": devices or None,
        "nvidia_smi": smi,
    }


def run_check(
    quick: bool = False,
    steps: int | None = None,
    cpu_steps: int | None = None,
    warmup: int | None = None,
    pool: int | None = None,
    models: list[str] | None = None,
    seed: int = 0,
) -> dict:
    """The whole report as a JSON-able dict.

    Args:
        quick: the short settings (a few steps per run).
        steps: timed steps per GPU run (default 50, quick 3).
        cpu_steps: timed steps on the CPU (default 10, quick 3).
        warmup: untimed steps before each timing (default 5, quick 1).
        pool: distinct batches per run (default 8, quick 3).
        models: names from `model_specs()` (default: all three).
        seed: random seed.
    """
    started = time.perf_counter()
    settings = dict(QUICK if quick else FULL)
    for key, value in (("steps", steps), ("cpu_steps", cpu_steps), ("warmup", warmup), ("pool", pool)):
        if value is not None:
            settings[key] = int(value)
    if settings["steps"] < 1 or settings["cpu_steps"] < 1:
        raise ValueError("steps and cpu_steps must be >= 1")
    for device in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(device, True)
        except RuntimeError:  # already initialized
            pass
    env = environment()
    gpu = env["gpu"] is not None
    specs = model_specs()
    names = models or list(specs)
    unknown = sorted(set(names) - set(specs))
    if unknown:
        raise ValueError(f"unknown models {unknown}; expected some of {sorted(specs)}")
    results = {
        name: check_model(
            specs[name], gpu, settings["steps"], settings["cpu_steps"], settings["warmup"], settings["pool"], seed
        )
        for name in names
    }
    summary = {
        name: {
            "cudnn": r["cudnn"],
            "cudnn_fraction": r["cudnn_fraction"],
            "examples_per_s": {k: r[k].get("examples_per_s") for k in ("gpu_cudnn", "gpu_generic", "cpu")},
            "speedup_cudnn_vs_generic_gpu": r["speedup_cudnn_vs_generic_gpu"],
            "speedup_cudnn_vs_cpu": r["speedup_cudnn_vs_cpu"],
        }
        for name, r in results.items()
    }
    if gpu:
        complete = all(r["cudnn_fraction"] == 1.0 for r in results.values())
        status = "ok: every LSTM ran cuDNN" if complete else "cuDNN NOT used by every LSTM (see models)"
    else:
        status = f"{NO_GPU}: TensorFlow sees no GPU; cuDNN not checked, CPU throughput only"
    return {
        "status": status,
        **env,
        "settings": {"quick": quick, "seed": seed, **settings},
        "summary": summary,
        "models": results,
        "fully_masked_row": fully_masked_row_check(gpu),
        "seconds": round(time.perf_counter() - started, 2),
    }


def main(argv: list[str] | None = None) -> dict:
    """Command line: print the report as JSON, and write it with `--output`.

    Args:
        argv: the arguments (default: `sys.argv[1:]`).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps per run (a smoke test)")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    parser.add_argument("--steps", type=int, help="timed steps per GPU run (default 50, --quick 3)")
    parser.add_argument("--cpu-steps", type=int, help="timed steps on the CPU (default 10, --quick 3)")
    parser.add_argument("--warmup", type=int, help="untimed steps before each timing (default 5, --quick 1)")
    parser.add_argument("--models", help="comma-separated subset of: " + ", ".join(model_specs()))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    report = run_check(
        quick=args.quick,
        steps=args.steps,
        cpu_steps=args.cpu_steps,
        warmup=args.warmup,
        models=args.models.split(",") if args.models else None,
        seed=args.seed,
    )
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
    return report


if __name__ == "__main__":
    main()
    sys.exit(0)
