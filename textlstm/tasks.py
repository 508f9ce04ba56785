"""The tasks textlstm trains: one `Task` definition each.

A task names its model config class (TensorFlow-free, so a pipeline is
checked without importing TensorFlow), the two data fields its examples are
made of, and, as `module:attribute` paths imported on first use, its runner
(a `textlstm.runner.Runner`), its built-in demo corpus and its Keras Tuner
hypermodel. Nothing here imports a runner, so any layer can look a task up.

>>> get("classification").fields
('text', 'label')
>>> get("translation").model_config.__name__
'Seq2SeqModelConfig'
>>> get("tagging")
Traceback (most recent call last):
...
textlstm.errors.ConfigError: unknown task 'tagging'; expected classification, multilabel or translation
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from textlstm.errors import ConfigError
from textlstm.models.config import ModelConfig
from textlstm.multilabel.config import MultiLabelModelConfig
from textlstm.schema import suggest
from textlstm.seq2seq.config import Seq2SeqModelConfig


def _resolve(path: str):
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Task:
    """One task.

    Args:
        name: the pipeline's `task:` value.
        model_config: the dataclass of the pipeline's `model:` section.
        fields: the `DataConfig` attributes that name the two columns of an example.
        runner: `module:Class` of the runner (`fit`, `evaluate`, `save`, ...).
        demo: `module:function` of the demo corpus, `(size, seed) -> (train, validation, test)` lists of pairs.
        hypermodel: `module:Class` of its Keras Tuner hypermodel, or None if sweeps do not support it.
        demos: the demo's variants, `data.source: demo:NAME`, as `{NAME: "module:function"}`
            (same signature as `demo`).
        vectorizer_defaults: this task's defaults for `vectorizer:` keys a pipeline leaves out, where
            they differ from `VectorizerConfig`'s (translation: a fixed `max_length`).
        label_folders: whether a folder-per-label tree is this task's data (its rows are
            `(text, folder name)`: classification's, not translation's pairs).
    """

    name: str
    model_config: type
    fields: tuple[str, str]
    runner: str
    demo: str
    hypermodel: str | None = None
    demos: dict[str, str] = field(default_factory=dict)
    vectorizer_defaults: dict = field(default_factory=dict)
    label_folders: bool = True

    def runner_class(self):
        """The runner class (imports it, and TensorFlow)."""
        return _resolve(self.runner)

    def demo_path(self, name: str = "") -> str:
        """The `module:function` of the demo variant `name` (`""`: the default demo), or a
        `ConfigError` listing the variants."""
        if not name:
            return self.demo
        if name not in self.demos:
            names = ["demo", *(f"demo:{n}" for n in sorted(self.demos))]
            raise ConfigError(
                f"data.source: task '{self.name}' has no demo 'demo:{name}'; it has {', '.join(names)}."
                f"{suggest(name, sorted(self.demos))}"
            )
        return self.demos[name]

    def demo_splits(self, size: int, seed: int, name: str = ""):
        """`(train, validation, test)` lists of pairs from the built-in demo (or its variant `name`)."""
        return _resolve(self.demo_path(name))(size=size, seed=seed)

    def hypermodel_class(self):
        """The Keras Tuner hypermodel class, or a `ConfigError` if the task has none."""
        if self.hypermodel is None:
            raise ConfigError(
                f"sweeps do not support task '{self.name}'; they support "
                f"{', '.join(t.name for t in TASKS.values() if t.hypermodel)}"
            )
        return _resolve(self.hypermodel)


TASKS = {
    task.name: task
    for task in (
        Task(
            "classification",
            ModelConfig,
            ("text", "label"),
            runner="textlstm.classifier:TextClassifier",
            demo="textlstm.data.demo:demo_sentiment",
            hypermodel="textlstm.tuning.hypermodel:ClassifierHyperModel",
            demos={"imbalanced": "textlstm.data.demo:demo_imbalanced"},
        ),
        Task(
            "multilabel",
            MultiLabelModelConfig,
            ("text", "label"),
            runner="textlstm.multilabel.classifier:MultiLabelClassifier",
            demo="textlstm.multilabel.demo:demo_multilabel",
            hypermodel="textlstm.tuning.hypermodel:MultiLabelHyperModel",
        ),
        Task(
            "translation",
            Seq2SeqModelConfig,
            ("source_field", "target_field"),
            runner="textlstm.seq2seq.translator:Translator",
            demo="textlstm.seq2seq.demo:demo_dates",
            vectorizer_defaults={"max_length": 200},  # sources are cut and targets skipped by a number of tokens
            label_folders=False,
        ),
    )
}


def get(name: str) -> Task:
    """The `Task` called `name`, or a `ConfigError` listing the tasks.

    Args:
        name: a pipeline's `task:` value.
    """
    if name not in TASKS:
        names = sorted(TASKS)
        raise ConfigError(
            f"unknown task '{name}'; expected {', '.join(names[:-1])} or {names[-1]}{suggest(str(name), names)}"
        )
    return TASKS[name]
