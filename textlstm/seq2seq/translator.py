"""`Translator`: fit, evaluate, translate and save an LSTM encoder-decoder.

```python
import textlstm
from textlstm.seq2seq.translator import Translator
tr = Translator.from_pipeline("pipelines/translate_demo.yaml")
tr.fit(output_dir="runs/dates")              # or tr.fit(sources, targets, validation=(vs, vt))
tr.evaluate()["exact_match"]                  # test split: BLEU, chrF, exact match, greedy and beam
tr.translate(["the 3rd of March 2021"])       # ['2021-03-03']
tr.save("runs/dates/model.keras")
textlstm.load("runs/dates/model.keras").translate(["March 3, 2021"], beam_width=1)  # greedy
```

Training goes through the same data layer (`load_splits`, `vectorized`,
`batch_by_length`) and the same loop (`textlstm.training.fit`) as
`TextClassifier`. The artifact is one Keras model `(text, target_in_ids) ->
logits` holding the source vectorizer, the training network and, in its
metadata, the pipeline config and the target vocabulary; decoding rebuilds
encoder and one-step decoder models around its layers (`Seq2SeqInference`).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from textlstm import __version__
from textlstm.config import PipelineConfig, load_pipeline, pipeline_from_dict, saved_pipeline
from textlstm.data import Splits, load_splits, load_test_split
from textlstm.data.batching import batch_by_length, bucket_boundaries, with_known_cardinality
from textlstm.data.sources import LabelledFileReader
from textlstm.files import write_text_atomic
from textlstm.layers import Metadata, NonEmptySequences
from textlstm.models.cudnn import cudnn_report
from textlstm.saving import save_keras
from textlstm.seq2seq.data import (
    END_ID,
    START_ID,
    check_target_vocabulary,
    detokenize,
    make_pair_vectorizers,
    pair_examples,
)
from textlstm.seq2seq.decoding import Seq2SeqInference, ids_to_texts
from textlstm.seq2seq.metrics import corpus_scores
from textlstm.seq2seq.model import MaskedSparseCategoricalCrossentropy, MaskedTokenAccuracy, build_seq2seq
from textlstm.training import fit as fit_model
from textlstm.training import make_optimizer

LOWERCASING = {"lower", "lower_html", "lower_punctuation_html", "lower_punctuation_tokens"}


class Translator(LabelledFileReader):
    """A translation model described by a `PipelineConfig` with `task: translation`."""

    def __init__(self, config: PipelineConfig | None = None):
        self.config = config or pipeline_from_dict({"task": "translation"})
        if self.config.task != "translation":
            raise ValueError(f"Translator needs task: translation, got {self.config.task!r}")
        self.network: keras.Model | None = None  # (source ids, target_in ids) -> logits
        self.model: keras.Model | None = None  # the artifact: (text, target_in ids) -> logits
        self.inference: Seq2SeqInference | None = None
        self.source_vectorizer: keras.layers.TextVectorization | None = None
        self.target_vocabulary: list[str] = []
        self.splits: Splits | None = None
        self.history: list[dict] = []  # one `fit` history (the runner contract's shape)
        self.data_report: dict = {}

    @classmethod
    def from_pipeline(cls, path=None, overrides: list[str] | None = None) -> Translator:
        """From a pipeline file, or from the defaults (`task: translation`) when `path` is None."""
        return cls(load_pipeline(path, list(overrides or []) if path else ["task=translation", *(overrides or [])]))

    @property
    def has_test_data(self) -> bool:
        """Whether the pipeline's source has a test split to evaluate on."""
        return self.splits is not None and self.splits.test is not None

    @property
    def target_level(self) -> str:
        return self.config.vectorizer.for_target().level

    # ----------------------------------------------------------------- data
    def prepare(self, sources=None, targets=None, validation=None) -> Translator:
        """Read the pairs (the pipeline's source when `sources` is None), adapt
        both vectorizers on the training pairs and set up the examples."""
        cfg = self.config
        keras.utils.set_random_seed(cfg.train.seed)
        if sources is None:
            self.splits = load_splits(cfg.data, "translation", cfg.train.seed)
            train, val = self.splits.train, self.splits.validation
            (train_src, train_tgt), where_train = train.columns(), train.where
            (val_src, val_tgt), where_val = (val.columns(), val.where) if len(val) else ((None, None), None)
            self.data_report = self.splits.report()
        else:
            if targets is None or len(sources) != len(targets):
                raise ValueError(
                    f"fit(sources, targets): give one target per source, got {len(sources)} sources "
                    f"and {len(targets or [])} targets"
                )
            train_src, train_tgt, where_train = list(sources), list(targets), None
            val_src, val_tgt = (list(validation[0]), list(validation[1])) if validation else (None, None)
            where_val = [f"validation[{i}]" for i in range(len(val_src or []))]
            self.data_report = {"source": "python", "train": {"rows": len(train_src)}}
        vc = cfg.vectorizer
        self.source_vectorizer, target_vectorizer = make_pair_vectorizers(vc, train_src, train_tgt)
        self.target_vocabulary = [str(t) for t in target_vectorizer.get_vocabulary()]
        train_examples = pair_examples(train_src, train_tgt, self.source_vectorizer, target_vectorizer, vc, where_train)
        self._train_examples = train_examples.dataset
        self._val_examples = None
        if val_src:
            val_examples = pair_examples(val_src, val_tgt, self.source_vectorizer, target_vectorizer, vc, where_val)
            self._val_examples = val_examples.dataset
            self.data_report["validation_pairs"] = val_examples.report
        self._boundaries = bucket_boundaries(train_examples.lengths, cfg.train.buckets)
        report = train_examples.report
        self.data_report.update(
            {
                "train_examples": report["kept"],
                "vocabulary_size": self.source_vectorizer.vocabulary_size(),
                "target_vocabulary_size": len(self.target_vocabulary),
                "mean_length": report["mean_source_length"],
                **{k: v for k, v in report.items() if k not in ("pairs", "kept", "mean_source_length")},
                "bucket_boundaries": self._boundaries,
            }
        )
        return self

    def datasets(self, batch_size: int | None = None):
        """`(train, validation, training padding fraction)`: the pairs batched
        by length, right-padded (after `prepare`).

        Args:
            batch_size: the batch size (default: `train.batch_size`).
        """
        tc = self.config.train
        batch_size = batch_size or tc.batch_size
        train, padding = with_known_cardinality(
            batch_by_length(
                self._train_examples, batch_size, self._boundaries, shuffle=True, seed=tc.seed, bucketing=tc.buckets > 1
            )
        )
        val = None
        if self._val_examples is not None:
            val = with_known_cardinality(
                batch_by_length(self._val_examples, batch_size, self._boundaries, bucketing=tc.buckets > 1)
            )[0]
        return train, val, padding

    def build_network(self, model_config=None, train_config=None) -> keras.Model:
        """A compiled encoder-decoder for the prepared vocabularies."""
        tc = train_config or self.config.train
        net = build_seq2seq(
            model_config or self.config.model, self.source_vectorizer.vocabulary_size(), len(self.target_vocabulary)
        )
        net.compile(
            optimizer=make_optimizer(tc),
            metrics=[MaskedTokenAccuracy()],
            loss=MaskedSparseCategoricalCrossentropy(),
        )
        return net

    def _train_config(self):
        """The pipeline's `train` section; `accuracy` in `monitor` means the masked token accuracy."""
        tc = self.config.train
        if "accuracy" in tc.monitor and "token_accuracy" not in tc.monitor:
            tc = dataclasses.replace(tc, monitor=tc.monitor.replace("accuracy", "token_accuracy"))
        return tc

    # ----------------------------------------------------------------- fit
    def fit(self, sources=None, targets=None, validation=None, output_dir=None) -> Translator:
        """Train on `sources`/`targets` (with `validation=(sources, targets)`),
        or on the pipeline's data when `sources` is None."""
        self.prepare(sources, targets, validation)
        train_ds, val_ds, self.data_report["train_padding_fraction"] = self.datasets()
        keras.utils.set_random_seed(self.config.train.seed)
        net = self.build_network()
        self.history = [
            fit_model(net, train_ds, val_ds, self._train_config(), Path(output_dir) if output_dir else None)
        ]
        return self.use_network(net)

    def use_network(self, network: keras.Model) -> Translator:
        """Adopt a trained network: build the decoders and the string-input artifact model."""
        self.network = network
        self.inference = Seq2SeqInference(network, START_ID, END_ID)
        self.model = self._artifact_model()
        return self

    def _metadata(self) -> dict:
        return {
            "textlstm_version": __version__,
            "task": "translation",
            "config": self.config.to_dict(),
            "target_vocabulary": self.target_vocabulary,
            "start_id": START_ID,
            "end_id": END_ID,
            "data": self.data_report,
        }

    def _artifact_model(self) -> keras.Model:
        text = keras.Input(shape=(), dtype="string", name="text")
        target_in = keras.Input(shape=(None,), dtype="int64", name="target_in_ids")
        ids = NonEmptySequences(max_length=self.config.vectorizer.max_length, name="source_ids")(
            self.source_vectorizer(text)
        )
        ids = Metadata(self._metadata(), name="metadata")(ids)
        return keras.Model([text, target_in], self.network([ids, target_in]), name="translator")

    @classmethod
    def from_artifact(cls, model: keras.Model, meta: dict) -> Translator:
        """The `Translator` of a loaded artifact (`textlstm.load` calls this)."""
        translator = cls(saved_pipeline(meta["config"]))
        translator.source_vectorizer = next(l for l in model.layers if isinstance(l, keras.layers.TextVectorization))
        translator.target_vocabulary = check_target_vocabulary(meta["target_vocabulary"])
        translator.data_report = meta.get("data", {})
        translator.network = next(l for l in model.layers if isinstance(l, keras.Model))
        translator.inference = Seq2SeqInference(translator.network, meta["start_id"], meta["end_id"])
        translator.model = model
        return translator

    # ----------------------------------------------------------- inference
    def _require_model(self):
        if self.inference is None:
            raise RuntimeError("the translator is not trained: call fit() or textlstm.load(path) first")

    def source_ids(self, texts) -> np.ndarray:
        """Right-padded source ids as the artifact computes them (truncated, never empty)."""
        ids = self.source_vectorizer(tf.constant(list(texts), tf.string))
        return keras.ops.convert_to_numpy(NonEmptySequences(max_length=self.config.vectorizer.max_length)(ids))

    def to_text(self, ids) -> list[str]:
        """Target ids (rows) -> strings: characters joined, words joined and detokenized."""
        if self.target_level == "character":
            return ids_to_texts(ids, self.target_vocabulary, END_ID, separator="", start_id=START_ID)
        return [detokenize(t) for t in ids_to_texts(ids, self.target_vocabulary, END_ID, start_id=START_ID)]

    def translate(self, texts, beam_width: int | None = None, batch_size: int = 128) -> list[str]:
        """Translations of raw strings. `beam_width` defaults to the model's
        `beam_width`; 1 is greedy decoding. Texts are decoded sorted by length."""
        self._require_model()
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return []
        k = int(beam_width or self.inference.config.beam_width)
        ids = self.source_ids(texts)
        order = np.argsort((ids != 0).sum(1), kind="stable")
        kwargs = {"method": "greedy"} if k == 1 else {"method": "beam", "beam_width": k}
        decoded = self.inference.decode(ids[order], batch_size=batch_size, **kwargs)
        width = max([len(row) for row in decoded] + [1])
        padded = np.zeros((len(texts), width), np.int64)
        for row, i in zip(decoded, order):
            padded[i, : len(row)] = row
        return self.to_text(padded)

    def attention(self, text: str, beam_width: int | None = None) -> dict:
        """`{"source": tokens, "output": tokens, "weights": (output, source) array}` for one text."""
        self._require_model()
        ids = self.source_ids([text])
        k = int(beam_width or self.inference.config.beam_width)
        result = self.inference.greedy(ids) if k == 1 else self.inference.beam_search(ids, beam_width=k)
        source_vocab = self.source_vectorizer.get_vocabulary()
        source = [str(source_vocab[i]) for i in ids[0] if i]
        out_ids = [i for i in result.ids[0].tolist() if i]
        output = [self.target_vocabulary[i] for i in out_ids]
        return {"source": source, "output": output, "weights": result.attention[0, : len(output), : len(source)]}

    def evaluate(self, sources=None, targets=None, output_dir=None, where: list[str] | None = None) -> dict:
        """BLEU and chrF (sacrebleu, 0-100) and exact match (0-1) on `sources`/
        `targets` or the pipeline's test split, for greedy and beam decoding.
        The top-level scores are beam search's. When the target vectorizer
        lowercases, references are lowercased too (`lowercased: true`).
        With `output_dir`, writes `translations.tsv`. `where` is accepted for
        `textlstm evaluate` (rows are already checked by the reader)."""
        self._require_model()
        if sources is None:
            self.splits, test = load_test_split(self.splits, self.config.data, "translation", self.config.train.seed)
            sources, targets = test.columns()
        sources, targets = list(sources), list(targets if targets is not None else [])
        if len(sources) != len(targets):
            raise ValueError(f"evaluate: {len(sources)} sources but {len(targets)} targets")
        lowercased = self.config.vectorizer.for_target().standardize in LOWERCASING
        references = [t.lower() for t in targets] if lowercased else targets
        k = int(self.inference.config.beam_width)
        outputs = {"greedy": self.translate(sources, beam_width=1), "beam": self.translate(sources, beam_width=k)}
        scores = {name: corpus_scores(hyps, references) for name, hyps in outputs.items()}
        metrics = {key: scores["beam"][key] for key in ("bleu", "chrf", "exact_match", "count")}
        metrics.update(
            {
                "beam_width": k,
                "lowercased": lowercased,
                "greedy": scores["greedy"],
                "beam": scores["beam"],
                "examples": [
                    {"source": s, "reference": r, "greedy": g, "beam": b}
                    for s, r, g, b in zip(sources[:5], references, outputs["greedy"], outputs["beam"])
                ],
            }
        )
        if output_dir:
            buffer = io.StringIO()
            writer = csv.writer(buffer, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
            writer.writerow(["source", "reference", "greedy", "beam"])
            writer.writerows(zip(sources, references, outputs["greedy"], outputs["beam"]))
            write_text_atomic(Path(output_dir) / "translations.tsv", buffer.getvalue(), newline="")
        return metrics

    # ------------------------------------------------------------- artifacts
    def save(self, path) -> Path:
        """Write the one-file artifact (`.keras`)."""
        self._require_model()
        return save_keras(self.model, path)

    def export(self, path) -> Path:
        """Write a TF SavedModel whose `serve` (beam search) and `greedy`
        signatures take `tf.string` texts and return translations
        (`textlstm.seq2seq.export`)."""
        from textlstm.seq2seq.export import export_translator

        self._require_model()
        return export_translator(self, path)

    def cudnn_report(self):
        """One row per LSTM/GRU direction of encoder and decoder: cuDNN-eligible or why not."""
        self._require_model()
        return cudnn_report(self.network)

    def __repr__(self) -> str:
        state = "trained" if self.inference is not None else "untrained"
        return f"Translator({state}, target_vocabulary={len(self.target_vocabulary)}, model={self.config.model})"
