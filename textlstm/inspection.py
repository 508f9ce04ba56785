"""Inside the LSTM: gate activations, cell and hidden states per token.

`inspect_gates` recomputes every LSTM step in NumPy from the layer's own
weights, with Keras's equations (`kernel`, `recurrent_kernel` and `bias`
columns in the order i, f, c, o; the layer's `activation` and
`recurrent_activation`):

    i = recurrent_activation(x W_i + h U_i + b_i)      input gate
    f = recurrent_activation(x W_f + h U_f + b_f)      forget gate
    g = activation(x W_c + h U_c + b_c)                candidate (Keras: c)
    o = recurrent_activation(x W_o + h U_o + b_o)      output gate
    c = f * c_prev + i * g                             cell state
    h = o * activation(c)                              hidden state

Masks are handled like Keras's generic RNN loop (`keras.src.backend.tensorflow.rnn`):
at a masked step the state `(h, c)` is carried over and the layer outputs the
previous step's output, or zeros when `zero_output_for_mask` is set (which
`Bidirectional` forces for `return_sequences=True`). The backward direction
runs over the whole reversed sequence, so with right padding it starts on the
padding (state stays zero) and then reads the tokens last to first. Gates at
masked steps are NaN: Keras discards them. (On a GPU, cuDNN writes zeros at
padded steps of a plain `LSTM`; the states are the same.)

```python
import textlstm.layers, keras
from textlstm.inspection import inspect_gates, plot_gates
model = keras.saving.load_model("runs/demo/model.keras")    # string or id input
result = inspect_gates(model, "not a good film")
result.trace(layer=0, direction="forward").forget_gate       # (tokens, units)
print(result.table())
plot_gates(result, layer=0, path="gates.png")
```

`textlstm inspect MODEL "text" --output gates.png` does the same from the shell.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from textlstm.evaluation import save_figure

# Names of the per-step arrays in a DirectionTrace, in Keras's column order for the gates.
GATES = ("input_gate", "forget_gate", "candidate", "output_gate")
STATES = ("cell", "hidden")
SYMBOLS = {"input_gate": "i", "forget_gate": "f", "candidate": "g", "output_gate": "o", "cell": "c", "hidden": "h"}
SUPPORTED = "LSTM and Bidirectional(LSTM)"


class InspectionError(ValueError):
    """The model, layer or text cannot be inspected as given."""


@dataclass
class DirectionTrace:
    """One direction of one LSTM layer. Arrays are `(time, units)` in token
    order (`(batch, time, units)` for a batch), also for the backward direction."""

    layer: str  # Keras layer name
    index: int  # position in the recurrent stack, 0 = next to the embedding
    direction: str  # forward | backward
    input_gate: np.ndarray
    forget_gate: np.ndarray
    candidate: np.ndarray
    output_gate: np.ndarray
    cell: np.ndarray  # state after the step (carried over at masked steps)
    hidden: np.ndarray  # state after the step (carried over at masked steps)
    output: np.ndarray  # what Keras's layer outputs at the step (return_sequences=True)

    def __getitem__(self, name: str) -> np.ndarray:
        """`trace["f"]` or `trace["forget_gate"]`."""
        full = {v: k for k, v in SYMBOLS.items()}.get(name, name)
        if full not in SYMBOLS and full != "output":
            raise KeyError(f"unknown array {name!r}; expected one of {list(SYMBOLS)} or {list(SYMBOLS.values())}")
        return getattr(self, full)


@dataclass
class GateInspection:
    """Everything `inspect_gates` computed for one text (or one batch)."""

    tokens: list[str] | None  # None when token ids or vectors came in without a vocabulary
    ids: np.ndarray | None
    mask: np.ndarray  # (time,) or (batch, time), True = real token
    traces: list[DirectionTrace] = field(default_factory=list)
    outputs: list[np.ndarray] = field(default_factory=list)  # merged output sequence of each layer

    @property
    def num_layers(self) -> int:
        return len(self.outputs)

    def trace(self, layer: int = 0, direction: str = "forward") -> DirectionTrace:
        """The trace of layer `layer` (0-based, negative counts from the top) in `direction`."""
        if not -self.num_layers <= layer < self.num_layers:
            raise InspectionError(f"layer {layer} out of range: the model has {self.num_layers} LSTM layer(s)")
        index = layer % self.num_layers
        for t in self.traces:
            if t.index == index and t.direction == direction:
                return t
        have = sorted({t.direction for t in self.traces if t.index == index})
        raise InspectionError(f"layer {index} has no {direction} direction; it has {', '.join(have)}")

    def table(self, layer: int = 0, direction: str = "forward") -> str:
        """Per-token means over units of each gate and state (one text only)."""
        trace = self.trace(layer, direction)
        if trace.hidden.ndim != 2:
            raise InspectionError("table() needs a single text, not a batch")
        tokens = self.tokens or [str(i) for i in range(trace.hidden.shape[0])]
        width = max(8, *(len(t) for t in tokens))
        names = (*GATES, *STATES)
        head = f"{'token':<{width}} " + " ".join(f"{SYMBOLS[n]:>7}" for n in names)
        lines = [f"{trace.layer} ({direction}), means over {trace.hidden.shape[1]} units", head]
        for t, token in enumerate(tokens):
            lines.append(f"{token:<{width}} " + " ".join(f"{np.mean(trace[n][t]):>7.3f}" for n in names))
        return "\n".join(lines)


# ---------------------------------------------------------------- the recurrence

_NUMPY_ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "hard_sigmoid": lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0),
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "softsign": lambda x: x / (1.0 + np.abs(x)),
}


def _numpy_activation(fn):
    """A NumPy version of a Keras activation; unknown ones run through Keras."""
    name = getattr(fn, "__name__", "")
    if name in _NUMPY_ACTIVATIONS:
        return _NUMPY_ACTIVATIONS[name]
    import keras

    return lambda x: keras.ops.convert_to_numpy(fn(keras.ops.convert_to_tensor(x, "float32"))).astype(x.dtype)


def _run_lstm(lstm, x: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Step one `keras.layers.LSTM` over `x` (batch, time, features) in float64."""
    cell = lstm.cell
    act, rec = _numpy_activation(cell.activation), _numpy_activation(cell.recurrent_activation)
    kernel = np.asarray(cell.kernel.numpy(), np.float64)
    recurrent = np.asarray(cell.recurrent_kernel.numpy(), np.float64)
    bias = np.asarray(cell.bias.numpy(), np.float64) if cell.use_bias else 0.0
    batch, steps, _ = x.shape
    units = cell.units
    h = np.zeros((batch, units))
    c = np.zeros((batch, units))
    prev_out = np.zeros((batch, units))
    out = {name: np.full((batch, steps, units), np.nan) for name in (*GATES, *STATES, "output")}
    order = range(steps - 1, -1, -1) if lstm.go_backwards else range(steps)
    for t in order:
        z = x[:, t] @ kernel + h @ recurrent + bias
        zi, zf, zc, zo = np.split(z, 4, axis=-1)
        i, f, g, o = rec(zi), rec(zf), act(zc), rec(zo)
        c_new = f * c + i * g
        h_new = o * act(c_new)
        m = mask[:, t, None]
        for name, value in zip(GATES, (i, f, g, o)):
            out[name][:, t] = np.where(m, value, np.nan)
        h, c = np.where(m, h_new, h), np.where(m, c_new, c)
        prev_out = np.where(m, h_new, 0.0 if lstm.zero_output_for_mask else prev_out)
        out["cell"][:, t], out["hidden"][:, t], out["output"][:, t] = c, h, prev_out
    return out


