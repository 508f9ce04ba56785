"""A built-in, generated, offline sentiment corpus in which word order matters.

Sentences combine aspects, adjectives, intensifiers, negation ("was not
good") and contrast ("the plot was dull but the acting was superb"): the label
follows the last clause, and negation flips an adjective's polarity. Every
adjective and every function word occurs in both classes, so a bag-of-words
model stays far from perfect while an LSTM, which reads the order, can solve it.

```python
from textlstm.data.demo import demo_sentiment
train, validation, test = demo_sentiment(size=1000, seed=0)
train[0]  # e.g. ('honestly , the pacing was not very dull', 'positive')
```
"""

from __future__ import annotations

import random

ASPECTS = [
    "the film",
    "this movie",
    "the acting",
    "the plot",
    "the script",
    "the soundtrack",
    "the ending",
    "the cast",
    "the story",
    "the pacing",
    "the dialogue",
    "the camera work",
    "the characters",
    "the humor",
    "the lead performance",
    "the final act",
    "the direction",
    "the score",
]
POSITIVE = [
    "good",
    "great",
    "wonderful",
    "brilliant",
    "moving",
    "charming",
    "clever",
    "gripping",
    "delightful",
    "superb",
    "funny",
    "beautiful",
    "fresh",
    "smart",
]
NEGATIVE = [
    "bad",
    "awful",
    "dull",
    "boring",
    "terrible",
    "clumsy",
    "tedious",
    "weak",
    "predictable",
    "messy",
    "bland",
    "painful",
    "stale",
    "silly",
]
INTENSIFIERS = ["", "", "very", "really", "truly", "extremely", "incredibly", "quite", "rather", "so"]
VERBS = ["was", "is", "felt", "seemed", "looked", "turned out"]
NEGATIONS = ["not", "never", "hardly"]
NOUNS = ["film", "movie", "story", "script", "cast", "performance", "ending", "debut", "sequel"]
OPENERS = ["", "", "", "honestly ,", "i thought", "overall ,", "in the end", "to be fair ,", "frankly ,"]
LABELS = ("negative", "positive")


def _clause(rng: random.Random, polarity: int) -> str:
    """A clause whose meaning has `polarity` (1 positive, 0 negative)."""
    negated = rng.random() < 0.4
    word_polarity = 1 - polarity if negated else polarity
    adjective = rng.choice(POSITIVE if word_polarity else NEGATIVE)
    parts = [rng.choice(ASPECTS), rng.choice(VERBS)]
    if negated:
        parts.append(rng.choice(NEGATIONS))
    parts += [rng.choice(INTENSIFIERS), adjective]
    return " ".join(p for p in parts if p)


def _phrase(rng: random.Random, polarity: int) -> str:
    """A short noun phrase: "a truly great film", "not a good movie"."""
    negated = rng.random() < 0.4
    adjective = rng.choice(POSITIVE if (1 - polarity if negated else polarity) else NEGATIVE)
    words = [rng.choice(INTENSIFIERS), adjective, rng.choice(NOUNS)]
    body = " ".join(w for w in words if w)
    article = "an" if body[0] in "aeiou" else "a"
    return f"{'not ' if negated else ''}{article} {body}"


def _sentence(rng: random.Random, label: int) -> str:
    shape = rng.random()
    if shape < 0.15:
        return _phrase(rng, label)
    if shape < 0.4:
        body = _clause(rng, label)
    else:
        # Contrast: the last clause decides; the first usually disagrees.
        first = 1 - label if rng.random() < 0.8 else label
        if shape < 0.75:
            body = f"{_clause(rng, first)} but {_clause(rng, label)}"
        else:
            body = f"although {_clause(rng, first)} , {_clause(rng, label)}"
    opener = rng.choice(OPENERS)
    return f"{opener} {body}".strip()


def unique_splits(size: int, seed: int, example, fractions=(0.8, 0.1, 0.1)):
    """`size` unique `(text, label)` pairs from `example(rng, k)` (k alternates
    0, 1, ... so classes stay balanced), shuffled and split into
    train/validation/test lists with no text in two splits.

    Args:
        size: how many pairs (at least 30).
        seed: seeds the generator.
        example: `(rng, k) -> (text, label)`; a text seen before is drawn again.
        fractions: the train and validation shares (the rest is test).
    """
    if size < 30:
        raise ValueError(f"demo size must be at least 30, got {size}")
    rng = random.Random(seed)
    seen: dict = {}
    attempts = 0
    while len(seen) < size:
        attempts += 1
        if attempts > size * 50:
            raise RuntimeError(f"could not generate {size} unique demo sentences")
        text, label = example(rng, len(seen) % 2)
        seen.setdefault(text, label)
    pairs = list(seen.items())
    rng.shuffle(pairs)
    n_train, n_val = int(size * fractions[0]), int(size * fractions[1])
    return pairs[:n_train], pairs[n_train : n_train + n_val], pairs[n_train + n_val :]


def demo_sentiment(size: int = 6000, seed: int = 0, fractions=(0.8, 0.1, 0.1)):
    """`size` unique (text, label) pairs split into train/validation/test lists
    with no text in two splits. Labels are 'negative'/'positive', balanced."""
    return unique_splits(size, seed, lambda rng, label: (_sentence(rng, label), LABELS[label]), fractions)


def demo_imbalanced(size: int = 6000, seed: int = 0, positive_share: float = 0.05):
    """The demo corpus with the positive class subsampled to `positive_share`
    of every split (train, validation and test are each 95/5 by default):
    about `size` pairs, seeded, offline (`data.source: demo:imbalanced`).

    >>> train, validation, test = demo_imbalanced(size=2000, seed=0)
    >>> round(sum(label == "positive" for _, label in train) / len(train), 3)
    0.05
    """
    if not 0 < positive_share < 0.5:
        raise ValueError(f"positive_share must be in (0, 0.5), got {positive_share}")
    rng = random.Random(seed + 7919)  # the subsample's own stream
    splits = []
    for pairs in demo_sentiment(size=max(30, 2 * round(size * (1 - positive_share))), seed=seed):
        negative = [p for p in pairs if p[1] == LABELS[0]]
        positive = [p for p in pairs if p[1] == LABELS[1]]
        keep = max(1, round(len(negative) * positive_share / (1 - positive_share)))
        split = negative + rng.sample(positive, min(keep, len(positive)))
        rng.shuffle(split)
        splits.append(split)
    return tuple(splits)
