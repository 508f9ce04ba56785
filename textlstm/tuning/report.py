"""The results of a sweep: a table of trials, `trials.csv`, `summary.md`, `trials.png`.

```python
from textlstm.tuning.report import importance, trial_rows
rows = trial_rows(tuner.oracle, events)    # one dict per trial, best first
importance(rows, "val_accuracy")           # [('units_1', 0.62), ('learning_rate', 0.31), ...]
```

Importance is the share of the objective's variance explained by grouping
trials on one hyperparameter (eta squared; continuous values are grouped in
quartiles): a quick ranking, not a causal measure.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from textlstm.files import atomic_path, write_text_atomic
from textlstm.tuning.space import HYPERBAND_KEYS

BASE_COLUMNS = ("trial", "status")


def read_events(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by a kill
            continue
    return events


def trial_rows(oracle, events: list[dict], objective: str, direction: str, max_epochs: int | None = None) -> list[dict]:
    """One dict per trial, completed trials first, best first: `trial` (1-based),
    `status`, the objective, the hyperparameters, `epochs`, the other metrics
    at the best epoch, `seconds`, the `tuner` that ran it and how many `runs`
    it took (a trial cut off by a kill runs again)."""
    ends = {e["trial"]: e for e in events if e.get("event") == "end"}
    runs: dict[str, int] = {}
    for e in events:
        if e.get("event") == "begin":
            runs[e["trial"]] = runs.get(e["trial"], 0) + 1
    rows = []
    for trial_id, trial in oracle.trials.items():
        values = trial.hyperparameters.values
        row = {"trial": int(trial_id) + 1, "status": trial.status, objective: trial.score}
        row.update({k: v for k, v in values.items() if k not in HYPERBAND_KEYS})
        row["epochs"] = values.get("tuner/epochs", max_epochs)
        for name in sorted(trial.metrics.metrics):
            if name != objective:
                value = trial.metrics.get_last_value(name)
                row[name] = int(value) if name in ("best_epoch", "epochs_run") else value
        end = ends.get(trial_id, {})
        row.update({"seconds": end.get("seconds"), "tuner": end.get("tuner"), "runs": runs.get(trial_id, 0)})
        rows.append(row)
    sign = -1 if direction == "max" else 1
    done = sorted(
        (r for r in rows if r["status"] == "COMPLETED" and _number(r[objective])), key=lambda r: sign * r[objective]
    )
    return done + sorted((r for r in rows if r not in done), key=lambda r: r["trial"])


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def columns(rows: list[dict]) -> list[str]:
    cols: list[str] = []
    for row in rows:
        cols += [k for k in row if k not in cols]
    return cols


def write_csv(rows: list[dict], path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns(rows))
        writer.writeheader()
        writer.writerows(rows)
    return path


def hyperparameter_names(rows: list[dict], objective: str) -> list[str]:
    """The hyperparameter columns: `trial_rows` puts them between the
    objective and `epochs` (the metrics and bookkeeping come after)."""
    names: list[str] = []
    for row in rows:
        keys = list(row)
        if objective in keys and "epochs" in keys:
            names += [k for k in keys[keys.index(objective) + 1 : keys.index("epochs")] if k not in names]
    return names


def importance(rows: list[dict], objective: str) -> list[tuple[str, float]]:
    """Hyperparameters ranked by eta squared of the objective (see module docstring)."""
    done = [r for r in rows if r["status"] == "COMPLETED" and _number(r.get(objective))]
    scores = [r[objective] for r in done]
    if len(done) < 2:
        return []
    mean = sum(scores) / len(scores)
    total = sum((s - mean) ** 2 for s in scores)
    ranked = []
    for name in hyperparameter_names(rows, objective):
        groups: dict = {}
        for row, score in zip(done, scores):
            groups.setdefault(_group(row.get(name), [r.get(name) for r in done]), []).append(score)
        if len(groups) < 2:
            continue
        between = sum(len(g) * (sum(g) / len(g) - mean) ** 2 for g in groups.values())
        ranked.append((name, between / total if total > 0 else 0.0))
    return sorted(ranked, key=lambda item: -item[1])


def _group(value, all_values):
    numbers = sorted({v for v in all_values if _number(v)})
    if _number(value) and len(numbers) > 4:  # quartiles of a continuous parameter
        return min(3, 4 * numbers.index(value) // len(numbers))
    return repr(value)


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_summary(rows: list[dict], path: str | Path, header: dict, objective: str) -> Path:
    """`summary.md`: the sweep settings, the best trial, importance and the table."""
    lines = ["# Hyperparameter sweep", ""]
    lines += [f"- **{k}**: {_fmt(v)}" for k, v in header.items()]
    if rows and rows[0]["status"] == "COMPLETED":
        best = rows[0]
        hps = ", ".join(f"{k}={_fmt(best[k])}" for k in hyperparameter_names(rows, objective) if k in best)
        lines += ["", f"Best: trial {best['trial']}, {objective} = {_fmt(best[objective])} ({hps})"]
    ranked = importance(rows, objective)
    if ranked:
        lines += ["", "Most important hyperparameters (share of the objective's variance):", ""]
        lines += [f"1. {name}: {share:.2f}" for name, share in ranked]
    cols = columns(rows)
    lines += ["", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |" for r in rows]
    write_text_atomic(path, "\n".join(lines) + "\n")
    return Path(path)


def plot_trials(rows: list[dict], path: str | Path, objective: str, direction: str, top: int = 3):
    """`trials.png`: the objective per trial (with the running best) and
    against the `top` most important hyperparameters."""
    import matplotlib
    import matplotlib.ticker

    from textlstm.evaluation import new_figure, save_figure

    done = sorted(
        (r for r in rows if r["status"] == "COMPLETED" and _number(r.get(objective))), key=lambda r: r["trial"]
    )
    names = [name for name, _ in importance(rows, objective)[:top]]
    fig = new_figure((4.2 * (1 + len(names)), 3.6))
    axes = fig.subplots(1, 1 + len(names), squeeze=False)
    ax = axes[0][0]
    xs, ys = [r["trial"] for r in done], [r[objective] for r in done]
    ax.plot(xs, ys, "o", label="trial")
    best, running = [], None
    for y in ys:
        running = y if running is None else (max(running, y) if direction == "max" else min(running, y))
        best.append(running)
    ax.step(xs, best, where="post", label="best so far")
    ax.set(xlabel="trial", ylabel=objective, title=f"{objective} per trial")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.legend(loc="best", fontsize="small")
    for ax, name in zip(axes[0][1:], names):
        values = [r.get(name) for r in done]
        if all(_number(v) for v in values):
            ax.plot(values, ys, "o")
            if min(values) > 0 and max(values) / min(values) > 20:
                ax.set_xscale("log")
        else:
            labels = sorted({str(v) for v in values})
            ax.plot([labels.index(str(v)) for v in values], ys, "o")
            ax.set_xticks(range(len(labels)), labels)
        ax.set(xlabel=name, title=f"{objective} vs {name}")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    return Path(path)