def _merge(mode: str | None, forward: np.ndarray, backward: np.ndarray, name: str) -> np.ndarray:
    if mode == "concat":
        return np.concatenate([forward, backward], axis=-1)
    if mode == "sum":
        return forward + backward
    if mode == "ave":
        return (forward + backward) / 2
    if mode == "mul":
        return forward * backward
    raise InspectionError(f"{name}: merge_mode={mode!r} cannot feed a stacked layer; use concat, sum, ave or mul")


def trace_layer(layer, inputs, mask=None, index: int = 0) -> tuple[list[DirectionTrace], np.ndarray]:
    """Traces of one LSTM or Bidirectional(LSTM) layer on `inputs` (batch, time,
    features), and the layer's output sequence (merged for Bidirectional)."""
    inputs = np.asarray(inputs, np.float64)
    mask = np.ones(inputs.shape[:2], bool) if mask is None else np.asarray(mask, bool)
    _check_layer(layer)
    import keras

    if isinstance(layer, keras.layers.Bidirectional):
        parts = [("forward", layer.forward_layer), ("backward", layer.backward_layer)]
    else:
        parts = [("backward" if layer.go_backwards else "forward", layer)]
    traces = []
    for direction, lstm in parts:
        arrays = _run_lstm(lstm, inputs, mask)
        traces.append(DirectionTrace(layer.name, index, direction, **arrays))
    if len(traces) == 1:
        return traces, traces[0].output
    merged = _merge(layer.merge_mode, traces[0].output, traces[1].output, layer.name)
    return traces, merged


