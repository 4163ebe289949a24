"""The report's own figures, drawn with matplotlib from the CSVs: per-epoch training curves and
the style-weight trade-off sweep."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline.evaluation.figures import save_figure  # noqa: E402

NOT_PLOTTED = {"epoch", "lr"}  # the x axis, and the schedule (a known shape, not a result)


def plot_training_curves(curves: pd.DataFrame, title: str, path: Path) -> None:
    """Losses on the left, every other per-epoch column (error rates, accuracies, Q...) on the
    right, against `epoch`. New columns in a curves file show up without code changes."""
    columns = [c for c in curves.columns if c not in NOT_PLOTTED]
    groups = [[c for c in columns if "loss" in c], [c for c in columns if "loss" not in c]]
    groups = [g for g in groups if g]
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.2), squeeze=False)
    for ax, group in zip(axes[0], groups):
        for column in group:
            ax.plot(curves["epoch"], pd.to_numeric(curves[column], errors="coerce"), marker="o", label=column)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    save_figure(fig, path)


def plot_tradeoff(sweep: pd.DataFrame, path: Path) -> None:
    """Words kept against style gained: the ASR judge's CER (x) and p(hip-hop) (y) of each
    style weight, one line per `flow` setting when the sweep has one, each point labelled with
    its weight."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    groups = sweep.groupby("flow", sort=True) if "flow" in sweep.columns else [(None, sweep)]
    for flow, rows in groups:
        rows = rows.sort_values("style_weight")
        ax.plot(rows["content_cer"], rows["hiphop_probability"], marker="o",
                label=None if flow is None else f"flow {flow}")
        for weight, x, y in zip(rows["style_weight"], rows["content_cer"], rows["hiphop_probability"]):
            ax.annotate(f"{weight:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel("content CER (ASR judge; lower keeps more words)")
    ax.set_ylabel("p(hip-hop) (hip-hop judge)")
    ax.set_title("style weight trade-off")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    save_figure(fig, path)
