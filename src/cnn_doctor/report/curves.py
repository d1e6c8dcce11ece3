"""Training curves (loss and accuracy, train vs validation) as a PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: runs write files, never open windows
import matplotlib.pyplot as plt  # noqa: E402


def plot_curves(history: Sequence[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Two panels — loss and accuracy per epoch — with validation dashed beside training."""
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, key in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = [h.get(prefix + key) for h in history]
            if any(v is not None for v in values):
                ax.plot(
                    epochs,
                    [float("nan") if v is None else v for v in values],
                    style,
                    marker="o",
                    markersize=3,
                    label=f"{'val' if prefix else 'train'} {key}",
                )
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
