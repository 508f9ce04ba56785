"""`textlstm pretrain`: the pipeline checks, the corpus readers, the language
model's training, the encoder artifact, and that a classifier initialized with
`apply_encoder` computes what the language model computed."""

from __future__ import annotations

import gzip
import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import write
from textlstm.cli import main
from textlstm.config import VectorizerConfig
from textlstm.data.sources import SkipReport
from textlstm.errors import ConfigError, DataError
from textlstm.models.classifier import build_classifier
from textlstm.models.config import ModelConfig
from textlstm.pretrain import apply_encoder, load_encoder, load_pretrain_pipeline, read_encoder_info
from textlstm.pretrain.corpus import read_texts, segment_lengths
from textlstm.pretrain.model import BiLanguageModel, reverse_within_length

WORDS = "the a film movie plot actor was is good bad great dull long short very not".split()


def corpus_lines(n: int, seed: int = 0) -> list[str]:
    """`n` short reviews from a small, repetitive grammar (learnable in an epoch or two)."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n):
        subject = rng.choice(["the film", "the movie", "the plot", "the actor"])
        verb = rng.choice(["was", "is"])
        adjective = rng.choice(["good", "bad", "great", "dull", "very long", "not short"])
        lines.append(f"{subject.title()} {verb} {adjective}. <br /> {subject} {verb} {adjective}!")
    return lines


def pipeline(tmp_path, train: str, extra: str = "", name: str = "p.yaml"):
    text = f"""
name: tiny
data: {{train: {train}, format: auto}}
vectorizer: {{max_tokens: 200}}
model: {{embedding_dim: 8, units: 8}}
train: {{epochs: 1, batch_size: 16, sequence_length: 6, sampled: 5, verbose: 0}}
{extra}
"""
    return write(tmp_path / name, text)


# ---------------------------------------------------------------- config


def test_unknown_key_is_named(tmp_path):
    write(tmp_path / "a.txt", "a film\n")
    path = pipeline(tmp_path, "a.txt")
    with pytest.raises(ConfigError, match=r"unknown key 'train.sequence_lenght'. Did you mean 'sequence_length'"):
        load_pretrain_pipeline(path, ["train.sequence_lenght=5"])


def test_level_must_be_word(tmp_path):
    write(tmp_path / "a.txt", "a film\n")
    with pytest.raises(ConfigError, match="vectorizer.level must be word"):
        load_pretrain_pipeline(pipeline(tmp_path, "a.txt"), ["vectorizer.level=character"])


def test_missing_files_name_the_pattern(tmp_path):
    with pytest.raises(ConfigError, match=r"data.train: no files match: nowhere/\*.txt"):
        load_pretrain_pipeline(pipeline(tmp_path, "'nowhere/*.txt'"))
    with pytest.raises(ConfigError, match="file not found: missing.tsv"):
        load_pretrain_pipeline(pipeline(tmp_path, "missing.tsv"))


def test_relative_paths_resolve_against_the_pipeline(tmp_path):
    write(tmp_path / "shard-1.txt", "a film\n")
    write(tmp_path / "shard-2.txt", "a movie\n")
    cfg = load_pretrain_pipeline(pipeline(tmp_path, "'shard-*.txt'"), ["train.sequence_length=2"])
    assert cfg.data.train == [str(tmp_path / "shard-*.txt")]
    assert cfg.train.sequence_length == 2 and cfg.name == "tiny"


# ---------------------------------------------------------------- corpus


def test_bad_row_names_file_and_line_or_is_counted(tmp_path):
    data = write(tmp_path / "d.tsv", "0\tgood film\n1\n1\tbad film\n")
    cfg = load_pretrain_pipeline(pipeline(tmp_path, "d.tsv"), ["data.text=1"])
    with pytest.raises(DataError, match=r"d.tsv:2: expected at least 2 columns"):
        read_texts(cfg.data.train_paths, cfg.data, SkipReport())
    cfg.data.on_bad_row = "skip"
    skipped = SkipReport()
    assert read_texts(cfg.data.train_paths, cfg.data, skipped) == ["good film", "bad film"]
    assert skipped.total == 1 and skipped.examples == [f"{data}:2: expected at least 2 columns, found 1"]


def test_txt_and_jsonl_readers(tmp_path):
    write(tmp_path / "a.txt", "first text\n\n  second\ttext \n")
    write(tmp_path / "b.jsonl", '{"body": "third"}\n{"body": "fourth"}\n')
    write(tmp_path / "c.txt.gz", gzip.compress(b"fifth\n"))
    cfg = load_pretrain_pipeline(pipeline(tmp_path, "[a.txt, b.jsonl, c.txt.gz]"), ["data.text=body"])
    texts = read_texts(cfg.data.train_paths, cfg.data, SkipReport())
    assert texts == ["first text", "second\ttext", "third", "fourth", "fifth"]


def test_adapt_sample_is_seeded():
    from textlstm.pretrain.train import _adapt_texts, split_documents

    texts = [f"t{i}" for i in range(100)]
    assert _adapt_texts(texts, None, 0) is texts
    sample = _adapt_texts(texts, 10, 0)
    assert len(sample) == 10 and sample == _adapt_texts(texts, 10, 0) and sample != texts[:10]
    train, val = split_documents(texts, 0.05, 0)
    assert len(val) == 5 and sorted(train + val) == sorted(texts)


def test_cli_config_error_is_one_line(tmp_path, capsys):
    assert main(["pretrain", str(pipeline(tmp_path, "'none-*.txt'"))]) == 2
    assert "data.train: no files match: none-*.txt" in capsys.readouterr().err


def test_segments():
    assert segment_lengths(np.array([7, 3, 0, 1]), 3).tolist() == [3, 3, 1, 3, 1]
    ids = tf.constant([[5, 6, 7, 0], [8, 9, 0, 0]])
    assert reverse_within_length(ids).numpy().tolist() == [[7, 6, 5, 0], [9, 8, 0, 0]]


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tiny pretraining run through the CLI (with one bad row skipped)."""
    tmp = tmp_path_factory.mktemp("pretrain")
    lines = corpus_lines(150)
    write(tmp / "train.tsv", "".join(f"0\t{t}\n" for t in lines[:120]) + "1\n")
    write(tmp / "valid.tsv", "".join(f"1\t{t}\n" for t in lines[120:]))
    path = pipeline(
        tmp, "train.tsv", "", "tiny.yaml"
    )  # validation: a separate file, so the vectorizer adapts on all of train.tsv
    out = tmp / "out"
    keras.utils.set_random_seed(0)
    sets = ["data.text=1", "data.on_bad_row=skip", f"data.validation={tmp / 'valid.tsv'}"]
    assert main(["pretrain", str(path), "--output", str(out), *sum((["--set", s] for s in sets), [])]) == 0
    return out, lines[:120], load_pretrain_pipeline(path, sets)


