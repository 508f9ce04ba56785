"""Report which recurrent layers of a Keras model will run on cuDNN.

```python
from textlstm.models import cudnn_report
for row in cudnn_report(model):
    print(row.layer, row.cudnn, row.reasons)
```
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras


@dataclass
class CudnnStatus:
    layer: str  # path of the layer inside the model, e.g. "bidirectional/forward_lstm"
    kind: str  # LSTM | GRU | SimpleRNN | ...
    cudnn: bool
    reasons: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        verdict = "cuDNN" if self.cudnn else "generic kernel: " + "; ".join(self.reasons)
        return f"{self.layer} ({self.kind}): {verdict}"


def _activation_name(fn) -> str:
    return getattr(fn, "__name__", str(fn))


def layer_status(layer: keras.layers.Layer, path: str | None = None) -> CudnnStatus:
    """cuDNN eligibility of one recurrent layer, following Keras 3's own checks."""
    path = path or layer.name
    kind = type(layer).__name__
    if not isinstance(layer, (keras.layers.LSTM, keras.layers.GRU)):
        return CudnnStatus(path, kind, False, [f"{kind} has no cuDNN kernel (only LSTM and GRU do)"])
    cell = layer.cell
    reasons = []
    if _activation_name(cell.activation) != "tanh":
        reasons.append(f"activation is {_activation_name(cell.activation)}, not tanh")
    if _activation_name(cell.recurrent_activation) != "sigmoid":
        reasons.append(f"recurrent_activation is {_activation_name(cell.recurrent_activation)}, not sigmoid")
    if layer.unroll:
        reasons.append("unroll=True")
    if not cell.use_bias:
        reasons.append("use_bias=False")
    if cell.recurrent_dropout:
        reasons.append(f"recurrent_dropout={cell.recurrent_dropout}")
    if isinstance(layer, keras.layers.GRU) and not cell.reset_after:
        reasons.append("reset_after=False")
    if getattr(layer, "use_cudnn", "auto") is False:
        reasons.append("use_cudnn=False")
    return CudnnStatus(path, kind, not reasons, reasons)


def _walk(layer, prefix=""):
    path = f"{prefix}/{layer.name}" if prefix else layer.name
    if isinstance(layer, keras.layers.Bidirectional):
        yield from _walk(layer.forward_layer, path)
        yield from _walk(layer.backward_layer, path)
    elif isinstance(layer, keras.layers.RNN):
        yield layer, path
    elif hasattr(layer, "layers"):
        for sub in layer.layers:
            yield from _walk(sub, path)
    else:
        # Custom layers may hold recurrent sublayers as attributes.
        for sub in getattr(layer, "_layers", []) or []:
            yield from _walk(sub, path)


def cudnn_report(model: keras.Model | keras.layers.Layer) -> list[CudnnStatus]:
    """One `CudnnStatus` per recurrent layer (each direction of a Bidirectional).

    Masks are checked at run time by Keras: they must be right-padded with no
    fully masked row, which textlstm's pipelines guarantee.
    """
    layers = model.layers if hasattr(model, "layers") else [model]
    return [layer_status(layer, path) for top in layers for layer, path in _walk(top)]


def format_report(rows: list[CudnnStatus]) -> str:
    if not rows:
        return "no recurrent layers"
    return "\n".join(str(r) for r in rows)
