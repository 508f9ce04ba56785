"""Accuracy checks on the shipped pipelines (slow: run with `pytest -m slow`)."""

from pathlib import Path

import pytest

from conftest import REPO
from textlstm.classifier import TextClassifier

RT = Path(REPO).parent / "shared" / "data" / "rt_polarity"


@pytest.mark.slow
def test_sentiment_demo_pipeline_solves_the_demo():
    clf = TextClassifier.from_pipeline(f"{REPO}/pipelines/sentiment_demo.yaml", ["train.verbose=0"])
    clf.fit()
    assert clf.evaluate()["accuracy"] >= 0.95


@pytest.mark.slow
@pytest.mark.skipif(not (RT / "train.tsv").exists(), reason="../shared/data/rt_polarity not present")
def test_rt_polarity_pipeline_accuracy():
    # Measured 0.785 with seed 42 (0.790 / 0.784 with seeds 1 / 2; bench/RESULTS.md); the target is 0.79.
    clf = TextClassifier.from_pipeline(f"{REPO}/pipelines/rt_polarity.yaml", ["train.verbose=0"])
    clf.fit()
    assert clf.evaluate()["accuracy"] >= 0.77
