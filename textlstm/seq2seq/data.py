"""Translation data: the date demo corpus, source and target vectorizers, and
teacher-forcing examples for `textlstm.data.batching.batch_by_length`.

```python
from textlstm.config import VectorizerConfig
from textlstm.data.batching import batch_by_length, bucket_boundaries
from textlstm.seq2seq.data import make_pair_vectorizers, pair_examples
pairs = [("3 March 2021", "2021-03-03"), ("the 1st of May 1999", "1999-05-01")]
sources, targets = [s for s, _ in pairs], [t for _, t in pairs]
vc = VectorizerConfig(level="character", standardize="lower", target={"standardize": "none"})
source_vectorizer, target_vectorizer = make_pair_vectorizers(vc, sources, targets)
examples = pair_examples(sources, targets, source_vectorizer, target_vectorizer, vc)
examples.report        # {'pairs': 2, 'kept': 2, 'empty_after_standardization_skipped': 0, ...}
train = batch_by_length(examples.dataset, 32, bucket_boundaries(examples.lengths, 4))
(source_ids, target_in), target_out = next(iter(train))   # right-padded with 0
```

Framing: the target vocabulary is `["", "[UNK]", "[start]", "[end]", ...]`
(`decoding.target_vocabulary`), the decoder input is `[start] + target` and
the decoder output `target + [end]`, added as ids, so word and character
targets work alike.

Bad input is counted or rejected, never dropped silently (`report`):
- a pair whose source or target standardizes to no tokens is skipped and counted;
- a source longer than `max_length` tokens is truncated (as the saved model does
  at translation time) and counted;
- a target longer than the target's `max_length` is skipped and counted
  (truncating it would teach the decoder to stop mid-sentence);
- a target vocabulary without room for, or colliding with, the `[start]`/`[end]`
  tokens raises `DataError`/`ConfigError`.
"""

from __future__ import annotations

import dataclasses
import logging
import re

import numpy as np
import tensorflow as tf

from textlstm.config import VectorizerConfig
from textlstm.data.batching import PARALLEL_CALLS, sequence_lengths, vectorized
from textlstm.data.sources import DataError
from textlstm.data.vectorize import make_vectorizer
from textlstm.errors import ConfigError
from textlstm.seq2seq.decoding import END_TOKEN, OOV_TOKEN, START_TOKEN, target_vocabulary

log = logging.getLogger("textlstm")

START_ID, END_ID = 2, 3
SPECIAL_TOKENS = ["", OOV_TOKEN, START_TOKEN, END_TOKEN]


def check_target_vocabulary(vocabulary) -> list[str]:
    """The vocabulary as a list, if padding, OOV, start and end sit at ids 0-3."""
    vocabulary = list(vocabulary)
    if vocabulary[:4] != SPECIAL_TOKENS:
        raise DataError(f"the target vocabulary must start with {SPECIAL_TOKENS} (ids 0-3), got {vocabulary[:4]}")
    return vocabulary


def make_pair_vectorizers(config: VectorizerConfig, sources, targets):
    """`(source_vectorizer, target_vectorizer)` adapted on the training pairs.

    The target side uses `config.for_target()`; its `max_tokens` counts the
    four special tokens.
    """
    target_config = config.for_target()  # its rules are checked with the pipeline (Seq2SeqModelConfig.check)
    source_vectorizer = make_vectorizer(config, sources, name="source_vectorizer")
    room = dataclasses.replace(
        target_config, max_tokens=target_config.max_tokens - 2 if target_config.max_tokens else None
    )
    adapted = make_vectorizer(room, targets, name="target_vectorizer")
    target_vectorizer = make_vectorizer(dataclasses.replace(target_config, max_tokens=None), name="target_vectorizer")
    target_vectorizer.set_vocabulary(target_vocabulary(adapted.get_vocabulary()))
    check_target_vocabulary(target_vectorizer.get_vocabulary())
    return source_vectorizer, target_vectorizer


@dataclasses.dataclass
class PairExamples:
    """Unbatched `((source_ids, target_in_ids), target_out_ids)` examples, the
    length of each (for bucket boundaries) and what was skipped or truncated."""

    dataset: tf.data.Dataset
    lengths: np.ndarray
    report: dict


