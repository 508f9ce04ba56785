"""The pretraining corpus: texts read line by line, token ids, fixed-length segments, tf.data batches.

Texts come from `textlstm.data.sources.iter_rows` (TSV/CSV/JSONL, plain or
`.gz`, globs) or, for `format: txt` (and `.txt` files under `format: auto`),
from one text per line; a bad row raises `DataError` naming `file:line` or,
with `on_bad_row: skip`, is counted in the `SkipReport`. Each document's ids
are cut into segments of `sequence_length` tokens (the last one shorter);
segments of fewer than 2 tokens (nothing to predict) are dropped. The segments
are held as one flat int32 array plus row lengths (about 4 bytes a token),
never as a padded matrix; batches are padded with 0 on the right.

```python
corpus = Corpus.build(vectorizer, texts, sequence_length=100)
ds = corpus.dataset(batch_size=64, shuffle=True, seed=0)
```
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from textlstm.data.sources import SkipReport, detect_format, expand, format_suffix, iter_rows, numbered_lines
from textlstm.errors import DataError
from textlstm.pretrain.config import PretrainDataConfig


def _iter_txt(path: Path, encoding: str, on_bad_row: str, skipped: SkipReport) -> Iterator[tuple[str, str]]:
    count = 0
    for number, line in numbered_lines(path, encoding, on_bad_row, skipped):
        text = line.strip()
        if text:
            count += 1
            yield text, f"{path}:{number}"
    if not count:
        raise DataError(f"{path}: no usable rows ({skipped})")


def file_format(path: Path, fmt: str) -> str:
    """The reader for `path`: `txt` for `format: txt` or a `.txt` file under `auto`, else
    `textlstm.data.sources.detect_format`'s answer.

    Args:
        path: the file.
        fmt: the configured `data.format`.
    """
    if fmt == "txt" or (fmt == "auto" and format_suffix(path) == ".txt"):
        return "txt"
    found = detect_format(path, fmt)
    if found == "folder":
        raise DataError(f"{path}: is a directory; give text files or a glob such as {path}/*.txt")
    return found


def iter_texts(
    patterns: list[str], config: PretrainDataConfig, skipped: SkipReport, limit: int | None = None
) -> Iterator[tuple[str, str]]:
    """`(text, where)` of every usable row of the files `patterns` name, in order.

    Args:
        patterns: files or globs.
        config: the data section (format, text column, header, encoding, on_bad_row).
        skipped: counts what is skipped.
        limit: stop after this many texts.
    """
    count = 0
    for pattern in patterns:
        for path in expand(pattern):
            fmt = file_format(path, config.format)
            if fmt == "txt":
                rows = _iter_txt(path, config.encoding, config.on_bad_row, skipped)
            else:
                rows = (
                    (row[0], where)
                    for row, where in iter_rows(
                        path,
                        [config.text],
                        format=fmt,
                        header=config.header,
                        encoding=config.encoding,
                        on_bad_row=config.on_bad_row,
                        skipped=skipped,
                    )
                )
            for text, where in rows:
                if limit is not None and count >= limit:
                    return
                count += 1
                yield text, where


def read_texts(patterns: list[str], config: PretrainDataConfig, skipped: SkipReport) -> list[str]:
    """The texts of `patterns` in memory (at most `config.max_examples`).

    Args:
        patterns: files or globs.
        config: the data section.
        skipped: counts what is skipped.
    """
    return [text for text, _ in iter_texts(patterns, config, skipped, config.max_examples)]


def vectorize(vectorizer, texts: list[str], chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """`(ids, lengths)`: every document's token ids concatenated (int32) and each document's length.

    Args:
        vectorizer: an adapted `TextVectorization` (no output length: nothing is cut).
        texts: the documents.
        chunk: documents per call.
    """
    flat, lengths = [], []
    for start in range(0, len(texts), chunk):
        ids = np.asarray(vectorizer(tf.constant(texts[start : start + chunk])), dtype=np.int32)
        keep = ids != 0  # ids are right-padded; a real token is never 0
        lengths.append(keep.sum(axis=1))
        flat.append(ids[keep])
    if not flat:
        return np.zeros(0, np.int32), np.zeros(0, np.int64)
    return np.concatenate(flat), np.concatenate(lengths).astype(np.int64)


def segment_lengths(doc_lengths: np.ndarray, sequence_length: int) -> np.ndarray:
    """The lengths of the segments the documents are cut into, in order (the last of each shorter).

    Args:
        doc_lengths: tokens per document.
        sequence_length: the segment length.

    >>> import numpy as np
    >>> segment_lengths(np.array([5, 2, 0]), 2).tolist()
    [2, 2, 1, 2]
    """
    full, rest = np.divmod(doc_lengths, sequence_length)
    counts = full + (rest > 0)
    out = np.full(int(counts.sum()), sequence_length, dtype=np.int64)
    ends = np.cumsum(counts) - 1  # each document's last segment
    has_rest = rest > 0
    out[ends[has_rest]] = rest[has_rest]
    return out


@dataclass
class Corpus:
    """Token-id segments: `ids` (all tokens, int32) cut at `lengths`.

    Args:
        ids: the segments' tokens, concatenated.
        lengths: each segment's length (at least 2).
        documents: how many documents the segments come from.
        tokens: the documents' tokens (dropped 1-token segments included).
        empty: documents with no tokens after standardization.
    """

    ids: np.ndarray
    lengths: np.ndarray
    documents: int
    tokens: int
    empty: int = 0

    @classmethod
    def build(cls, vectorizer, texts: list[str], sequence_length: int) -> Corpus:
        """The segments of `texts`.

        Args:
            vectorizer: the adapted vectorizer.
            texts: the documents.
            sequence_length: the segment length.
        """
        ids, doc_lengths = vectorize(vectorizer, texts)
        seg = segment_lengths(doc_lengths, sequence_length)
        keep = seg >= 2
        token_keep = np.repeat(keep, seg)
        return cls(ids[token_keep], seg[keep], len(texts), int(doc_lengths.sum()), int((doc_lengths == 0).sum()))

    @property
    def segments(self) -> int:
        return len(self.lengths)

    @property
    def predicted(self) -> int:
        """Tokens predicted per direction per pass (each segment's length minus one)."""
        return int(self.lengths.sum() - len(self.lengths))

    def dataset(self, batch_size: int, shuffle: bool = False, seed: int = 0) -> tf.data.Dataset:
        """Batches of right-padded `(batch, <= sequence_length)` int32 ids.

        Args:
            batch_size: segments per batch.
            shuffle: reshuffle the segments every epoch.
            seed: the shuffle's seed.
        """
        if not self.segments:
            raise DataError("no segments of at least 2 tokens to train on")
        ragged = tf.RaggedTensor.from_row_lengths(self.ids, self.lengths)
        ds = tf.data.Dataset.from_tensor_slices(ragged)
        if shuffle:
            ds = ds.shuffle(self.segments, seed=seed, reshuffle_each_iteration=True)
        ds = ds.ragged_batch(batch_size).map(lambda r: r.to_tensor(0), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    def report(self) -> dict:
        return {
            "documents": self.documents,
            "tokens": self.tokens,
            "segments": self.segments,
            "predicted_tokens": self.predicted,
            "empty_after_standardization": self.empty,
        }
