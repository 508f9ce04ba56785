"""textlstm's length-bucketed pipeline vs the keras-io BiLSTM recipe, same model.

The baseline follows the keras-io example "Bidirectional LSTM on IMDB"
(https://keras.io/examples/nlp/bidirectional_lstm_imdb/): sequences cut or
padded to a fixed length of 200, no mask, batch 32, Embedding(20000, 128) and
two Bidirectional(LSTM(64)), Adam. textlstm trains the same layers on the same
splits with right-padded, length-bucketed batches and a mask.

    python bench/bench_classifier.py [--epochs 3] [--data ../shared/data/rt_polarity]

Prints one JSON object: per side the median epoch time (epochs after the
first, which includes tracing), non-pad tokens per second, padding fraction
and test accuracy (best validation epoch restored), and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from textlstm.classifier import TextClassifier  # noqa: E402
from textlstm.config import pipeline_from_dict  # noqa: E402
from textlstm.training import EpochTimer  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "rt_polarity"
MAXLEN, MAX_FEATURES, BATCH = 200, 20000, 32


def pipeline(data_dir: Path | None, epochs: int) -> dict:
    if data_dir and (data_dir / "train.tsv").exists():
        data = {
            "source": "files",
            "train": str(data_dir / "train.tsv"),
            "test": str(data_dir / "test.tsv"),
            "text": 1,
            "label": 0,
        }
    else:
        data = {"source": "demo"}
    return {
        "data": data,
        "vectorizer": {"max_tokens": MAX_FEATURES, "max_length": MAXLEN, "standardize": "lower_punctuation_html"},
        "model": {"embedding_dim": 128, "units": [64, 64], "bidirectional": True, "dropout": 0.0},
        "train": {
            "epochs": epochs,
            "batch_size": BATCH,
            "patience": None,
            "verbose": 0,
            "tensorboard": False,
            "clipnorm": None,
        },
    }


def keras_io_baseline(splits, vectorizer_vocab, labels, epochs: int, seed: int) -> dict:
    keras.utils.set_random_seed(seed)
    vec = keras.layers.TextVectorization(
        max_tokens=MAX_FEATURES, output_sequence_length=MAXLEN, standardize=None, vocabulary=vectorizer_vocab[2:]
    )
    # Same standardization as textlstm, so both sides see the same tokens.
    from textlstm.data.vectorize import lower_punctuation_html

    def encode(recs):
        texts, y = recs.columns()
        ids = vec(lower_punctuation_html(tf.constant(texts))).numpy()
        return ids, labels.encode(y).astype("float32")

    (xtr, ytr), (xva, yva), (xte, yte) = map(encode, (splits.train, splits.validation, splits.test))
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(MAX_FEATURES, 128)(inputs)
    x = keras.layers.Bidirectional(keras.layers.LSTM(64, return_sequences=True))(x)
    x = keras.layers.Bidirectional(keras.layers.LSTM(64))(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    timer = EpochTimer()
    best = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=epochs, restore_best_weights=True)
    hist = model.fit(
        xtr, ytr, batch_size=BATCH, epochs=epochs, validation_data=(xva, yva), callbacks=[timer, best], verbose=0
    )
    times = hist.history["epoch_time"]
    tokens = int((xtr != 0).sum())
    return {
        "epoch_times_s": times,
        "median_epoch_s": statistics.median(times[1:] or times),
        "nonpad_tokens": tokens,
        "nonpad_tokens_per_s": tokens / statistics.median(times[1:] or times),
        "examples_per_s": len(xtr) / statistics.median(times[1:] or times),
        "padding_fraction": float((xtr == 0).mean()),
        "test_accuracy": float(model.evaluate(xte, yte, verbose=0)[1]),
        "best_val_accuracy": max(hist.history["val_accuracy"]),
    }


def run(data_dir: Path | None, epochs: int, seed: int) -> dict:
    cfg = pipeline_from_dict(pipeline(data_dir, epochs))
    clf = TextClassifier(cfg)
    clf.fit()
    hist = clf.history[0]
    times = hist["epoch_time"]
    ours_med = statistics.median(times[1:] or times)
    ours = {
        "epoch_times_s": times,
        "median_epoch_s": ours_med,
        "examples_per_s": clf.data_report["train_examples"] / ours_med,
        "padding_fraction": clf.data_report["train_padding_fraction"],
        "bucket_boundaries": clf.data_report["bucket_boundaries"],
        "test_accuracy": clf.evaluate()["accuracy"],
        "best_val_accuracy": max(hist["val_accuracy"]),
    }
    base = keras_io_baseline(clf.splits, clf.vectorizer.get_vocabulary(), clf.labels, epochs, seed)
    # Both sides train on the same tokens (same vocabulary, standardization and
    # truncation), so one count of non-pad tokens serves both.
    ours["nonpad_tokens_per_s"] = base["nonpad_tokens"] / ours_med
    return {
        "benchmark": "classifier_vs_keras_io_bilstm",
        "data": cfg.data.train or "demo",
        "train_examples": len(clf.splits.train),
        "epochs": epochs,
        "model": "Embedding(20000,128) + BiLSTM(64) x2, batch 32",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "gpu": bool(tf.config.list_physical_devices("GPU")),
        },
        "keras_io_baseline": base,
        "textlstm": ours,
        "epoch_speedup": base["median_epoch_s"] / ours_med,
        "test_accuracy_delta": ours["test_accuracy"] - base["test_accuracy"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="folder with train.tsv/test.tsv (label<TAB>text)"
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    start = time.perf_counter()
    result = run(args.data if args.data and args.data.exists() else None, args.epochs, args.seed)
    result["wall_s"] = time.perf_counter() - start
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
