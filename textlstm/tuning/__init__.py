"""Keras Tuner sweeps over textlstm models: `textlstm tune` and `tune()`.

```python
from textlstm.tuning import tune
result = tune("pipelines/sweep_sentiment_demo.yaml", "runs/sweep_demo", overrides=["search.max_trials=4"])
result.best_hyperparameters, result.trials[:3], result.metrics["accuracy"]
```

Modules: `space` (the `search:` section, no TensorFlow), `hypermodel`
(`TaskHyperModel`; `ClassifierHyperModel` over `textlstm.trainer.ClassifierTrainer`),
`tuners` (RandomSearch, Hyperband, BayesianOptimization without checkpoints),
`distributed` (chief/worker), `report` (trials.csv, summary.md, trials.png),
`sweep` (`tune`), `cli` (`textlstm tune`), `kt_internals` (the private Keras
Tuner APIs still needed, in one place, checked by tests/test_private_apis.py).
"""

from textlstm._lazy import lazy_getattr

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


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = list(_LAZY)
