"""Training classifier networks: the steps `TextClassifier.fit` and sweep trials share.

`ClassifierTrainer` holds one run's examples and wide component and does
build -> compile -> fit -> late fusion for any model/train config, so a
Keras Tuner trial (`textlstm.tuning.hypermodel`) trains exactly what `fit`
trains. `fit_classifier` runs the whole pipeline: one run with
`train.ensemble.members` seeded networks, or with bagging one run per member,
each on its own validation split.

```python
from textlstm.config import pipeline_from_dict
from textlstm.data import load_splits
cfg = pipeline_from_dict({"data": {"source": "demo", "demo_size": 300}, "train": {"epochs": 1}})
result = fit_classifier(cfg, load_splits(cfg.data))
result.runs[0].trained[0].history["val_accuracy"]
```
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import keras

from textlstm import distribute
from textlstm.config import PipelineConfig
from textlstm.data import Splits
from textlstm.data.examples import ClassificationExamples
from textlstm.data.labels import stratified_split
from textlstm.data.sources import Records, SkipReport
from textlstm.errors import ConfigError
from textlstm.files import write_text_atomic
from textlstm.models.classifier import build_classifier
from textlstm.models.config import MACRO_F1
from textlstm.models.heads import compile_classifier
from textlstm.training import fit
from textlstm.training_metrics import MacroF1
from textlstm.wide.component import WideComponent

log = logging.getLogger("textlstm")

# A run's member m trains with `seed + m`; bagging member m is a whole run with `seed + BAG_SEED_STEP * m`,
# so runs with nearby seeds share no member.
BAG_SEED_STEP = 1000


@dataclass
class TrainedNetwork:
    """One trained token-id network.

    Args:
        network: the compiled Keras model (token ids -> probabilities).
        history: `fit`'s history (lists per metric).
        fusion: the late fusion's weights and scores, or None without a late path.
    """

    network: keras.Model
    history: dict
    fusion: dict | None = None


class ClassifierTrainer:
    """Builds and trains classifier networks on one run's examples.

    Args:
        examples: the run's examples.
        config: the pipeline (its model, vectorizer and train sections are the defaults).
    """

    multilabel = False  # one sigmoid per label (`MultiLabelTrainer`) instead of one class

    def __init__(self, examples: ClassificationExamples, config: PipelineConfig):
        self.examples = examples
        self.config = config
        self.wide = WideComponent(config.model.wide, examples)

    def compile(self, net: keras.Model, train_config) -> keras.Model:
        """Compile `net` with its loss, metrics and the configured optimizer.

        Args:
            net: a network from `build_classifier`.
            train_config: the optimizer settings.
        """
        return compile_classifier(net, self.examples.labels.num_classes, train_config)

    def build(self, model_config=None, train_config=None, name: str = "classifier") -> keras.Model:
        """A compiled network for the examples' vocabulary and labels.

        Args:
            model_config: the layers (default: the pipeline's).
            train_config: the optimizer settings (default: the pipeline's).
            name: the model's name.
        """
        mc = model_config or self.config.model
        tc = train_config or self.config.train
        ex = self.examples
        with distribute.scope(tc):  # train.distribute: the variables are mirrored
            net = build_classifier(
                mc,
                ex.vectorizer.vocabulary_size(),
                ex.labels.num_classes,
                ex.embeddings,
                name=name,
                wide=self.wide.paths(mc.wide),
                multilabel=self.multilabel,
                max_length=ex.max_length,
            )
            net = self.compile(net, tc)
        return distribute.prepare(net, tc)

    def train(
        self, net: keras.Model, train_config=None, output_dir: Path | None = None, callbacks=()
    ) -> TrainedNetwork:
        """Fit `net` on the examples (batched by length), then fit its late fusion.

        Args:
            net: a network from `build`.
            train_config: epochs, batch size, early stopping (default: the pipeline's).
            output_dir: where checkpoints, backups, history.csv and logs go (None: nowhere).
            callbacks: extra Keras callbacks (after the wide component's, before the standard ones).
        """
        tc = train_config or self.config.train
        train_ds, val_ds = self.examples.batches(tc.batch_size)
        if self.wide.has_late and val_ds is None:
            raise ConfigError(
                "a late wide path (model.wide with fusion: late) fits its fusion weights on validation "
                "data: give validation texts (or data.validation / data.validation_fraction)"
            )
        scores = self.wide.callbacks(net, val_ds)
        if val_ds is not None and (tc.monitor == MACRO_F1 or tc.class_weight is not None):
            # the network's validation macro-F1 (with a late path: before fusion), for monitor and history.csv
            callbacks = [MacroF1(net, val_ds, self.examples.labels.num_classes), *callbacks]
        history = fit(net, train_ds, val_ds, tc, output_dir, callbacks=[*scores, *callbacks])
        return TrainedNetwork(net, history, self.wide.fuse(net, val_ds, scores))


@dataclass
class Run:
    """One pass of the pipeline: its seed, examples, trainer and trained networks."""

    seed: int
    examples: ClassificationExamples
    trainer: ClassifierTrainer
    trained: list[TrainedNetwork]


@dataclass
class FitResult:
    """What `fit_classifier` trained: one run, or one per bagging member."""

    runs: list[Run]

    @property
    def networks(self) -> list[keras.Model]:
        return [t.network for run in self.runs for t in run.trained]

    @property
    def histories(self) -> list[dict]:
        return [t.history for run in self.runs for t in run.trained]


def _pick(records: Records, idx: list[int]) -> Records:
    return Records(
        [records.rows[i] for i in idx],
        [records.where[i] for i in idx],
        SkipReport(),
        records.source,
        records.label_names,
    )


def fit_classifier(config: PipelineConfig, splits: Splits, output_dir: Path | None = None) -> FitResult:
    """Train the pipeline's classifier on `splits`.

    Without bagging: one run on `splits.train` / `splits.validation` with
    `train.ensemble.members` networks, member m seeded `train.seed + m`.
    With bagging, member m is a whole run seeded `train.seed + 1000 m` on its
    own stratified validation split (`data.validation_fraction`) of the
    training and validation rows pooled, with its own vectorizer, wide paths
    and fusion; its files go to `output_dir/member_<m>/`.

    Args:
        config: the pipeline.
        splits: the rows (`load_splits(..., hold_out=False)` for bagging, so all training rows are in `train`).
        output_dir: the run's folder (None: no files).
    """
    ensemble = config.train.ensemble
    if not ensemble.bagging:
        keras.utils.set_random_seed(config.train.seed)
        runs = [_run(config, splits.train, splits.validation, config.train.seed, ensemble.members, output_dir)]
    else:
        pool = splits.train
        if len(splits.validation):
            pool = Records(
                pool.rows + splits.validation.rows,
                pool.where + splits.validation.where,
                SkipReport(),
                pool.source,
                pool.label_names,
            )
        runs = []
        for m in range(ensemble.members):
            seed = config.train.seed + BAG_SEED_STEP * m
            log.info("bagging: member %d of %d (train.seed %d)", m + 1, ensemble.members, seed)
            keras.utils.set_random_seed(seed)
            tr, va = stratified_split([row[1] for row in pool.rows], config.data.validation_fraction, seed)
            runs.append(
                _run(
                    config,
                    _pick(pool, tr),
                    _pick(pool, va),
                    seed,
                    1,
                    output_dir / f"member_{m}" if output_dir else None,
                    suffix=f"_{m}",
                )
            )
    result = FitResult(runs)
    if output_dir and len(result.histories) > 1:  # each member wrote its own history.csv in member_<m>/
        write_member_history(result.histories, output_dir / "history.csv")
    return result


def make_trainer(
    config: PipelineConfig, train, validation, name: str = "vectorizer", cache_dir: Path | None = None
) -> ClassifierTrainer:
    """The examples of one run (`ClassificationExamples.build` as the pipeline asks: whole
    texts kept when there are wide paths) and their trainer.

    Args:
        config: the pipeline.
        train: the training rows (`Records` or `Stream`).
        validation: the validation rows, or None.
        name: the vectorizer layer's name.
        cache_dir: the disk cache's folder (`data.cache: disk`; None: a temporary one).
    """
    examples = ClassificationExamples.build(
        train,
        validation,
        config.vectorizer,
        config.train,
        name=name,
        cache=config.data.cache,
        cache_dir=cache_dir,
        full_text=bool(config.model.wide),
    )
    return ClassifierTrainer(examples, config)


def _run(
    config: PipelineConfig,
    train: Records,
    validation: Records,
    seed: int,
    members: int,
    output_dir: Path | None,
    suffix: str = "",
) -> Run:
    """Examples, then `members` networks seeded `seed + m`."""
    cfg = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=seed))
    trainer = make_trainer(
        cfg, train, validation, name=f"vectorizer{suffix}", cache_dir=output_dir / "cache" if output_dir else None
    )
    examples = trainer.examples
    trained = []
    for m in range(members):
        keras.utils.set_random_seed(seed + m)
        net = trainer.build(name=f"classifier_{m}" if members > 1 else f"classifier{suffix}")
        member_dir = (output_dir / f"member_{m}" if members > 1 else output_dir) if output_dir else None
        trained.append(trainer.train(net, output_dir=member_dir))
    return Run(seed, examples, trainer, trained)


def write_member_history(histories: list[dict], path: Path) -> None:
    """One CSV of every member's epochs (`member` and `epoch` columns first).

    Args:
        histories: one `fit` history per member.
        path: the CSV file.
    """
    keys = list(dict.fromkeys(k for h in histories for k in h))
    rows = [["member", "epoch", *keys]]
    for m, h in enumerate(histories):
        for epoch in range(len(h["loss"])):
            rows.append([m, epoch, *(h[k][epoch] if epoch < len(h.get(k, [])) else "" for k in keys)])
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    write_text_atomic(path, buffer.getvalue(), newline="")


def fit_report(result: FitResult, splits: Splits, config: PipelineConfig) -> dict:
    """The data report of a fit, written once from its results: the rows read,
    the examples made (first run), the wide paths, each member's fusion and scores.

    Args:
        result: what `fit_classifier` trained.
        splits: the rows it trained on.
        config: the pipeline.
    """
    run = result.runs[0]
    report = {
        **splits.report(),
        **run.examples.report,
        "train_padding_fraction": run.examples.padding.get(config.train.batch_size),
    }
    if run.examples.class_weights is not None:
        report["class_weight"] = run.examples.class_weights
    if config.model.wide:
        report["wide"] = run.trainer.wide.report
    fusions = [t.fusion for r in result.runs for t in r.trained if t.fusion is not None]
    if fusions:
        report["fusion"] = fusions
    if len(result.histories) > 1:
        monitor = "val_accuracy" if "val_accuracy" in result.histories[0] else "accuracy"
        report["ensemble"] = [
            {
                "seed": r.seed + m,
                "train_examples": r.examples.report["train_examples"],
                "vocabulary_size": r.examples.report["vocabulary_size"],
                f"best_{monitor}": max(t.history[monitor]),
                **({"fused_accuracy": t.fusion["accuracy"]["fused"]} if t.fusion else {}),
                **({"wide": r.trainer.wide.report} if config.train.ensemble.bagging and config.model.wide else {}),
            }
            for r in result.runs
            for m, t in enumerate(r.trained)
        ]
    return report
