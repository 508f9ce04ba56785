"""A trained `Translator` as a TF SavedModel that takes and returns strings.

```python
import tensorflow as tf
import textlstm
translator = textlstm.load("runs/dates/model.keras")
translator.export("runs/dates/saved_model")
served = tf.saved_model.load("runs/dates/saved_model")
served.serve(tf.constant(["the 3rd of March 2021"]))["translation"]   # beam search, as translate()
served.greedy(tf.constant(["the 3rd of March 2021"]))["translation"]  # greedy decoding
```

Both signatures take `text: tf.string[None]` and return `translation`
(`tf.string[None]`), `ids` (the output token ids, 0 after the end token) and
`score` (the output's log-probability). The whole path runs in the graph: the
source `TextVectorization`, the decoding `tf.while_loop`s of
`Seq2SeqInference` (beam search keeps the greedy hypothesis where it scores
higher, as `beam_search` does), and ids -> tokens -> text, with the word-level
detokenization of `textlstm.seq2seq.data.detokenize` written as regexes.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from textlstm.files import atomic_directory
from textlstm.seq2seq.data import _SPACE_AFTER, _SPACE_BEFORE, END_ID, START_ID
from textlstm.seq2seq.decoding import length_penalty_factor
from textlstm.seq2seq.model import PAD_ID

TEXT = tf.TensorSpec(shape=[None], dtype=tf.string, name="text")


def ids_to_strings(ids, vocabulary: list[str], separator: str):
    """Output ids `(batch, T)` -> `tf.string (batch,)`: tokens up to the end
    token, padding and the start token left out, joined by `separator` (words
    are then detokenized)."""
    ids = tf.cast(ids, tf.int32)
    before_end = tf.equal(tf.cumsum(tf.cast(tf.equal(ids, END_ID), tf.int32), axis=1), 0)
    keep = before_end & tf.not_equal(ids, PAD_ID) & tf.not_equal(ids, START_ID)
    tokens = tf.ragged.boolean_mask(tf.gather(tf.constant(vocabulary), ids), keep)
    text = tf.strings.reduce_join(tokens, axis=1, separator=separator)
    return detokenize(text) if separator else text


def detokenize(text):
    """`textlstm.seq2seq.data.detokenize` as graph ops, with its patterns: no
    space before `. , ! ? ; : )`, none after `(`."""
    return tf.strings.regex_replace(
        tf.strings.regex_replace(text, _SPACE_BEFORE.pattern, r"\1"), _SPACE_AFTER.pattern, "("
    )


def export_translator(translator, path: str | Path) -> Path:
    """Write `translator` (trained or loaded) as a SavedModel with `serve`
    (the model's `beam_width`; greedy when it is 1) and `greedy` signatures.
    The folder is written next to `path` and then swapped in, so a killed
    export leaves the previous one (`textlstm.files.atomic_directory`)."""
    inference, model = translator.inference, translator.model
    config = inference.config
    max_length = tf.constant(int(config.max_decode_length))
    alpha = float(config.length_penalty)
    width = int(config.beam_width)
    separator = "" if translator.target_level == "character" else " "
    vocabulary = list(translator.target_vocabulary)
    source_ids = keras.Model(model.inputs[0], model.get_layer("source_ids").output)  # text -> ids, as the artifact

    def outputs(ids, log_probs):
        return {
            "translation": ids_to_strings(ids, vocabulary, separator),
            "ids": ids,
            "score": tf.reduce_sum(log_probs, axis=1),
        }

    def greedy(sources):
        ids, log_probs, _ = inference._greedy_loop(sources, max_length)
        return ids, log_probs

    def beam(sources):
        seqs, lps, _, _ = inference._beam_loop(sources, max_length, alpha, width)
        ids, log_probs = seqs[:, 0], lps[:, 0]
        g_ids, g_log_probs = greedy(sources)

        # As Seq2SeqInference.beam_search: greedy where its length-penalized score is higher.
        def ranked(i, lp):
            lengths = tf.reduce_sum(tf.cast(tf.not_equal(i, PAD_ID), tf.int32), axis=1)
            return tf.reduce_sum(lp, axis=1) / length_penalty_factor(lengths, alpha)

        use = ranked(g_ids, g_log_probs) > ranked(ids, log_probs)
        steps = tf.maximum(tf.shape(ids)[1], tf.shape(g_ids)[1])
        pad = lambda x: tf.pad(x, [[0, 0], [0, steps - tf.shape(x)[1]]])  # noqa: E731
        return (tf.where(use[:, None], pad(g_ids), pad(ids)), tf.where(use[:, None], pad(g_log_probs), pad(log_probs)))

    def endpoint(decode):
        return lambda text: outputs(*decode(source_ids(text, training=False)))

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "serve", endpoint(beam if width > 1 else greedy), input_signature=[TEXT]
    )  # the first endpoint is also `serving_default`
    archive.add_endpoint("greedy", endpoint(greedy), input_signature=[TEXT])
    path = Path(path)
    with atomic_directory(path) as tmp:
        archive.write_out(str(tmp), verbose=False)
    return path
