import glob
import os

import pytest

from textlstm.config import ConfigError, ModelConfig, PipelineConfig, apply_overrides, load_pipeline, pipeline_from_dict
from conftest import REPO


def test_defaults_and_sections():
    cfg = pipeline_from_dict({"model": {"units": [32, 16]}, "train": {"epochs": 2}})
    assert isinstance(cfg, PipelineConfig)
    assert isinstance(cfg.model, ModelConfig)
    assert cfg.model.units == [32, 16] and cfg.train.epochs == 2
    assert cfg.data.source == "files"


def test_unknown_key_names_key_and_suggests():
    with pytest.raises(ConfigError, match=r"unknown key 'model.unit'.*Did you mean 'units'"):
        pipeline_from_dict({"model": {"unit": [32]}})
    with pytest.raises(ConfigError, match=r"unknown key 'trian'.*'train'"):
        pipeline_from_dict({"trian": {}})


def test_type_errors_are_clear():
    with pytest.raises(ConfigError, match=r"train.epochs: expected an integer"):
        pipeline_from_dict({"train": {"epochs": "many"}})
    with pytest.raises(ConfigError, match=r"model.bidirectional: expected true/false"):
        pipeline_from_dict({"model": {"bidirectional": "maybe"}})


@pytest.mark.parametrize("overrides,message", [
    (["model.pooling=attention"], r"model.pooling must be last, max or mean, got 'attention'"),
    (["model.ngram_init=glove"], r"model.ngram_init must be naive_bayes, nbsvm or zeros"),
    (["model.ngram_learn=svm"], r"model.ngram_learn must be scale or all"),
    (["model.ngram_chars=[5, 2]"], r"model.ngram_chars must be \[min, max\]"),
    (["model.ngram_chars=[3]"], r"model.ngram_chars must be \[min, max\]"),
    (["model.ngram_chars=[0, 3]"], r"model.ngram_chars must be \[min, max\]"),
    (["model.ngram_features=2", "model.late_ngrams={ngram_chars: [4, 2]}"], r"model.ngram_chars must be \[min, max\]"),
    (["model.ngram_features=2", "model.ngram_init=nbsvm", "model.ngram_leave_one_out=true"],
     r"ngram_leave_one_out needs"),
])
def test_model_values_fail_when_the_pipeline_is_read(tmp_path, overrides, message):
    p = tmp_path / "p.yaml"
    p.write_text("task: classification\n")
    with pytest.raises(ConfigError, match=message):
        load_pipeline(p, overrides)
    assert load_pipeline(p, [])  # the defaults pass


def test_overrides_dotted_paths_and_yaml_values():
    data = apply_overrides({"model": {"units": [64]}}, ["model.units=[128, 32]", "data.train=x/train.tsv",
                                                         "train.learning_rate=3e-4", "vectorizer.max_length=null"])
    cfg = pipeline_from_dict(data)
    assert cfg.model.units == [128, 32]
    assert cfg.data.train == "x/train.tsv"
    assert cfg.train.learning_rate == pytest.approx(3e-4)
    assert cfg.vectorizer.max_length is None


def test_override_of_unknown_key_is_rejected(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("task: classification\n")
    with pytest.raises(ConfigError, match=r"p.yaml: unknown key 'model.embeding_dim'.*'embedding_dim'"):
        load_pipeline(p, ["model.embeding_dim=8"])
    with pytest.raises(ConfigError, match="must look like"):
        load_pipeline(p, ["model.units"])


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_pipeline(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_pipeline(bad)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(REPO, "pipelines", "*.yaml"))))
def test_every_shipped_pipeline_loads(path):
    cfg = load_pipeline(path)
    assert cfg.task in ("classification", "translation")


def test_union_fields_keep_yaml_types():
    cfg = pipeline_from_dict({"data": {"text": 1, "label": "sentiment"}})
    assert cfg.data.text == 1 and cfg.data.label == "sentiment"
