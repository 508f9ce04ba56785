"""Inference for the encoder-decoder: greedy decoding and batched beam search.

```python
from textlstm.seq2seq.decoding import Seq2SeqInference, ids_to_texts
inference = Seq2SeqInference(model, start_id=2, end_id=3)   # model from build_seq2seq (or load_model)
result = inference.beam_search(source_ids, beam_width=4, length_penalty=0.6, max_length=20)
result.ids, result.log_probs, result.attention   # (batch, T), (batch, T), (batch, T, S)
ids_to_texts(result.ids, target_vocabulary, end_id=3, separator="")
```

`Seq2SeqInference` rebuilds two Keras models around the *same layer objects*
as the training model (no weight copies): `encoder_model` (source ids ->
encoder outputs, encoder mask, decoder initial states) and `step_model`
(previous token `(batch, 1)`, encoder outputs, encoder mask, one state per
decoder state -> `[next-token log-probs (batch, vocab), attention weights
(batch, S), *new states]`). Both loops run as a `tf.while_loop` inside a
`tf.function` and stop early when every sentence has produced the end token.

Special tokens. Target sequences are `START_TOKEN + text + END_TOKEN` as ids.
Add the ids around the vectorized text (`target_vocabulary` puts them at ids 2
and 3 after padding and OOV), which works for word and character vectorizers
alike. If you instead write "[start] ... [end]" into the text, note that
`TextVectorization`'s default standardization strips the brackets: use
`standardize=standardize_keep_brackets` (lowercase, strip punctuation but `[`
and `]`) or `"lower"`, with word splitting.

Beam search ranks hypotheses by GNMT's length-normalized score
`log P / ((5 + length) / 6) ** length_penalty` (length counts the end token);
`length_penalty=0` ranks by raw log-probability. Finished hypotheses stay in
the beam with their score frozen. The pad and start ids are never predicted.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from textlstm.seq2seq.config import Seq2SeqModelConfig
from textlstm.seq2seq.model import PAD_ID, Seq2SeqLayers

START_TOKEN = "[start]"
END_TOKEN = "[end]"
OOV_TOKEN = "[UNK]"
NEG = -1e9  # "minus infinity" that stays finite under addition and division

_STRIP_KEEP_BRACKETS = r'[!"#$%&()\*\+,-\./:;<=>?@\\^_`{|}~\']'


@keras.saving.register_keras_serializable(package="textlstm")
def standardize_keep_brackets(text):
    """Lowercase and strip punctuation like TextVectorization's default, but keep `[` and `]`."""
    return tf.strings.regex_replace(tf.strings.lower(text), _STRIP_KEEP_BRACKETS, "")


def target_vocabulary(tokens) -> list[str]:
    """`["", "[UNK]", "[start]", "[end]", *tokens]` from a vocabulary (e.g.
    `TextVectorization.get_vocabulary()`): padding 0, OOV 1, start 2, end 3.

    >>> target_vocabulary(["", "[UNK]", "a", "b"])
    ['', '[UNK]', '[start]', '[end]', 'a', 'b']
    """
    rest = [t for t in tokens if t not in ("", OOV_TOKEN, START_TOKEN, END_TOKEN)]
    return ["", OOV_TOKEN, START_TOKEN, END_TOKEN, *rest]


def special_ids(vocabulary) -> tuple[int, int]:
    """(start_id, end_id) in a vocabulary list."""
    vocabulary = list(vocabulary)
    return vocabulary.index(START_TOKEN), vocabulary.index(END_TOKEN)


def ids_to_texts(
    ids, vocabulary, end_id: int | None = None, separator: str = " ", skip_ids=(PAD_ID,), start_id: int | None = None
) -> list[str]:
    """Token ids `(batch, T)` -> strings: stop at `end_id`, drop padding/start.

    Use `separator=""` for character-level targets.

    >>> ids_to_texts([[2, 4, 5, 3, 4]], ["", "[UNK]", "[start]", "[end]", "a", "b"], end_id=3, start_id=2)
    ['a b']
    """
    vocabulary = list(vocabulary)
    skip = set(skip_ids) | ({start_id} if start_id is not None else set())
    texts = []
    for row in np.asarray(ids):
        words = []
        for i in row.tolist():
            if end_id is not None and i == end_id:
                break
            if i not in skip:
                words.append(vocabulary[i])
        texts.append(separator.join(words))
    return texts


