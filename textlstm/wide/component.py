"""`WideComponent`: the wide n-gram paths of one training run.

It is made from the run's `ClassificationExamples` and the `model.wide`
configs, and gives the rest of the package three things: the prepared
paths to add to a network (`paths`, used by
`textlstm.models.build_classifier`), the per-epoch callbacks a late path
needs (`callbacks`) and the late fusion fitted after training (`fuse`).
Naive Bayes counts and NBSVM fits are computed once per run and shared by
ensemble members and sweep trials.

```python
component = WideComponent([WideConfig(ngrams=2), WideConfig(chars=[2, 5], init="nbsvm", fusion="late")], examples)
net = build_classifier(model_config, vocab_size, num_classes, wide=component.paths())
```
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from textlstm.data.examples import ClassificationExamples
from textlstm.errors import ConfigError
from textlstm.layers import HashedNgrams, LogitFusion, MaskedPooling1D
from textlstm.models.heads import compile_classifier, output_units, probabilities
from textlstm.training import best_epoch, fit
from textlstm.wide.config import FUSED_ACCURACY, WideConfig
from textlstm.wide.ngrams import char_ngram_table, naive_bayes_counts, naive_bayes_ratios

log = logging.getLogger("textlstm")


@dataclass
class WidePath:
    """One path ready to be added to a network.

    Args:
        config: its settings.
        index: its position in `model.wide` (names its layers `wide_<index>_*`).
        weights: initial per-n-gram weights `(buckets, outputs)`, or None (zeros).
        char_table: the vocabulary's character n-gram table when `config.chars` is set.
    """

    config: WideConfig
    index: int
    weights: np.ndarray | None
    char_table: np.ndarray | None

    @property
    def prefix(self) -> str:
        return f"wide_{self.index}_"


def ngram_layer(config: WideConfig, char_table: np.ndarray | None = None, name: str = "ngrams") -> HashedNgrams:
    """The `HashedNgrams` layer of a path, holding its character n-gram table.

    Args:
        config: the path's settings.
        char_table: the table from `char_ngram_table`, required when `config.chars` is set.
        name: the layer's name.
    """
    if config.chars and char_table is None:
        raise ConfigError("a wide path with chars needs the character n-gram table of the vocabulary (char_table=...)")
    layer = HashedNgrams(
        config.ngrams, config.buckets, char_ngrams_shape=char_table.shape if config.chars else None, name=name
    )
    if config.chars:
        layer.char_ngrams.assign(char_table)
    return layer


def _gram_weights(gram_ids, config: WideConfig, outputs: int, init, trainable: bool, name: str):
    """One weight per output for each hashed n-gram id (0 = padding, masked).
    `init` is assigned after the layer is built: a `Constant` initializer
    would write all of them (a million per output) into the saved model's
    JSON config as well as into its weights file."""
    layer = keras.layers.Embedding(
        config.buckets, outputs, mask_zero=True, embeddings_initializer="zeros", trainable=trainable, name=name
    )
    weights = layer(gram_ids)
    if init is not None:
        layer.embeddings.assign(init)
    return weights


def path_logits(ids, path: WidePath, outputs: int):
    """A linear model over the hashed n-grams of `ids`: the sum of the
    (fixed) weights of every n-gram of a text; a joint path adds a learned
    scale (identity at first) that calibrates them against the LSTM.

    Args:
        ids: symbolic right-padded token ids `(batch, time)`.
        path: the prepared path.
        outputs: logits per example.
    """
    p = path.prefix
    gram_ids = ngram_layer(path.config, path.char_table, name=f"{p}ngrams")(ids)
    weights = _gram_weights(gram_ids, path.config, outputs, path.weights, trainable=False, name=f"{p}weights")
    wide = MaskedPooling1D("sum", name=f"{p}sum")(weights)
    if not path.config.late:
        wide = keras.layers.Dense(outputs, use_bias=False, kernel_initializer="identity", name=f"{p}scale")(wide)
    return wide


def add_wide_paths(ids, logits, paths: list[WidePath]):
    """The network's logits with the wide paths added: joint paths summed in
    (`wide_and_deep`), then late paths combined with the result in a
    `LogitFusion` layer (`fusion`) that passes the network's logits through
    unchanged until `fit_late_fusion` fits it.

    Args:
        ids: symbolic token ids.
        logits: the deep network's symbolic logits.
        paths: the prepared paths (empty: `logits` unchanged).
    """
    outputs = logits.shape[-1]
    joint = [path_logits(ids, p, outputs) for p in paths if not p.config.late]
    if joint:
        logits = keras.layers.Add(name="wide_and_deep")([logits, *joint])
    late = [path_logits(ids, p, outputs) for p in paths if p.config.late]
    if late:
        logits = LogitFusion(trainable=False, name="fusion")([logits, *late])
    return logits


def build_nbsvm(
    config: WideConfig, num_classes: int, ratios: np.ndarray, char_table: np.ndarray | None = None, name: str = "nbsvm"
) -> keras.Model:
    """A path alone as NBSVM (Wang & Manning 2012): a logistic regression
    whose weight for each n-gram is its naive Bayes ratio times a learned
    factor (starting at 0, L2 `config.l2`); `nbsvm_weights` reads the fitted
    weights (ratio x factor x the final scale) back out.

    Args:
        config: the path's settings.
        num_classes: the number of labels.
        ratios: the naive Bayes log-count ratios `(buckets, outputs)`.
        char_table: the character n-gram table when `config.chars` is set.
        name: the model's name.
    """
    outputs = output_units(num_classes)
    ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    gram_ids = ngram_layer(config, char_table)(ids)
    ratio = _gram_weights(gram_ids, config, outputs, ratios, trainable=False, name="ngram_weights")
    factors = keras.layers.Embedding(
        config.buckets,
        outputs,
        mask_zero=True,
        embeddings_initializer="zeros",
        embeddings_regularizer=keras.regularizers.L2(config.l2),
        name="ngram_factors",
    )(gram_ids)
    logits = MaskedPooling1D("sum", name="ngram_sum")(keras.layers.Multiply(name="nbsvm")([ratio, factors]))
    logits = keras.layers.Dense(outputs, name="logits")(logits)  # a scale and a bias
    return keras.Model(ids, probabilities(logits), name=name)


def nbsvm_weights(model: keras.Model) -> np.ndarray:
    """Per-n-gram weights `(buckets, outputs)` of a fitted `build_nbsvm` model.

    Args:
        model: the fitted NBSVM.
    """
    ratios = model.get_layer("ngram_weights").get_weights()[0]
    factors = model.get_layer("ngram_factors").get_weights()[0]
    scale = model.get_layer("logits").get_weights()[0]  # (outputs, outputs)
    return ((ratios * factors) @ scale).astype("float32")


def fusion_sources(model: keras.Model) -> keras.Model:
    """The logit sources that meet in `model`'s `fusion` layer (the network,
    then each late path) as one model sharing `model`'s weights.

    Args:
        model: a classifier with a late path.
    """
    return keras.Model(model.inputs, list(model.get_layer("fusion").input))


def fit_late_fusion(
    model: keras.Model,
    dataset,
    steps: int = 300,
    learning_rate: float = 0.05,
    sources: keras.Model | None = None,
    names: list[str] | None = None,
) -> dict:
    """Fit the `fusion` weights of a trained classifier with late paths on
    `dataset` of `(token_ids, label)` batches (the validation split): a
    logistic regression over the sources' logits, everything else frozen.
    The logits are computed once; the combiner trains full-batch.

    Use data the network and the naive Bayes counts have not seen: on the
    training split the n-gram paths look almost perfect. Returns the fitted
    weights and each source's accuracy on `dataset`.

    Args:
        model: the trained classifier.
        dataset: batches the fusion is fitted and scored on.
        steps: full-batch optimizer steps.
        learning_rate: the combiner's Adam learning rate.
        sources: `fusion_sources(model)`, to reuse its traced predict function across calls.
        names: the late paths' names in the report (default `late_0`, `late_1`, ...).
    """
    fusion = model.get_layer("fusion")
    sources = sources or fusion_sources(model)
    parts, y = None, []
    for ids, labels in dataset:
        batch = sources.predict_on_batch(ids)  # traced per shape; once traced ~20x faster than eager calls
        parts = [[] for _ in batch] if parts is None else parts
        for part, logits in zip(parts, batch):
            part.append(np.asarray(logits))
        y.append(np.asarray(labels))
    logits = [np.concatenate(p) for p in parts]
    y = np.concatenate(y)
    binary = logits[0].shape[-1] == 1
    inputs = [keras.Input(shape=x.shape[1:]) for x in logits]
    fusion.trainable = True
    try:
        combiner = keras.Model(inputs, probabilities(fusion(inputs), name=None))
        combiner.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
        )
        # Full-batch steps in one epoch (per-epoch overhead would dominate).
        batches = tf.data.Dataset.from_tensors((tuple(logits), y)).repeat(steps)
        combiner.fit(batches, epochs=1, verbose=0, shuffle=False)
    finally:
        fusion.trainable = False

    def accuracy(x):
        predicted = (x[:, 0] > 0).astype(int) if binary else x.argmax(-1)
        return float((predicted == y.reshape(-1)).mean())

    weights = fusion.source_weights.numpy()
    scores = {"network": accuracy(logits[0])}
    names = names or [f"late_{i}" for i in range(len(logits) - 1)]
    scores.update({name: accuracy(x) for name, x in zip(names, logits[1:])})
    scores["fused"] = accuracy(np.asarray(fusion(logits)))
    return {
        "network_weight": float(weights[0]),
        "wide_weights": [float(w) for w in weights[1:]],
        "bias": fusion.bias.numpy().round(4).tolist(),
        "examples": int(len(y)),
        "accuracy": scores,
    }


class FusedAccuracy(keras.callbacks.Callback):
    """Adds `val_fused_accuracy` to each epoch's logs: the accuracy on
    `val_ds` of `model` with its late fusion fitted there at that epoch's
    weights, so early stopping, checkpoints, the CSV log and Keras Tuner can
    use the fused model's score. The fusion weights are put back afterwards,
    so training itself is unchanged. Fitted and scored on the same texts, the
    score is slightly optimistic.

    Give it before other callbacks (`textlstm.training.fit` runs the callbacks it is given first).

    Args:
        model: the classifier being trained.
        val_ds: the validation batches.
    """

    def __init__(self, model: keras.Model, val_ds):
        super().__init__()
        self.network = model  # not `self.model`: Keras sets that to the model being fitted
        self.val_ds = val_ds
        self.sources = fusion_sources(model)

    def on_epoch_end(self, epoch, logs=None):
        fusion = self.network.get_layer("fusion")
        before = fusion.get_weights()
        try:
            report = fit_late_fusion(self.network, self.val_ds, sources=self.sources)
        finally:
            fusion.set_weights(before)
        if logs is not None:
            logs[FUSED_ACCURACY] = report["accuracy"]["fused"]


class WideComponent:
    """The wide paths of one run, prepared on its training examples.

    Args:
        configs: `model.wide`.
        examples: the run's examples (training split, vectorizer, labels).
    """

    def __init__(self, configs: list[WideConfig], examples: ClassificationExamples):
        self.configs = list(configs)
        self.examples = examples
        self._cache: dict = {}
        self.report: list[dict] = [{"fusion": c.fusion, "init": c.init} for c in self.configs]

    @property
    def has_late(self) -> bool:
        return any(c.late for c in self.configs)

    def paths(self, configs: list[WideConfig] | None = None) -> list[WidePath]:
        """The prepared paths (initial weights computed on first use, then cached).

        Args:
            configs: the paths to prepare (default: `model.wide`).
        """
        configs = self.configs if configs is None else configs
        return [WidePath(c, i, self._initial_weights(c, i), self._char_table(c)) for i, c in enumerate(configs)]

    def callbacks(self, net: keras.Model, val_ds) -> list:
        """The per-epoch callbacks the paths need while `net` trains (a late path: `FusedAccuracy`).

        Args:
            net: the network being trained.
            val_ds: its validation batches.
        """
        return [FusedAccuracy(net, val_ds)] if self.has_late and val_ds is not None else []

    def fuse(self, net: keras.Model, val_ds, callbacks=()) -> dict | None:
        """Fit the late fusion of the trained `net` on the validation split (None without a late path).

        Args:
            net: the trained network.
            val_ds: the validation batches.
            callbacks: the callbacks `callbacks` gave, to reuse `FusedAccuracy`'s traced sources model.
        """
        if not self.has_late:
            return None
        sources = next((c.sources for c in callbacks if isinstance(c, FusedAccuracy)), None)
        names = [f"wide_{i}" for i, c in enumerate(self.configs) if c.late]  # as the paths' layers are named
        fusion = fit_late_fusion(net, val_ds, sources=sources, names=names)
        log.info("late fusion on %d validation texts: %s", fusion["examples"], fusion["accuracy"])
        return fusion

    # ------------------------------------------------------------ preparing
    def _cached(self, key: tuple, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def _char_table(self, c: WideConfig) -> np.ndarray | None:
        if not c.chars:
            return None
        return self._cached(
            ("chars", *c.chars, c.buckets),
            lambda: char_ngram_table(self.examples.vectorizer.get_vocabulary(), *c.chars, buckets=c.buckets),
        )

    def _counts(self, c: WideConfig) -> np.ndarray:
        """`(classes, buckets)` presence counts of the hashed n-grams in the training examples."""

        def count():
            hashed = ngram_layer(c, self._char_table(c))
            grams, labels = [], []
            for ids, y in self.examples.train.padded_batch(1024):
                grams.extend(np.asarray(hashed(ids)))
                labels.extend(y.numpy())
            return naive_bayes_counts(grams, np.asarray(labels), self.examples.labels.num_classes, c.buckets)

        return self._cached(("counts", *c.grams_key()), count)

    def _initial_weights(self, c: WideConfig, index: int) -> np.ndarray | None:
        if c.init == "zeros":
            return None
        key = ("naive_bayes", *c.grams_key())
        ratios = self._cached(key, lambda: naive_bayes_ratios(self._counts(c)))
        if c.init == "naive_bayes":
            return ratios
        return self._cached((*key, "nbsvm", c.l2, c.epochs, c.learning_rate), lambda: self._fit_nbsvm(c, ratios, index))

    def _fit_nbsvm(self, c: WideConfig, ratios: np.ndarray, index: int) -> np.ndarray:
        """Fit a path alone as NBSVM (early stopping on validation) and return its per-n-gram weights."""
        train, val = self.examples.batches()
        tc = dataclasses.replace(
            self.examples.train_config,
            epochs=c.epochs,
            learning_rate=c.learning_rate,
            monitor="val_accuracy",
            patience=2 if val is not None else None,
            tensorboard=False,
        )
        log.info("fitting wide path %d as an NBSVM (at most %d epochs)", index, c.epochs)
        num_classes = self.examples.labels.num_classes
        net = compile_classifier(build_nbsvm(c, num_classes, ratios, self._char_table(c)), num_classes, tc)
        history = fit(net, train, val, tc)
        monitor = "val_accuracy" if val is not None else "accuracy"
        self.report[index]["nbsvm"] = {
            "epochs_run": len(history[monitor]),
            f"best_{monitor}": max(history[monitor]),
            "best_epoch": best_epoch(history, tc),
        }
        return nbsvm_weights(net)


__all__ = [
    "WideComponent",
    "WidePath",
    "FusedAccuracy",
    "add_wide_paths",
    "build_nbsvm",
    "fit_late_fusion",
    "fusion_sources",
    "nbsvm_weights",
    "ngram_layer",
    "path_logits",
]