# ---------------------------------------------------------------- finding the layers

# Layers that are the identity at inference and pass the mask on unchanged.
_PASSTHROUGH = (
    "Dropout",
    "SpatialDropout1D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
    "Metadata",
)


def _check_layer(layer) -> None:
    import keras

    inner = layer.forward_layer if isinstance(layer, keras.layers.Bidirectional) else layer
    if isinstance(inner, keras.layers.LSTM):
        return
    kind = type(inner).__name__
    if isinstance(inner, keras.layers.RNN):
        raise InspectionError(f"layer '{layer.name}' is a {kind}: only LSTM is supported ({SUPPORTED})")
    raise InspectionError(f"layer '{layer.name}' ({kind}) is not recurrent; supported: {SUPPORTED}")


def _flatten(layer):
    """Layers of a model in order, descending into nested models (not wrappers)."""
    import keras

    if isinstance(layer, keras.Model):
        for sub in layer.layers:
            yield from _flatten(sub)
    else:
        yield layer


def _find_stack(model):
    """(TextVectorization or None, Embedding, [recurrent layers]) of a model."""
    import keras

    layers = list(_flatten(model))
    recurrent = [
        l
        for l in layers
        if isinstance(l, keras.layers.RNN)
        or (isinstance(l, keras.layers.Bidirectional) and isinstance(l.forward_layer, keras.layers.RNN))
    ]
    if not recurrent:
        raise InspectionError(f"model '{model.name}' has no LSTM layers; supported: {SUPPORTED}")
    for layer in recurrent:
        _check_layer(layer)
    vectorizer = next((l for l in layers if isinstance(l, keras.layers.TextVectorization)), None)
    embeddings = [l for l in layers if isinstance(l, keras.layers.Embedding)]
    if not embeddings:
        raise InspectionError(f"model '{model.name}' has no Embedding layer in front of its LSTM layers")
    embedding = embeddings[0]
    stack = []
    for layer in layers[layers.index(embedding) + 1 :]:
        if layer in recurrent:
            stack.append(layer)
        elif type(layer).__name__ in _PASSTHROUGH or isinstance(layer, keras.layers.InputLayer):
            continue
        elif not stack:
            raise InspectionError(
                f"layer '{layer.name}' ({type(layer).__name__}) sits between the embedding and the first "
                f"LSTM; only Embedding -> [dropout] -> LSTM stacks are supported"
            )
        else:
            break  # the head (pooling, dense) after the recurrent stack
    if len(stack) != len(recurrent):
        raise InspectionError(f"model '{model.name}': the LSTM layers do not form one Embedding -> LSTM stack")
    return vectorizer, embedding, stack


