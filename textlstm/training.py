"""The one training loop: `fit` with the callbacks every textlstm model uses.

Keras's progress bar, early stopping on a validation metric (best weights
restored), a best-model checkpoint, `BackupAndRestore` so a killed run resumes
from its last finished epoch, a CSV history, TensorBoard logs and per-epoch
timing. Classification and translation both train through here.

```python
history = fit(model, train_ds, val_ds, TrainConfig(epochs=3), output_dir="runs/x")
```
"""

from __future__ import annotations

import time
from pathlib import Path

import keras

from textlstm.config import ConfigError, TrainConfig


class EpochTimer(keras.callbacks.Callback):
    """Adds `epoch_time` (seconds) to each epoch's logs (and so to history.csv)."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_time"] = time.perf_counter() - self._start


def monitor_mode(monitor: str) -> str:
    return "min" if "loss" in monitor or "error" in monitor else "max"


def make_optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    name = config.optimizer.lower()
    kwargs = {"learning_rate": config.learning_rate}
    if config.clipnorm:
        kwargs["clipnorm"] = config.clipnorm
    choices = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
               "rmsprop": keras.optimizers.RMSprop, "sgd": keras.optimizers.SGD}
    if name not in choices:
        raise ConfigError(f"train.optimizer must be one of {sorted(choices)}, got {config.optimizer!r}")
    return choices[name](**kwargs)


def make_callbacks(config: TrainConfig, output_dir: str | Path | None, has_validation: bool = True) -> list:
    callbacks: list = [EpochTimer()]
    monitor = config.monitor if has_validation else config.monitor.removeprefix("val_")
    if config.patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode=monitor_mode(monitor), patience=config.patience,
            restore_best_weights=config.restore_best, verbose=0 if config.verbose in (0, "0") else 1))
    if output_dir is not None:
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        backup = out / "backup"
        resuming = backup.exists()
        if not resuming and (out / "history.csv").exists():
            (out / "history.csv").unlink()  # a fresh run starts a fresh history
        callbacks += [
            keras.callbacks.ModelCheckpoint(
                str(out / "checkpoints" / "best.weights.h5"), monitor=monitor, mode=monitor_mode(monitor),
                save_best_only=True, save_weights_only=True),
            keras.callbacks.BackupAndRestore(str(backup), delete_checkpoint=True),
            keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
        ]
        if config.tensorboard:
            callbacks.append(keras.callbacks.TensorBoard(str(out / "logs"), write_graph=False, profile_batch=0))
    return callbacks


def best_index(curve: list[float], mode: str) -> int:
    """The 0-based index of the best value of `curve` ("max" or "min"), the first on ties."""
    return curve.index(max(curve) if mode == "max" else min(curve))


def best_epoch(history: dict, config: TrainConfig) -> int:
    """The number of epochs whose weights `fit` kept: the best epoch by
    `config.monitor` when early stopping restores the best weights, else the last."""
    monitor = config.monitor if config.monitor in history else config.monitor.removeprefix("val_")
    curve = history.get(monitor)
    if curve is None:  # early stopping had nothing to watch, so the last epoch's weights stayed
        return len(next(iter(history.values()), []))
    if not curve:
        return 0
    if config.patience is None or not config.restore_best:
        return len(curve)
    return best_index(curve, monitor_mode(monitor)) + 1


def fit(model: keras.Model, train_ds, val_ds, config: TrainConfig, output_dir=None, callbacks=()) -> dict:
    """Train a compiled `model`; returns the history dict (lists per metric).

    `callbacks` run before the ones `config` asks for, so a metric they add to
    an epoch's logs (e.g. `textlstm.models.FusedAccuracy`) reaches early
    stopping, the checkpoint and the CSV log."""
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch,
        callbacks=list(callbacks) + make_callbacks(config, output_dir, val_ds is not None),
        verbose=config.verbose,
        shuffle=False,  # the tf.data pipeline shuffles
    )
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}
