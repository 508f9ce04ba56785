"""Long documents: textlstm's IMDB pipelines against the keras-io BiLSTM recipe and a
TF-IDF logistic regression, on the same split, in one run.

Data: `../shared/data/imdb_dev` (12,500 training and 12,500 test reviews, half of each
official IMDB split). Every side trains on the same 90% of the training half and
chooses on the same 10% validation split (stratified, `train.seed`); the test half is
scored once per side, after the choice.

    python bench/bench_imdb.py [--sides linear,keras_io,lstm,pipeline] [--output bench/results/imdb.json]

Sides:
- `linear`: TF-IDF uni+bigrams (min_df 2, sublinear tf) + logistic regression
  (scikit-learn), C chosen on the validation split from {1, 4, 16, 64}; also refitted with
  that C on every training label (`test_accuracy_all_labels`), the fair baseline for a side
  that trains on all of them (`train.ensemble.bagging`).
- `keras_io`: the keras-io example "Bidirectional LSTM on IMDB"
  (https://keras.io/examples/nlp/bidirectional_lstm_imdb/): the 20,000 most frequent
  words, reviews cut and padded to 200 tokens at the front (`pad_sequences`' defaults:
  the last 200 tokens are kept), Embedding(20000, 128), two BiLSTM(64), Adam, batch 32.
  The example trains 2 epochs; here up to `--epochs` with the best validation epoch
  restored (no worse than the example's schedule).
- `lstm`: `pipelines/imdb_lstm.yaml` (textlstm, the LSTM alone).
- `pipeline`: `pipelines/imdb.yaml` (the shipped long-document pipeline).
  Both are run as `textlstm train` runs them (`textlstm.runner.train_evaluate_write`);
  their train seconds include everything from reading the files to the fitted fusion.

Prints one JSON object: per side the test accuracy, the validation accuracy it was
chosen by, and the training seconds; then the differences in points.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from textlstm.config import load_pipeline  # noqa: E402
from textlstm.data import load_splits  # noqa: E402
from textlstm.data.vectorize import lower_punctuation_html  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SIDES = ("linear", "keras_io", "lstm", "pipeline")


def _columns(records):
    texts, labels = records.columns()
    return list(texts), np.asarray([int(y) for y in labels])


def _standardized(texts) -> list[str]:
    """The texts as textlstm's `lower_punctuation_html` standardizes them (same tokens for every side)."""
    out = []
    for start in range(0, len(texts), 2048):
        out += [t.decode() for t in lower_punctuation_html(tf.constant(texts[start : start + 2048])).numpy()]
    return out


