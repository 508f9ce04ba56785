"""`textlstm pretrain`: pretrain a bidirectional LSTM encoder on unlabeled text.

```
textlstm pretrain pipelines/imdb_pretrain.yaml --output runs/imdb_pretrain
textlstm pretrain pipelines/imdb_pretrain.yaml --set train.epochs=1 --set data.max_examples=2000
```

Every pipeline check runs before TensorFlow loads; prints one line per epoch,
then a JSON summary (output folder, perplexities, tokens/s).
"""

from __future__ import annotations

import json
from pathlib import Path


def add_pretrain_arguments(p) -> None:
    """The arguments of `textlstm pretrain`.

    Args:
        p: the subcommand's `argparse` parser.
    """
    p.add_argument("pipeline", help="pretrain pipeline YAML (see pipelines/imdb_pretrain.yaml)")
    p.add_argument("--output", "-o", help="output directory (default runs/<pipeline name>)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a pipeline key, e.g. --set train.epochs=1 (repeatable)",
    )


def pretrain_command(args) -> int:
    """Run `textlstm pretrain`.

    Args:
        args: the parsed arguments.
    """
    from textlstm.pretrain.config import load_pretrain_pipeline

    cfg = load_pretrain_pipeline(args.pipeline, args.set)  # every config check, before TensorFlow loads
    out = Path(args.output) if args.output else Path("runs") / (cfg.name or "pretrain")
    from textlstm.console import device_line  # noqa: I001  (TensorFlow loads from here on)
    from textlstm.pretrain.train import pretrain

    print(f"textlstm: pretraining '{args.pipeline}' -> {out}", flush=True)
    print(device_line(), flush=True)
    report = pretrain(cfg, out)
    summary = {
        "output": str(out),
        "perplexity": {k: round(v, 2) for k, v in report["perplexity"].items()},
        "tokens_per_second": [round(v) for v in report["tokens_per_second"]],
        "train_seconds": round(report["train_seconds"], 1),
        "vocabulary_size": report["vocabulary_size"],
        "train": report["data"]["train"],
        "skipped": report["data"]["skipped"]["total"],
    }
    print(json.dumps(summary, indent=2))
    return 0
