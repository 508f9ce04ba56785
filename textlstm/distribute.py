"""Training on several devices and machines: the `tf.distribute` strategy of `train.distribute`.

`train.distribute: mirrored` trains one network on `tf.distribute.MirroredStrategy`
over the local GPUs (with no GPU: over every logical CPU device, if there is
more than one); `multi_worker` on `tf.distribute.MultiWorkerMirroredStrategy`
across the machines that `TF_CONFIG` lists (the TensorFlow convention: the same
command on every machine, each with its own `task`). `train.batch_size` stays
the global batch: each of the `n` replicas computes gradients on
`batch_size / n` examples of every step.

```python
from textlstm import distribute
strategy = distribute.strategy_for(cfg.train)  # first, before TensorFlow runs anything (multi_worker)
with distribute.scope(cfg.train):
    net = ...  # built and compiled here: its variables are mirrored
distribute.prepare(net, cfg.train)  # then `training.fit` trains it under the strategy
```

Only the chief (the `chief` task of `TF_CONFIG`, else worker 0) writes the
run's files (artifact, metrics, history, checkpoints, TensorBoard, the
backup); the other workers do the same in a temporary directory, removed at
the end (`worker_output`, the TensorFlow convention: saving reads the mirrored
variables collectively, so a save on the chief alone would hang), and restore
from the chief's backup (`WorkerBackupAndRestore` under `<output>/backup`,
which must be on a file system every worker reads, as TensorFlow requires for
multi-worker restarts).

Keras 3 and `MultiWorkerMirroredStrategy` (keras-team/keras#20585,
tensorflow/tensorflow#72388): Keras's TensorFlow trainer fails twice under
more than one worker. (1) `fit` first "symbolically builds" a model created
in a strategy scope with `strategy.reduce("MEAN", first_batch, axis=None)` on
the whole `(x, y)` batch; `Strategy.reduce` does not take a nest, and with one
worker it returns the nest unchanged (so `MirroredStrategy` works) while with
several it hands the tuple to a cross-worker collective, which cannot convert
it ("Attempt to convert a value (PerReplica...) with an unsupported type").
It would also all-reduce token ids, which needs equal batch shapes on every
worker. (2) Each step's logs are reduced with `strategy.reduce("MEAN", v,
axis=0)` when there are several workers, but the loss and the metrics are
scalars ("Invalid reduction dimension 0 for input with 0 dimensions").
`prepare` works around both: the network forgets the strategy it was built
in (Keras skips the symbolic build; `training.fit` runs `fit` inside the
strategy's scope, so the steps still run on every replica), and its train and
test steps return each scalar log as a 1-element vector, so the reduction
over axis 0 is the mean over the replicas. After training, `predict` and
`evaluate` on the network run on the local device only, so the chief can
evaluate and save alone.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from textlstm.config import TrainConfig
from textlstm.errors import ConfigError

log = logging.getLogger("textlstm")

NONE, MIRRORED, MULTI_WORKER = "none", "mirrored", "multi_worker"
BACKUP = "backup"
WORKER_TASKS = ("chief", "worker")


@dataclass(frozen=True)
class Cluster:
    """This process's place in the cluster of `TF_CONFIG`.

    Args:
        task_type: `chief` or `worker`.
        task_index: the index within its task type.
        num_workers: the processes that train (chief and workers).
        has_chief: whether the cluster has a `chief` task.
    """

    task_type: str
    task_index: int
    num_workers: int
    has_chief: bool = False

    @property
    def is_chief(self) -> bool:
        """The `chief` task, or worker 0 when the cluster has no chief."""
        return self.task_type == "chief" or (not self.has_chief and self.task_index == 0)

    @property
    def name(self) -> str:
        return f"{self.task_type} {self.task_index}"


def cluster_from_env(env=None) -> Cluster | None:
    """The cluster of `TF_CONFIG` (None when it is unset or empty).

    Args:
        env: the environment (default `os.environ`).

    >>> cluster_from_env({"TF_CONFIG": '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}'})
    Cluster(task_type='worker', task_index=1, num_workers=2, has_chief=False)
    """
    text = (env if env is not None else os.environ).get("TF_CONFIG", "").strip()
    if not text:
        return None
    where = "TF_CONFIG"
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{where} is not JSON ({err.msg} at character {err.pos})") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("cluster"), dict):
        raise ConfigError(f'{where} needs a "cluster" mapping, e.g. {{"worker": ["host1:12345", "host2:12345"]}}')
    cluster, task = spec["cluster"], spec.get("task")
    if not isinstance(task, dict) or "type" not in task:
        raise ConfigError(f'{where} needs a "task" with "type" and "index", e.g. {{"type": "worker", "index": 0}}')
    other = sorted(set(cluster) - set(WORKER_TASKS))
    if other:
        raise ConfigError(
            f"{where}: cluster task types {other} are not used by MultiWorkerMirroredStrategy "
            "(only chief and worker; parameter servers and evaluators are not supported)"
        )
    kind, index = task["type"], task.get("index", 0)
    if kind not in WORKER_TASKS:
        raise ConfigError(f"{where}: task type {kind!r} is not chief or worker")
    addresses = cluster.get(kind)
    if not isinstance(addresses, list) or not isinstance(index, int) or not 0 <= index < len(addresses):
        raise ConfigError(f"{where}: task {kind} {index} is not in the cluster's {kind} list {addresses}")
    if len(cluster.get("chief", [])) > 1:
        raise ConfigError(f"{where}: a cluster has at most one chief, got {cluster['chief']}")
    num = sum(len(cluster.get(t, [])) for t in WORKER_TASKS)
    return Cluster(kind, index, num, "chief" in cluster and bool(cluster["chief"]))


def is_chief(config: TrainConfig | None = None) -> bool:
    """Whether this process writes the run's files: always, except a
    non-chief task of `TF_CONFIG` under `train.distribute: multi_worker`.

    Args:
        config: the train section (None: read `TF_CONFIG` whatever the config).
    """
    if config is not None and config.distribute != MULTI_WORKER:
        return True
    cluster = cluster_from_env()
    return cluster is None or cluster.is_chief


_STRATEGIES: dict[str, tf.distribute.Strategy] = {}


def mirrored_devices() -> list[str]:
    """The devices `train.distribute: mirrored` replicates over: the local GPUs,
    else every logical CPU device (one, unless `tf.config.set_logical_device_configuration` made more)."""
    gpus = tf.config.list_logical_devices("GPU")
    return [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]


def strategy_for(config: TrainConfig) -> tf.distribute.Strategy | None:
    """The process's strategy for `train.distribute` (None for `none`), made once.

    For `multi_worker` call it before TensorFlow runs anything else in the
    process (TensorFlow configures its collective ops at start-up); the CLI
    does so right after reading the pipeline.

    Args:
        config: the train section.
    """
    kind = config.distribute
    if kind == NONE:
        return None
    if kind in _STRATEGIES:
        return _STRATEGIES[kind]
    if kind == MIRRORED:
        strategy = tf.distribute.MirroredStrategy(mirrored_devices())
    else:
        cluster = cluster_from_env()
        if cluster is None:
            raise ConfigError(
                "train.distribute: multi_worker needs TF_CONFIG (the cluster and this process's task), e.g. "
                'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}}\'; on one machine use train.distribute: mirrored'
            )
        if _STRATEGIES:
            raise ConfigError("train.distribute: one process trains with one strategy")
        try:
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as err:
            raise ConfigError(
                "train.distribute: multi_worker: the strategy must be made before TensorFlow runs anything "
                f"in the process (call textlstm.distribute.strategy_for first): {err}"
            ) from None
        log.info("multi_worker: %s of %d workers", cluster.name, cluster.num_workers)
    log.info("train.distribute: %s, %d replicas", kind, strategy.num_replicas_in_sync)
    _STRATEGIES[kind] = strategy
    return strategy


def scope(config: TrainConfig):
    """The strategy's scope for `train.distribute` (a no-op for `none`).

    Args:
        config: the train section.
    """
    strategy = strategy_for(config)
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def prepare(model: keras.Model, config: TrainConfig) -> keras.Model:
    """Make a network built and compiled in `scope(config)` train correctly under it
    with Keras 3 (see the module docstring); returns `model`. A no-op for `none`.

    Args:
        model: the compiled network.
        config: the train section.
    """
    strategy = strategy_for(config)
    if strategy is None:
        return model
    forget_strategy(model)
    if config.distribute == MULTI_WORKER:
        model.train_step = _vector_logs(model.train_step)
        model.test_step = _vector_logs(model.test_step)
    return model


def forget_strategy(model: keras.Model) -> None:
    """The one Keras internal used (checked by tests/test_private_apis.py): a
    model made in a strategy's scope keeps it in `_distribute_strategy`, and
    `fit` then runs the failing symbolic build; without it `distribute_strategy`
    is the strategy of the current scope."""
    if not hasattr(model, "_distribute_strategy"):
        raise RuntimeError(
            f"keras {keras.__version__}: Model._distribute_strategy is gone; textlstm.distribute.forget_strategy "
            "needs updating (see its docstring)"
        )
    model._distribute_strategy = None


def _vector_logs(step):
    def vector_step(data):
        return {k: tf.reshape(v, [1]) if getattr(v, "shape", None) == () else v for k, v in step(data).items()}

    return vector_step


def weights_digest(model: keras.Model) -> str:
    """SHA-256 of the model's weights (dtype, shape and bytes of each), the first 16 hex digits:
    every worker of a run logs it after training, and they must agree."""
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(f"{w.dtype}{w.shape}".encode())
        h.update(w.tobytes())
    return h.hexdigest()[:16]


def log_digest(model: keras.Model, config: TrainConfig) -> None:
    """Log `weights_digest` under a distributed `train.distribute` (nothing for `none`).

    Args:
        model: the trained network.
        config: the train section.
    """
    if config.distribute == NONE:
        return
    cluster = cluster_from_env() if config.distribute == MULTI_WORKER else None
    who = cluster.name if cluster else "replicas"
    log.info("train.distribute: %s: %s: trained weights %s", config.distribute, who, weights_digest(model))


# (temporary folder, the chief's output folder) while a non-chief worker runs in `worker_output`.
_WORKER_FOLDERS: contextvars.ContextVar[tuple[Path, Path] | None] = contextvars.ContextVar(
    "textlstm_worker_folders", default=None
)


def shared_backup(output_dir: str | Path) -> Path:
    """Where every worker restores `output_dir`'s backup from: `output_dir/backup`,
    or inside `worker_output` the same place in the chief's folder (the
    temporary `<tmp>/member_1` of a worker maps to `<output>/member_1/backup`).

    >>> shared_backup("runs/x/member_1").as_posix()
    'runs/x/member_1/backup'
    """
    out = Path(output_dir)
    folders = _WORKER_FOLDERS.get()
    if folders is not None:
        tmp, chief = folders
        try:
            out = chief / out.relative_to(tmp)
        except ValueError:  # a folder outside the worker's temporary one: its own
            pass
    return out / BACKUP


@contextlib.contextmanager
def worker_output(output_dir: str | Path, config: TrainConfig):
    """The directory this process writes a run to: `output_dir` on the chief;
    on another worker of `multi_worker` a temporary directory, removed
    afterwards, whose backups `shared_backup` maps to the same places under `output_dir`.

    Args:
        output_dir: the run's folder (on a file system every worker reads, to restart from the backup).
        config: the train section.
    """
    if is_chief(config):
        yield Path(output_dir)
        return
    tmp = Path(tempfile.mkdtemp(prefix="textlstm-worker-"))
    token = _WORKER_FOLDERS.set((tmp, Path(output_dir)))
    try:
        yield tmp
    finally:
        _WORKER_FOLDERS.reset(token)
        shutil.rmtree(tmp, ignore_errors=True)


class WorkerBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras's `BackupAndRestore` (which is not worker-aware) for several workers:
    each worker writes its backup to `backup_dir` (the chief's is the run's
    `backup/`, the others' are in their temporary directories), every worker
    restores from `restore_from` (the chief's: it is copied into `backup_dir`
    first), and under `multi_worker` the workers check that they resume at the
    same epoch, so a backup that a worker cannot read fails with a clear error
    instead of a hang.

    Args:
        backup_dir: this worker's backup directory.
        restore_from: the backup every worker resumes from (None: `backup_dir`).
        strategy: the strategy (None: one process).
    """

    def __init__(self, backup_dir, restore_from=None, strategy=None):
        super().__init__(str(backup_dir), delete_checkpoint=True)
        self.restore_from = Path(restore_from) if restore_from is not None else Path(backup_dir)
        self.strategy = strategy

    def on_train_begin(self, logs=None):
        own = Path(self.backup_dir)
        if self.restore_from.resolve() != own.resolve():
            shutil.rmtree(own, ignore_errors=True)
            if self.restore_from.is_dir():
                shutil.copytree(self.restore_from, own)
        super().on_train_begin(logs)
        if isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            epoch = self.resumed_epoch()
            value = tf.constant([epoch], tf.int64)
            epochs = self.strategy.gather(_per_replica(self.strategy, value), axis=0).numpy().tolist()
            if min(epochs) != max(epochs):
                raise ConfigError(
                    f"train.distribute: multi_worker: the workers resume at different epochs {epochs} (this one "
                    f"at {epoch}): every worker must read the chief's backup {self.restore_from} (the same "
                    "--output on a shared file system), or remove it to start again"
                )

    def resumed_epoch(self) -> int:
        """The epoch the backup resumes at (0: none)."""
        try:
            with open(os.path.join(self.backup_dir, "training_metadata.json"), encoding="utf-8") as f:
                return int(json.load(f)["epoch"])
        except (OSError, ValueError, KeyError):
            return 0


def _per_replica(strategy, value):
    return strategy.experimental_distribute_values_from_function(lambda ctx: value)
