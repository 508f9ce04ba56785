"""Multi-label metrics and per-label decision thresholds (NumPy only).

>>> import numpy as np
>>> y = np.array([[1, 0, 1], [0, 1, 0]])
>>> p = np.array([[0.9, 0.6, 0.2], [0.1, 0.8, 0.3]])
>>> m = multilabel_metrics(y, p, ["a", "b", "c"])
>>> m["micro_f1"], m["subset_accuracy"], round(m["hamming_loss"], 4)
(0.6667, 0.5, 0.3333)
"""

from __future__ import annotations

import numpy as np

GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)


def _prf(tp, fp, fn):
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return float(precision), float(recall), float(f1)


def decide(probabilities, thresholds) -> np.ndarray:
    """Boolean `(n, labels)` decisions: probability >= the label's threshold.

    Args:
        probabilities: `(n, labels)` sigmoid outputs.
        thresholds: one threshold per label, or one for all.
    """
    return np.asarray(probabilities) >= np.asarray(thresholds, dtype="float64")


def multilabel_metrics(y_true, probabilities, names: list[str], thresholds=0.5) -> dict:
    """Micro/macro precision, recall and F1, per-label P/R/F1/support, subset
    accuracy (every label right) and Hamming loss (the share of wrong label decisions).

    Args:
        y_true: `(n, labels)` multi-hot targets.
        probabilities: `(n, labels)` probabilities.
        names: the label names.
        thresholds: one decision threshold per label, or one for all.
    """
    y = np.asarray(y_true) > 0.5
    pred = decide(probabilities, thresholds)
    tp = (y & pred).sum(0)
    fp = (~y & pred).sum(0)
    fn = (y & ~pred).sum(0)
    per_label = {}
    for i, name in enumerate(names):
        p, r, f = _prf(tp[i], fp[i], fn[i])
        per_label[name] = {
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(f, 4),
            "support": int(y[:, i].sum()),
        }
    micro = _prf(tp.sum(), fp.sum(), fn.sum())
    thresholds = np.broadcast_to(np.asarray(thresholds, dtype="float64"), (len(names),))
    return {
        "examples": int(len(y)),
        "micro_f1": round(micro[2], 4),
        "macro_f1": round(float(np.mean([v["f1"] for v in per_label.values()])), 4),
        "micro_precision": round(micro[0], 4),
        "micro_recall": round(micro[1], 4),
        "macro_precision": round(float(np.mean([v["precision"] for v in per_label.values()])), 4),
        "macro_recall": round(float(np.mean([v["recall"] for v in per_label.values()])), 4),
        "subset_accuracy": round(float((y == pred).all(1).mean()), 4) if len(y) else 0.0,
        "hamming_loss": round(float((y != pred).mean()), 4) if len(y) else 0.0,
        "per_label": per_label,
        "thresholds": {name: float(t) for name, t in zip(names, thresholds)},
    }


def micro_f1(y_true, probabilities, thresholds=0.5) -> float:
    """The micro-averaged F1 of thresholded probabilities."""
    y = np.asarray(y_true) > 0.5
    pred = decide(probabilities, thresholds)
    return _prf((y & pred).sum(), (~y & pred).sum(), (y & ~pred).sum())[2]


def tune_thresholds(y_true, probabilities, grid=GRID) -> list[float]:
    """Per label, the threshold on `grid` (0.05 ... 0.95) with the best F1 on
    these (validation) rows; ties go to the threshold nearest 0.5.

    >>> import numpy as np
    >>> tune_thresholds(np.array([[1], [0], [1]]), np.array([[0.3], [0.2], [0.9]]))
    [0.3]
    """
    y = np.asarray(y_true) > 0.5
    p = np.asarray(probabilities)
    best = []
    for i in range(y.shape[1]):
        scores = []
        for t in grid:
            pred = p[:, i] >= t
            scores.append(
                (_prf((y[:, i] & pred).sum(), (~y[:, i] & pred).sum(), (y[:, i] & ~pred).sum())[2], -abs(t - 0.5), t)
            )
        best.append(float(max(scores)[2]))
    return best
