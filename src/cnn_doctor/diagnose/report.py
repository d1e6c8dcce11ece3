"""Persist a diagnosis: ``trace.json``, ``diagnosis.json``, evidence plots and the report section.

Plots use matplotlib's object API with the Agg canvas (no pyplot global state), so saving works
in threads, in tests and on machines without a display.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np

from cnn_doctor.diagnose import thresholds as T
from cnn_doctor.diagnose.detectors import Diagnosis
from cnn_doctor.diagnose.findings import findings_to_json
from cnn_doctor.diagnose.trace import Trace
from cnn_doctor.report.curves import new_figure, save_figure

DIAGNOSIS_FILE = "diagnosis.json"
SECTION_KEY = "diagnosis"
PLOT_DIR = "diagnosis_plots"


# Which plots support which finding (placed beside its card); the rest follow the findings.
_FINDING_PLOTS: dict[str, tuple[str, ...]] = {
    "vanishing_gradients": ("gradients", "activations"),
    "exploding_gradients": ("gradients",),
    "dead_relu": ("activations",),
    "saturated_activations": ("activations",),
    "lr_too_high": ("curves", "update_ratios"),
    "lr_too_low": ("update_ratios", "curves"),
    "frozen_layers": ("gradients", "curves"),
    "prediction_collapse": ("predictions",),
    "unshuffled_data": ("predictions", "curves"),
    "label_noise": ("curves", "predictions"),
}
_DEFAULT_PLOTS = ("curves",)


def save_diagnosis(
    trace: Trace, diagnosis: Diagnosis, run_dir: Path, *, json_path: Path | None = None
) -> Path:
    """Write everything into ``run_dir`` (created if needed); returns ``diagnosis.json``'s path."""
    from cnn_doctor.report.html import (
        ReportSection,
        findings_html,
        verdict_html,
        write_report,
    )

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    trace.save(run_dir / "trace.json")
    out = run_dir / DIAGNOSIS_FILE
    extra = diagnosis_extra(diagnosis)
    findings_to_json(diagnosis.findings, out, **extra)
    if json_path is not None:
        findings_to_json(diagnosis.findings, Path(json_path), **extra)
    plots = {p.stem: p for p in save_evidence_plots(trace, run_dir / PLOT_DIR)}
    beside = {
        f.id: [plots[name] for name in _FINDING_PLOTS.get(f.id, _DEFAULT_PLOTS) if name in plots]
        for f in diagnosis.findings
    }
    used = {p for paths in beside.values() for p in paths}
    body = ""
    if diagnosis.verdict is not None:
        body += verdict_html(diagnosis.verdict.state, diagnosis.verdict.sentence)
    body += findings_html(diagnosis.findings, beside)
    for title, items in (
        ("Could not be judged on this run", diagnosis.limited),
        ("Detectors that could not run", diagnosis.skipped),
    ):
        if items:
            body += (
                f"<p>{html.escape(title)}:</p><ul>"
                + "".join(
                    f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>"
                    for k, v in sorted(items.items())
                )
                + "</ul>"
            )
    if trace.notes:
        body += "<p>Notes:</p><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in trace.notes)
        body += "</ul>"
    rest = [p for p in plots.values() if p not in used]
    if rest:
        body += "<h3>Other measured signals</h3>"
    ReportSection("Diagnosis", body, rest, order=20).save(run_dir, SECTION_KEY)
    write_report(run_dir)
    return out


def diagnosis_extra(diagnosis: Diagnosis) -> dict:
    """What diagnosis.json holds besides the findings: verdict, skipped and limited detectors."""
    return {
        "verdict": diagnosis.verdict.to_dict() if diagnosis.verdict else None,
        "skipped": diagnosis.skipped,
        "limited": diagnosis.limited,
    }


