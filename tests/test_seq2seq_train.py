"""Slow: the shipped date demo pipeline trains to >= 95% exact match in < 5 minutes (CPU).

pytest -m slow tests/test_seq2seq_train.py -s
"""

import time
from pathlib import Path

import pytest

import textlstm  # noqa: F401
from textlstm.seq2seq.translator import Translator

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_date_demo_pipeline_reaches_95_percent_exact_match(tmp_path):
    translator = Translator.from_pipeline(ROOT / "pipelines" / "translate_demo.yaml", ["train.verbose=0"])
    start = time.perf_counter()
    translator.fit(output_dir=tmp_path)
    seconds = time.perf_counter() - start
    metrics = translator.evaluate()
    print(
        f"\ntrained {len(translator.history[0]['loss'])} epochs in {seconds:.0f}s: "
        f"greedy {metrics['greedy']}, beam {metrics['beam']}"
    )
    assert metrics["greedy"]["exact_match"] >= 0.95
    assert metrics["beam"]["exact_match"] >= 0.95
    assert seconds < 300