def linear_baseline(train, val, test, grid=(1.0, 4.0, 16.0, 64.0)) -> dict:
    """TF-IDF uni+bigram logistic regression; C chosen on the validation split."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    def tfidf():  # the same features for the choice of C and for the refit
        return TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, token_pattern=r"\S+")

    start = time.perf_counter()
    vectorizer = tfidf()
    xtr = vectorizer.fit_transform(train[0])
    xva, xte = vectorizer.transform(val[0]), vectorizer.transform(test[0])
    scores = {}
    models = {}
    for c in grid:
        models[c] = LogisticRegression(C=c, max_iter=2000).fit(xtr, train[1])
        scores[c] = float((models[c].predict(xva) == val[1]).mean())
    best = max(grid, key=lambda c: (scores[c], -c))
    seconds = time.perf_counter() - start
    # the chosen C refitted on every training label (train + validation), for sides that train on all of them
    start = time.perf_counter()
    vectorizer_all = tfidf()
    x_all = vectorizer_all.fit_transform(list(train[0]) + list(val[0]))
    refit = LogisticRegression(C=best, max_iter=2000).fit(x_all, np.concatenate([train[1], val[1]]))
    refit_seconds = time.perf_counter() - start
    return {
        "model": "TF-IDF 1-2-grams (min_df 2, sublinear tf) + LogisticRegression",
        "val_accuracy_by_C": {str(c): s for c, s in scores.items()},
        "chosen_C": best,
        "best_val_accuracy": scores[best],
        "test_accuracy": float((models[best].predict(xte) == test[1]).mean()),
        "test_accuracy_all_labels": float((refit.predict(vectorizer_all.transform(test[0])) == test[1]).mean()),
        "train_seconds": seconds,  # the fits that chose C (not the refit)
        "refit_seconds": refit_seconds,
        "features": int(xtr.shape[1]),
    }


def keras_io_baseline(train, val, test, epochs: int, seed: int) -> dict:
    """The keras-io BiLSTM recipe (see the module docstring)."""
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    counts: dict[str, int] = {}
    for text in train[0]:
        for word in text.split():
            counts[word] = counts.get(word, 0) + 1
    vocabulary = sorted(counts, key=lambda w: (-counts[w], w))[: 20000 - 2]
    index = {w: i + 2 for i, w in enumerate(vocabulary)}  # 0 padding, 1 out of vocabulary

    def encode(texts):
        ids = [[index.get(w, 1) for w in t.split()] for t in texts]
        return keras.utils.pad_sequences(ids, maxlen=200)  # padding and truncating "pre", as the example

    xtr, xva, xte = encode(train[0]), encode(val[0]), encode(test[0])
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(20000, 128)(inputs)
    x = keras.layers.Bidirectional(keras.layers.LSTM(64, return_sequences=True))(x)
    x = keras.layers.Bidirectional(keras.layers.LSTM(64))(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    best = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=epochs, restore_best_weights=True)
    history = model.fit(
        xtr, train[1], batch_size=32, epochs=epochs, validation_data=(xva, val[1]), callbacks=[best], verbose=2
    )
    seconds = time.perf_counter() - start
    return {
        "model": "keras-io: Embedding(20000,128) + BiLSTM(64) x2, last 200 tokens, batch 32",
        "val_accuracy": history.history["val_accuracy"],
        "best_val_accuracy": max(history.history["val_accuracy"]),
        "best_epoch": int(np.argmax(history.history["val_accuracy"])) + 1,
        "test_accuracy": float(model.evaluate(xte, test[1], verbose=0)[1]),
        "train_seconds": seconds,
    }


def textlstm_side(pipeline: Path, output: Path, overrides: list[str]) -> dict:
    """One `textlstm train` run of a pipeline file (train, evaluate on its test split, write)."""
    from textlstm.classifier import TextClassifier
    from textlstm.runner import train_evaluate_write

    clf = TextClassifier(load_pipeline(pipeline, overrides))
    report = train_evaluate_write(clf, output)
    history = clf.history[0]
    monitor = "val_accuracy"
    data = clf.data_report
    # the artifact (ensemble, fusion) on the run's validation split; a bagged run has none: every member drew
    # its own from all the training rows, so the ensemble has trained on every row (see "members")
    val_accuracy = None
    if clf.splits.validation.rows:
        val_texts, val_labels = clf.splits.validation.columns()
        val_accuracy = clf.evaluate(list(val_texts), list(val_labels))["accuracy"]
    side = {
        "pipeline": str(pipeline.relative_to(ROOT)),
        "training_labels": "all (bagging)" if clf.config.train.ensemble.bagging else "the 90% split",
        "val_accuracy_of_the_artifact": val_accuracy,
        "overrides": overrides,
        "test_accuracy": report["test"]["accuracy"],
        "best_val_accuracy": max(history[monitor]),  # the first network
        "val_accuracy": history[monitor],
        "train_seconds": report["train_seconds"],
        "max_length": data.get("max_length"),
        "max_length_from": data.get("max_length_from"),
        "truncated": data.get("truncated"),
        "output": str(output),
    }
    if data.get("fusion"):
        side["fusion_val_accuracy"] = [f["accuracy"] for f in data["fusion"]]
    if data.get("ensemble"):
        side["members"] = data["ensemble"]
    if data.get("encoder"):
        side["encoder"] = data["encoder"]
    return side


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "imdb_dev")
    parser.add_argument("--sides", default=",".join(SIDES), help=f"comma-separated, from {', '.join(SIDES)}")
    parser.add_argument("--epochs", type=int, default=4, help="keras-io side: at most this many epochs")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--runs", type=Path, default=Path("runs/bench_imdb"), help="textlstm sides' output folders")
    parser.add_argument("--set", action="append", default=[], help="override for both textlstm sides")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    unknown = set(sides) - set(SIDES)
    if unknown:
        parser.error(f"unknown sides {sorted(unknown)}; choose from {SIDES}")
    if not (args.data / "train.tsv").exists():
        parser.error(f"{args.data}/train.tsv not found (the imdb_dev corpus; see its SOURCE.txt)")
    data = [f"data.train={args.data / 'train.tsv'}", f"data.test={args.data / 'test.tsv'}"]
    seed = [f"train.seed={args.seed}"]
    start = time.perf_counter()
    result = {
        "benchmark": "imdb_long_documents",
        "data": str(args.data),
        "seed": args.seed,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
    }
    cfg = load_pipeline(ROOT / "pipelines" / "imdb.yaml", data + seed)
    if {"linear", "keras_io"} & set(sides):
        splits = load_splits(cfg.data, "classification", cfg.train.seed)  # the textlstm sides' own split
        train, val, test = (_columns(r) for r in (splits.train, splits.validation, splits.test))
        train, val, test = ((_standardized(t), y) for t, y in (train, val, test))
        result["split"] = {"train": len(train[0]), "validation": len(val[0]), "test": len(test[0])}
        if "linear" in sides:
            result["linear"] = linear_baseline(train, val, test)
        if "keras_io" in sides:
            result["keras_io"] = keras_io_baseline(train, val, test, args.epochs, args.seed)
    for side, name in (("lstm", "imdb_lstm.yaml"), ("pipeline", "imdb.yaml")):
        if side in sides:
            keras.utils.set_random_seed(args.seed)
            result[side] = textlstm_side(ROOT / "pipelines" / name, args.runs / side, data + seed + args.set)
    points = {}
    for ours in ("lstm", "pipeline"):
        for base in ("keras_io", "linear"):
            if ours in result and base in result:
                points[f"{ours}_minus_{base}"] = 100 * (result[ours]["test_accuracy"] - result[base]["test_accuracy"])
        if ours in result and "linear" in result:  # against the linear model refitted on every training label
            all_labels = result["linear"]["test_accuracy_all_labels"]
            points[f"{ours}_minus_linear_all_labels"] = 100 * (result[ours]["test_accuracy"] - all_labels)
    result["test_points"] = points
    result["wall_s"] = time.perf_counter() - start
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)


if __name__ == "__main__":
    main()
