"""Plots are drawn on their own Figure: importing or plotting never touches a user's pyplot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image

from cnn_doctor.report.curves import new_figure, plot_curves, save_epoch_overlay

HISTORY = [
    {"epoch": 1, "loss": 2.0, "accuracy": 0.3, "val_loss": 2.1, "val_accuracy": 0.28},
    {"epoch": 2, "loss": 1.5, "accuracy": 0.5, "val_loss": None, "val_accuracy": None},
]


def test_curves_are_a_png_written_atomically(tmp_path: Path):
    path = plot_curves(HISTORY, tmp_path / "curves.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (1000, 360)
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]  # no temporary left


def test_an_epoch_overlay_names_its_runs_once_and_labels_every_epoch_axis(tmp_path: Path):
    fig = new_figure(10, 4)
    ax_acc, ax_loss = fig.subplots(1, 2)
    for name, offset in (("baseline", 0.0), ("fixed", 0.1)):
        ax_acc.plot([1, 2, 3], [0.3 + offset, 0.4 + offset, 0.5 + offset], label=name)
        ax_loss.plot([1, 2, 3], [2.0 - offset, 1.5 - offset, 1.2 - offset], label=name)
    path = save_epoch_overlay(fig, tmp_path / "overlay.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (1000, 400)
    assert [ax.get_xlabel() for ax in (ax_acc, ax_loss)] == ["epoch", "epoch"]
    assert all(line.get_visible() for ax in (ax_acc, ax_loss) for line in ax.get_xgridlines())
    assert [t.get_text() for t in ax_acc.get_legend().get_texts()] == ["baseline", "fixed"]
    assert ax_loss.get_legend() is None  # the runs are named once, on the first panel


def test_plotting_leaves_the_users_backend_and_pyplot_alone(tmp_path: Path):
    script = f"""
import sys, matplotlib
matplotlib.use("svg")  # the user's choice, e.g. a notebook's inline backend
import cnn_doctor.report.curves, cnn_doctor.investigate.ablation
import cnn_doctor.investigate.compare, cnn_doctor.investigate.lr_find
cnn_doctor.report.curves.plot_curves({HISTORY!r}, {str(tmp_path / "c.png")!r})
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["svg", "False"]
