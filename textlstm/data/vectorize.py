"""Vocabulary and tokenization with `keras.layers.TextVectorization`.

```python
from textlstm.config import VectorizerConfig
vectorizer = make_vectorizer(VectorizerConfig(max_tokens=5000), ["a good film", "a dull film"])
vectorizer(["a good film"])  # right-padded int ids, 0 = padding, 1 = [UNK]
```

The vectorizer is adapted on the training split only, streaming through
tf.data. Its standardization functions are registered Keras objects, so a
model that contains the vectorizer saves and loads as one `.keras` file.
`level: subword` splits words into WordPiece pieces learned on the training
split with tensorflow-text (`WordPieceSplit`, also registered; the `subword`
extra).
"""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from textlstm.config import ConfigError, VectorizerConfig
from textlstm.data.sources import DataError

log = logging.getLogger("textlstm")

_HTML = r"<[^>]+>"
_PUNCT = r"[!\"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~]"
_LOOSE_APOSTROPHE = r"\B'|'\B"


@keras.saving.register_keras_serializable(package="textlstm")
def lower_punctuation_html(text):
    """Lower-case, HTML tags (`<br />`) to spaces, punctuation removed
    (apostrophes inside words, as in "don't", are kept)."""
    text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, _HTML, " ")
    text = tf.strings.regex_replace(text, _PUNCT, " ")
    return tf.strings.regex_replace(text, _LOOSE_APOSTROPHE, " ")


@keras.saving.register_keras_serializable(package="textlstm")
def lower_punctuation_tokens(text):
    """Lower-case, HTML tags to spaces, and `! ? . , ; : ( ) "` kept as tokens of their own."""
    text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, _HTML, " ")
    text = tf.strings.regex_replace(text, r"([!?.,;:()\"])", " \\1 ")
    return tf.strings.regex_replace(text, _LOOSE_APOSTROPHE, " ")


@keras.saving.register_keras_serializable(package="textlstm")
def punctuation_tokens(text):
    """Case kept, HTML tags to spaces, and `! ? . , ; : ( ) "` as tokens of their
    own: for the target side of translation, whose output should stay cased."""
    text = tf.strings.regex_replace(text, _HTML, " ")
    text = tf.strings.regex_replace(text, r"([!?.,;:()\"])", " \\1 ")
    return tf.strings.regex_replace(text, _LOOSE_APOSTROPHE, " ")


@keras.saving.register_keras_serializable(package="textlstm")
def lower_html(text):
    """Lower-case and HTML tags to spaces; punctuation untouched."""
    return tf.strings.regex_replace(tf.strings.lower(text), _HTML, " ")


STANDARDIZERS = {
    "lower_punctuation_html": lower_punctuation_html,
    "lower_punctuation_tokens": lower_punctuation_tokens,
    "punctuation_tokens": punctuation_tokens,
    "lower_html": lower_html,
    "lower": "lower",
    "none": None,
}


LEVELS = ("word", "character", "subword")


def _tensorflow_text():
    try:
        import tensorflow_text
    except ImportError as err:  # not installed, or a build that does not load (tensorflow-text 2.21.0)
        raise ConfigError(
            f"vectorizer.level: subword needs tensorflow-text>=2.21.1 ({err}); "
            "install it with: pip install 'textlstm[subword]'"
        ) from err
    return tensorflow_text


