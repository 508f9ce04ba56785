"""Corpus metrics for translations: BLEU and chrF (sacrebleu) and exact match.

```python
from textlstm.seq2seq.metrics import corpus_scores
corpus_scores(["2021-03-03", "1999-12-31"], ["2021-03-03", "1999-12-30"])
# {'bleu': 83.76, 'chrf': 92.95, 'exact_match': 0.5, 'count': 2}  (rounded here)
```

Hypotheses and references are detokenized strings (join character-level
output with "", word-level output with " "). BLEU uses sacrebleu's default
`13a` tokenizer, so scores are comparable with published sacrebleu numbers;
pass `tokenize="char"` or `"none"` where that fits the task better. BLEU and
chrF are on sacrebleu's 0-100 scale, exact match is a fraction in [0, 1].
"""

from __future__ import annotations

import sacrebleu


def _check(hypotheses, references):
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    return hypotheses, references


def bleu(hypotheses, references, tokenize: str = "13a") -> float:
    """Corpus BLEU (0-100) with one reference per hypothesis."""
    hypotheses, references = _check(hypotheses, references)
    if not hypotheses:
        return 0.0
    return float(sacrebleu.corpus_bleu(hypotheses, [references], tokenize=tokenize).score)


def chrf(hypotheses, references) -> float:
    """Corpus chrF (0-100): character n-gram F-score, robust for short outputs."""
    hypotheses, references = _check(hypotheses, references)
    if not hypotheses:
        return 0.0
    return float(sacrebleu.corpus_chrf(hypotheses, [references]).score)


def exact_match(hypotheses, references, strip: bool = True) -> float:
    """Share of hypotheses equal to their reference (after stripping spaces at the ends)."""
    hypotheses, references = _check(hypotheses, references)
    if not hypotheses:
        return 0.0
    norm = (lambda s: s.strip()) if strip else (lambda s: s)
    return sum(norm(h) == norm(r) for h, r in zip(hypotheses, references)) / len(hypotheses)


def corpus_scores(hypotheses, references, tokenize: str = "13a") -> dict:
    """`{"bleu", "chrf", "exact_match", "count"}` for one corpus."""
    hypotheses, references = _check(hypotheses, references)
    return {
        "bleu": bleu(hypotheses, references, tokenize),
        "chrf": chrf(hypotheses, references),
        "exact_match": exact_match(hypotheses, references),
        "count": len(hypotheses),
    }
