"""The runner contract that `TextClassifier` and `Translator` implement, and the
one train -> evaluate -> write function the CLI and the sweep's retrain use.

```python
from textlstm.runner import train_evaluate_write
from textlstm.classifier import TextClassifier
report = train_evaluate_write(TextClassifier.from_pipeline("pipelines/sentiment_demo.yaml"), "runs/demo")
report["test"]["accuracy"]
```
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Protocol, runtime_checkable

from textlstm import distribute
from textlstm.config import PipelineConfig
from textlstm.data.sources import Records
from textlstm.evaluation import plot_history
from textlstm.files import write_text_atomic


@runtime_checkable
class Runner(Protocol):
    """What a task's runner provides (see `textlstm.tasks`).

    Attributes:
        config: its pipeline.
        history: one `fit` history (lists per metric) per trained network.
        data_report: what the data stage read and made, written once by `fit`.
    """

    config: PipelineConfig
    history: list[dict]
    data_report: dict

    @property
    def has_test_data(self) -> bool: ...

    def fit(self, *args, output_dir: str | Path | None = None, **kwargs) -> Runner: ...

    def evaluate(self, *args, output_dir: str | Path | None = None, **kwargs) -> dict: ...

    def predict(self, texts) -> list: ...

    def read_labelled(self, path: str | Path, config) -> Records: ...

    def save(self, path: str | Path) -> Path: ...

    def export(self, path: str | Path) -> Path: ...

    def cudnn_report(self) -> list: ...


def write_outputs(
    runner: Runner, output_dir: str | Path, metrics: dict | None = None, extra: dict | None = None
) -> dict:
    """What a training run leaves: `model.keras`, `metrics.json` (data report,
    cuDNN report, histories, test metrics, `extra`) and `learning_curves.png`
    (`history.csv` is written during `fit`). Each file is written to a
    temporary name and renamed into place.

    Args:
        runner: a trained runner.
        output_dir: the run's folder.
        metrics: the test metrics, or None.
        extra: more top-level keys for metrics.json.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    runner.save(out / "model.keras")
    if runner.history:
        plot_history(runner.history[0], out / "learning_curves.png")
    report = {"data": runner.data_report, "cudnn": [str(r) for r in runner.cudnn_report()], "history": runner.history}
    if metrics is not None:
        report["test"] = metrics
    report |= extra or {}
    write_text_atomic(out / "metrics.json", json.dumps(report, indent=2, default=str))
    return report


def train_evaluate_write(
    runner: Runner, output_dir: str | Path, saved_model: bool = False, extra: dict | None = None
) -> dict:
    """Train `runner` on its pipeline's data, evaluate it on the test split
    (when there is one) and write its outputs to `output_dir`.

    Args:
        runner: an untrained runner.
        output_dir: the run's folder.
        saved_model: also export a TF SavedModel to `output_dir/saved_model`.
        extra: more top-level keys for metrics.json (e.g. the sweep's report).

    Returns:
        metrics.json's content, with `train_seconds`. Under `train.distribute:
        multi_worker` a worker that is not the chief does the same in a
        temporary directory, removed at the end (`textlstm.distribute.worker_output`:
        saving reads the mirrored variables collectively, so every worker
        saves), and its report says `chief: false`.
    """
    with distribute.worker_output(output_dir, runner.config.train) as out:
        start = time.perf_counter()
        runner.fit(output_dir=out)
        train_seconds = time.perf_counter() - start
        metrics = runner.evaluate(output_dir=out) if runner.has_test_data else None
        report = write_outputs(runner, out, metrics, {"train_seconds": train_seconds, **(extra or {})})
        if saved_model:
            runner.export(out / "saved_model")
    if not distribute.is_chief(runner.config.train):
        report["chief"] = False
    return report
