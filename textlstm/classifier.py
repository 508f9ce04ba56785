"""`TextClassifier`: fit, evaluate, predict and save a text classifier.

```python
import textlstm
clf = textlstm.TextClassifier.from_pipeline("pipelines/sentiment_demo.yaml")
clf.fit(output_dir="runs/demo")          # or clf.fit(texts, labels)
clf.evaluate()["accuracy"]               # on the pipeline's test split
clf.predict(["a great film"])            # [{'label': 'positive', 'probabilities': {...}}]
clf.save("runs/demo/model.keras")
textlstm.load("runs/demo/model.keras").predict(["a great film"])
```

Training runs on token ids from the tf.data pipeline (bucketed by length);
the saved artifact is one Keras model from raw strings to probabilities, with
the vectorizer inside and the label names in its metadata.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from textlstm import __version__
from textlstm.config import FUSED_ACCURACY, ConfigError, PipelineConfig, load_pipeline
from textlstm.data import LabelEncoder, Splits, load_splits, load_test_split
from textlstm.data.batching import (batch_by_length, bucket_boundaries, sequence_lengths, vectorized,
                                    with_known_cardinality)
from textlstm.data.labels import stratified_split
from textlstm.data.vectorize import load_pretrained_vectors, make_vectorizer
from textlstm.evaluation import classification_metrics, plot_confusion_matrix
from textlstm.layers import Metadata, NonEmptySequences
from textlstm.models import (FusedAccuracy, build_classifier, build_nbsvm, cudnn_report, fit_late_fusion,
                             leave_one_out_trainer, nbsvm_weights, ngram_layer)
from textlstm.models.ngrams import char_ngram_table, naive_bayes_counts, naive_bayes_ratios
from textlstm.training import best_epoch
from textlstm.training import fit as fit_model
from textlstm.training import make_optimizer

log = logging.getLogger("textlstm")


@dataclasses.dataclass
class Prediction:
    label: str
    probabilities: dict[str, float]

    def as_dict(self) -> dict:
        return {"label": self.label, "probabilities": self.probabilities}


def _check_labels(texts, labels) -> None:
    if labels is None or len(texts) != len(labels):
        raise ValueError("fit(texts, labels): give one label per text")


def _non_empty(ids, y):
    return tf.size(ids) > 0


def _fill_empty(ids, y):
    """An empty sequence becomes one [UNK] token (id 1), as in the saved model."""
    return tf.cond(tf.size(ids) > 0, lambda: ids, lambda: tf.ones([1], ids.dtype)), y


def _truncate(max_length):
    def truncate(ids, y):
        return (ids[:max_length] if max_length else ids), y

    return truncate


class TextClassifier:
    """A text classifier described by a `PipelineConfig`."""

    def __init__(self, config: PipelineConfig | None = None):
        self.config = config or PipelineConfig()
        if self.config.task != "classification":
            raise ValueError(f"TextClassifier needs task: classification, got {self.config.task!r}")
        self.model: keras.Model | None = None  # raw strings -> probabilities
        self.networks: list[keras.Model] = []  # token ids -> probabilities (one per ensemble member)
        self.vectorizer: keras.layers.TextVectorization | None = None
        self.labels: LabelEncoder | None = None
        self.splits: Splits | None = None
        self.history: list[dict] = []
        self.data_report: dict = {}
        self.embeddings = None
        self._wide_cache: dict = {}
        self.refit_history: list[dict] = []
        self.members: list[TextClassifier] = []  # train.bagging: one whole classifier per member
        self._member: int | None = None  # its index, as a train.bagging member (names its layers)

    @classmethod
    def from_pipeline(cls, path: str | Path | None = None, overrides: list[str] | None = None) -> "TextClassifier":
        return cls(load_pipeline(path, overrides))

    @property
    def label_names(self) -> list[str]:
        return self.labels.names if self.labels else []

    @property
    def network(self) -> keras.Model:
        """The (first) token-id model, e.g. for `inspect_gates`."""
        return self.networks[0]

    def _examples(self, texts, y, training: bool):
        """Unbatched `(ids, label)` pairs; empty sequences are skipped in
        training and become one [UNK] token otherwise."""
        ids = vectorized(texts, self.vectorizer)
        ds = tf.data.Dataset.zip((ids, tf.data.Dataset.from_tensor_slices(y)))
        ds = ds.filter(_non_empty) if training else ds.map(_fill_empty)
        return ds.map(_truncate(self.config.vectorizer.max_length)), ids

    # ----------------------------------------------------------------- data
    def prepare(self, texts=None, labels=None, validation=None) -> "TextClassifier":
        """Read the data (the pipeline's source when `texts` is None), fit the
        label encoder and the vectorizer on the training split, and set up the
        unbatched training/validation examples. `fit` calls this; a
        hypermodel calls it once and then `datasets`/`build_network` per trial."""
        cfg = self.config
        keras.utils.set_random_seed(cfg.train.seed)
        label_names = None
        if texts is None:
            self.splits = load_splits(cfg.data, "classification", cfg.train.seed)
            train_texts, train_labels = self.splits.train.columns()
            val_texts, val_labels = self.splits.validation.columns() if len(self.splits.validation) else (None, None)
            where_train, where_val = self.splits.train.where, self.splits.validation.where
            label_names = self.splits.train.label_names
            self.data_report = self.splits.report()
        else:
            _check_labels(texts, labels)
            train_texts, train_labels = list(texts), list(labels)
            val_texts, val_labels = (list(validation[0]), list(validation[1])) if validation else (None, None)
            where_train = [f"texts[{i}]" for i in range(len(train_texts))]
            where_val = [f"validation[{i}]" for i in range(len(val_texts or []))]
            self.data_report = {"source": "python", "train": {"rows": len(train_texts)}}
        self.labels = LabelEncoder.fit(train_labels, label_names)
        train_y = self.labels.encode(train_labels, where_train)
        val_y = self.labels.encode(val_labels, where_val) if val_texts else None
        self.data_report["labels"] = self.labels.names
        self._raw = (train_texts, train_y, val_texts, val_y)
        return self._set_training_data(train_texts, train_y, val_texts, val_y)

    def _set_training_data(self, train_texts, train_y, val_texts, val_y) -> "TextClassifier":
        """Adapt the vectorizer on `train_texts` and set up the unbatched
        examples, the bucket boundaries and the data report."""
        cfg = self.config
        self.vectorizer = make_vectorizer(cfg.vectorizer, train_texts, name=self._layer_name("vectorizer"))
        vocab = self.vectorizer.get_vocabulary()
        self.data_report["vocabulary_size"] = len(vocab)
        self.embeddings = None
        if cfg.vectorizer.pretrained_vectors:
            self.embeddings, coverage = load_pretrained_vectors(cfg.vectorizer.pretrained_vectors, vocab, cfg.train.seed)
            self.data_report["pretrained_coverage"] = coverage

        self._train_examples, train_ids = self._examples(train_texts, train_y, training=True)
        self._val_examples = self._examples(val_texts, val_y, training=False)[0] if val_texts else None
        lengths = sequence_lengths(train_ids)  # one pass; also fills the cache
        keep = lengths > 0
        vc = cfg.vectorizer
        self._boundaries = bucket_boundaries(lengths[keep], cfg.train.num_buckets, vc.max_length)
        empty = int((~keep).sum())
        self.data_report.update({
            "train_examples": int(keep.sum()),
            "empty_after_standardization_skipped": empty,
            "truncated": int((lengths > vc.max_length).sum()) if vc.max_length else 0,
            "mean_length": float(lengths[keep].mean()) if keep.any() else 0.0,
            "bucket_boundaries": self._boundaries,
        })
        if empty:
            log.warning("%d training texts standardize to no tokens; they were skipped", empty)
        self._wide_cache = {}
        return self

    def _layer_name(self, name: str) -> str:
        return name if self._member is None else f"{name}_{self._member}"

    def _cached(self, key: tuple, make):
        """`make()` once per `key` for the prepared training data (`_wide_cache`
        is emptied whenever the training data changes)."""
        if key not in self._wide_cache:
            self._wide_cache[key] = make()
        return self._wide_cache[key]

    @staticmethod
    def _grams_key(mc) -> tuple:
        """The settings that decide which hashed n-grams a text has."""
        return (mc.ngram_features, mc.ngram_buckets, *(mc.ngram_chars or ()))

    def _char_ngrams(self, mc) -> np.ndarray | None:
        """The character n-gram table of the vocabulary for `model.ngram_chars`."""
        if not mc.ngram_chars:
            return None
        return self._cached(("chars", *mc.ngram_chars, mc.ngram_buckets),
                            lambda: char_ngram_table(self.vectorizer.get_vocabulary(), *mc.ngram_chars,
                                                     buckets=mc.ngram_buckets))

    def _ngram_weights(self, mc, report: str = "nbsvm") -> np.ndarray | None:
        """Initial weights of the wide n-gram path for `model.ngram_init`
        (computed once per n-gram setting): naive Bayes log-count ratios of
        the training split, or those refined by a fitted NBSVM (reported in
        `data_report[report]`)."""
        if mc.ngram_init == "zeros":
            return None
        key = ("naive_bayes", *self._grams_key(mc))
        ratios = self._cached(key, lambda: naive_bayes_ratios(self._naive_bayes_counts(mc)))
        if mc.ngram_init == "naive_bayes":
            return ratios
        return self._cached((*key, "nbsvm", mc.ngram_l2, mc.ngram_epochs, mc.ngram_learning_rate),
                            lambda: self._fit_nbsvm(mc, ratios, report))

    def _naive_bayes_counts(self, mc) -> np.ndarray:
        """`(classes, buckets)` presence counts of the hashed n-grams in the
        training examples (computed once per n-gram setting)."""
        def count():
            hashed = ngram_layer(mc, self._char_ngrams(mc))
            grams, labels = [], []
            for ids, y in self._train_examples.padded_batch(1024):
                grams.extend(np.asarray(hashed(ids)))
                labels.extend(y.numpy())
            return naive_bayes_counts(grams, np.asarray(labels), self.labels.num_classes, mc.ngram_buckets)

        return self._cached(("counts", *self._grams_key(mc)), count)

    def training_setup(self, net: keras.Model, train, val, model_config=None, train_config=None):
        """`(model, train, val)` that `fit` trains for the compiled `net`:
        `net` itself, or with `model.ngram_leave_one_out` its leave-one-out
        trainer (`textlstm.models.leave_one_out_trainer`, sharing its weights)
        fed `((ids, label), y)`, with label -1 for validation texts."""
        mc = model_config or self.config.model
        if not mc.ngram_leave_one_out:
            return net, train, val
        # The trainer steps `net`'s own optimizer, so the saved `net` keeps its state.
        trainer = self._compile(leave_one_out_trainer(net, self._naive_bayes_counts(mc)),
                                train_config or self.config.train, optimizer=net.optimizer)
        counted = lambda ids, y: ((ids, tf.cast(y, "int32")), y)
        not_counted = lambda ids, y: ((ids, -tf.ones_like(y, "int32")), y)
        return trainer, train.map(counted), val.map(not_counted) if val is not None else None

    def _fit_nbsvm(self, mc, ratios: np.ndarray, report: str = "nbsvm") -> np.ndarray:
        """Fit the n-gram path alone as NBSVM (early stopping on validation)
        and return its per-n-gram weights."""
        train, val = self.datasets()
        tc = dataclasses.replace(self.config.train, epochs=mc.ngram_epochs, learning_rate=mc.ngram_learning_rate,
                                 monitor="val_accuracy", patience=2 if val is not None else None, restore_best=True,
                                 tensorboard=False, steps_per_epoch=None)
        log.info("fitting the NBSVM n-gram path (at most %d epochs)", mc.ngram_epochs)
        net = self._compile(build_nbsvm(mc, self.labels.num_classes, ratios, self._char_ngrams(mc)), tc)
        history = fit_model(net, train, val, tc)
        monitor = "val_accuracy" if val is not None else "accuracy"
        self.data_report[report] = {"epochs_run": len(history[monitor]), f"best_{monitor}": max(history[monitor]),
                                     "best_epoch": best_epoch(history, tc)}
        return nbsvm_weights(net)

    def datasets(self, batch_size: int | None = None):
        """`(train, validation)` tf.data datasets batched by length (after
        `prepare`); records the training padding fraction in `data_report`."""
        tc = self.config.train
        batch_size = batch_size or tc.batch_size
        train = batch_by_length(self._train_examples, batch_size, self._boundaries, shuffle=True,
                                shuffle_buffer=tc.shuffle_buffer, seed=tc.seed, bucketing=tc.bucketing)
        train, self.data_report["train_padding_fraction"] = with_known_cardinality(train)
        val = None
        if self._val_examples is not None:
            val = batch_by_length(self._val_examples, batch_size, self._boundaries, bucketing=tc.bucketing)
            val = with_known_cardinality(val)[0]
        return train, val

    def build_network(self, model_config=None, train_config=None, name: str = "classifier") -> keras.Model:
        """A compiled token-id model for the prepared data (`model_config` and
        `train_config` default to the pipeline's)."""
        model_config = model_config or self.config.model
        net = build_classifier(model_config, self.vectorizer.vocabulary_size(), self.labels.num_classes,
                               self.embeddings, self.config.vectorizer.train_pretrained, name=name,
                               **self._wide_inputs(model_config))
        return self._compile(net, train_config or self.config.train)

    def _wide_inputs(self, mc) -> dict:
        """`build_classifier`'s n-gram tables and initial weights for the joint
        path and the late one (`mc.late_path()`)."""
        inputs = {}
        if mc.has_joint_path():
            inputs.update(ngram_weights=self._ngram_weights(mc), char_ngrams=self._char_ngrams(mc))
        late = mc.late_path()
        if late is not None:
            inputs.update(late_ngram_weights=self._ngram_weights(late, "nbsvm" if late is mc else "late_nbsvm"),
                          late_char_ngrams=self._char_ngrams(late))
        return inputs

    # ----------------------------------------------------------------- fit
    def fit(self, texts=None, labels=None, validation=None, output_dir: str | Path | None = None) -> "TextClassifier":
        """Train on `texts`/`labels` (with `validation=(texts, labels)`), or on
        the pipeline's data source when `texts` is None. With `train.refit`,
        the validation split then chooses each member's number of epochs and
        the members are trained again, for that many epochs, on training plus
        validation data."""
        cfg = self.config
        if cfg.train.refit and cfg.model.late_path() is not None:
            raise ConfigError("train.refit cannot be combined with a late n-gram path (model.ngram_fusion: late or "
                              "model.late_ngrams), which keeps the validation split to fit its fusion weights")
        if cfg.train.monitor == FUSED_ACCURACY and cfg.model.late_path() is None:
            raise ConfigError(f"train.monitor: {FUSED_ACCURACY} is the score of a late n-gram path's fusion "
                              "(model.ngram_fusion: late or model.late_ngrams), and this model has none")
        out = Path(output_dir) if output_dir else None
        if cfg.train.bagging:
            networks = self._fit_bagged(texts, labels, validation, out)
        else:
            self.prepare(texts, labels, validation)
            networks, self.history = self._fit_members(cfg.model, out)
        if out and len(self.history) > 1:  # members write their own history.csv in member_<m>/
            self._write_member_history(out / "history.csv")
        if cfg.train.refit:
            networks = self._refit(out / "refit" if out else None)
        return self.use_networks(networks)

    def _fit_members(self, model_config, out: Path | None, epochs: list[int] | None = None):
        """Train `train.ensemble` seeded networks on the prepared data; with
        `epochs`, member i trains exactly `epochs[i]` epochs (no early stopping)."""
        cfg = self.config
        late = model_config.late_path() is not None
        train_ds, val_ds = self.datasets()
        if late and val_ds is None:
            raise ConfigError("a late n-gram path (model.ngram_fusion: late or model.late_ngrams) fits the fusion "
                              "weights on validation data: give validation texts (or data.validation / "
                              "data.validation_fraction)")
        networks, histories = [], []
        members = max(1, cfg.train.ensemble)
        self.data_report.pop("fusion", None)
        for member in range(members):
            keras.utils.set_random_seed(cfg.train.seed + member)
            tc = cfg.train
            if epochs is not None:
                tc = dataclasses.replace(tc, epochs=epochs[member], patience=None, restore_best=False)
            net = self.build_network(model_config, tc,
                                     name=f"classifier_{member}" if members > 1 else self._layer_name("classifier"))
            member_dir = (out / f"member_{member}" if members > 1 else out) if out else None
            scores = [FusedAccuracy(net, val_ds)] if late else []
            histories.append(fit_model(*self.training_setup(net, train_ds, val_ds, model_config, tc), tc, member_dir,
                                       callbacks=scores))
            if late:
                fusion = fit_late_fusion(net, val_ds, sources=scores[0].sources)  # its predict function is traced
                log.info("late fusion on %d validation texts: %s", fusion["examples"], fusion["accuracy"])
                self.data_report.setdefault("fusion", []).append(fusion)
            networks.append(net)
        return networks, histories

    def _fit_bagged(self, texts, labels, validation, out: Path | None) -> list[keras.Model]:
        """`train.bagging`: `train.ensemble` runs of the whole pipeline, member m
        with seed `train.seed + 1000 * m` (so runs with nearby seeds share no
        member). Each draws its own stratified validation split
        (`data.validation_fraction`) from the training rows, pooled with the
        given validation texts in the Python API, and fits its own vectorizer,
        n-gram paths, network and fusion; returns all members' networks, whose
        probabilities the artifact averages."""
        cfg = self.config
        if cfg.train.ensemble < 2:
            raise ConfigError(f"train.bagging averages train.ensemble members: set train.ensemble to 2 or more "
                              f"(it is {cfg.train.ensemble})")
        if cfg.train.refit:
            raise ConfigError("train.bagging cannot be combined with train.refit: each member keeps its validation "
                              "split for early stopping")
        if texts is None and (cfg.data.validation or cfg.data.validation_split):
            raise ConfigError("train.bagging draws each member's validation split from the training data: "
                              "remove data.validation / data.validation_split and set data.validation_fraction")
        if texts is not None:
            _check_labels(texts, labels)
            texts, labels = list(texts), list(labels)
            if validation:
                texts, labels = texts + list(validation[0]), labels + list(validation[1])
        members = []
        for m in range(cfg.train.ensemble):
            seed = cfg.train.seed + 1000 * m
            log.info("bagging: member %d of %d (train.seed %d)", m + 1, cfg.train.ensemble, seed)
            member = TextClassifier(dataclasses.replace(
                cfg, train=dataclasses.replace(cfg.train, seed=seed, ensemble=1, bagging=False)))
            member._member = m
            member_out = out / f"member_{m}" if out else None
            if texts is None:  # the pipeline's source, split with the member's seed
                member.fit(output_dir=member_out)
            else:
                tr, va = stratified_split(labels, cfg.data.validation_fraction, seed)
                member.fit([texts[i] for i in tr], [labels[i] for i in tr], output_dir=member_out,
                           validation=([texts[i] for i in va], [labels[i] for i in va]))
            members.append(member)  # same labels: stratified_split keeps every class in each training part
        first = members[0]
        self.members, self.labels, self.splits, self.vectorizer = members, first.labels, first.splits, first.vectorizer
        self.history = [h for member in members for h in member.history]
        self.data_report = {k: v for k, v in first.data_report.items() if k != "fusion"}
        self.data_report["bagging"] = [{
            "seed": member.config.train.seed, "train_examples": member.data_report["train_examples"],
            "vocabulary_size": member.data_report["vocabulary_size"],
            "best_val_accuracy": max(member.history[0]["val_accuracy"]),
            **({"fusion_accuracy": member.data_report["fusion"][0]["accuracy"]} if "fusion" in member.data_report
               else {}),
        } for member in members]
        return [net for member in members for net in member.networks]

    def _write_member_history(self, path: Path) -> None:
        """One CSV of every member's epochs (`member` column first)."""
        keys = list(dict.fromkeys(k for h in self.history for k in h))
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["member", "epoch", *keys])
            for m, h in enumerate(self.history):
                for epoch in range(len(h["loss"])):
                    writer.writerow([m, epoch, *(h[k][epoch] if epoch < len(h.get(k, [])) else "" for k in keys)])

    def _refit(self, out: Path | None) -> list[keras.Model]:
        """Train the members again on training + validation data for the
        number of epochs the validation split chose for each."""
        cfg = self.config
        train_texts, train_y, val_texts, val_y = self._raw
        if not val_texts:
            raise ConfigError("train.refit needs validation data to choose the number of epochs: "
                              "give validation texts (or data.validation / data.validation_fraction)")
        epochs = [best_epoch(h, cfg.train) for h in self.history]
        model_config = cfg.model
        if "nbsvm" in self.data_report:  # the n-gram path is refitted for the epochs validation chose too
            model_config = dataclasses.replace(model_config, ngram_epochs=self.data_report["nbsvm"]["best_epoch"])
        selection_examples = self.data_report["train_examples"]
        log.info("refit on training + validation data (%d + %d texts) for %s epochs",
                 len(train_texts), len(val_texts), epochs)
        selection_nbsvm = self.data_report.pop("nbsvm", None)
        self._set_training_data(list(train_texts) + list(val_texts), np.concatenate([train_y, val_y]), None, None)
        networks, self.refit_history = self._fit_members(model_config, out, epochs)
        self.data_report["refit"] = {"epochs": epochs, "selection_train_examples": selection_examples,
                                     "train_examples": self.data_report["train_examples"]}
        if selection_nbsvm:
            self.data_report["refit"]["nbsvm"] = self.data_report.pop("nbsvm")
            self.data_report["nbsvm"] = selection_nbsvm
        return networks

    def use_networks(self, networks: list[keras.Model]) -> "TextClassifier":
        """Adopt trained token-id networks (averaged when several) and build the
        string-input model around them."""
        self.networks = list(networks)
        self.model = self._string_model()
        return self

    def _compile(self, net: keras.Model, tc, optimizer=None) -> keras.Model:
        if self.labels.binary:
            loss = keras.losses.BinaryCrossentropy(label_smoothing=tc.label_smoothing)
            metrics = [keras.metrics.BinaryAccuracy(name="accuracy")]
        else:
            loss = keras.losses.SparseCategoricalCrossentropy()
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        net.compile(optimizer=optimizer or make_optimizer(tc), loss=loss, metrics=metrics)
        return net

    def _metadata(self) -> dict:
        return {
            "textlstm_version": __version__,
            "task": "classification",
            "labels": self.labels.names,
            "config": self.config.to_dict(),
            "data": {k: v for k, v in self.data_report.items() if k != "train"} | {"train": self.data_report.get("train")},
        }

    def _string_model(self) -> keras.Model:
        text = keras.Input(shape=(), dtype="string", name="text")
        # One vectorizer for the networks, or each bagging member's own vectorizer for its networks.
        parts = [(m.vectorizer, m.networks) for m in self.members] or [(self.vectorizer, self.networks)]
        outputs = []
        for i, (vectorizer, networks) in enumerate(parts):
            ids = NonEmptySequences(max_length=self.config.vectorizer.max_length,
                                    name="non_empty" if len(parts) == 1 else f"non_empty_{i}")(vectorizer(text))
            outputs += [net(ids) for net in networks]
        probs = outputs[0] if len(outputs) == 1 else keras.layers.Average(name="ensemble")(outputs)
        probs = Metadata(self._metadata(), name="metadata")(probs)
        return keras.Model(text, probs, name="text_classifier")

    # ----------------------------------------------------------- inference
    def _require_model(self):
        if self.model is None:
            raise RuntimeError("the classifier is not trained: call fit() or textlstm.load(path) first")

    def predict_proba(self, texts, batch_size: int = 256) -> np.ndarray:
        """Class probabilities `(n, num_classes)` for raw strings. Texts are
        batched by length so that little padding is computed."""
        self._require_model()
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return np.zeros((0, len(self.label_names)), "float32")
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), len(self.label_names)), "float32")
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            p = np.asarray(self.model.predict_on_batch(tf.constant([texts[i] for i in idx])))
            if p.shape[-1] == 1:
                p = np.concatenate([1.0 - p, p], axis=-1)
            out[idx] = p
        return out

    def predict(self, texts, batch_size: int = 256) -> list[Prediction]:
        probs = self.predict_proba(texts, batch_size)
        names = self.label_names
        return [Prediction(names[int(p.argmax())], {n: float(v) for n, v in zip(names, p)}) for p in probs]

    def evaluate(self, texts=None, labels=None, output_dir: str | Path | None = None, where: list[str] | None = None) -> dict:
        """Metrics on `texts`/`labels`, or on the pipeline's test split.
        With `output_dir`, also writes the confusion matrix plot there.
        `where` names each row's origin for error messages."""
        self._require_model()
        if texts is None:
            self.splits, test = load_test_split(self.splits, self.config.data, "classification", self.config.train.seed)
            (texts, labels), where = test.columns(), test.where
        y = self.labels.encode(labels, where)
        metrics = classification_metrics(y, self.predict_proba(texts), self.label_names)
        if output_dir:
            plot_confusion_matrix(metrics["confusion_matrix"], self.label_names, Path(output_dir) / "confusion_matrix.png")
        return metrics

    # ------------------------------------------------------------- artifacts
    def save(self, path: str | Path) -> Path:
        """Write the one-file artifact (`.keras`): raw strings in, probabilities out."""
        from textlstm.artifact import save_keras

        self._require_model()
        return save_keras(self.model, path)

    def export(self, path: str | Path) -> Path:
        """A TF SavedModel whose `serve` signature takes a `tf.string` vector."""
        self._require_model()
        from textlstm.artifact import export_saved_model

        return export_saved_model(self.model, path)

    def cudnn_report(self):
        self._require_model()
        return cudnn_report(self.networks[0])

    def write_outputs(self, output_dir: str | Path, metrics: dict | None = None, extra: dict | None = None) -> dict:
        """model.keras, metrics.json and plots (history.csv comes from `fit`)."""
        from textlstm.artifact import write_outputs

        return write_outputs(self, output_dir, self.history[0] if self.history else None, metrics, extra)

    def __repr__(self) -> str:
        state = "trained" if self.model is not None else "untrained"
        return f"TextClassifier({state}, labels={self.label_names}, model={self.config.model})"