@dataclass
class DecodeResult:
    """Decoded batch as numpy arrays. `ids` include the end token (when one was
    produced) and are padded with 0 after it; `log_probs` are the per-token
    log-probabilities under the model (0 on padding), `scores` their sum;
    `attention` holds one distribution over source positions per output token.
    Beam search also fills `beam_ids`/`beam_scores` `(batch, beam, T)` /
    `(batch, beam)` (raw log-prob sums; beams ordered best first by the
    length-penalized score)."""

    ids: np.ndarray
    log_probs: np.ndarray
    attention: np.ndarray
    lengths: np.ndarray
    scores: np.ndarray
    beam_ids: np.ndarray | None = None
    beam_scores: np.ndarray | None = None
    from_greedy: np.ndarray | None = None  # beam search rows where the greedy hypothesis won


def _pad_time(x: np.ndarray, length: int) -> np.ndarray:
    pad = [(0, 0)] * x.ndim
    pad[1] = (0, length - x.shape[1])
    return np.pad(x, pad)


def _prefer_greedy(beam: DecodeResult, greedy: DecodeResult, alpha: float) -> DecodeResult:
    """Rows of `beam` replaced by `greedy` where greedy's penalized score is higher."""

    def ranked(r):
        return r.scores / ((5.0 + r.lengths) / 6.0) ** alpha

    use = ranked(greedy) > ranked(beam)
    t = max(beam.ids.shape[1], greedy.ids.shape[1])

    def pick(b, g):
        b, g = _pad_time(b, t), _pad_time(g, t)
        return np.where(use.reshape((-1,) + (1,) * (b.ndim - 1)), g, b)

    return DecodeResult(
        pick(beam.ids, greedy.ids),
        pick(beam.log_probs, greedy.log_probs),
        pick(beam.attention, greedy.attention),
        np.where(use, greedy.lengths, beam.lengths),
        np.where(use, greedy.scores, beam.scores),
        beam.beam_ids,
        beam.beam_scores,
        use,
    )


def length_penalty_factor(lengths, alpha):
    """GNMT length penalty `((5 + length) / 6) ** alpha`."""
    return tf.pow((5.0 + tf.cast(lengths, tf.float32)) / 6.0, alpha)


