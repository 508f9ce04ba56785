"""The `textlstm` console script.

```
textlstm train pipelines/sentiment_demo.yaml --output runs/demo
textlstm predict runs/demo/model.keras "a great film" "a dull film"
echo "a great film" | textlstm predict runs/demo/model.keras
textlstm evaluate runs/demo/model.keras data/test.tsv --set data.text=1 --set data.label=0
textlstm info runs/demo/model.keras
```
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))


def _read_texts(texts: list[str]) -> list[str]:
    if texts:
        return texts
    if sys.stdin is None or sys.stdin.isatty():
        raise SystemExit("error: give texts as arguments or one per line on standard input")
    return [line.rstrip("\n") for line in sys.stdin if line.strip()]


def _default_output(cfg, pipeline: str | None) -> Path:
    """`runs/<name>`: the pipeline's `name`, or its file name."""
    name = cfg.name or (Path(pipeline).stem if pipeline else "run")
    return Path("runs") / name


def cmd_train(args) -> int:
    from textlstm import tasks
    from textlstm.config import load_pipeline

    cfg = load_pipeline(args.pipeline, args.set)  # every config check, before any data is read
    out = Path(args.output or _default_output(cfg, args.pipeline))
    if cfg.train.distribute != "none":
        from textlstm import distribute  # noqa: I001  (TensorFlow loads from here on)

        distribute.strategy_for(cfg.train)  # multi_worker: before TensorFlow runs anything (and before any data)
    from textlstm.console import device_line  # noqa: I001  (TensorFlow loads from here on)
    from textlstm.runner import train_evaluate_write

    runner = tasks.get(cfg.task).runner_class()(cfg)
    print(f"textlstm: training '{args.pipeline or 'defaults'}' -> {out}", flush=True)
    print(device_line(), flush=True)
    report = train_evaluate_write(runner, out, saved_model=args.saved_model)
    if report.get("chief") is False:  # a multi_worker worker that is not the chief wrote nothing
        _print_json({"output": None, "chief": False, "train_seconds": round(report["train_seconds"], 1)})
        return 0
    keys = (
        "train_examples",
        "vocabulary_size",
        "mean_length",
        "truncated",
        "train_padding_fraction",
        "empty_after_standardization_skipped",
    )
    summary = {
        "output": str(out),
        "train_seconds": round(report["train_seconds"], 1),
        "data": {k: runner.data_report[k] for k in keys if k in runner.data_report},
    }
    if "test" in report:
        summary["test"] = {k: v for k, v in report["test"].items() if not isinstance(v, (dict, list))}
    _print_json(summary)
    return 0


def cmd_evaluate(args) -> int:
    from textlstm.artifact import load
    from textlstm.config import DataConfig, apply_overrides
    from textlstm.schema import from_dict

    model = load(args.model)
    data = apply_overrides({"data": dict(model.config.data.__dict__)}, args.set)["data"]
    cfg = from_dict(DataConfig, data, "data")
    recs = model.read_labelled(args.data, cfg)
    metrics = model.evaluate(*recs.columns(), where=recs.where)
    metrics["skipped"] = recs.skipped.as_dict()
    _print_json(metrics)
    return 0


def cmd_predict(args) -> int:
    from textlstm.artifact import load

    model = load(args.model)
    texts = _read_texts(args.texts)
    for text, pred in zip(texts, model.predict(texts)):
        print(json.dumps({"text": text, **pred.as_dict()}))
    return 0


def cmd_info(args) -> int:
    from textlstm.artifact import describe

    _print_json(describe(args.model))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="textlstm", description="Train, evaluate and use Keras LSTM text models.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train from a pipeline file, evaluate on its test split, write artifacts")
    p.add_argument("pipeline", nargs="?", help="pipeline YAML (see pipelines/)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a pipeline key, e.g. --set model.units=[128] (repeatable)",
    )
    p.add_argument("--output", "-o", help="output directory (default runs/<pipeline name>)")
    p.add_argument(
        "--saved-model",
        action="store_true",
        help="also export a TF SavedModel (serving signature takes tf.string) to DIR/saved_model",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="metrics of a saved model on a labelled file")
    p.add_argument("model", help="model.keras written by textlstm")
    p.add_argument("data", help="labelled data file or folder")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="data.* keys for reading the file, e.g. --set data.text=1 --set data.label=0",
    )
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predict texts given as arguments or on stdin; prints JSON lines")
    p.add_argument("model")
    p.add_argument("texts", nargs="*")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("info", help="describe a saved model")
    p.add_argument("model")
    p.set_defaults(func=cmd_info)

    _add_optional_commands(sub)
    return parser


# Subcommands implemented next to their feature: (name, module, add-arguments
# function, run function, help). Each module is TensorFlow-free at import.
EXTRA_COMMANDS = [
    (
        "inspect",
        "textlstm.inspection",
        "add_inspect_arguments",
        "inspect_command",
        "plot LSTM gate activations and cell state for a text",
    ),
    (
        "longrange",
        "textlstm.longrange",
        "add_longrange_arguments",
        "longrange_command",
        "SimpleRNN vs GRU vs LSTM on a long-range dependency task",
    ),
    (
        "translate",
        "textlstm.seq2seq.cli",
        "add_translate_arguments",
        "translate_command",
        "translate texts given as arguments or on stdin with a saved translation model",
    ),
    (
        "tune",
        "textlstm.tuning.cli",
        "add_tune_arguments",
        "tune_command",
        "run a Keras Tuner sweep from a pipeline file",
    ),
]


def _add_optional_commands(sub) -> None:
    import importlib

    for name, module, add_fn, run_fn, help_text in EXTRA_COMMANDS:
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=help_text)
        getattr(mod, add_fn)(p)
        p.set_defaults(func=getattr(mod, run_fn))


def _show_progress() -> None:
    """Print textlstm's INFO lines on stderr (the long steps: NBSVM fit,
    WordPiece learning, late fusion), unless logging is set up already."""
    import logging

    logger = logging.getLogger("textlstm")
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("textlstm: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    from textlstm import console

    # TensorFlow's C++ start-up lines (absl banner, oneDNN, CUDA stubs, cuInit)
    # stay out of the output unless --tf-logs or the user's TF_CPP_MIN_LOG_LEVEL
    # asks for them (textlstm.console).
    argv = console.setup(argv)
    _show_progress()
    parser = build_parser()
    console.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ValueError as err:
        # textlstm's own errors (ConfigError, DataError, ArtifactError, ...) are
        # ValueErrors whose message names the file, line and problem: print it
        # without a traceback. Anything else is a bug and keeps its traceback.
        if not type(err).__module__.startswith("textlstm"):
            raise
        print(f"textlstm: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
