"""The data-check part of ``report.html``: a summary, the ranked findings, and one image grid per
issue, so a person can *look* at the worst offenders rather than read indices.

Grids are PNG files next to the report (``data_check/<finding id>.png``); the HTML embeds them.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnn_doctor.data.checks.base import DataCheckInput, DataCheckResult
from cnn_doctor.data.checks.features import channel_stats_for
from cnn_doctor.data.image_grid import save_image_grid, save_pair_grid
from cnn_doctor.diagnose.findings import Finding
from cnn_doctor.report.html import findings_html

GRID_DIR = "data_check"
MAX_SINGLES = 40
MAX_PAIRS = 30
_PAIR_KINDS = ("near_duplicates", "train_test_leakage")


def _row_of(data: DataCheckInput, split: str, index: int) -> int | None:
    """Array row of record ``index`` of ``split`` (identity unless records were dropped)."""
    table = data.train_index if split == "train" else data.test_index
    n = data.n_train if split == "train" else data.n_test
    if table is None:
        return index if 0 <= index < n else None
    pos = int(np.searchsorted(table, index))
    return pos if pos < len(table) and int(table[pos]) == index else None


def _image(data: DataCheckInput, item: Sequence[Any]) -> np.ndarray | None:
    split, index = item[0], int(item[1])
    row = _row_of(data, split, index)
    return None if row is None else data.image(split, row)


def _label(data: DataCheckInput, item: Sequence[Any]) -> str:
    split, index = item[0], int(item[1])
    row = _row_of(data, split, index)
    labels = data.y_train if split == "train" else data.y_test
    if row is None or labels is None:
        return ""
    return data.class_names[int(labels[row])]


def _pair_grid(data: DataCheckInput, finding: Finding, path: Path) -> Path | None:
    pairs: list[tuple[Any, Any, str]] = []
    if finding.id == "exact_duplicates":
        for group in finding.evidence.get("duplicate_groups", []):
            for member in group[1:]:
                pairs.append((group[0], member, "identical"))
    else:
        for p in finding.evidence.get("pairs", []):
            pairs.append((p["partner"], p["item"], f"ncc {p.get('ncc', 1.0):.3f}"))
    left, right, captions = [], [], []
    for keep, flagged, note in pairs[:MAX_PAIRS]:
        a, b = _image(data, keep), _image(data, flagged)
        if a is None or b is None:
            continue
        left.append(a)
        right.append(b)
        captions.append(
            [
                f"{keep[0]} {keep[1]} | {flagged[0]} {flagged[1]}",
                f"{_label(data, keep)} | {_label(data, flagged)}",
                note,
            ]
        )
    if not left:
        return None
    shown = len(left)
    title = (
        f"{finding.id}: {shown} of {len(finding.items)} - left: kept record, right: flagged copy"
    )
    return save_pair_grid(np.stack(left), np.stack(right), path, captions=captions, title=title)


def _single_grid(data: DataCheckInput, finding: Finding, path: Path) -> Path | None:
    detail = {tuple(w["item"]): w for w in finding.evidence.get("worst", [])}
    images, captions = [], []
    for item in finding.items[:MAX_SINGLES]:
        image = _image(data, item)
        if image is None:
            continue
        w = detail.get(tuple(item), {})
        lines = [f"{item[0]} {item[1]}"]
        if finding.id == "label_issues" and w:
            prob = w["predicted_probability"]
            lines += [f"given {w['given']}", f"pred {w['predicted']} {prob:.2f}"]
        elif finding.id == "degenerate_images" and w:
            lines += [w["reason"], f"std {w['std']}"]
        elif finding.id == "outlier_images" and w:
            lines += [_label(data, item), f"score {w['score']}"]
        else:
            lines.append(_label(data, item))
        images.append(image)
        captions.append(lines)
    if not images:
        return None
    title = f"{finding.id}: {len(images)} of {len(finding.items)}, worst first"
    return save_image_grid(np.stack(images), path, captions=captions, title=title)


def write_grids(
    data: DataCheckInput, findings: Sequence[Finding], out_dir: str | Path
) -> dict[str, Path]:
    """One PNG per finding that has records to show; returns ``{finding id: path}``."""
    folder = Path(out_dir) / GRID_DIR
    grids: dict[str, Path] = {}
    for finding in findings:
        if not finding.items:
            continue
        path = folder / f"{finding.id}.png"
        if finding.id in _PAIR_KINDS or finding.id == "exact_duplicates":
            made = _pair_grid(data, finding, path)
        else:
            made = _single_grid(data, finding, path)
        if made is not None:
            grids[finding.id] = made
    return grids


def dataset_summary(data: DataCheckInput) -> dict[str, Any]:
    """Sizes, per-channel pixel statistics and class counts, for the report and the JSON."""
    mean, std = channel_stats_for(data)
    summary: dict[str, Any] = {
        "source": data.source,
        "train_images": data.n_train,
        "test_images": data.n_test,
        "classes": list(data.class_names),
        "train_channel_mean_0_1": [round(float(v) / 255, 4) for v in mean],
        "train_channel_std_0_1": [round(float(v) / 255, 4) for v in std],
        "train_class_counts": np.bincount(data.y_train, minlength=data.num_classes).tolist(),
    }
    if data.normalize or data.normalizer is not None:
        from cnn_doctor.data.checks.normalization import UnnormalizedInputs

        m = UnnormalizedInputs().measure(data)
        summary["normalization"] = {
            "mode": m["mode"],
            "input_channel_mean": m["input_mean"],
            "input_channel_std": m["input_std"],
        }
    if data.y_test is not None:
        summary["test_class_counts"] = np.bincount(data.y_test, minlength=data.num_classes).tolist()
    if data.val_rows is not None:
        summary["validation_images"] = len(data.val_rows)
    if data.unreadable is not None:
        summary["unreadable_records"] = len(data.unreadable)
    return summary


def _summary_html(summary: dict[str, Any]) -> str:
    rows = []
    for key, value in summary.items():
        text = value if isinstance(value, str) else json.dumps(value)
        rows.append(f"<tr><th>{html.escape(key)}</th><td>{html.escape(str(text))}</td></tr>")
    return f"<table>{''.join(rows)}</table>"


def save_sections(
    run_dir: str | Path,
    data: DataCheckInput,
    result: DataCheckResult,
    grids: dict[str, Path],
    summary: dict[str, Any],
) -> None:
    """Persist the data-check report sections in ``run_dir`` (``write_report`` renders them)."""
    from cnn_doctor.report.html import ReportSection

    skipped = "".join(
        f"<li><code>{html.escape(s.name)}</code>: {html.escape(s.reason)}</li>"
        for s in result.skipped
    )
    body = (
        _summary_html(summary)
        + "<h3>Findings (most likely root cause first)</h3>"
        + findings_html(result.findings, {k: [v] for k, v in grids.items()})
        + (f"<h3>Skipped checks</h3><ul>{skipped}</ul>" if skipped else "")
        + "<p><small>Check times (s): "
        + html.escape(json.dumps(result.seconds))
        + "</small></p>"
    )
    ReportSection("Data check", body, [], order=20).save(run_dir, "data_check")


def write_data_check_report(
    run_dir: str | Path, data: DataCheckInput, result: DataCheckResult
) -> tuple[Path, dict[str, Path], dict[str, Any]]:
    """Grids + sections + ``report.html`` in ``run_dir``; returns (report, grids, summary)."""
    from cnn_doctor.report.html import write_report

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    grids = write_grids(data, result.findings, run_dir)
    summary = dataset_summary(data)
    save_sections(run_dir, data, result, grids, summary)
    return write_report(run_dir, title="cnn-doctor data check"), grids, summary
