import dataclasses
import glob
import os
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import REPO
from textlstm.config import (
    AdversarialConfig,
    ConfigError,
    DataConfig,
    EnsembleConfig,
    ModelConfig,
    PipelineConfig,
    TrainConfig,
    VectorizerConfig,
    WideConfig,
    apply_overrides,
    load_pipeline,
    pipeline_from_dict,
)


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


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["model.pooling=attention"], r"model.pooling must be last, max or mean, got 'attention'"),
        (["model.wide=[{ngrams: 2, init: glove}]"], r"model.wide\[0\]: init must be naive_bayes, nbsvm or zeros"),
        (["model.wide=[{ngrams: 2, fusion: early}]"], r"model.wide\[0\]: fusion must be joint or late"),
        (["model.wide=[{chars: [5, 2]}]"], r"model.wide\[0\]: chars must be \[min, max\]"),
        (["model.wide=[{chars: [3]}]"], r"model.wide\[0\]: chars must be \[min, max\]"),
        (["model.wide=[{chars: [0, 3]}]"], r"model.wide\[0\]: chars must be \[min, max\]"),
        (
            ["model.wide=[{ngrams: 2}, {ngrams: 2, chars: [4, 2], fusion: late}]"],
            r"model.wide\[1\]: chars must be \[min, max\]",
        ),
        (["model.wide=[{ngrams: 0}]"], r"model.wide\[0\]: a wide path needs n-grams"),
        (
            ["model.wide=[{ngram_buckets: 4096}]"],
            r"unknown key 'model.wide\[0\].ngram_buckets'.*Did you mean 'buckets'",
        ),
        (["vectorizer.level=subwords"], r"vectorizer.level must be word, character or subword, got 'subwords'"),
        (["vectorizer.level=subword", "vectorizer.max_tokens=50"], r"vectorizer.max_tokens must be at least 100"),
        (["data.source=tfds"], r"data.source must be files, demo, demo:NAME or tfds:NAME"),
        (["data.format=parquet"], r"data.format must be auto, tsv, csv, jsonl or folder"),
        (["data.on_bad_row=drop"], r"data.on_bad_row must be error or skip"),
        (["train.optimizer=adagrad"], r"train.optimizer must be adam, adamw, rmsprop or sgd"),
        (["train.verbose=3"], r"train.verbose must be auto, 0, 1 or 2"),
        (["train.buckets=-1"], r"train.buckets must be >= 0"),
        (["train.monitor=val_fused_accuracy"], r"val_fused_accuracy is the score of a late wide path"),
        (["train.monitor=val_fused_accuracy", "model.wide=[{ngrams: 2}]"], r"and this model has none"),
        (["train.ensemble={members: 1, bagging: true}"], r"set train.ensemble.members to 2 or more"),
        (["train.ensemble={members: 0}"], r"train.ensemble.members must be at least 1"),
        (["train.ensemble={members: 3, bagging: true}", "data.validation=valid.tsv"], r"remove data.validation"),
        (["data.train=null"], r"data.train is not set"),
    ],
)
def test_values_and_combinations_fail_when_the_pipeline_is_read(tmp_path, overrides, message):
    p = tmp_path / "p.yaml"
    p.write_text("task: classification\ndata: {train: train.tsv}\n")
    with pytest.raises(ConfigError, match=message):
        load_pipeline(p, overrides)
    assert load_pipeline(p, [])  # the defaults pass


def test_wide_paths_and_ensemble_are_read_into_their_sections():
    cfg = pipeline_from_dict(
        {
            "model": {
                "wide": [
                    {"ngrams": 2},
                    {"ngrams": 2, "chars": [2, 5], "init": "nbsvm", "fusion": "late", "buckets": 4096},
                ]
            },
            "train": {"monitor": "val_fused_accuracy", "ensemble": {"members": 3, "bagging": True}},
        }
    )
    joint, late = cfg.model.wide
    assert isinstance(joint, WideConfig) and (joint.ngrams, joint.chars, joint.fusion) == (2, None, "joint")
    assert (late.chars, late.init, late.fusion, late.buckets) == ([2, 5], "nbsvm", "late", 4096)
    assert cfg.model.joint_paths == [joint] and cfg.model.late_paths == [late] and cfg.model.has_late_path
    assert isinstance(cfg.train.ensemble, EnsembleConfig)
    assert (cfg.train.ensemble.members, cfg.train.ensemble.bagging) == (3, True)
    assert pipeline_from_dict({}).model.wide == [] and pipeline_from_dict({}).train.ensemble.members == 1


@pytest.mark.parametrize(
    "key",
    [
        "model.ngram_features=2",
        "model.ngram_leave_one_out=true",
        "model.ngram_learn=all",
        "model.activation=relu",
        "model.recurrent_activation=sigmoid",
        "model.recurrent_dropout=0.1",
        "vectorizer.ngrams=2",
        "vectorizer.min_count=2",
        "vectorizer.subword_vocab_size=8000",
        "train.refit=true",
        "train.restore_best=false",
        "train.shuffle_buffer=100",
        "train.steps_per_epoch=3",
        "train.bucketing=false",
        "train.num_buckets=4",
        "data.train_split=train",
        "data.validation_split=validation",
        "data.test_split=test",
        "output=runs/x",
        "train.label_smoothing=0.1",
        "vectorizer.train_pretrained=false",
        "data.download=false",
        "model.l2=0.001",
    ],
)
def test_removed_keys_are_unknown(key):
    with pytest.raises(ConfigError, match=f"unknown key '{key.split('=')[0]}'"):
        pipeline_from_dict(apply_overrides({}, [key]))


