"""Recurrent layers built so that they stay on the cuDNN kernel on a GPU.

Keras 3 (TensorFlow backend) runs `LSTM`/`GRU` through cuDNN only when the cell
uses `tanh` and a `sigmoid` recurrent activation, `recurrent_dropout=0`,
`unroll=False`, `use_bias=True` (GRU also `reset_after=True`), and the mask is
right-padded with no fully masked row. `recurrent_layer` builds layers that
meet these conditions and warns when a config asks for something that does not.
"""

from __future__ import annotations

import warnings

import keras

from textlstm.config import ConfigError

CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}


class CudnnFallbackWarning(UserWarning):
    """A recurrent layer was configured in a way that cannot use cuDNN."""


def recurrent_layer(
    cell: str,
    units: int,
    *,
    return_sequences: bool = False,
    return_state: bool = False,
    bidirectional: bool = False,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    name: str | None = None,
) -> keras.layers.Layer:
    """One LSTM/GRU/SimpleRNN layer, optionally wrapped in `Bidirectional`.

    >>> layer = recurrent_layer("lstm", 64, bidirectional=True, return_sequences=True)
    >>> type(layer).__name__
    'Bidirectional'
    """
    if cell not in CELLS:
        raise ConfigError(f"unknown cell '{cell}'; expected one of {sorted(CELLS)}")
    kwargs = dict(
        units=units,
        return_sequences=return_sequences,
        return_state=return_state,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        activation=activation,
        unroll=False,
        use_bias=True,
    )
    if cell != "simple_rnn":
        kwargs["recurrent_activation"] = recurrent_activation
        reasons = []
        if activation != "tanh":
            reasons.append(f"activation={activation!r} (cuDNN needs 'tanh')")
        if recurrent_activation != "sigmoid":
            reasons.append(f"recurrent_activation={recurrent_activation!r} (cuDNN needs 'sigmoid')")
        if recurrent_dropout:
            reasons.append(f"recurrent_dropout={recurrent_dropout} (cuDNN needs 0)")
        if reasons:
            warnings.warn(
                f"{cell} layer {name or ''} will not use cuDNN on a GPU: " + "; ".join(reasons),
                CudnnFallbackWarning,
                stacklevel=2,
            )
    if cell == "gru":
        kwargs["reset_after"] = True
    layer_name = None if bidirectional else name
    layer = CELLS[cell](name=layer_name, **kwargs)
    if bidirectional:
        layer = keras.layers.Bidirectional(layer, name=name)
    return layer