class Seq2SeqInference:
    """Encoder and one-step decoder models sharing the training model's layers."""

    def __init__(self, model: keras.Model, start_id: int, end_id: int, config: Seq2SeqModelConfig | None = None):
        self.model = model
        self.layers = Seq2SeqLayers.from_model(model, config)
        self.config = self.layers.config
        self.start_id, self.end_id = int(start_id), int(end_id)
        self.vocab_size = int(self.layers.logits.units)
        self.encoder_model, self.step_model = self._build_models()
        self.num_states = len(self.step_model.outputs) - 2
        bias = np.zeros(self.vocab_size, np.float32)
        bias[[PAD_ID, self.start_id]] = NEG  # never predicted
        self._blocked = tf.constant(bias)
        self._greedy = tf.function(self._greedy_loop, reduce_retracing=True)
        self._beams: dict[int, tf.types.experimental.GenericFunction] = {}

    def _build_models(self):
        layers = self.layers
        source = keras.Input(shape=(None,), dtype="int64", name="source_ids")
        encoder_outputs, encoder_mask, states = layers.encode(source, training=False)
        encoder_model = keras.Model(source, [encoder_outputs, encoder_mask, *states], name="encoder")

        token = keras.Input(shape=(1,), dtype="int64", name="previous_token")
        outputs_in = keras.Input(shape=(None, encoder_outputs.shape[-1]), name="encoder_outputs")
        mask_in = keras.Input(shape=(None,), dtype="bool", name="encoder_mask")
        states_in = [keras.Input(shape=(s.shape[-1],), name=f"state_{i}") for i, s in enumerate(states)]
        logits, new_states, weights = layers.decode(token, states_in, outputs_in, mask_in, training=False)
        log_probs = keras.ops.log_softmax(logits[:, 0, :], axis=-1)
        if weights is None:
            weights = keras.ops.zeros_like(keras.ops.cast(mask_in, "float32"))
        else:
            weights = weights[:, 0, :]
        step_model = keras.Model(
            [token, outputs_in, mask_in, *states_in], [log_probs, weights, *new_states], name="decoder_step"
        )
        return encoder_model, step_model

    def _encode(self, source_ids):
        outputs = self.encoder_model(source_ids, training=False)
        return [tf.identity(x) for x in outputs]  # drop the Keras mask attached to the outputs

    def _step(self, tokens, states, encoder_outputs, encoder_mask):
        out = self.step_model([tokens[:, None], encoder_outputs, encoder_mask, *states], training=False)
        return out[0] + self._blocked, out[1], list(out[2:])

    # -- greedy ----------------------------------------------------------------

    def _greedy_loop(self, source_ids, max_length):
        encoder_outputs, encoder_mask, *states = self._encode(source_ids)
        batch = tf.shape(source_ids)[0]
        tokens = tf.fill([batch], tf.constant(self.start_id, tf.int64))
        finished = tf.zeros([batch], tf.bool)
        arrays = [tf.TensorArray(dtype, size=0, dynamic_size=True) for dtype in (tf.int32, tf.float32, tf.float32)]

        def cond(t, tokens, finished, states, *arrays):
            return tf.logical_and(t < max_length, tf.logical_not(tf.reduce_all(finished)))

        def body(t, tokens, finished, states, ids_ta, lp_ta, att_ta):
            log_probs, weights, new_states = self._step(tokens, states, encoder_outputs, encoder_mask)
            best = tf.argmax(log_probs, axis=-1, output_type=tf.int32)
            best_lp = tf.gather(log_probs, best, batch_dims=1)
            best = tf.where(finished, PAD_ID, best)
            best_lp = tf.where(finished, 0.0, best_lp)
            weights = tf.where(finished[:, None], 0.0, weights)
            finished = finished | tf.equal(best, self.end_id)
            # Finished rows keep feeding the end token: never a fully masked (pad) step.
            tokens = tf.cast(tf.where(finished, self.end_id, best), tf.int64)
            return (
                t + 1,
                tokens,
                finished,
                new_states,
                ids_ta.write(t, best),
                lp_ta.write(t, best_lp),
                att_ta.write(t, weights),
            )

        _, _, _, _, ids_ta, lp_ta, att_ta = tf.while_loop(
            cond, body, (tf.constant(0), tokens, finished, states, *arrays)
        )
        ids = tf.transpose(ids_ta.stack())
        log_probs = tf.transpose(lp_ta.stack())
        attention = tf.transpose(att_ta.stack(), [1, 0, 2])
        return ids, log_probs, attention

    def greedy(self, source_ids, max_length: int | None = None) -> DecodeResult:
        """Most likely token at each step, for a batch of right-padded source ids."""
        max_length = max_length or self.config.max_decode_length
        source_ids = tf.convert_to_tensor(np.asarray(source_ids), tf.int64)
        ids, log_probs, attention = (x.numpy() for x in self._greedy(source_ids, tf.constant(max_length)))
        return DecodeResult(ids, log_probs, attention, (ids != PAD_ID).sum(1), log_probs.sum(1))

    # -- beam search -------------------------------------------------------------

    def _beam_loop(self, source_ids, max_length, alpha, beam_width: int):
        k, vocab = beam_width, self.vocab_size
        encoder_outputs, encoder_mask, *states = self._encode(source_ids)
        batch = tf.shape(source_ids)[0]
        src_len = tf.shape(encoder_outputs)[1]
        # Row b * k + i holds beam i of sentence b.
        encoder_outputs = tf.repeat(encoder_outputs, k, axis=0)
        encoder_mask = tf.repeat(encoder_mask, k, axis=0)
        states = [tf.repeat(s, k, axis=0) for s in states]
        # Only beam 0 is live at the start, so the first step expands one hypothesis.
        scores = tf.concat([tf.zeros([batch, 1]), tf.fill([batch, k - 1], NEG)], axis=1)
        lengths = tf.zeros([batch, k], tf.int32)
        finished = tf.zeros([batch, k], tf.bool)
        tokens = tf.fill([batch * k], tf.constant(self.start_id, tf.int64))
        seqs = tf.zeros([batch, k, 0], tf.int32)
        lps = tf.zeros([batch, k, 0])
        atts = tf.zeros([batch, k, 0, src_len])
        pad_only = tf.where(tf.range(vocab) == PAD_ID, 0.0, NEG)  # the one continuation of a finished beam
        offsets = tf.range(batch)[:, None] * k

        def cond(t, tokens, scores, lengths, finished, states, seqs, lps, atts):
            return tf.logical_and(t < max_length, tf.logical_not(tf.reduce_all(finished)))

        def body(t, tokens, scores, lengths, finished, states, seqs, lps, atts):
            log_probs, weights, new_states = self._step(tokens, states, encoder_outputs, encoder_mask)
            log_probs = tf.where(finished[..., None], pad_only, tf.reshape(log_probs, [batch, k, vocab]))
            # Only a beam's k best continuations can enter the global top k; choosing them on the
            # log-probs themselves (not score + log-prob) keeps width 1 bit-identical to greedy.
            token_lp, token = tf.math.top_k(log_probs, k=k)  # (batch, k, k)
            candidates = scores[..., None] + token_lp
            cand_lengths = lengths + tf.cast(tf.logical_not(finished), tf.int32)
            ranked = candidates / length_penalty_factor(cand_lengths, alpha)[..., None]
            _, index = tf.math.top_k(tf.reshape(ranked, [batch, k * k]), k=k)
            parent = index // k
            scores = tf.gather(tf.reshape(candidates, [batch, k * k]), index, batch_dims=1)
            token_lp = tf.gather(tf.reshape(token_lp, [batch, k * k]), index, batch_dims=1)
            token = tf.gather(tf.reshape(token, [batch, k * k]), index, batch_dims=1)
            lengths = tf.gather(cand_lengths, parent, batch_dims=1)
            parent_finished = tf.gather(finished, parent, batch_dims=1)
            finished = parent_finished | tf.equal(token, self.end_id)
            weights = tf.gather(tf.reshape(weights, [batch, k, -1]), parent, batch_dims=1)
            weights = tf.where(parent_finished[..., None], 0.0, weights)
            seqs = tf.concat([tf.gather(seqs, parent, batch_dims=1), token[..., None]], axis=2)
            lps = tf.concat(
                [tf.gather(lps, parent, batch_dims=1), tf.where(parent_finished, 0.0, token_lp)[..., None]], axis=2
            )
            atts = tf.concat([tf.gather(atts, parent, batch_dims=1), weights[:, :, None, :]], axis=2)
            rows = tf.reshape(parent + offsets, [-1])
            states = [tf.gather(s, rows) for s in new_states]
            tokens = tf.cast(tf.reshape(tf.where(finished, self.end_id, token), [-1]), tf.int64)
            return t + 1, tokens, scores, lengths, finished, states, seqs, lps, atts

        loop_vars = (tf.constant(0), tokens, scores, lengths, finished, states, seqs, lps, atts)
        invariants = tf.nest.map_structure(lambda x: x.shape, loop_vars)
        invariants = (
            *invariants[:6],
            tf.TensorShape([None, k, None]),
            tf.TensorShape([None, k, None]),
            tf.TensorShape([None, k, None, None]),
        )
        out = tf.while_loop(cond, body, loop_vars, shape_invariants=invariants)
        _, _, scores, lengths, _, _, seqs, lps, atts = out
        return seqs, lps, atts, scores

    def beam_search(
        self,
        source_ids,
        beam_width: int | None = None,
        length_penalty: float | None = None,
        max_length: int | None = None,
        greedy_fallback: bool = True,
    ) -> DecodeResult:
        """Batched beam search; `result.ids` is the best hypothesis per sentence.

        Beam search is not monotone: the greedy prefix can be pruned and every
        surviving hypothesis end up less likely than the greedy one (it happens
        on a few percent of sentences of an untrained model). With
        `greedy_fallback` the greedy hypothesis is decoded too and returned
        where its (length-penalized) score is higher, so the result is never
        worse than greedy decoding; `result.from_greedy` marks those rows and
        `beam_ids`/`beam_scores` keep the beams themselves.
        """
        k = int(beam_width or self.config.beam_width)
        alpha = self.config.length_penalty if length_penalty is None else length_penalty
        max_length = max_length or self.config.max_decode_length
        if k < 1:
            raise ValueError(f"beam_width must be >= 1, got {k}")
        if k > self.vocab_size - 2:
            raise ValueError(f"beam_width {k} exceeds the {self.vocab_size - 2} predictable tokens")
        if k not in self._beams:
            fn = lambda s, m, a, k=k: self._beam_loop(s, m, a, k)  # noqa: E731
            self._beams[k] = tf.function(fn, reduce_retracing=True)
        source_ids = tf.convert_to_tensor(np.asarray(source_ids), tf.int64)
        seqs, lps, atts, scores = (
            x.numpy() for x in self._beams[k](source_ids, tf.constant(max_length), tf.constant(float(alpha)))
        )
        ids, log_probs = seqs[:, 0], lps[:, 0]
        result = DecodeResult(
            ids,
            log_probs,
            atts[:, 0],
            (ids != PAD_ID).sum(1),
            log_probs.sum(1),
            beam_ids=seqs,
            beam_scores=lps.sum(2),
            from_greedy=np.zeros(len(ids), bool),
        )
        if greedy_fallback and k > 1:
            result = _prefer_greedy(result, self.greedy(source_ids, max_length), alpha)
        return result

    def decode(self, source_ids, method: str = "beam", batch_size: int = 256, **kwargs) -> list[list[int]]:
        """Token id lists (end token and padding removed) for any number of
        sentences, decoded `batch_size` at a time with `greedy` or `beam`."""
        if method not in ("greedy", "beam"):
            raise ValueError(f"method must be 'greedy' or 'beam', got {method!r}")
        fn = self.greedy if method == "greedy" else self.beam_search
        source_ids = np.asarray(source_ids)
        out = []
        for i in range(0, len(source_ids), batch_size):
            batch = source_ids[i : i + batch_size]
            width = max(1, int((batch != PAD_ID).sum(1).max()))  # drop all-padding columns
            for row in fn(batch[:, :width], **kwargs).ids:
                row = row.tolist()
                out.append(row[: row.index(self.end_id)] if self.end_id in row else [t for t in row if t != PAD_ID])
        return out
