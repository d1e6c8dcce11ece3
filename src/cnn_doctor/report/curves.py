"""Training curves (loss and accuracy, train vs validation) as a PNG, and the one way cnn-doctor
makes a figure.

Every plot is drawn on a ``matplotlib.figure.Figure`` with its own Agg canvas: no pyplot, no
``matplotlib.use``. Importing cnn-doctor therefore never switches the backend of a user's notebook,
figures are never kept alive in pyplot's global registry, and saving works on headless machines.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnn_doctor.atomic import atomic_write

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def new_figure(width: float = 10.0, height: float = 4.0, **kwargs: Any) -> Figure:
    """A figure bound to an Agg canvas, outside pyplot's global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), **kwargs)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """PNG of ``fig`` at ``path``, written atomically (never a half-written image)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=dpi))


def save_epoch_overlay(fig: Figure, path: str | Path) -> Path:
    """Finish and save a figure of several runs overlaid per epoch, one panel a metric.

    ``compare`` and ``fix`` both draw one: the same finish (``epoch`` on every x axis, a light
    grid, the run names once in a small legend on the first panel) keeps them reading alike.
    """
    for ax in fig.axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    fig.axes[0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def plot_curves(history: Sequence[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Two panels — loss and accuracy per epoch — with validation dashed beside training."""
    epochs = [h["epoch"] for h in history]
    fig = new_figure(10, 3.6)
    ax_loss, ax_acc = fig.subplots(1, 2)
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
    return save_figure(fig, path, dpi=100)
