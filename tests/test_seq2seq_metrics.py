"""BLEU/chrF/exact match and the generated date task."""

import datetime as dt

import pytest
import sacrebleu

from textlstm.seq2seq.demo import make_date_task
from textlstm.seq2seq.metrics import bleu, chrf, corpus_scores, exact_match


def test_scores_match_sacrebleu_and_exact_match():
    hyps = ["the cat sat on the mat", "a dog barked", "2021-03-03"]
    refs = ["the cat sat on a mat", "a dog barked loudly", "2021-03-03"]
    assert bleu(hyps, refs) == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert chrf(hyps, refs) == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    scores = corpus_scores(hyps, refs)
    assert scores["exact_match"] == pytest.approx(1 / 3) and scores["count"] == 3
    assert 0 < scores["bleu"] < 100 and 0 < scores["chrf"] < 100
    perfect = corpus_scores(refs, refs)
    assert perfect["bleu"] == pytest.approx(100) and perfect["chrf"] == pytest.approx(100)
    assert perfect["exact_match"] == 1.0
    assert exact_match([" x "], ["x"]) == 1.0 and exact_match([" x "], ["x"], strip=False) == 0.0
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        bleu(["a", "b"], ["a"])
    assert corpus_scores([], [])["bleu"] == 0.0


def test_date_task_is_deterministic_disjoint_and_correct():
    task = make_date_task(n_train=3000, n_validation=300, n_test=300, seed=7)
    assert (len(task.train), len(task.validation), len(task.test)) == (3000, 300, 300)
    assert make_date_task(n_train=3000, n_validation=300, n_test=300, seed=7) == task
    assert make_date_task(n_train=3000, n_validation=300, n_test=300, seed=8).train != task.train
    splits = [task.train, task.validation, task.test]
    for i, a in enumerate(splits):
        for b in splits[i + 1 :]:
            assert not {s for s, _ in a} & {s for s, _ in b}
            assert not {t for _, t in a} & {t for _, t in b}
    for source, target in task.train:
        d = dt.date.fromisoformat(target)
        assert 1950 <= d.year <= 2049
        low = source.lower()
        assert str(d.day) in low
        assert str(d.year) in low or f"{d.year % 100:02d}" in low
        if "/" in source:  # month/day/two-digit year
            assert low == f"{d.month}/{d.day}/{d.year % 100:02d}"
    assert len({s.lower().split()[0].strip(",") for s, _ in task.train}) > 20  # varied formats
    with pytest.raises(ValueError, match="distinct dates"):
        make_date_task(n_train=40000)