def _to_ids(text_or_ids, vectorizer, max_length=None) -> tuple[np.ndarray, list[str] | None]:
    """Token ids (time,) or (batch, time) and the tokens of a single sequence;
    a text is cut to `max_length` tokens, as the model's `NonEmptySequences` does."""
    vocab = None
    if isinstance(text_or_ids, str):
        if vectorizer is None:
            raise InspectionError("the model takes token ids; pass vectorizer= (a TextVectorization) to inspect a text")
        if getattr(vectorizer, "_output_mode", "int") != "int":
            raise InspectionError("the vectorizer must have output_mode='int'")
        ids = np.asarray(vectorizer([text_or_ids]))[0].astype("int64")
        nonzero = np.flatnonzero(ids)
        if nonzero.size == 0:
            raise InspectionError(f"text {text_or_ids!r} vectorizes to no tokens")
        ids = ids[: nonzero[-1] + 1][:max_length]  # drop the padding of output_sequence_length
        vocab = vectorizer.get_vocabulary()
    else:
        ids = np.asarray(text_or_ids)
        if ids.ndim not in (1, 2) or not np.issubdtype(ids.dtype, np.integer):
            raise InspectionError(
                f"expected a text or integer token ids (time,) or (batch, time), got {ids.shape} {ids.dtype}"
            )
        if ids.size == 0 or not ids.any():
            raise InspectionError("the token ids hold no tokens (all padding)")
        if vectorizer is not None:
            vocab = vectorizer.get_vocabulary()
    tokens = None
    if vocab is not None and ids.ndim == 1:
        tokens = [vocab[i] if i < len(vocab) else f"<{i}>" for i in ids]
        tokens = [t if t else "<pad>" for t in tokens]
    return ids, tokens


def inspect_gates(model_or_layer, text_or_ids, vectorizer=None, mask=None) -> GateInspection:
    """Gates, cell and hidden states of every LSTM layer and direction.

    `model_or_layer` is a Keras model with an `Embedding -> LSTM stack`
    (taking strings, when it contains its `TextVectorization`, or token ids),
    an object with `.network` and `.vectorizer` (a `TextClassifier`), or a
    single `LSTM` / `Bidirectional(LSTM)` layer. For a model, `text_or_ids` is
    a text or integer ids `(time,)` / `(batch, time)` with 0 = padding; for a
    layer it is a float array `(time, features)` / `(batch, time, features)`
    with an optional boolean `mask`.

    >>> import keras, numpy as np
    >>> layer = keras.layers.LSTM(3, return_sequences=True)
    >>> x = np.random.rand(5, 2).astype("float32")
    >>> result = inspect_gates(layer, x)
    >>> result.trace(0).hidden.shape
    (5, 3)
    """
    import keras

    max_length = None
    if hasattr(model_or_layer, "network") and not isinstance(model_or_layer, keras.layers.Layer):
        vectorizer = vectorizer if vectorizer is not None else getattr(model_or_layer, "vectorizer", None)
        config = getattr(model_or_layer, "config", None)
        max_length = getattr(getattr(config, "vectorizer", None), "max_length", None)
        max_length = max_length if isinstance(max_length, int) else None  # `pNN`: the network's own cut
        model_or_layer = model_or_layer.network
    if not isinstance(model_or_layer, keras.Model):
        if not isinstance(model_or_layer, keras.layers.Layer):
            raise InspectionError(f"expected a Keras model or layer, got {type(model_or_layer).__name__}")
        x = np.asarray(text_or_ids, np.float32)
        if x.ndim not in (2, 3):
            raise InspectionError(f"a layer takes vectors (time, features) or (batch, time, features), got {x.shape}")
        single = x.ndim == 2
        x = x[None] if single else x
        if not model_or_layer.built:
            model_or_layer(x[:1])  # creates the weights
        m = np.ones(x.shape[:2], bool) if mask is None else np.asarray(mask, bool).reshape(x.shape[:2])
        traces, output = trace_layer(model_or_layer, x, m)
        result = GateInspection(None, None, m, traces, [output])
        return _squeeze(result) if single else result

    found, embedding, stack = _find_stack(model_or_layer)
    truncate = [l.max_length for l in _flatten(model_or_layer) if type(l).__name__ == "NonEmptySequences"]
    truncate = [n for n in truncate if n]
    max_length = truncate[0] if truncate else max_length
    ids, tokens = _to_ids(text_or_ids, vectorizer if vectorizer is not None else found, max_length)
    single = ids.ndim == 1
    ids = ids[None] if single else ids
    table = np.asarray(embedding.embeddings.numpy(), np.float64)
    x = table[ids]
    m = ids != 0 if embedding.mask_zero else np.ones(ids.shape, bool)
    result = GateInspection(tokens, ids, m)
    for index, layer in enumerate(stack):
        traces, x = trace_layer(layer, x, m, index=index)
        result.traces.extend(traces)
        result.outputs.append(x)
    return _squeeze(result) if single else result