def test_cli_writes_the_encoder(run):
    out, lines, _ = run
    assert sorted(p.name for p in out.iterdir()) == ["encoder.json", "metrics.json", "vocabulary.txt", "weights.npz"]
    info = read_encoder_info(out)
    assert info["format"] == "textlstm-encoder" and info["version"] == 1
    assert info["vectorizer"] == {"level": "word", "max_tokens": 200, "standardize": "lower_punctuation_html"}
    assert (info["embedding_dim"], info["units"], info["cell"], info["bidirectional"]) == (8, 8, "lstm", True)
    assert info["trained_on"]["rows"] == len(lines) and info["trained_on"]["skipped"]["total"] == 1
    assert info["trained_on"]["tokens"] == sum(len(t.replace(".", " ").replace("!", " ").split()) - 2 for t in lines)
    assert all(math.isfinite(p) and p > 1 for p in info["perplexity"].values())
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["tokens_per_second"][0] > 0 and metrics["train_seconds"] > 0
    assert metrics["perplexity"]["forward"] == pytest.approx(math.exp(metrics["history"]["val_forward_loss"][-1]))
    assert metrics["history"]["val_backward_perplexity"][-1] == pytest.approx(info["perplexity"]["backward"])
    encoder = load_encoder(out)
    assert encoder.vocabulary[:2] == ["", "[UNK]"] and len(encoder.vocabulary) == info["vocabulary_size"]
    assert encoder.embeddings.shape == (info["vocabulary_size"], 8)
    assert [w.shape for w in encoder.backward] == [(8, 32), (8, 32), (32,)]


def test_val_loss_decreases(tmp_path):
    write(tmp_path / "r.txt", "".join(f"{t}\n" for t in corpus_lines(300, seed=1)))
    cfg = load_pretrain_pipeline(
        pipeline(tmp_path, "r.txt"), ["train.epochs=2", "train.learning_rate=0.02", "train.sequence_length=20"]
    )
    from textlstm.pretrain import pretrain

    keras.utils.set_random_seed(1)
    report = pretrain(cfg, tmp_path / "out")
    hist = report["history"]
    for direction in ("forward", "backward"):
        curve = hist[f"val_{direction}_loss"]
        assert curve[1] < curve[0] and curve[1] < math.log(report["vocabulary_size"]), (direction, curve)
    assert report["perplexity"]["forward"] < report["vocabulary_size"]


def test_vectorizer_round_trip(run):
    out, lines, cfg = run
    from textlstm.data.vectorize import make_vectorizer

    original = make_vectorizer(cfg.vectorizer, lines)  # as pretrain adapted it
    loaded = load_encoder(out).make_vectorizer()
    assert loaded.get_vocabulary() == original.get_vocabulary()
    texts = ["The FILM was <br />unknownword great!!", "dull, dull plot", "x"]
    np.testing.assert_array_equal(loaded(texts).numpy(), original(texts).numpy())


def _reference_lm(encoder) -> BiLanguageModel:
    lm = BiLanguageModel(len(encoder.vocabulary), encoder.embedding_dim, encoder.units, sampled=5)
    lm.build((None, None))
    lm.embedding.embeddings.assign(encoder.embeddings)
    lm.forward_lstm.set_weights(encoder.forward)
    lm.backward_lstm.set_weights(encoder.backward)
    return lm


