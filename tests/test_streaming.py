"""Streaming sources (`data.cache: disk | none`): sharded and gzipped files give what one plain file gives."""

import gzip
import json

import keras
import numpy as np
import pytest

from textlstm import tasks
from textlstm.classifier import TextClassifier
from textlstm.config import pipeline_from_dict
from textlstm.data import Stream, load_splits
from textlstm.data.examples import ClassificationExamples
from textlstm.data.sources import DataError, read_records
from textlstm.errors import ConfigError
from textlstm.runner import train_evaluate_write

SMALL = {
    "vectorizer": {"max_length": 24, "max_tokens": 2000},
    "model": {"units": [8], "embedding_dim": 8, "bidirectional": False},
    "train": {"epochs": 1, "verbose": 0, "tensorboard": False, "seed": 3, "batch_size": 32},
}


def _lines(rows):
    return "".join(f"{label}\t{text}\n" for text, label in rows)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The demo corpus as one plain TSV and as three gzipped shards (same rows, same order),
    plus validation and test files: `label<TAB>text`, as rt_polarity."""
    root = tmp_path_factory.mktemp("stream")
    train, val, test = tasks.get("classification").demo_splits(600, 0, "")
    (root / "all.tsv").write_text(_lines(train), encoding="utf-8")
    (root / "shards").mkdir()
    thirds = np.array_split(np.arange(len(train)), 3)
    for k, idx in enumerate(thirds):
        with gzip.open(root / "shards" / f"shard-{k}.tsv.gz", "wt", encoding="utf-8") as f:
            f.write(_lines([train[i] for i in idx]))
    (root / "val.tsv").write_text(_lines(val), encoding="utf-8")
    with gzip.open(root / "test.tsv.gz", "wt", encoding="utf-8") as f:
        f.write(_lines(test))
    return root


def _rows(path):
    return len(read_records(path, [1, 0]))


def _cfg(train, cache="disk", **data):
    data = {"train": str(train), "text": 1, "label": 0, "cache": cache, **data}
    return pipeline_from_dict({**SMALL, "data": data})


def _epoch(cfg, cache_dir=None):
    """The labels, vocabulary and one epoch of training and validation batches."""
    splits = load_splits(cfg.data, "classification", cfg.train.seed)
    keras.utils.set_random_seed(cfg.train.seed)
    ex = ClassificationExamples.build(
        splits.train, splits.validation, cfg.vectorizer, cfg.train, cache=cfg.data.cache, cache_dir=cache_dir
    )
    train, val = ex.batches()
    batches = [[t.numpy() for t in b] for b in train] + [[t.numpy() for t in b] for b in val]
    return ex, batches


def _same_batches(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for s, t in zip(x, y):
            np.testing.assert_array_equal(s, t)


@pytest.mark.parametrize("cache", ["disk", "none"])
def test_shards_and_gzip_give_what_one_plain_file_gives(corpus, tmp_path, cache):
    plain, plain_batches = _epoch(_cfg(corpus / "all.tsv", cache), tmp_path / "a")
    sharded, shard_batches = _epoch(_cfg(corpus / "shards" / "shard-*.tsv.gz", cache), tmp_path / "b")
    assert plain.labels.names == sharded.labels.names == ["negative", "positive"]
    assert plain.vectorizer.get_vocabulary() == sharded.vectorizer.get_vocabulary()
    assert plain.boundaries == sharded.boundaries and plain.report["train_examples"] > 400
    _same_batches(plain_batches, shard_batches)
    if cache == "disk":
        assert any((tmp_path / "b" / "vectorizer").iterdir())  # the token ids' cache files


def test_memory_and_stream_over_the_same_files_agree(corpus, tmp_path):
    memory, memory_batches = _epoch(_cfg(corpus / "all.tsv", "memory", validation=str(corpus / "val.tsv")))
    splits = load_splits(_cfg(corpus / "all.tsv", "memory").data, "classification")
    assert not isinstance(splits.train, Stream)
    streamed, stream_batches = _epoch(_cfg(corpus / "shards" / "shard-*.tsv.gz", validation=str(corpus / "val.tsv")))
    assert memory.labels.names == streamed.labels.names
    assert memory.vectorizer.get_vocabulary() == streamed.vectorizer.get_vocabulary()
    assert memory.report["cache"] == "memory" and streamed.report["cache"] == "disk"
    _same_batches(memory_batches, stream_batches)


def test_a_bad_row_in_the_third_shard_names_the_shard_and_line(corpus, tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    for k in range(3):
        rows = gzip.open(corpus / "shards" / f"shard-{k}.tsv.gz", "rt", encoding="utf-8").read().splitlines()
        if k == 2:
            rows[4] = "no tab in this row"
        with gzip.open(shards / f"shard-{k}.tsv.gz", "wt", encoding="utf-8") as f:
            f.write("\n".join(rows) + "\n")
    cfg = _cfg(shards / "shard-*.tsv.gz")
    splits = load_splits(cfg.data, "classification", cfg.train.seed)
    with pytest.raises(DataError, match=r"shard-2\.tsv\.gz:5: expected at least 2 columns, found 1"):
        ClassificationExamples.build(splits.train, splits.validation, cfg.vectorizer, cfg.train, cache="none")
    with pytest.raises(DataError, match=r"shard-2\.tsv\.gz:5: expected at least 2 columns"):  # the in-memory path
        read_records(shards / "shard-*.tsv.gz", [1, 0])
    skip = _cfg(shards / "shard-*.tsv.gz", on_bad_row="skip")
    splits = load_splits(skip.data, "classification", skip.train.seed)
    ClassificationExamples.build(splits.train, splits.validation, skip.vectorizer, skip.train, cache="none")
    report = splits.report()
    assert report["train"]["skipped"]["total"] == 1 and report["validation"]["skipped"]["total"] == 0
    assert "shard-2.tsv.gz:5" in report["train"]["skipped"]["first"][0]
    assert report["train"]["rows"] + report["validation"]["rows"] == _rows(corpus / "all.tsv") - 1


def test_no_match_and_unknown_validation_label_are_clear_errors(corpus, tmp_path):
    cfg = _cfg(tmp_path / "nothing-*.tsv.gz")
    with pytest.raises(DataError, match=r"nothing-\*\.tsv\.gz: no files match"):
        len(load_splits(cfg.data).train)
    (tmp_path / "val.tsv").write_text("positive\tfine\nneutral\tso so\n", encoding="utf-8")
    cfg = _cfg(corpus / "all.tsv", validation=str(tmp_path / "val.tsv"))
    splits = load_splits(cfg.data)
    with pytest.raises(DataError, match=r"val.tsv:2: label 'neutral' never occurs in the training data"):
        ClassificationExamples.build(splits.train, splits.validation, cfg.vectorizer, cfg.train, cache="none")


def _texts(stream):
    return [row[0] for row, _ in stream.rows()]


def test_hash_validation_split_is_deterministic_and_independent_of_sharding(corpus):
    one = load_splits(_cfg(corpus / "all.tsv").data, "classification", seed=3)
    shards = load_splits(_cfg(corpus / "shards" / "shard-*.tsv.gz").data, "classification", seed=3)
    val = _texts(one.validation)
    assert val == _texts(shards.validation) == _texts(load_splits(_cfg(corpus / "all.tsv").data, seed=3).validation)
    n = _rows(corpus / "all.tsv")
    assert 0.05 * n <= len(val) <= 0.15 * n  # about validation_fraction 0.1
    assert not set(val) & set(_texts(one.train)) and len(val) + len(_texts(one.train)) == n
    assert set(val) != set(_texts(load_splits(_cfg(corpus / "all.tsv").data, seed=4).validation))
    assert "hash" in one.report()["validation_split"]
    separate = (one.train.scan().label_counts, one.validation.scan().label_counts)
    assert one.train.complements(one.validation) and not one.train.complements(shards.validation)
    one.train.scan(held_out=one.validation)  # one pass counts both sides
    assert (one.train.stats.label_counts, one.validation.stats.label_counts) == separate
    assert one.validation.stats.rows == len(val)


def test_adapt_sample_bounds_the_adapt_set_and_is_reported(corpus):
    val = str(corpus / "val.tsv")
    full, _ = _epoch(_cfg(corpus / "shards" / "shard-*.tsv.gz", "none", validation=val))
    sampled = {**SMALL["vectorizer"], "adapt_sample": 40}
    streamed = pipeline_from_dict(
        {**_cfg(corpus / "shards" / "shard-*.tsv.gz", "none", validation=val).to_dict(), "vectorizer": sampled}
    )
    part, _ = _epoch(streamed)
    assert (
        full.report["vocabulary_adapted_on"] == _rows(corpus / "all.tsv") and part.report["vocabulary_adapted_on"] == 40
    )
    assert part.report["vocabulary_size"] < full.report["vocabulary_size"]
    # the in-memory path draws the same seeded sample from the same rows
    memory = pipeline_from_dict({**_cfg(corpus / "all.tsv", "memory", validation=val).to_dict(), "vectorizer": sampled})
    in_memory, _ = _epoch(memory)
    assert in_memory.report["vocabulary_adapted_on"] == 40
    assert in_memory.vectorizer.get_vocabulary() == part.vectorizer.get_vocabulary()


def test_train_evaluate_write_on_gzipped_shards_with_a_disk_cache(corpus, tmp_path):
    cfg = _cfg(corpus / "shards" / "shard-*.tsv.gz", test=str(corpus / "test.tsv.gz"))
    for _ in range(2):  # the second run into the same folder rebuilds the cache
        clf = TextClassifier(cfg)
        report = train_evaluate_write(clf, tmp_path / "run")
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["test"]["count"] == _rows(corpus / "test.tsv.gz") and 0 <= written["test"]["accuracy"] <= 1
    data = written["data"]
    assert data["streamed"] is True and data["cache"] == "disk" and "hash" in data["validation_split"]
    assert data["train"]["rows"] + data["validation"]["rows"] == _rows(corpus / "all.tsv")
    assert data["test"]["rows"] == written["test"]["count"]
    assert report["test"]["accuracy"] == written["test"]["accuracy"]
    assert (tmp_path / "run" / "cache" / "vectorizer").is_dir()
    probabilities = clf.predict_proba(["a great film"])
    assert probabilities.shape == (1, 2)


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"train": {"ensemble": {"members": 2, "bagging": True}}}, "bagging resamples the training rows in memory"),
        ({"task": "multilabel"}, "task: multilabel reads its rows into memory"),
        ({"data": {"cache": "ram"}}, "data.cache must be memory, disk or none"),
        ({"vectorizer": {"adapt_sample": 0}}, "vectorizer.adapt_sample must be at least 1"),
    ],
)
def test_config_refusals(extra, message):
    data = {"train": "x.tsv", "cache": "disk", **extra.get("data", {})}
    with pytest.raises(ConfigError, match=message):
        pipeline_from_dict({**extra, "data": data})


def test_translation_refuses_streaming():
    with pytest.raises(ConfigError, match="task: translation reads its rows into memory"):
        pipeline_from_dict({"task": "translation", "data": {"cache": "none"}})


def test_tfds_splits_stream_with_class_label_names(monkeypatch, tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    from textlstm.data import tfds_source

    monkeypatch.setattr(tfds_source, "network_available", lambda timeout=4.0: True)
    data = {"source": "tfds:imdb_reviews", "data_dir": str(tmp_path), "cache": "none"}
    cfg = pipeline_from_dict({**SMALL, "data": data})
    with tfds.testing.mock_data(num_examples=40):
        splits = load_splits(cfg.data, "classification", cfg.train.seed)
        assert isinstance(splits.train, Stream) and splits.train.label_names == ["neg", "pos"]
        ex = ClassificationExamples.build(splits.train, splits.validation, cfg.vectorizer, cfg.train, cache="none")
        report = splits.report()
    assert ex.labels.names == ["neg", "pos"] and ex.report["vocabulary_adapted_on"] == report["train"]["rows"]
    assert report["train"]["rows"] + report["validation"]["rows"] == 40 and report["test"]["rows"] == 40
    assert splits.train.source == "tfds:imdb_reviews[train]"