def _frame(max_source_length: int | None):
    def frame(source, target, keep):
        source = source[:max_source_length] if max_source_length else source
        start = tf.constant([START_ID], target.dtype)
        end = tf.constant([END_ID], target.dtype)
        return (source, tf.concat([start, target], 0)), tf.concat([target, end], 0)

    return frame


def pair_examples(
    sources, targets, source_vectorizer, target_vectorizer, config: VectorizerConfig, where: list[str] | None = None
) -> PairExamples:
    """Vectorize, check, filter and frame (source, target) pairs (see the module doc)."""
    sources, targets = list(sources), list(targets)
    if len(sources) != len(targets):
        raise ValueError(f"{len(sources)} sources but {len(targets)} targets")
    if not sources:
        raise DataError("no (source, target) pairs")
    where = list(where) if where is not None else [f"pairs[{i}]" for i in range(len(sources))]
    source_ids, target_ids = vectorized(sources, source_vectorizer), vectorized(targets, target_vectorizer)
    source_len, target_len = sequence_lengths(source_ids), sequence_lengths(target_ids)  # also fill the caches
    special = target_ids.map(
        lambda t: tf.reduce_any((t == START_ID) | (t == END_ID)), num_parallel_calls=PARALLEL_CALLS
    )
    bad = np.flatnonzero(np.fromiter(special.as_numpy_iterator(), bool, len(targets)))
    if len(bad):
        raise DataError(
            f"{where[bad[0]]}: the target contains the literal token {START_TOKEN!r} or {END_TOKEN!r}, "
            f"which the decoder reserves ({len(bad)} such targets); remove it or change "
            f"vectorizer.target.standardize so that it is split apart"
        )
    max_source, max_target = config.max_length, config.for_target().max_length
    if isinstance(max_source, str) or isinstance(max_target, str):
        raise ConfigError(
            f"translation needs vectorizer.max_length (and the target's) in tokens, got {max_source!r} / "
            f"{max_target!r}: a percentile of the training lengths is for classification"
        )
    empty = (source_len == 0) | (target_len == 0)
    too_long = ~empty & (target_len > max_target) if max_target else np.zeros_like(empty)
    keep = ~empty & ~too_long
    if not keep.any():
        raise DataError(
            f"none of the {len(sources)} pairs is usable: {int(empty.sum())} standardize to no tokens "
            f"on one side, {int(too_long.sum())} have targets over {max_target} tokens"
        )
    skipped = [
        f"{where[i]}: {'empty after standardization' if empty[i] else 'target too long'}"
        for i in np.flatnonzero(~keep)[:5]
    ]
    if not keep.all():
        log.warning("%d of %d pairs skipped (first: %s)", int((~keep).sum()), len(keep), "; ".join(skipped))
    clipped = np.minimum(source_len, max_source) if max_source else source_len
    report = {
        "pairs": len(sources),
        "kept": int(keep.sum()),
        "empty_after_standardization_skipped": int(empty.sum()),
        "target_too_long_skipped": int(too_long.sum()),
        "truncated": int((keep & (source_len > (max_source or np.inf))).sum()),
        "mean_source_length": float(source_len[keep].mean()),
        "mean_target_length": float(target_len[keep].mean()),
        "first_skipped": skipped,
    }
    ds = tf.data.Dataset.zip((source_ids, target_ids, tf.data.Dataset.from_tensor_slices(keep)))
    ds = ds.filter(lambda s, t, k: k).map(_frame(max_source), num_parallel_calls=PARALLEL_CALLS)
    lengths = np.maximum(clipped, target_len + 1)[keep]
    return PairExamples(ds, lengths, report)


_SPACE_BEFORE = re.compile(r" ([.,!?;:)])")
_SPACE_AFTER = re.compile(r"\( ")


def detokenize(text: str) -> str:
    """Undo the spaces that word-level tokenization put around punctuation.

    >>> detokenize("Ein Mann ( links ) sitzt , lacht .")
    'Ein Mann (links) sitzt, lacht.'
    """
    return _SPACE_AFTER.sub("(", _SPACE_BEFORE.sub(r"\1", text))