@keras.saving.register_keras_serializable(package="textlstm")
class WordPieceSplit:
    """A `TextVectorization` `split` that cuts standardized text into
    WordPiece subwords ("unwatchable" -> "un", "##watch", "##able") with
    tensorflow-text's `FastWordpieceTokenizer`, after BERT's pre-tokenization
    (whitespace and punctuation). `vocabulary` comes from `learn_wordpieces`;
    a word it cannot spell becomes `[UNK]`. Saved with the vectorizer, so an
    artifact needs tensorflow-text to load."""

    def __init__(self, vocabulary):
        self.vocabulary = [str(v) for v in vocabulary]
        self._tokenizer = None

    def __call__(self, texts):
        if self._tokenizer is None:
            # Built once (60 ms for 8,000 pieces), eagerly even when first called while
            # tracing, so every graph and eager call can use its model tensor.
            with tf.init_scope():
                self._tokenizer = _tensorflow_text().FastWordpieceTokenizer(
                    self.vocabulary,
                    suffix_indicator="##",
                    unknown_token="[UNK]",
                    token_out_type=tf.string,
                    no_pretokenization=False,
                    support_detokenization=False,
                )
        return self._tokenizer.tokenize(texts)  # (batch, pieces), ragged

    def get_config(self):
        return {"vocabulary": self.vocabulary}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def learn_wordpieces(texts: tf.data.Dataset, size: int, standardize) -> list[str]:
    """A WordPiece vocabulary of about `size` pieces learned from `texts`
    (batched strings, standardized first) with tensorflow-text's
    `bert_vocab_from_dataset` (the BERT learner; every character is kept, so
    few words end up `[UNK]`)."""
    _tensorflow_text()
    from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset

    if standardize == "lower":
        texts = texts.map(tf.strings.lower)
    elif callable(standardize):
        texts = texts.map(standardize)
    log.info("learning a WordPiece vocabulary of about %d pieces", size)
    return bert_vocab_from_dataset.bert_vocab_from_dataset(
        texts, vocab_size=size, reserved_tokens=["[UNK]"], bert_tokenizer_params={"lower_case": False}
    )


def make_vectorizer(
    config: VectorizerConfig, texts=None, name: str = "vectorizer", batch_size: int = 1024
) -> keras.layers.TextVectorization:
    """A `TextVectorization` from `config`, adapted on `texts` when given.

    At `level: subword` its split is a `WordPieceSplit` of about
    `config.max_tokens` pieces learned on `texts`, which are then required.

    Args:
        config: the (checked) vectorizer settings.
        texts: a list or a tf.data dataset of training strings to adapt on.
        name: the layer's name.
        batch_size: strings per adapt batch.
    """
    ds = None
    if texts is not None:
        ds = texts if isinstance(texts, tf.data.Dataset) else tf.data.Dataset.from_tensor_slices(list(texts))
        ds = ds.batch(batch_size)
    split = {"word": "whitespace", "character": "character"}.get(config.level)
    if config.level == "subword":
        if ds is None:
            raise ConfigError("vectorizer.level: subword learns its pieces from training texts: give them")
        split = WordPieceSplit(learn_wordpieces(ds, config.max_tokens, STANDARDIZERS[config.standardize]))
    vectorizer = keras.layers.TextVectorization(
        max_tokens=config.max_tokens,
        standardize=STANDARDIZERS[config.standardize],
        split=split,
        output_mode="int",
        name=name,
    )
    if ds is not None:
        vectorizer.adapt(ds)
        if vectorizer.vocabulary_size() <= 2:
            raise DataError("the training texts produced an empty vocabulary (every text standardizes to nothing?)")
    return vectorizer


def load_pretrained_vectors(path: str | Path, vocabulary: list[str], seed: int = 0) -> tuple[np.ndarray, float]:
    """Embedding matrix for `vocabulary` from a GloVe or word2vec text file.

    Returns `(matrix, coverage)`: words without a vector get small random rows,
    the padding row (index 0) is zero, `coverage` is the fraction of the
    vocabulary (padding and [UNK] excluded) found in the file.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: pretrained vector file not found")
    index = {w: i for i, w in enumerate(vocabulary)}
    matrix, dim, found = None, None, 0
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec header: "<count> <dim>"
            if len(parts) < 3:
                continue
            if dim is None:
                dim = len(parts) - 1
                rng = np.random.default_rng(seed)
                matrix = rng.uniform(-0.05, 0.05, (len(vocabulary), dim)).astype("float32")
            if len(parts) - 1 != dim:
                raise DataError(f"{path}:{number}: expected {dim} numbers after the word, found {len(parts) - 1}")
            i = index.get(parts[0])
            if i is not None and i > 1:
                matrix[i] = np.asarray(parts[1:], dtype="float32")
                found += 1
    if matrix is None:
        raise DataError(f"{path}: no vectors found (expected lines of 'word v1 v2 ...')")
    matrix[0] = 0.0
    return matrix, found / max(len(vocabulary) - 2, 1)
