"""Translation data through the package's data layer: demo registration,
target framing with start/end ids, right padding, bucketing, bad input."""

from pathlib import Path

import numpy as np
import pytest

import textlstm  # noqa: F401  (sets the Keras backend)
from textlstm.config import ConfigError, DataConfig, VectorizerConfig, load_pipeline, pipeline_from_dict
from textlstm.data import load_splits
from textlstm.data.batching import batch_by_length, bucket_boundaries, padding_fraction
from textlstm.data.sources import DataError
from textlstm.seq2seq.data import (
    END_ID,
    START_ID,
    check_target_vocabulary,
    detokenize,
    make_pair_vectorizers,
    pair_examples,
)
from textlstm.seq2seq.decoding import ids_to_texts
from textlstm.seq2seq.demo import make_date_task

ROOT = Path(__file__).resolve().parent.parent
CHARS = VectorizerConfig(
    level="character", standardize="lower", max_length=40, target={"standardize": "none", "max_length": 12}
)
WORDS = VectorizerConfig(
    level="word",
    standardize="lower_punctuation_tokens",
    max_length=6,
    target={"standardize": "punctuation_tokens", "max_length": 5},
)


def examples(pairs, config=CHARS):
    sources, targets = [s for s, _ in pairs], [t for _, t in pairs]
    source_vec, target_vec = make_pair_vectorizers(config, sources, targets)
    return pair_examples(sources, targets, source_vec, target_vec, config), source_vec, target_vec


def test_demo_is_registered_for_load_splits():
    splits = load_splits(DataConfig(source="demo", demo_size=200), task="translation", seed=3)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (160, 20, 20)
    sources = [{s for s, _ in getattr(splits, n).rows} for n in ("train", "validation", "test")]
    targets = [{t for _, t in getattr(splits, n).rows} for n in ("train", "validation", "test")]
    assert not (targets[0] & targets[2]) and not (targets[1] & targets[2]) and not (sources[0] & sources[2])
    assert all(len(t) == 10 and t[4] == "-" for t in targets[2])


def test_framing_right_padding_and_bucketing():
    pairs = make_date_task(n_train=300, n_validation=1, n_test=1, seed=3).train
    ex, source_vec, target_vec = examples(pairs)
    vocab = target_vec.get_vocabulary()
    assert vocab[:4] == ["", "[UNK]", "[start]", "[end]"]
    assert ex.report["kept"] == 300 and len(ex.lengths) == 300
    (src, tin), tout = next(iter(batch_by_length(ex.dataset, 300, [])))
    src, tin, tout = src.numpy(), tin.numpy(), tout.numpy()
    assert (tin[:, 0] == START_ID).all()
    np.testing.assert_array_equal(tin[:, 1:], tout[:, :-1])  # teacher forcing: shifted by one
    assert (tout[:, -1] == END_ID).all() and END_ID not in tin and START_ID not in tout
    assert ids_to_texts(tout, vocab, end_id=END_ID, separator="") == [t for _, t in pairs]
    for row, (text, _) in zip(src, pairs):
        n = len(text)
        assert (row[:n] != 0).all() and (row[n:] == 0).all()  # right padding
    # Bucketed batches are padded to their own longest member and waste less.
    boundaries = bucket_boundaries(ex.lengths, 8)
    assert boundaries
    bucketed = batch_by_length(ex.dataset, 32, boundaries)
    for (s, i), o in bucketed:
        s, i, o = s.numpy(), i.numpy(), o.numpy()
        assert s.shape[1] == (s != 0).sum(1).max() and o.shape[1] == (o != 0).sum(1).max()
        assert ((i != 0).sum(1) == (o != 0).sum(1)).all()
    assert padding_fraction(bucketed) < padding_fraction(batch_by_length(ex.dataset, 32, [], bucketing=False))


