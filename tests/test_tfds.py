"""The TFDS source, tested offline with tfds.testing.mock_data."""

import time

import pytest
import tensorflow_datasets as tfds

from textlstm.config import DataConfig
from textlstm.data import load_splits, tfds_source
from textlstm.data.sources import DataError


def test_mocked_imdb_reviews_loads_with_class_names(monkeypatch, tmp_path):
    monkeypatch.setattr(tfds_source, "network_available", lambda timeout=4.0: True)
    cfg = DataConfig(source="tfds:imdb_reviews", data_dir=str(tmp_path), test="test")
    with tfds.testing.mock_data(num_examples=40):
        splits = load_splits(cfg, seed=0)
    assert len(splits.train) + len(splits.validation) == 40 and len(splits.test) == 40
    assert splits.train.label_names == ["neg", "pos"]
    assert {r[1] for r in splits.train.rows} <= {"neg", "pos"}
    assert all(isinstance(r[0], str) and r[0] for r in splits.train.rows)
    # data.train / data.validation / data.test name the TFDS splits (validation: none, i.e. held out, by default).
    named = DataConfig(source="tfds:imdb_reviews", data_dir=str(tmp_path), train="test", validation="train")
    with tfds.testing.mock_data(num_examples=40):
        splits = load_splits(named, seed=0)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (40, 40, 40)


def test_wrong_feature_name_lists_features(monkeypatch, tmp_path):
    monkeypatch.setattr(tfds_source, "network_available", lambda timeout=4.0: True)
    cfg = DataConfig(source="tfds:glue/sst2", data_dir=str(tmp_path), text="text")
    with tfds.testing.mock_data(num_examples=5):
        with pytest.raises(DataError, match=r"no feature 'text'.*'sentence'"):
            load_splits(cfg, seed=0)


def test_offline_fails_fast_with_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setattr(tfds_source, "PROBE_HOST", ("tfds-probe.invalid", 443))
    start = time.perf_counter()
    with pytest.raises(DataError, match=r"tfds:imdb_reviews.*not prepared.*cannot be reached"):
        load_splits(DataConfig(source="tfds:imdb_reviews", data_dir=str(tmp_path)), seed=0)
    assert time.perf_counter() - start < 15


def test_no_download_and_unknown_dataset(tmp_path):
    with pytest.raises(DataError, match="not prepared and download=False"):
        tfds_source.read_tfds("imdb_reviews", "train", ["text", "label"], data_dir=str(tmp_path), download=False)
    with pytest.raises(DataError, match="tfds:no_such_dataset_xyz"):
        load_splits(DataConfig(source="tfds:no_such_dataset_xyz", data_dir=str(tmp_path)), seed=0)
