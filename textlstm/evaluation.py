"""Classification metrics and the plots people look at.

```python
m = classification_metrics([0, 1, 1], np.array([[.9, .1], [.2, .8], [.6, .4]]), ["neg", "pos"])
m["accuracy"], m["macro_f1"], m["confusion_matrix"]
```
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

from textlstm.files import atomic_path


def classification_metrics(y_true, probs: np.ndarray, label_names: list[str]) -> dict:
    """Accuracy, macro and support-weighted precision/recall/F1, per-class
    scores (`per_class`: `{label: {precision, recall, f1, support}}`) and the
    confusion matrix (rows: true label, columns: predicted label)."""
    y_true = np.asarray(y_true, dtype=int)
    probs = np.asarray(probs)
    k = len(label_names)
    y_pred = probs.argmax(axis=1)
    cm = np.zeros((k, k), dtype=int)
    np.add.at(cm, (y_true, y_pred), 1)
    tp = np.diag(cm).astype(float)
    precision = np.divide(tp, cm.sum(axis=0), out=np.zeros(k), where=cm.sum(axis=0) > 0)
    recall = np.divide(tp, cm.sum(axis=1), out=np.zeros(k), where=cm.sum(axis=1) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    support = cm.sum(axis=1)
    share = support / support.sum() if support.sum() else np.zeros(k)
    return {
        "count": int(len(y_true)),
        "accuracy": float((y_pred == y_true).mean()) if len(y_true) else 0.0,
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
        "weighted_precision": float((precision * share).sum()),
        "weighted_recall": float((recall * share).sum()),
        "weighted_f1": float((f1 * share).sum()),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(label_names, precision, recall, f1, cm.sum(axis=1))
        },
        "labels": list(label_names),
        "confusion_matrix": cm.tolist(),
    }


def save_figure(fig, path: str | Path, **kwargs) -> Path:
    """`fig.savefig(path)` through a temporary file renamed into place
    (`textlstm.files.atomic_path`; it keeps the suffix, which picks the format)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, **kwargs)
    return Path(path)


def new_figure(figsize, **kwargs):
    """A `matplotlib.figure.Figure` outside pyplot's registry, so nothing keeps
    it alive once it is dropped (a sweep writes several per trial) and a
    notebook shows it only where a cell returns or `display`s it. Inside
    IPython, Figures are then drawn as PNG (what `%matplotlib inline` sets
    up), without pyplot.

    Args:
        figsize: `(width, height)` in inches.
        **kwargs: more `Figure` arguments (e.g. `layout="constrained"`).
    """
    from matplotlib.figure import Figure

    _draw_figures_in_ipython(Figure)
    return Figure(figsize=figsize, **kwargs)


def _draw_figures_in_ipython(figure_type) -> None:
    ipython = sys.modules.get("IPython")  # a running shell has imported it; scripts do not pay for the import
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return
    png = shell.display_formatter.formatters["image/png"]
    try:
        png.lookup_by_type(figure_type)  # already drawn (the inline backend, or an earlier call)
    except KeyError:
        from IPython.core.pylabtools import select_figure_formats

        select_figure_formats(shell, {"png"})


def read_history(path: str | Path) -> dict:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows if r.get(k) not in (None, "")] for k in (rows[0] if rows else {})}


def plot_history(history: dict, path: str | Path | None = None):
    """Learning curves: one panel per metric, training vs validation (and the
    fused model's validation score, where the history has one)."""
    metrics = [k for k in history if not k.startswith("val_") and k not in ("epoch", "epoch_time", "learning_rate")]
    fig = new_figure((4.5 * max(len(metrics), 1), 3.5))
    axes = fig.subplots(1, max(len(metrics), 1), squeeze=False)
    for ax, name in zip(axes[0], metrics):
        epochs = np.arange(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], "o-", label="train")
        if f"val_{name}" in history:
            ax.plot(epochs[: len(history[f"val_{name}"])], history[f"val_{name}"], "o-", label="validation")
        if f"val_fused_{name}" in history:  # textlstm.wide.component.FusedAccuracy: with a late wide path
            ax.plot(
                epochs[: len(history[f"val_fused_{name}"])],
                history[f"val_fused_{name}"],
                "o-",
                label="validation, fused",
            )
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    if path:
        save_figure(fig, path, dpi=110)
    return fig


def plot_per_class(per_class: dict, path: str | Path | None = None):
    """Bars of each class's precision, recall and F1 (`classification_metrics`'s
    `per_class`), with each class's support in its tick label."""
    names = list(per_class)
    x = np.arange(len(names))
    fig = new_figure((max(4.0, 1.2 + 1.1 * len(names)), 3.5))
    ax = fig.subplots()
    for i, key in enumerate(("precision", "recall", "f1")):
        ax.bar(x + (i - 1) * 0.27, [per_class[n][key] for n in names], 0.27, label=key)
    ax.set_xticks(x, [f"{n}\n(n={per_class[n]['support']})" for n in names])
    ax.set_ylim(0, 1.05)
    ax.set_title("per-class scores")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(loc="lower right")
    fig.tight_layout()
    if path:
        save_figure(fig, path, dpi=110)
    return fig


def plot_confusion_matrix(cm, label_names: list[str], path: str | Path | None = None):
    """Heat map of the confusion matrix with counts in the cells."""
    cm = np.asarray(cm)
    size = 1.2 + 0.6 * len(label_names)
    fig = new_figure((max(size, 3.5), max(size, 3.0)))
    ax = fig.subplots()
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(label_names)), label_names, rotation=45, ha="right")
    ax.set_yticks(range(len(label_names)), label_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
    ax.set_title("confusion matrix")
    fig.tight_layout()
    if path:
        save_figure(fig, path, dpi=110)
    return fig
