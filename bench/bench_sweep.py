"""A Keras Tuner sweep vs the default configuration, on the same splits.

Trains `pipelines/tsv_classification.yaml` as it is (the default
configuration), runs `pipelines/sweep_tsv.yaml` (a Hyperband sweep over layer
sizes, bidirectional, dropout, learning rate and batch size; resumed if
`--dir` holds it) and trains its best configuration. Both read the same files
with the same seeded validation split. Each configuration is trained
`--repeats` times (initialization seeds train.seed, +1, ...; the first is the
run `textlstm train` / `textlstm tune` make), because the best trial's own
score is optimistic (it was picked among many on the same validation set) and
one run of one seed varies by a few points on rt_polarity.

    python bench/bench_sweep.py [--data ../shared/data/rt_polarity] [--dir runs/bench_sweep] [--repeats 3]

Prints one JSON object: per configuration and seed the best-epoch validation
accuracy, the best epoch and the test accuracy, their means, and the wall
times; for the sweep also the trials, the best trial's score and its
hyperparameters.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "rt_polarity"


def train_repeats(cfg, repeats: int) -> dict:
    """Train `cfg` with `repeats` seeds (one ensemble fit, `train.ensemble.members`
    = repeats without bagging, members seeded train.seed + i, all on the same
    validation split) and score each member alone."""
    from textlstm.classifier import TextClassifier

    start = time.perf_counter()
    ensemble = dataclasses.replace(cfg.train.ensemble, members=repeats, bagging=False)
    train = dataclasses.replace(cfg.train, ensemble=ensemble, verbose=0, tensorboard=False)
    clf = TextClassifier(dataclasses.replace(cfg, train=train))
    clf.fit()
    runs = []
    for net, history in zip(list(clf.networks), clf.history):
        scores = history["val_accuracy"]
        best = scores.index(max(scores))
        clf.use_networks([net])
        runs.append(
            {
                "val_accuracy": scores[best],
                "best_epoch": best + 1,
                "epochs_run": len(scores),
                "test_accuracy": clf.evaluate()["accuracy"],
            }
        )
    return {
        "seed_runs": runs,
        "mean_val_accuracy": statistics.mean(r["val_accuracy"] for r in runs),
        "mean_test_accuracy": statistics.mean(r["test_accuracy"] for r in runs),
        "model": {k: getattr(cfg.model, k) for k in ("units", "embedding_dim", "bidirectional", "dropout")},
        "train": {k: getattr(cfg.train, k) for k in ("learning_rate", "batch_size", "epochs", "patience")},
        "seconds": round(time.perf_counter() - start, 1),
    }


def main() -> None:
    from textlstm.config import load_pipeline
    from textlstm.tuning import tune

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with train.tsv and test.tsv")
    parser.add_argument("--dir", type=Path, default=ROOT / "runs" / "bench_sweep")
    parser.add_argument("--repeats", type=int, default=3, help="seeds per configuration")
    parser.add_argument("--overwrite", action="store_true", help="run the sweep again from scratch")
    parser.add_argument("--set", action="append", default=[], help="extra overrides for the sweep pipeline")
    args = parser.parse_args()
    data = [f"data.train={args.data / 'train.tsv'}", f"data.test={args.data / 'test.tsv'}"]
    start = time.perf_counter()

    default = train_repeats(load_pipeline(ROOT / "pipelines" / "tsv_classification.yaml", data), args.repeats)
    print(json.dumps({"default": default}), flush=True)

    sweep_start = time.perf_counter()
    result = tune(
        ROOT / "pipelines" / "sweep_tsv.yaml",
        args.dir / "sweep",
        overrides=data + args.set,
        overwrite=args.overwrite,
        retrain_best=False,
    )
    sweep = {
        "best_trial_val_accuracy": result.best_score,
        "best_hyperparameters": result.best_hyperparameters,
        "trials": len(result.trials),
        "completed": sum(r["status"] == "COMPLETED" for r in result.trials),
        "trial_seconds": round(sum(r["seconds"] or 0 for r in result.trials), 1),
        "seconds_this_run": round(time.perf_counter() - sweep_start, 1),
        "directory": str(result.directory),
    }
    best = train_repeats(result.best_config, args.repeats)
    report = {
        "data": str(args.data),
        "default": default,
        "sweep": sweep,
        "best": best,
        "mean_val_accuracy_gain": best["mean_val_accuracy"] - default["mean_val_accuracy"],
        "mean_test_accuracy_gain": best["mean_test_accuracy"] - default["mean_test_accuracy"],
        "wall_seconds": round(time.perf_counter() - start, 1),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
