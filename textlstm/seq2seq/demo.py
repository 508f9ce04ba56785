"""A built-in, generated translation-like task: free-form dates -> ISO 8601.

```python
from textlstm.seq2seq.demo import make_date_task
task = make_date_task(n_train=8000, seed=0)
task.train[:3]
# [('15 February 2019', '2019-02-15'), ('18.06.2025', '2025-06-18'), ('1957 April 7', '1957-04-07')]
```

Sources mix formats ("the 3rd of March 2021", "March 3, 2021", "3/3/21"
(month/day/two-digit year, 50-99 -> 19xx), "03.03.2021" (day.month.year),
"3 mar 2021", "2021 March 3", weekday prefixes, upper/lower case). Dates
run from 1950-01-01 to 2049-12-31 and every date is used at most once, so no
date (hence no source and no target) appears in two splits. Character-level
vectorization suits both sides: `split="character"`, `standardize="lower"`
for sources, `standardize=None` for targets (the default standardization
would strip the "-").
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
FIRST = dt.date(1950, 1, 1)
DAYS = (dt.date(2049, 12, 31) - FIRST).days + 1


@dataclass
class Seq2SeqSplits:
    """(source, target) pairs per split."""

    train: list[tuple[str, str]]
    validation: list[tuple[str, str]]
    test: list[tuple[str, str]]


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _formats(d: dt.date) -> list[str]:
    month, mon = MONTHS[d.month - 1], MONTHS[d.month - 1][:3]
    weekday = d.strftime("%A")
    yy = f"{d.year % 100:02d}"
    return [
        f"the {_ordinal(d.day)} of {month} {d.year}",
        f"{month} {d.day}, {d.year}",
        f"{weekday}, {month} {d.day}, {d.year}",
        f"{d.month}/{d.day}/{yy}",
        f"{d.day:02d}.{d.month:02d}.{d.year}",
        f"{d.day} {mon} {d.year}",
        f"{d.year} {month} {d.day}",
        f"{mon} {_ordinal(d.day)} {d.year}",
        f"{d.day} {month} {d.year}",
        f"{weekday[:3]} {d.day} {mon} {yy}",
    ]


def date_example(d: dt.date, rng: random.Random) -> tuple[str, str]:
    """One (free-form date, ISO date) pair for date `d`."""
    text = rng.choice(_formats(d))
    case = rng.random()
    if case < 0.2:
        text = text.lower()
    elif case < 0.25:
        text = text.upper()
    return text, d.isoformat()


def make_date_task(n_train: int = 10000, n_validation: int = 1000, n_test: int = 1000, seed: int = 0) -> Seq2SeqSplits:
    """Deterministic splits of distinct dates (so no pair is shared by two splits)."""
    total = n_train + n_validation + n_test
    if total > DAYS:
        raise ValueError(f"at most {DAYS} examples (distinct dates), asked for {total}")
    rng = random.Random(seed)
    offsets = rng.sample(range(DAYS), total)
    pairs = [date_example(FIRST + dt.timedelta(days=o), rng) for o in offsets]
    return Seq2SeqSplits(pairs[:n_train], pairs[n_train : n_train + n_validation], pairs[n_train + n_validation :])


def demo_dates(size: int, seed: int):
    """The translation task's built-in demo: `size` date pairs split 80/10/10
    into train/validation/test lists of `(source, target)`.

    Args:
        size: pairs in all.
        seed: the generator's seed.
    """
    held = max(1, size // 10)
    task = make_date_task(n_train=size - 2 * held, n_validation=held, n_test=held, seed=seed)
    return task.train, task.validation, task.test
