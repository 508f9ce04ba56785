"""train.distribute: TF_CONFIG, the chief rule, read-time refusals, MirroredStrategy on two
logical CPU devices against one device, and two MultiWorkerMirroredStrategy workers on
127.0.0.1 through the CLI (slow). Multi-device runs are subprocesses: logical devices and
the multi-worker strategy must be set up before TensorFlow starts in a process."""

import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import REPO
from textlstm.config import pipeline_from_dict
from textlstm.distribute import cluster_from_env, is_chief
from textlstm.errors import ConfigError

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg"}


def tf_config(index, ports, kind="worker", chief=None):
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    if chief:
        cluster["chief"] = [chief]
    return json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})


def test_cluster_and_chief_rule(monkeypatch):
    assert cluster_from_env({}) is None
    assert cluster_from_env({"TF_CONFIG": tf_config(0, [1, 2])}).is_chief
    assert not cluster_from_env({"TF_CONFIG": tf_config(1, [1, 2])}).is_chief
    # with a chief task, worker 0 is not the chief
    assert not cluster_from_env({"TF_CONFIG": tf_config(0, [1], chief="h:3")}).is_chief
    assert cluster_from_env({"TF_CONFIG": tf_config(0, [1], kind="chief", chief="h:3")}).num_workers == 2
    cfg = pipeline_from_dict({"train": {"distribute": "multi_worker"}})
    monkeypatch.setenv("TF_CONFIG", tf_config(1, [1, 2]))
    assert not is_chief(cfg.train)
    assert is_chief(pipeline_from_dict({}).train)  # distribute: none writes whatever TF_CONFIG says


@pytest.mark.parametrize(
    "text, words",
    [
        ("{", "not JSON"),
        ('{"task": {"type": "worker", "index": 0}}', "cluster"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "not in the cluster"),
        ('{"cluster": {"worker": ["a:1"], "ps": ["b:1"]}, "task": {"type": "worker", "index": 0}}', "parameter"),
    ],
)
def test_bad_tf_config_is_a_clear_error(text, words):
    with pytest.raises(ConfigError, match=words):
        cluster_from_env({"TF_CONFIG": text})


def test_read_time_refusals():
    with pytest.raises(ConfigError, match="train.distribute"):
        pipeline_from_dict({"train": {"distribute": "horovod"}})
    with pytest.raises(ConfigError, match="task: classification"):
        pipeline_from_dict({"task": "translation", "train": {"distribute": "mirrored"}})
    with pytest.raises(ConfigError, match="late wide path"):
        pipeline_from_dict({"model": {"wide": [{"ngrams": 2, "fusion": "late"}]}, "train": {"distribute": "mirrored"}})


def test_tune_refuses_multi_worker(tmp_path):
    from textlstm.tuning.sweep import tune

    cfg = pipeline_from_dict(
        {
            "train": {"distribute": "multi_worker"},
            "search": {"tuner": "random", "max_trials": 1, "space": {"units": {"choice": [8, 16]}}},
        }
    )
    with pytest.raises(ConfigError, match="one trial per Keras Tuner worker"):
        tune(cfg, tmp_path / "sweep", progress=False)


MIRRORED = r"""
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from textlstm.classifier import TextClassifier
sets = ["data.source=demo", "data.demo_size=400", "vectorizer.max_length=20", "model.embedding_dim=8",
        "model.units=[8]", "model.bidirectional=false", "model.dropout=0.0", "train.epochs=2",
        "train.patience=null", "train.verbose=0", "train.tensorboard=false", "train.buckets=0",
        "train.batch_size=32", "train.optimizer=sgd", "train.learning_rate=0.1", "train.clipnorm=null"]
out = {}
for kind in ("none", "mirrored"):
    clf = TextClassifier.from_pipeline(None, sets + [f"train.distribute={kind}"]).fit()
    out[kind] = clf.history[0]["loss"]
from textlstm.distribute import strategy_for
out["replicas"] = strategy_for(clf.config.train).num_replicas_in_sync
print("RESULT " + json.dumps(out))
"""