def test_word_level_bad_input_is_counted():
    pairs = [
        ("a man sleeps .", "Ein Mann schläft."),
        ("<br />", "Nichts."),  # source empty after standardization (HTML)
        ("two dogs", "..."),  # target: only punctuation tokens, kept
        ("one two three four five six seven eight", "Viele Wörter."),  # source truncated to 6
        ("a dog runs", "Ein Hund rennt sehr schnell weg ."),  # target over 5 tokens: skipped
    ]
    ex, _, target_vec = examples(pairs, WORDS)
    r = ex.report
    assert (
        r["pairs"],
        r["kept"],
        r["empty_after_standardization_skipped"],
        r["target_too_long_skipped"],
        r["truncated"],
    ) == (5, 3, 1, 1, 1)
    assert r["first_skipped"][0].startswith("pairs[1]: empty") and r["first_skipped"][1].startswith("pairs[4]: target")
    assert "Mann" in target_vec.get_vocabulary() and "mann" not in target_vec.get_vocabulary()  # cased targets
    widths = [s.shape[0] for (s, _), _ in ex.dataset]
    assert max(widths) == 6
    with pytest.raises(DataError, match="none of the 2 pairs"):
        examples([("<br />", "Nichts."), ("a", "eins zwei drei vier fünf sechs")], WORDS)


def test_target_vocabulary_must_hold_the_special_tokens():
    with pytest.raises(DataError, match=r"pairs\[1\].*literal token"):
        examples(
            [("a b", "x y"), ("c", "x [end] y")], VectorizerConfig(max_length=200, target={"standardize": "lower"})
        )
    with pytest.raises(DataError, match="must start with"):
        check_target_vocabulary(["", "[UNK]", "a", "[end]"])
    # max_tokens counts the special tokens.
    _, _, target_vec = examples([("a", "p q r s t u v")], VectorizerConfig(max_length=200, target={"max_tokens": 6}))
    assert len(target_vec.get_vocabulary()) == 6


@pytest.mark.parametrize(
    "sections,message",
    [
        ({"vectorizer": {"target": {"max_tokens": 4}}}, "vectorizer.target.max_tokens must be >= 5"),
        ({"vectorizer": {"level": "subword", "max_tokens": 100}}, "vectorizer.target.level: subword is not supported"),
        (
            {"vectorizer": {"target": {"level": "subword", "max_tokens": 100}}},
            "vectorizer.target.level: subword is not supported",
        ),
        ({"vectorizer": {"pretrained_vectors": "glove.txt"}}, "pretrained_vectors is not supported for translation"),
        (
            {"vectorizer": {"target": {"pretrained_vectors": "glove.txt"}}},
            "pretrained_vectors is not supported for translation",
        ),
        ({"train": {"ensemble": {"members": 2}}}, "train.ensemble is not supported for translation"),
        ({"train": {"monitor": "val_fused_accuracy"}}, "train.monitor must be val_loss or val_accuracy"),
        ({"vectorizer": {"target": {"levle": "character"}}}, "'vectorizer.target.levle'. Did you mean 'level'"),
    ],
)
def test_translation_settings_fail_when_the_pipeline_is_read(sections, message):
    with pytest.raises(ConfigError, match=message):
        pipeline_from_dict({"task": "translation", **sections})
    assert pipeline_from_dict({"task": "translation"}).task == "translation"


def test_shipped_translation_pipelines_parse():
    demo = load_pipeline(ROOT / "pipelines" / "translate_demo.yaml")
    assert demo.task == "translation" and demo.vectorizer.for_target().standardize == "none"
    ted = load_pipeline(ROOT / "pipelines" / "ted_pt_en.yaml")
    assert ted.data.source.startswith("tfds:") and (ted.data.source_field, ted.data.target_field) == ("pt", "en")
    m30k = load_pipeline(ROOT / "pipelines" / "multi30k_en_de.yaml")
    assert (m30k.data.source_field, m30k.data.target_field) == (0, 1)
    if not Path(m30k.data.train).exists():
        pytest.skip("../shared/data/multi30k_en_de not present")
    splits = load_splits(m30k.data, "translation")
    assert len(splits.test) == 1000 and splits.test.rows[0][0].startswith("A man")


def test_detokenize():
    assert detokenize("Ein Mann ( links ) sitzt , lacht .") == "Ein Mann (links) sitzt, lacht."
