"""Choose between pipeline variants by k-fold cross-validation on the training file.

A single validation split of rt_polarity (960 sentences) moves by 2-3 points
with its seed, more than the differences between good configurations, and
the test split must not be used for choosing. This script pools the
pipeline's training rows (train + its held-out validation part), cuts them
into `--folds` stratified folds, and for each variant trains on k-1 folds
(holding out the pipeline's `data.validation_fraction` of them for early
stopping and, with a late n-gram path, for the fusion weights) and
scores the trained model (best epoch restored; members averaged for
`train.ensemble.members` > 1) on the remaining fold, which no choice has seen.
The test split is never read.

    python bench/cv_classifier.py pipelines/rt_polarity.yaml \
        --variant base \
        --variant one_run train.ensemble.members=1 \
        --variant joint_only 'model.wide=[{ngrams: 2}]' \
        --variant lstm_only 'model.wide=[]'

Prints one JSON object: per variant the fold accuracies, their mean and
standard error, the best epochs and the wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def stratified_folds(labels: list, k: int, seed: int) -> list[list[int]]:
    """`k` disjoint index lists covering all rows, each with every class's share."""
    by_class = defaultdict(list)
    for i, label in enumerate(labels):
        by_class[str(label)].append(i)
    rng = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    for label in sorted(by_class):
        idx = by_class[label]
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            folds[j % k].append(i)
    return [sorted(f) for f in folds]


def cross_validate(pipeline: str, overrides: list[str], folds: int, seed: int) -> dict:
    import keras

    from textlstm.classifier import TextClassifier
    from textlstm.config import load_pipeline
    from textlstm.data import load_splits
    from textlstm.data.labels import stratified_split
    from textlstm.training import best_epoch

    cfg = load_pipeline(pipeline, [*overrides, "train.verbose=0", "train.tensorboard=false"])
    splits = load_splits(cfg.data, "classification", cfg.train.seed)
    rows = splits.train.rows + splits.validation.rows
    texts, labels = [r[0] for r in rows], [r[1] for r in rows]
    start = time.perf_counter()
    scores, epochs, val_scores, wide_only, fusion = [], [], [], [], []
    for k, held_out in enumerate(stratified_folds(labels, folds, seed)):
        out = set(held_out)
        keep = [i for i in range(len(rows)) if i not in out]
        # The pipeline's own validation split, carved from the training folds:
        # early stopping never sees the fold that is scored.
        tr, va = stratified_split([labels[i] for i in keep], cfg.data.validation_fraction, cfg.train.seed)
        tr, va = [keep[i] for i in tr], [keep[i] for i in va]
        keras.utils.set_random_seed(cfg.train.seed)
        held_texts, held_labels = [texts[i] for i in held_out], [labels[i] for i in held_out]
        clf = TextClassifier(cfg).fit(
            [texts[i] for i in tr],
            [labels[i] for i in tr],
            validation=([texts[i] for i in va], [labels[i] for i in va]),
        )
        # The artifact's accuracy on the held-out fold (best epoch restored;
        # members averaged for train.ensemble.members > 1).
        scores.append(clf.evaluate(held_texts, held_labels)["accuracy"])
        epochs.append(best_epoch(clf.history[0], cfg.train))
        val_scores.append(max(clf.history[0]["val_accuracy"]))
        # An n-gram path fitted alone first (init: nbsvm; the late path's if both are).
        nbsvm = clf.data_report.get("late_nbsvm") or clf.data_report.get("nbsvm")
        if nbsvm:
            wide_only.append(nbsvm["best_val_accuracy"])  # on the validation split
        if "fusion" in clf.data_report:  # a late n-gram path: first member, on the validation split
            fusion.append(clf.data_report["fusion"][0])
        print(
            f"  fold {k + 1}/{folds}: {scores[-1]:.4f} (validation {val_scores[-1]:.4f}, epoch {epochs[-1]})",
            file=sys.stderr,
            flush=True,
        )
        keras.backend.clear_session()
    return {
        "overrides": overrides,
        "fold_accuracy": [round(s, 4) for s in scores],
        "mean_accuracy": round(statistics.mean(scores), 4),
        "stderr": round(statistics.stdev(scores) / len(scores) ** 0.5, 4) if len(scores) > 1 else None,
        "best_epochs": epochs,
        "validation_accuracy": [round(s, 4) for s in val_scores],
        **(
            {
                "nbsvm_alone_fold_accuracy": [round(s, 4) for s in wide_only],
                "nbsvm_alone_mean_accuracy": round(statistics.mean(wide_only), 4),
            }
            if wide_only
            else {}
        ),
        **(
            {
                "fusion_validation_accuracy": {
                    k: [round(f["accuracy"][k], 4) for f in fusion] for k in fusion[0]["accuracy"]
                },
                "fusion_weights": [[round(f["network_weight"], 3), round(f["ngram_weight"], 3)] for f in fusion],
            }
            if fusion
            else {}
        ),
        "seconds": round(time.perf_counter() - start, 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipeline")
    parser.add_argument(
        "--variant",
        nargs="+",
        action="append",
        metavar=("NAME", "KEY=VALUE"),
        required=True,
        help="a name and the --set overrides that define the variant (repeatable)",
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold assignment")
    parser.add_argument("--output", help="also write the JSON here")
    args = parser.parse_args(argv)
    result = {
        "pipeline": args.pipeline,
        "folds": args.folds,
        "fold_seed": args.seed,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "variants": {},
    }
    for name, *overrides in args.variant:
        print(f"{name}: {' '.join(overrides) or '(pipeline as is)'}", file=sys.stderr, flush=True)
        result["variants"][name] = cross_validate(args.pipeline, overrides, args.folds, args.seed)
        if args.output:  # after every variant, so a long run can be read while it goes
            Path(args.output).write_text(json.dumps(result, indent=2))
    best = max(result["variants"], key=lambda n: result["variants"][n]["mean_accuracy"])
    result["best_variant"] = best
    text = json.dumps(result, indent=2)
    if args.output:
        Path(args.output).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