def test_apply_encoder_matches_the_language_model(run):
    encoder = load_encoder(run[0])
    v, d, u = len(encoder.vocabulary), encoder.embedding_dim, encoder.units
    network = build_classifier(
        ModelConfig(units=[u], embedding_dim=d, bidirectional=True, pooling="max"), vocab_size=v, num_classes=2
    )
    apply_encoder(encoder, network)
    lm = _reference_lm(encoder)
    ids = np.array([[5, 9, 3, 7, 2, 4], [6, 2, 8, 0, 0, 0], [3, 0, 0, 0, 0, 0]], dtype="int64")
    lengths = (ids != 0).sum(1)
    both = keras.Model(network.input, network.get_layer("lstm_0").output)(ids).numpy()
    fwd, bwd = both[..., :u], both[..., u:]
    lm_fwd = lm.hidden(tf.constant(ids, tf.int32), lm.forward_lstm).numpy()
    lm_bwd_reversed = lm.hidden(reverse_within_length(tf.constant(ids, tf.int32)), lm.backward_lstm)
    lm_bwd = tf.reverse_sequence(lm_bwd_reversed, lengths, seq_axis=1, batch_axis=0).numpy()
    for row, n in enumerate(lengths):
        np.testing.assert_allclose(fwd[row, :n], lm_fwd[row, :n], atol=1e-5)
        np.testing.assert_allclose(bwd[row, :n], lm_bwd[row, :n], atol=1e-5)
        # final states: the forward LM after the last token, the backward LM after the first
        np.testing.assert_allclose(fwd[row, n - 1], lm_fwd[row, n - 1], atol=1e-5)
        np.testing.assert_allclose(bwd[row, 0], lm_bwd_reversed.numpy()[row, n - 1], atol=1e-5)
    assert np.abs(bwd[0, 0]).max() > 1e-3  # the weights were assigned (not all zero)
    pooled = keras.Model(network.input, network.get_layer("max_pool").output)(ids).numpy()
    masked = np.where((ids != 0)[..., None], np.concatenate([lm_fwd, lm_bwd], -1), -np.inf)
    np.testing.assert_allclose(pooled, masked.max(1), atol=1e-5)


def test_apply_encoder_unidirectional_uses_the_forward_lm(run):
    encoder = load_encoder(run[0])
    network = build_classifier(
        ModelConfig(units=[encoder.units], embedding_dim=encoder.embedding_dim, bidirectional=False, pooling="max"),
        vocab_size=len(encoder.vocabulary),
        num_classes=3,
    )
    apply_encoder(encoder, network)
    ids = np.array([[4, 5, 6, 0]], dtype="int64")
    out = keras.Model(network.input, network.get_layer("lstm_0").output)(ids).numpy()
    lm = _reference_lm(encoder)
    np.testing.assert_allclose(
        out[0, :3], lm.hidden(tf.constant(ids, tf.int32), lm.forward_lstm).numpy()[0, :3], atol=1e-5
    )


def test_apply_encoder_shape_mismatch(run):
    encoder = load_encoder(run[0])
    v, d, u = len(encoder.vocabulary), encoder.embedding_dim, encoder.units
    cases = [
        (ModelConfig(units=[u + 4], embedding_dim=d), v, f"encoder has units {u}, model.units\\[0\\] is {u + 4}"),
        (
            ModelConfig(units=[u], embedding_dim=d + 1),
            v,
            f"encoder has embedding_dim {d}, model.embedding_dim is {d + 1}",
        ),
        (ModelConfig(units=[u], embedding_dim=d), v + 3, f"encoder has vocabulary_size {v}"),
        (ModelConfig(cell="gru", units=[u], embedding_dim=d), v, "no first LSTM layer 'lstm_0'"),
    ]
    for config, vocab, message in cases:
        network = build_classifier(config, vocab_size=vocab, num_classes=2)
        with pytest.raises(ConfigError, match=message):
            apply_encoder(encoder, network)


def test_read_encoder_info_errors(tmp_path):
    with pytest.raises(ConfigError, match=f"{tmp_path / 'none'}: no pretrained encoder"):
        read_encoder_info(tmp_path / "none")
    write(tmp_path / "encoder.json", '{"format": "something-else"}')
    with pytest.raises(ConfigError, match="not a textlstm encoder"):
        read_encoder_info(tmp_path)
    write(tmp_path / "encoder.json", "{not json")
    with pytest.raises(ConfigError, match="not a valid encoder.json"):
        read_encoder_info(tmp_path / "encoder.json")


def test_vectorizer_config_is_reused():
    from textlstm.pretrain.config import pretrain_from_dict

    cfg = pretrain_from_dict({"vectorizer": {"max_tokens": 50, "adapt_sample": 10}})
    assert isinstance(cfg.vectorizer, VectorizerConfig) and cfg.vectorizer.adapt_sample == 10
