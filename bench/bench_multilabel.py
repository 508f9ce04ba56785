"""textlstm's multi-label LSTM vs a bag-of-words logistic baseline on the multi-label demo.

Both sides train on the same splits of the shipped pipeline
(`pipelines/multilabel_demo.yaml`, the built-in multi-label demo corpus) and
pick their thresholds the same way (`train.thresholds`: tuned per label on
validation, or the configured number). The baseline is
`TextVectorization(output_mode="multi_hot")` over the same vocabulary size +
one `Dense(sigmoid)` per label (a logistic model per label), Adam, binary
cross-entropy, early stopping on the validation loss with the best weights kept.

    python bench/bench_multilabel.py [--seeds 42 43 44] [--output bench/results/multilabel.json]

Prints one JSON object: per seed the test micro-F1 (and macro-F1, subset
accuracy) of both sides, then their means.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from textlstm.config import load_pipeline  # noqa: E402
from textlstm.multilabel.classifier import MultiLabelClassifier  # noqa: E402
from textlstm.multilabel.data import MultiHotEncoder, load_multilabel_splits  # noqa: E402
from textlstm.multilabel.metrics import multilabel_metrics, tune_thresholds  # noqa: E402

PIPELINE = Path(__file__).resolve().parent.parent / "pipelines" / "multilabel_demo.yaml"
SCORES = ("micro_f1", "macro_f1", "subset_accuracy", "hamming_loss")


def bag_of_words(cfg, splits, seed: int) -> dict:
    """The logistic multi-hot bag-of-words baseline on the same splits and threshold rule."""
    keras.utils.set_random_seed(seed)
    (train_x, train_l), (val_x, val_l), (test_x, test_l) = (
        s.columns() for s in (splits.train, splits.validation, splits.test)
    )
    enc = MultiHotEncoder.fit(train_l)
    y_train, y_val, y_test = (enc.encode(labels) for labels in (train_l, val_l, test_l))
    vectorizer = keras.layers.TextVectorization(max_tokens=cfg.vectorizer.max_tokens, output_mode="multi_hot")
    vectorizer.adapt(np.array(train_x))
    features = lambda texts: vectorizer(np.array(texts)).numpy()
    x_train, x_val, x_test = features(train_x), features(val_x), features(test_x)
    model = keras.Sequential(
        [keras.Input((x_train.shape[1],)), keras.layers.Dense(enc.num_classes, activation="sigmoid")]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    stop = keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)
    model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=100, batch_size=32, verbose=0, callbacks=[stop])
    val_p, test_p = model.predict(x_val, verbose=0), model.predict(x_test, verbose=0)
    thresholds = tune_thresholds(y_val, val_p) if cfg.train.thresholds == "tuned" else float(cfg.train.thresholds)
    return multilabel_metrics(y_test, test_p, enc.names, thresholds)


def one_seed(seed: int) -> dict:
    cfg = load_pipeline(PIPELINE, [f"train.seed={seed}", "train.verbose=0", "train.tensorboard=false"])
    start = time.perf_counter()
    clf = MultiLabelClassifier(cfg).fit()
    lstm = clf.evaluate()
    lstm_seconds = time.perf_counter() - start
    splits = load_multilabel_splits(cfg.data, seed)  # the same rows the classifier read
    start = time.perf_counter()
    bow = bag_of_words(cfg, splits, seed)
    return {
        "seed": seed,
        "textlstm": {
            **{k: lstm[k] for k in SCORES},
            "epochs": len(clf.history[0]["loss"]),
            "seconds": round(lstm_seconds, 1),
        },
        "bag_of_words": {**{k: bow[k] for k in SCORES}, "seconds": round(time.perf_counter() - start, 1)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    runs = [one_seed(seed) for seed in args.seeds]
    mean = lambda side, key: round(statistics.mean(r[side][key] for r in runs), 4)
    report = {
        "pipeline": str(PIPELINE.relative_to(PIPELINE.parent.parent)),
        "runs": runs,
        "mean_test_micro_f1": {
            "textlstm": mean("textlstm", "micro_f1"),
            "bag_of_words": mean("bag_of_words", "micro_f1"),
        },
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
