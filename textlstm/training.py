"""The one training loop: `fit` with the callbacks every textlstm model uses.

Keras's progress bar (one line per epoch when standard output is not a
terminal: a log file, CI, nohup), early stopping on a validation metric (best weights
restored), a best-model checkpoint, `BackupAndRestore` so a killed run resumes
from its last finished epoch, a CSV history, TensorBoard logs and per-epoch
timing. Classification and translation both train through here.

`history.csv` appears when `fit` has finished: during training Keras's
`CSVLogger` appends each epoch to `history.partial.csv` (which a resumed run
goes on appending to), and at the end the whole history is written to
`history.csv` through a temporary file (`textlstm.files`), so a killed run
leaves the previous `history.csv`, never a half-written one.

```python
history = fit(model, train_ds, val_ds, TrainConfig(epochs=3), output_dir="runs/x")
```
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import keras

from textlstm import distribute
from textlstm.adversarial import adversarial_network
from textlstm.config import TrainConfig
from textlstm.files import write_text_atomic

HISTORY = "history.csv"
PARTIAL_HISTORY = "history.partial.csv"  # the epochs so far, while training (and after a kill)


def resolve_verbose(verbose) -> int:
    """Keras's `verbose` for `train.verbose`: `"auto"` is 1 (the per-step
    progress bar) when standard output is a terminal or a Jupyter kernel, else
    2 (one line per epoch, for log files, CI and nohup); 0, 1 and 2 are kept."""
    if isinstance(verbose, str):
        if verbose.strip().lower() != "auto":
            return int(verbose)
        stdout = sys.stdout
        try:
            interactive = stdout is not None and (stdout.isatty() or type(stdout).__module__.startswith("ipykernel"))
        except (AttributeError, ValueError):  # a replaced or closed stream
            interactive = False
        return 1 if interactive else 2
    return int(verbose)


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
    choices = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "rmsprop": keras.optimizers.RMSprop,
        "sgd": keras.optimizers.SGD,
    }
    return choices[name](**kwargs)  # the name was checked when the pipeline was read


def make_callbacks(config: TrainConfig, output_dir: str | Path | None, has_validation: bool = True) -> list:
    callbacks: list = [EpochTimer()]
    monitor = config.monitor if has_validation else config.monitor.removeprefix("val_")
    if config.patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor,
                mode=monitor_mode(monitor),
                patience=config.patience,
                restore_best_weights=True,
                verbose=1 if resolve_verbose(config.verbose) else 0,
            )
        )
    if output_dir is not None:
        # Under train.distribute: multi_worker every worker runs these callbacks (saving reads
        # variables collectively), the chief in the run's folder, the others in a temporary one.
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        backup = out / "backup"
        partial = out / PARTIAL_HISTORY
        if backup.exists():  # resuming: go on appending to the epochs before the kill
            _clean_history(partial)
        elif partial.exists():
            partial.unlink()  # a fresh run starts a fresh history
        callbacks += [
            keras.callbacks.ModelCheckpoint(
                str(out / "checkpoints" / "best.weights.h5"),
                monitor=monitor,
                mode=monitor_mode(monitor),
                save_best_only=True,
                save_weights_only=True,
            ),
            # The epoch's row before its backup: a kill between the two runs the
            # epoch again and its second row replaces the first (_clean_history).
            keras.callbacks.CSVLogger(str(partial), append=True),
            distribute.WorkerBackupAndRestore(
                backup, restore_from=distribute.shared_backup(out), strategy=distribute.strategy_for(config)
            ),
        ]
        if config.tensorboard:
            callbacks.append(keras.callbacks.TensorBoard(str(out / "logs"), write_graph=False, profile_batch=0))
    return callbacks


def _read_raw(path: Path) -> str:
    with open(path, encoding="utf-8", newline="") as f:  # line endings as written
        return f.read()


def _history_text(path: Path) -> str | None:
    """The CSV history at `path` without the rows a kill cut short and, for an
    epoch that ran again after a resume, only its last row; None when there is
    no header. Lines are kept as `CSVLogger` wrote them."""
    try:
        lines = _read_raw(path).splitlines(keepends=True)
    except FileNotFoundError:
        return None
    if not lines or not lines[0].endswith("\n"):
        return None
    width = len(next(csv.reader([lines[0]])))
    rows: dict[str, str] = {}
    for line in lines[1:]:
        fields = next(csv.reader([line]), [])
        if line.endswith("\n") and len(fields) == width:
            rows[fields[0]] = line
    ordered = sorted(rows.items(), key=lambda item: int(item[0]) if item[0].isdigit() else -1)
    return lines[0] + "".join(line for _, line in ordered)


def _clean_history(path: Path) -> None:
    """Before a resumed run appends to `path`: drop what `_history_text` drops."""
    text = _history_text(path)
    if text is None:
        path.unlink(missing_ok=True)  # CSVLogger starts it again with a header
    elif text != _read_raw(path):
        write_text_atomic(path, text, newline="")


def finish_history(output_dir: str | Path) -> Path | None:
    """Write `history.csv` (all epochs, resumed runs included) from the
    partial history of a finished `fit`, atomically, and remove the partial one."""
    out = Path(output_dir)
    partial = out / PARTIAL_HISTORY
    text = _history_text(partial)
    if text is None:
        return None
    final = write_text_atomic(out / HISTORY, text, newline="")
    partial.unlink(missing_ok=True)
    return final


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
    if config.patience is None:
        return len(curve)
    return best_index(curve, monitor_mode(monitor)) + 1


def fit(model: keras.Model, train_ds, val_ds, config: TrainConfig, output_dir=None, callbacks=()) -> dict:
    """Train a compiled `model`; returns the history dict (lists per metric).

    `callbacks` run before the ones `config` asks for, so a metric they add to
    an epoch's logs (e.g. `textlstm.wide.component.FusedAccuracy`) reaches early
    stopping, the checkpoint and the CSV log. `train.verbose: auto` shows the
    progress bar on a terminal and one line per epoch elsewhere
    (`resolve_verbose`). With `output_dir`, `history.csv` is written when
    training has finished (`finish_history`). Under `train.distribute` the
    model was built in `textlstm.distribute.scope` and `fit` runs in it; only
    the chief writes files. With `train.adversarial` the fitted model is an
    `textlstm.adversarial.AdversarialNetwork` on `model`'s graph (its
    layers, so its weights, are `model`'s)."""
    with distribute.scope(config):
        trainee = model
        if config.adversarial is not None:  # the same layers, trained with the adversarial loss added
            trainee = adversarial_network(model, config.adversarial.epsilon)
        history = trainee.fit(
            train_ds,
            validation_data=val_ds,
            epochs=config.epochs,
            callbacks=list(callbacks) + make_callbacks(config, output_dir, val_ds is not None),
            verbose=resolve_verbose(config.verbose),
            shuffle=False,  # the tf.data pipeline shuffles
        )
    distribute.log_digest(model, config)
    if output_dir is not None:
        finish_history(output_dir)
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}