def save_evidence_plots(trace: Trace, out_dir: Path) -> list[Path]:
    """PNG plots of the signals the detectors read; only those the trace holds."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, plot in (
        ("curves", _plot_curves),
        ("gradients", _plot_gradients),
        ("update_ratios", _plot_update_ratios),
        ("activations", _plot_activations),
        ("predictions", _plot_predictions),
    ):
        fig = plot(trace)
        if fig is None:
            continue
        fig.tight_layout()
        paths.append(save_figure(fig, out_dir / f"{name}.png", dpi=90))
    return paths


def _plot_curves(trace: Trace):
    if not trace.history:
        return None
    fig = new_figure()
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = np.arange(1, trace.epochs + 1)
    for key, style in (("loss", "-o"), ("val_loss", "--o")):
        if trace.has_series(key):
            ax_loss.plot(epochs, trace.series(key), style, label=key, markersize=3)
    if trace.initial_loss is not None and math.isfinite(trace.initial_loss):
        ax_loss.plot([0], [trace.initial_loss], "k*", label="initial (probe)")
    classes = trace.num_classes()
    if classes:
        ax_loss.axhline(math.log(classes), color="grey", lw=0.8, ls=":", label=f"ln({classes})")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_title("loss")
    ax_loss.legend(fontsize=8)
    for key, style in (("accuracy", "-o"), ("val_accuracy", "--o")):
        if trace.has_series(key):
            ax_acc.plot(epochs, trace.series(key), style, label=key, markersize=3)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_title("accuracy")
    if trace.has_series("accuracy") or trace.has_series("val_accuracy"):
        ax_acc.legend(fontsize=8)
    return fig


def _plot_layers(trace: Trace, attr: str, title: str, band: tuple[float, float] | None):
    """One line per probe (early = dark, late = light) across the layers, first layer left:
    vanishing gradients show as a slope down towards the input."""
    probes = [p for p in trace.probes if any(getattr(w, attr) is not None for w in p.kernels())]
    if not probes:
        return None
    if len(probes) > 8:  # keep the legend readable: first, last and evenly spaced between
        picks = np.unique(np.linspace(0, len(probes) - 1, 8).round().astype(int))
        probes = [probes[i] for i in picks]
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    layers = [w.layer.rsplit("/", 1)[-1] for w in probes[-1].kernels()]
    fig = new_figure(max(6.0, 0.5 * len(layers) + 3), 4)
    ax = fig.subplots()
    for i, probe in enumerate(probes):
        values = []
        for w in probe.kernels():
            value = getattr(w, attr)
            values.append(math.nan if value is None or not value > 0 else value)
        color = cmap(i / max(len(probes) - 1, 1))
        ax.plot(
            range(len(values)),
            values,
            "-o",
            markersize=3,
            color=color,
            label=f"epoch {probe.epoch}",
        )
    ax.set_yscale("log")
    if band:
        ax.axhspan(*band, color="green", alpha=0.08, label="healthy band")
    ax.set_xticks(range(len(layers)))
    ax.set_xticklabels(layers, rotation=45, ha="right", fontsize=7)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    return fig


def _plot_gradients(trace: Trace):
    return _plot_layers(trace, "grad_norm", "gradient norm per layer (input side left)", None)


def _plot_update_ratios(trace: Trace):
    return _plot_layers(
        trace,
        "step_ratio",
        "update / weight ratio of one step",
        (T.UPDATE_RATIO_LOW, T.UPDATE_RATIO_HIGH),
    )


def _plot_activations(trace: Trace):
    """Left: dead (ReLU) / saturated (sigmoid, tanh) share per layer over time. Right: how much
    each activation layer's response differs between images, input side left, one line per
    probe -- a forward signal fading with depth slopes down to the right."""
    probes = [p for p in trace.probes if p.activations]
    if not probes:
        return None
    fig = new_figure(11, 4)
    ax_frac, ax_sig = fig.subplots(1, 2)
    layers = [a.layer for a in probes[-1].activations]
    for layer in layers:
        for attr, label in (("dead_fraction", "dead"), ("saturated_fraction", "saturated")):
            values = []
            for p in probes:
                stat = next((a for a in p.activations if a.layer == layer), None)
                value = getattr(stat, attr) if stat is not None else None
                values.append(math.nan if value is None else value)
            if not all(math.isnan(v) for v in values):
                ax_frac.plot(
                    [p.epoch for p in probes], values, "-o", markersize=3, label=f"{layer} {label}"
                )
    if ax_frac.lines:
        ax_frac.axhline(T.DEAD_LAYER_FRACTION, color="grey", lw=0.8, ls=":")
        ax_frac.set_ylim(-0.02, 1.02)
        ax_frac.legend(fontsize=6, ncol=2)
    else:
        ax_frac.text(
            0.5,
            0.5,
            "no ReLU / sigmoid / tanh layers",
            ha="center",
            va="center",
            transform=ax_frac.transAxes,
        )
    ax_frac.set_xlabel("epoch (probe)")
    ax_frac.set_title("dead / saturated fraction per layer", fontsize=9)
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for i, probe in enumerate(probes):
        values = [
            a.signal_std if a.signal_std and a.signal_std > 0 else math.nan
            for a in probe.activations
        ]
        ax_sig.plot(
            range(len(values)),
            values,
            "-o",
            markersize=3,
            color=cmap(i / max(len(probes) - 1, 1)),
            label=f"epoch {probe.epoch}",
        )
    ax_sig.set_yscale("log")
    ax_sig.set_xticks(range(len(layers)))
    ax_sig.set_xticklabels(
        [name.rsplit("/", 1)[-1] for name in layers], rotation=45, ha="right", fontsize=7
    )
    ax_sig.set_title("response spread across images (input side left)", fontsize=9)
    ax_sig.legend(fontsize=6, ncol=2)
    return fig


def _plot_predictions(trace: Trace):
    """Predicted classes of the probe images at each probe (stacked shares) beside the labels'
    share: a collapse shows as one colour filling the bar; class-ordered batches as the same
    colour at every epoch end."""
    probes = [p for p in trace.probes if p.output is not None and p.output.predicted_counts]
    if not probes:
        return None
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    fig = new_figure(8, 3.5)
    ax = fig.subplots()
    columns = [(f"epoch {p.epoch}", p.output.predicted_counts) for p in probes]
    labels = probes[-1].output.label_counts
    if labels:
        columns.append(("labels", labels))
    for x, (_, counts) in enumerate(columns):
        total = float(sum(counts)) or 1.0
        bottom = 0.0
        for c, n in enumerate(counts):
            share = n / total
            ax.bar(x, share, bottom=bottom, color=cmap(c % 10), width=0.7)
            bottom += share
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels([name for name, _ in columns], rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("share of probe images")
    ax.set_title("predicted class per probe (colour = class)", fontsize=9)
    return fig
