"""Keras Tuner sweeps over textlstm models: `textlstm tune` and `tune()`.

```python
from textlstm.tuning import tune
result = tune("pipelines/sweep_sentiment_demo.yaml", "runs/sweep_demo", overrides=["search.max_trials=4"])
result.best_hyperparameters, result.trials[:3], result.metrics["accuracy"]
```

Modules: `space` (the `search:` section, no TensorFlow), `hypermodel`
(`TaskHyperModel` over a task runner; `ClassifierHyperModel`), `tuners`
(RandomSearch, Hyperband, BayesianOptimization without checkpoints),
`distributed` (chief/worker), `report` (trials.csv, summary.md, trials.png),
`sweep` (`tune`), `cli` (`textlstm tune`).
"""

_LAZY = {
    "tune": "textlstm.tuning.sweep",
    "TuneResult": "textlstm.tuning.sweep",
    "SearchConfig": "textlstm.tuning.space",
    "search_config": "textlstm.tuning.space",
    "TaskHyperModel": "textlstm.tuning.hypermodel",
    "ClassifierHyperModel": "textlstm.tuning.hypermodel",
    "make_hypermodel": "textlstm.tuning.hypermodel",
    "make_tuner": "textlstm.tuning.tuners",
    "SweepError": "textlstm.tuning.distributed",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'textlstm.tuning' has no attribute {name!r}")


__all__ = list(_LAZY)