def test_a_files_source_without_data_train_is_a_read_time_error_for_a_pipeline_file(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("task: classification\n")
    with pytest.raises(ConfigError, match=r"p.yaml: data.train is not set"):
        load_pipeline(p)
    assert load_pipeline(p, ["data.source=demo"]).data.source == "demo"
    assert load_pipeline(None).data.train is None  # no file: the defaults, checked when data is read


def test_overrides_dotted_paths_and_yaml_values():
    data = apply_overrides(
        {"model": {"units": [64]}},
        ["model.units=[128, 32]", "data.train=x/train.tsv", "train.learning_rate=3e-4", "vectorizer.max_length=null"],
    )
    cfg = pipeline_from_dict(data)
    assert cfg.model.units == [128, 32]
    assert cfg.data.train == "x/train.tsv"
    assert cfg.train.learning_rate == pytest.approx(3e-4)
    assert cfg.vectorizer.max_length is None


def test_override_of_unknown_key_is_rejected(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("task: classification\ndata: {source: demo}\n")
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
    assert cfg.task in ("classification", "multilabel", "translation")


def test_union_fields_keep_yaml_types():
    cfg = pipeline_from_dict({"data": {"text": 1, "label": "sentiment"}})
    assert cfg.data.text == 1 and cfg.data.label == "sentiment"


def test_config_errors_are_importable_from_where_they_used_to_be():
    from textlstm import errors
    from textlstm.data.sources import DataError

    assert ConfigError is errors.ConfigError and DataError is errors.DataError


# Incompatible keys, each with data paths that do not exist: the config error
# must come first, before any data is read (and before TensorFlow is imported).
INCOMPATIBLE = {
    "fused_monitor_without_late_path": (
        "data: {train: MISSING/train.tsv, test: MISSING/test.tsv, text: 1, label: 0}\n"
        "model: {wide: [{ngrams: 2}]}\n"
        "train: {monitor: val_fused_accuracy}\n",
        "val_fused_accuracy is the score of a late wide path",
    ),
    "bagging_with_data_validation": (
        "data: {train: MISSING/train.tsv, validation: MISSING/valid.tsv, text: 1, label: 0}\n"
        "train: {ensemble: {members: 3, bagging: true}}\n",
        "remove data.validation",
    ),
}


def _incompatible_pipeline(tmp_path, case):
    text, message = INCOMPATIBLE[case]
    missing = tmp_path / "does_not_exist"
    path = tmp_path / f"{case}.yaml"
    path.write_text("task: classification\n" + text.replace("MISSING", str(missing)))
    return path, message, missing


@pytest.mark.parametrize("case", sorted(INCOMPATIBLE))
def test_incompatible_keys_fail_in_textlstm_train_before_any_data_is_read(tmp_path, case):
    path, message, missing = _incompatible_pipeline(tmp_path, case)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg"}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "textlstm.cli", "train", str(path), "--output", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    seconds = time.perf_counter() - start
    print(f"\n{case}: textlstm train failed in {seconds:.2f} s")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert message in proc.stderr and "textlstm: error:" in proc.stderr
    assert "file not found" not in proc.stderr and "Traceback" not in proc.stderr
    assert "training on" not in proc.stdout  # it never got to the device line, let alone the data
    assert not missing.exists() and not (tmp_path / "run").exists()
    assert seconds < 20


@pytest.mark.parametrize("case", sorted(INCOMPATIBLE))
def test_load_pipeline_raises_the_config_error_without_importing_tensorflow(tmp_path, case):
    path, message, _ = _incompatible_pipeline(tmp_path, case)
    code = textwrap.dedent(f"""
        import sys
        from textlstm.config import ConfigError, load_pipeline
        try:
            load_pipeline({str(path)!r})
        except ConfigError as err:
            assert {message!r} in str(err), err
        else:
            raise SystemExit("no ConfigError")
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "TensorFlow was imported"
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout + proc.stderr


def _keys(cls, sections=(), leave_out=()):
    """The dataclass fields of `cls` that are keys: not the sub-sections, not `leave_out`."""
    names = [f.name for f in dataclasses.fields(cls)]
    assert set(sections) | set(leave_out) <= set(names), (cls, names)  # the test counts what exists
    return [n for n in names if n not in sections and n not in leave_out]


def test_classification_has_at_most_60_config_keys():
    keys = {
        "pipeline": _keys(PipelineConfig, sections=("data", "vectorizer", "model", "train")),
        "data": _keys(DataConfig, leave_out=("source_field", "target_field")),  # translation only
        "vectorizer": _keys(VectorizerConfig, leave_out=("target",)),  # translation only
        "model": _keys(ModelConfig, sections=("wide",)),
        "model.wide[]": _keys(WideConfig),
        "train": _keys(TrainConfig, sections=("ensemble", "adversarial")),
        "train.ensemble": _keys(EnsembleConfig),
        "train.adversarial": _keys(AdversarialConfig),
    }
    assert keys["pipeline"] == ["task", "name", "search"]
    count = sum(len(v) for v in keys.values())
    print(f"\nclassification config keys: {count} ({', '.join(f'{k} {len(v)}' for k, v in keys.items())})")
    assert count <= 60
