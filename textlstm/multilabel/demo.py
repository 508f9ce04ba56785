"""A generated, offline multi-label corpus in which word order matters.

Each text is about one or two topics (`acting`, `story`, `music`, `visuals`:
given by the aspects it names, so keywords decide them) and has one sentiment
label (`positive` / `negative`) that follows the demo sentiment corpus's rules
(`textlstm.data.demo`): negation flips an adjective, and in a contrast ("the
score was dull but the acting was superb") the last clause decides. A
bag-of-words model finds the topics but not the sentiment; an LSTM learns both.

```python
from textlstm.multilabel.demo import demo_multilabel
train, validation, test = demo_multilabel(size=1000, seed=0)
train[0]  # e.g. ('the score was not dull but the plot was weak', ('music', 'story', 'negative'))
```
"""

from __future__ import annotations

import random

from textlstm.data.demo import INTENSIFIERS, NEGATIONS, NEGATIVE, OPENERS, POSITIVE, VERBS, unique_splits

TOPICS = {
    "acting": ["the acting", "the cast", "the lead performance", "the characters", "the supporting actors"],
    "story": ["the plot", "the script", "the story", "the dialogue", "the ending", "the final act"],
    "music": ["the soundtrack", "the score", "the songs", "the music"],
    "visuals": ["the camera work", "the visuals", "the cinematography", "the set design", "the effects"],
}
SENTIMENTS = ("negative", "positive")
LABELS = (*sorted(TOPICS), *SENTIMENTS)


def _clause(rng: random.Random, topic: str, polarity: int) -> str:
    negated = rng.random() < 0.4
    adjective = rng.choice(POSITIVE if (1 - polarity if negated else polarity) else NEGATIVE)
    parts = [rng.choice(TOPICS[topic]), rng.choice(VERBS), rng.choice(NEGATIONS) if negated else ""]
    parts += [rng.choice(INTENSIFIERS), adjective]
    return " ".join(p for p in parts if p)


def _example(rng: random.Random, polarity: int) -> tuple[str, tuple[str, ...]]:
    topics = rng.sample(sorted(TOPICS), 2 if rng.random() < 0.5 else 1)
    if len(topics) == 1 and rng.random() < 0.4:
        body = _clause(rng, topics[0], polarity)
    else:
        first, last = topics[0], topics[-1]
        other = 1 - polarity if rng.random() < 0.8 else polarity
        if rng.random() < 0.6:
            body = f"{_clause(rng, first, other)} but {_clause(rng, last, polarity)}"
        else:
            body = f"although {_clause(rng, first, other)} , {_clause(rng, last, polarity)}"
    text = f"{rng.choice(OPENERS)} {body}".strip()
    return text, (*sorted(topics), SENTIMENTS[polarity])


def demo_multilabel(size: int = 6000, seed: int = 0, fractions=(0.8, 0.1, 0.1)):
    """`size` unique `(text, labels)` pairs (labels a tuple: one or two topics
    and a sentiment) split into train/validation/test lists with no text in two splits.

    Args:
        size: how many examples (at least 30).
        seed: seeds the generator.
        fractions: the train and validation shares (the rest is test).
    """
    return unique_splits(size, seed, _example, fractions)
