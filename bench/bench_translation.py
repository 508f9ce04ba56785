"""Multi30K English -> German with textlstm's encoder-decoder: BLEU and training time.

Trains `pipelines/multi30k_en_de.yaml` (data in ../shared/data/multi30k_en_de)
through `Translator` (the same path as `textlstm train`) and prints one JSON
object: sacrebleu BLEU and chrF on the test split (test_2016_flickr, 1000
pairs) for greedy and beam decoding, training seconds, epochs run, the best
epoch, per-epoch time and decoding time.

    python bench/bench_translation.py [--set train.epochs=10 ...] [--output runs/bench_multi30k]
    python bench/bench_translation.py --set data.max_examples=3000 --set train.epochs=1   # smoke run

BLEU is sacrebleu's default (13a tokenizer, cased) on detokenized output
against the raw references: the target vectorizer keeps case and splits
punctuation off (`punctuation_tokens`), and `Translator` joins the words and
removes the spaces before punctuation. Sources are lowercased. Published
Multi30K numbers are often computed on lowercased, tokenized text, which gives
higher values than this.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from textlstm.seq2seq.translator import Translator  # noqa: E402

PIPELINE = Path(__file__).resolve().parent.parent / "pipelines" / "multi30k_en_de.yaml"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default=str(PIPELINE))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="pipeline override")
    parser.add_argument("--output", default=None, help="also write the artifacts (model.keras, metrics.json, ...)")
    args = parser.parse_args(argv)

    translator = Translator.from_pipeline(args.pipeline, ["train.verbose=2", "train.tensorboard=false", *args.set])
    start = time.perf_counter()
    translator.fit(output_dir=args.output)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    metrics = translator.evaluate(output_dir=args.output)
    decode_seconds = time.perf_counter() - start
    if args.output:
        translator.write_outputs(args.output, metrics)
    history = translator.history
    monitor = translator._train_config().monitor
    best = min(range(len(history[monitor])), key=history[monitor].__getitem__) if monitor in history else None
    cfg = translator.config
    result = {
        "pipeline": args.pipeline,
        "overrides": args.set,
        "bleu_greedy": round(metrics["greedy"]["bleu"], 2),
        "bleu_beam": round(metrics["beam"]["bleu"], 2),
        "chrf_greedy": round(metrics["greedy"]["chrf"], 2),
        "chrf_beam": round(metrics["beam"]["chrf"], 2),
        "beam_width": metrics["beam_width"],
        "lowercased": metrics["lowercased"],
        "test_pairs": metrics["count"],
        "train_seconds": round(train_seconds, 1),
        "epochs": len(history.get("loss", [])),
        "best_epoch": best + 1 if best is not None else None,
        "epoch_seconds": [round(t, 1) for t in history.get("epoch_time", [])],
        "decode_seconds_greedy_and_beam": round(decode_seconds, 1),
        "train_pairs": translator.data_report.get("train_examples"),
        "vocabulary": [
            translator.data_report.get("vocabulary_size"),
            translator.data_report.get("target_vocabulary_size"),
        ],
        "model": {
            "embedding_dim": cfg.model.embedding_dim,
            "units": cfg.model.units,
            "batch_size": cfg.train.batch_size,
        },
        "parameters": int(translator.network.count_params()),
        "examples": metrics["examples"][:3],
        "machine": {
            "cpus": os.cpu_count(),
            "gpus": len(tf.config.list_physical_devices("GPU")),
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
        },
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
