"""Figures as files: PNG, written atomically, with no metadata so the same figure gives the same bytes."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from pipeline.fileio import atomic_path  # noqa: E402


def save_figure(fig, path: str | Path) -> None:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        # no metadata: the same figure gives the same bytes
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
