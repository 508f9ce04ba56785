"""Two MultiWorkerMirroredStrategy workers on 127.0.0.1 against one process, same data and global batch.

    python bench/bench_distribute.py [--data ../shared/data/rt_polarity] [--epochs 2]

Both sides run `textlstm train` on the same pipeline (a small BiLSTM on
rt_polarity's train.tsv with its stratified validation split, test.tsv for the
test accuracy; the demo corpus when the folder is missing) with the same
global `train.batch_size`: the one-process run with `train.distribute: none`,
the cluster as two worker processes with `TF_CONFIG` (ports from the OS) and
`train.distribute: multi_worker`. Prints one JSON object: wall time of each
side (the cluster's: until both workers exit), test accuracy (the chief's
metrics.json), the difference in points, and whether the workers' weight
digests agree. On one machine the workers share its cores, so the wall time
measures the overhead of the collectives, not a speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "rt_polarity"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg"}


def overrides(data: Path | None, epochs: int, seed: int) -> list[str]:
    sets = [
        "vectorizer.max_length=60",
        "model.embedding_dim=32",
        "model.units=[32]",
        "model.wide=[]",
        "train.ensemble.members=1",
        "train.ensemble.bagging=false",
        f"train.epochs={epochs}",
        "train.batch_size=64",
        "train.patience=null",
        "train.verbose=2",
        "train.tensorboard=false",
        f"train.seed={seed}",
    ]
    if data is not None:
        sets += [f"data.train={data / 'train.tsv'}", f"data.test={data / 'test.tsv'}"]
    return sets


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def command(pipeline: str, sets: list[str], out: Path) -> list[str]:
    args = [x for o in sets for x in ("--set", o)]
    return [sys.executable, "-m", "textlstm.cli", "train", pipeline, *args, "--output", str(out)]


def run_one(pipeline: str, sets: list[str], out: Path, timeout: int) -> dict:
    start = time.perf_counter()
    proc = subprocess.run(
        command(pipeline, [*sets, "train.distribute=none"], out),
        env=ENV,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(proc.stdout[-3000:] + proc.stderr[-3000:])
    metrics = json.loads((out / "metrics.json").read_text())
    return {"wall_seconds": round(wall, 1), "test_accuracy": metrics["test"]["accuracy"]}


def run_cluster(pipeline: str, sets: list[str], outs: list[Path], timeout: int) -> dict:
    ports = free_ports(len(outs))
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            command(pipeline, [*sets, "train.distribute=multi_worker"], out),
            env={**ENV, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})},
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i, out in enumerate(outs)
    ]
    try:
        logs = [p.communicate(timeout=timeout)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    wall = time.perf_counter() - start
    if any(p.returncode for p in procs):
        raise SystemExit("\n".join(log[-3000:] for log in logs))
    digests = [re.findall(r"trained weights ([0-9a-f]{16})", log) for log in logs]
    metrics = json.loads((outs[0] / "metrics.json").read_text())
    return {
        "workers": len(outs),
        "wall_seconds": round(wall, 1),
        "test_accuracy": metrics["test"]["accuracy"],
        "weight_digests": [d[-1] if d else None for d in digests],
        "identical_weights": all(d and d[-1] == digests[0][-1] for d in digests),
        "non_chief_output_written": outs[1].exists(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    args = parser.parse_args()
    data = args.data if (args.data / "train.tsv").exists() else None
    pipeline = "pipelines/tsv_classification.yaml" if data else "pipelines/sentiment_demo.yaml"
    runs = []
    for seed in args.seeds:
        sets = overrides(data, args.epochs, seed)
        with tempfile.TemporaryDirectory(prefix="textlstm-bench-distribute-") as tmp:
            tmp = Path(tmp)
            one = run_one(pipeline, sets, tmp / "one", args.timeout)
            two = run_cluster(pipeline, sets, [tmp / "chief", tmp / "worker1"], args.timeout)
        runs.append(
            {
                "seed": seed,
                "one_process": one,
                "two_workers": two,
                "accuracy_difference_points": round(100 * (two["test_accuracy"] - one["test_accuracy"]), 2),
                "wall_time_ratio": round(two["wall_seconds"] / one["wall_seconds"], 2),
            }
        )
    diffs = [r["accuracy_difference_points"] for r in runs]
    print(
        json.dumps(
            {
                "data": str(data) if data else "demo",
                "pipeline": pipeline,
                "overrides": [o for o in overrides(data, args.epochs, 0) if not o.startswith("train.seed=")],
                "cpu_count": os.cpu_count(),
                "machine": platform.machine(),
                "runs": runs,
                "mean_accuracy_difference_points": round(sum(diffs) / len(diffs), 2),
                "median_wall_time_ratio": sorted(r["wall_time_ratio"] for r in runs)[len(runs) // 2],
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
