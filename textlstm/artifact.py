"""Load textlstm artifacts and describe them.

```python
import textlstm
clf = textlstm.load("runs/demo/model.keras")   # a TextClassifier, or a Translator
clf.predict(["a great film"])
textlstm.artifact.describe("runs/demo/model.keras")["task"]
```

The task in the artifact's metadata picks the runner class (`textlstm.tasks`).
"""

from __future__ import annotations

import json
from pathlib import Path

from textlstm import tasks
from textlstm.errors import ArtifactError
from textlstm.models.cudnn import cudnn_report
from textlstm.saving import load_keras_model, read_metadata


def load(path: str | Path):
    """Load a `.keras` artifact written by textlstm as its runner: a
    `TextClassifier`, or a `Translator` for translation models.

    Args:
        path: the `.keras` file.
    """
    model = load_keras_model(path)
    meta = read_metadata(model)
    task = meta.get("task")
    if task not in tasks.TASKS:
        raise ArtifactError(f"{path}: unknown task {task!r} in metadata")
    return tasks.get(task).runner_class().from_artifact(model, meta)


def describe(path: str | Path) -> dict:
    """What `textlstm info` prints: task, labels, config, data report, layers."""
    model = load_keras_model(path)
    meta = read_metadata(model)
    return {
        "path": str(path),
        "task": meta.get("task"),
        "labels": meta.get("labels"),
        "textlstm_version": meta.get("textlstm_version"),
        "parameters": int(model.count_params()),
        "cudnn": [str(r) for r in cudnn_report(model)],
        "data": meta.get("data"),
        "config": meta.get("config"),
    }


def dumps(obj) -> str:
    return json.dumps(obj, indent=2, default=str)