def test_mirrored_on_two_cpu_devices_matches_one_device():
    """Same seed, same global batch of 32 (16 per replica), plain SGD: the per-epoch
    training loss of the two-replica run equals the one-device run's up to float32
    summation order (the gradient is summed per replica, then across), so 1e-4
    relative is ample while a wrong scaling of the loss (x2) or a replica seeing
    other data would be off by far more."""
    proc = subprocess.run(
        [sys.executable, "-c", MIRRORED],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert result["replicas"] == 2
    assert result["none"] == pytest.approx(result["mirrored"], rel=1e-4)


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


QUICK = [
    "data.demo_size=400",
    "vectorizer.max_length=20",
    "model.embedding_dim=8",
    "model.units=[8]",
    "model.bidirectional=false",
    "train.epochs=2",
    "train.patience=null",
    "train.verbose=2",
    "train.tensorboard=false",
    "train.buckets=0",
    "train.distribute=multi_worker",
]


def two_workers(outputs, ports, timeout=240):
    procs = []
    sets = [x for o in QUICK for x in ("--set", o)]
    for i, out in enumerate(outputs):
        env = {**ENV, "TF_CONFIG": tf_config(i, ports)}
        cmd = [
            sys.executable,
            "-m",
            "textlstm.cli",
            "train",
            "pipelines/sentiment_demo.yaml",
            *sets,
            "--output",
            str(out),
        ]
        procs.append(
            subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        )
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=timeout)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return [p.returncode for p in procs], logs


@pytest.mark.slow
def test_two_workers_train_identical_weights_and_only_the_chief_writes(tmp_path):
    codes, logs = two_workers([tmp_path / "chief", tmp_path / "worker1"], free_ports(2))
    assert codes == [0, 0], logs[0][-3000:] + logs[1][-3000:]
    digests = [line.rsplit(" ", 1)[1] for log in logs for line in log.splitlines() if "trained weights" in line]
    assert len(digests) == 2 and digests[0] == digests[1], digests
    assert (tmp_path / "chief" / "model.keras").exists() and (tmp_path / "chief" / "history.csv").exists()
    assert not (tmp_path / "worker1").exists()  # the other worker wrote to a temporary directory


def start_workers(out, ports, extra=()):
    sets = [x for o in [*QUICK, *extra] for x in ("--set", o)]
    cmd = [sys.executable, "-m", "textlstm.cli", "train", "pipelines/sentiment_demo.yaml", *sets, "--output", str(out)]
    return [
        subprocess.Popen(
            cmd,
            env={**ENV, "TF_CONFIG": tf_config(i, ports)},
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]


@pytest.mark.slow
def test_killing_a_worker_and_restarting_the_cluster_resumes_from_the_backup(tmp_path):
    import time

    out = tmp_path / "run"  # the same --output for both: the chief's backup is read by every worker
    meta = out / "backup" / "training_metadata.json"
    procs = start_workers(out, free_ports(2), ["train.epochs=5"])
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not (
            meta.exists() and json.loads(meta.read_text() or "{}").get("epoch", 0) >= 1
        ):
            assert all(p.poll() is None for p in procs), "a worker ended before the first backup"
            time.sleep(0.1)
        killed_at = json.loads(meta.read_text())["epoch"]
    finally:
        for p in procs[::-1]:  # worker 1 first, then the chief (stuck in a collective)
            p.kill()
            p.wait()
    assert killed_at < 5
    procs = start_workers(out, free_ports(2), ["train.epochs=5"])
    logs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs[0][-3000:] + logs[1][-3000:]
    assert "Epoch 1/5" not in logs[0] and f"Epoch {killed_at + 1}/5" in logs[0]  # epochs before the kill not redone
    with open(out / "history.csv", encoding="utf-8") as f:
        epochs = [line.split(",")[0] for line in f.read().splitlines()[1:]]
    assert epochs == ["0", "1", "2", "3", "4"]


def test_non_chief_worker_restores_each_members_backup_from_the_chief(tmp_path, monkeypatch):
    """A worker's temporary folder maps onto the chief's: member m's backup is the
    chief's `<output>/member_m/backup`, not the run's top-level one."""
    from textlstm.distribute import shared_backup, worker_output

    config = pipeline_from_dict({"train": {"distribute": "multi_worker"}}).train
    monkeypatch.setenv("TF_CONFIG", tf_config(1, [1, 2]))
    out = tmp_path / "run"
    with worker_output(out, config) as tmp:
        assert tmp != out and tmp.is_dir()
        assert shared_backup(tmp) == out / "backup"
        assert shared_backup(tmp / "member_1") == out / "member_1" / "backup"
        assert shared_backup(tmp_path / "elsewhere") == tmp_path / "elsewhere" / "backup"
    assert not tmp.exists()
    assert shared_backup(tmp / "member_1") == tmp / "member_1" / "backup"
    monkeypatch.setenv("TF_CONFIG", tf_config(0, [1, 2]))
    with worker_output(out, config) as own:
        assert own == out and shared_backup(own / "member_1") == out / "member_1" / "backup"
