"""`textlstm tune`: run a Keras Tuner sweep from a pipeline file.

```
textlstm tune pipelines/sweep_sentiment_demo.yaml --dir runs/sweep_demo
textlstm tune pipelines/sweep_tsv.yaml --dir runs/sweep_rt --set data.train=rt/train.tsv --set data.test=rt/test.tsv
# distributed: one chief, any number of workers sharing --dir
textlstm tune PIPELINE --dir DIR --chief 127.0.0.1:8470 &
textlstm tune PIPELINE --dir DIR --worker 127.0.0.1:8470 --tuner-id worker-1 &
```

Prints one line per trial, then a JSON summary; exits with status 2 on a bad
pipeline, a directory holding a different sweep, or an unreachable chief.
"""

from __future__ import annotations

import json
import sys


def add_tune_arguments(p) -> None:
    p.add_argument("pipeline", help="pipeline YAML with a search: section (see pipelines/sweep_*.yaml)")
    p.add_argument("--dir", "-d", required=True, help="sweep directory (resumed when it holds the same sweep)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a pipeline key, e.g. --set search.max_trials=20 (repeatable)",
    )
    p.add_argument("--overwrite", action="store_true", help="discard a previous sweep in --dir")
    role = p.add_mutually_exclusive_group()
    role.add_argument("--chief", metavar="HOST:PORT", help="serve the oracle to workers at HOST:PORT")
    role.add_argument("--worker", metavar="HOST:PORT", help="run trials for the chief at HOST:PORT")
    p.add_argument("--tuner-id", help="worker id (default worker-HOST-PID); reuse it to resume a worker's trial")
    p.add_argument(
        "--wait", type=float, default=300.0, help="seconds a worker waits for the chief before failing (default 300)"
    )
    p.add_argument("--no-retrain", action="store_true", help="only search; do not retrain the best configuration")


def tune_command(args) -> int:
    from textlstm.tuning.distributed import SweepError
    from textlstm.tuning.sweep import tune

    try:
        result = tune(
            args.pipeline,
            args.dir,
            overrides=args.set,
            overwrite=args.overwrite,
            chief=args.chief,
            worker=args.worker,
            tuner_id=args.tuner_id,
            wait=args.wait,
            retrain_best=not args.no_retrain,
        )
    except SweepError as err:
        print(f"textlstm: error: {err}", file=sys.stderr)
        return 2
    summary = {"directory": str(result.directory), "role": result.role, "seconds": round(result.seconds, 1)}
    if result.role == "worker":
        summary["trials_run"] = [int(e["trial"]) + 1 for e in result.trials]
    else:
        summary |= {
            "objective": result.objective,
            "best_score": result.best_score,
            "best_hyperparameters": result.best_hyperparameters,
            "trials": len(result.trials),
            "completed": sum(r["status"] == "COMPLETED" for r in result.trials),
        }
        if result.metrics is not None:
            summary["test"] = {k: v for k, v in result.metrics.items() if not isinstance(v, (dict, list))}
    print(json.dumps(summary, indent=2, default=str))
    return 0
