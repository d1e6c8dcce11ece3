"""The training section of a run's report: summary figures and the curves."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnn_doctor.report.html import ReportSection, write_report


def write_training_report(
    run_dir: Path, summary: dict[str, Any], history: Sequence[dict[str, Any]]
) -> Path:
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in summary.items()
        if k != "versions"
    )
    epochs = "".join(
        "<tr>" + "".join(f"<td>{_fmt(h.get(k))}</td>" for k in _COLUMNS) + "</tr>" for h in history
    )
    head = "".join(f"<th>{k}</th>" for k in _COLUMNS)
    body = f"<table>{rows}</table><table><tr>{head}</tr>{epochs}</table>"
    ReportSection("Training", body, [Path(run_dir) / "curves.png"], order=10).save(
        run_dir, "training"
    )
    return write_report(run_dir, title=f"cnn-doctor run {Path(run_dir).name}")


_COLUMNS = ("epoch", "lr", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)