def _squeeze(result: GateInspection) -> GateInspection:
    for trace in result.traces:
        for name in (*GATES, *STATES, "output"):
            setattr(trace, name, getattr(trace, name)[0])
    result.outputs = [o[0] for o in result.outputs]
    result.mask = result.mask[0]
    if result.ids is not None:
        result.ids = result.ids[0]
    return result


# ---------------------------------------------------------------- plots and CLI


def plot_gates(
    result: GateInspection,
    layer: int = 0,
    direction: str = "forward",
    path: str | Path | None = None,
    names=(*GATES, *STATES),
):
    """Heat maps (units x tokens) of each gate and state of one layer/direction.

    Gates share a 0..1 colour scale, candidate and hidden state -1..1, the cell
    state is centred on 0. Returns a `matplotlib.figure.Figure` (no pyplot, so
    safe under Agg); writes a PNG when `path` is given.
    """
    from textlstm.evaluation import new_figure

    trace = result.trace(layer, direction)
    if trace.hidden.ndim != 2:
        raise InspectionError("plot_gates needs a single text, not a batch")
    steps, units = trace.hidden.shape
    tokens = result.tokens or [str(i) for i in range(steps)]
    fig = new_figure(
        (max(6.0, 1.2 + 0.45 * steps), 1.0 + len(names) * max(1.2, min(3.0, units * 0.08))), layout="constrained"
    )
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    for ax, name in zip(axes, names):
        values = trace[name].T  # units x time
        if name in ("candidate", "hidden"):
            kw = dict(cmap="RdBu_r", vmin=-1, vmax=1)
        elif name == "cell":
            lim = float(np.nanmax(np.abs(values))) or 1.0
            kw = dict(cmap="RdBu_r", vmin=-lim, vmax=lim)
        else:
            kw = dict(cmap="viridis", vmin=0, vmax=1)
        image = ax.imshow(values, aspect="auto", interpolation="nearest", **kw)
        ax.set_ylabel(f"{SYMBOLS[name]}: {name.replace('_', ' ')}\nunit", fontsize=8)
        fig.colorbar(image, ax=ax, pad=0.01)
    axes[-1].set_xticks(range(steps), tokens, rotation=60, ha="right", fontsize=8)
    fig.suptitle(f"{trace.layer} ({direction})")
    if path is not None:
        save_figure(fig, path, dpi=110)
    return fig


def _load_for_inspection(path: str):
    """`textlstm.load(path)`, or the plain Keras model for a `.keras` file that
    textlstm did not write."""
    from textlstm.artifact import ArtifactError, load, load_keras_model

    try:
        return load(path)
    except ArtifactError:
        return load_keras_model(path)


def add_inspect_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments of `textlstm inspect MODEL TEXT`."""
    parser.add_argument("model", help="saved model (.keras) with an Embedding -> LSTM stack")
    parser.add_argument("text", help="the text to run through the model")
    parser.add_argument("--output", "-o", help="write the gate heat maps to this PNG")
    parser.add_argument("--layer", type=int, default=0, help="LSTM layer, 0 = next to the embedding (default 0)")
    parser.add_argument("--direction", choices=["forward", "backward"], default="forward")
    return parser


def inspect_command(args: argparse.Namespace) -> int:
    """Print the per-token table and optionally save the heat maps."""
    model = _load_for_inspection(args.model)
    result = inspect_gates(model, args.text)
    print(result.table(args.layer, args.direction))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        plot_gates(result, args.layer, args.direction, path=args.output)
        print(f"wrote {args.output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = add_inspect_arguments(argparse.ArgumentParser(prog="python -m textlstm.inspection"))
    try:
        return inspect_command(parser.parse_args(argv))
    except InspectionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
