"""Side-by-side comparison of run directories: a table of results and overlaid learning curves.

The table shows only the config keys that *differ* between the runs: with ~40 keys per config, the
differences are what explain the difference in accuracy. Works on interrupted runs too (no
``summary.json`` yet): their figures come from ``metrics.jsonl``. Nothing here imports keras.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from cnn_doctor.config import ConfigError

# Keys whose difference says nothing about the recipe.
_IGNORED_KEYS = {"run.name", "run.out_dir", "data.data_dir"}


class CompareError(ConfigError):
    """A path given to ``compare`` is not a readable run directory."""


@dataclass
class RunInfo:
    """What ``compare`` reads from one run directory."""

    path: Path
    config: dict[str, Any]  # flattened: {"optim.lr": 0.2, ...}
    summary: dict[str, Any]
    history: list[dict[str, Any]]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def complete(self) -> bool:
        return bool(self.summary)

    def figure(self, key: str) -> Any:
        """A headline figure from ``summary.json``, or recomputed from the epochs if absent."""
        if key in self.summary and self.summary[key] is not None:
            return self.summary[key]
        vals = [h.get("val_accuracy") for h in self.history if h.get("val_accuracy") is not None]
        if key == "best_val_accuracy":
            return max(vals) if vals else None
        if key == "final_val_accuracy":
            return vals[-1] if vals else None
        if key == "epochs":
            return len(self.history)
        if key == "wall_seconds":
            return round(sum(h.get("seconds") or 0 for h in self.history), 2) or None
        return None


def _flatten(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        f"{section}.{key}": value
        for section, values in raw.items()
        if isinstance(values, dict)
        for key, value in values.items()
    }


def load_run(path: str | Path) -> RunInfo:
    """Read a run directory, or raise ``CompareError`` saying what is missing."""
    path = Path(path)
    if not path.is_dir():
        raise CompareError(f"{path} is not a directory")
    config_file, metrics_file = path / "config.toml", path / "metrics.jsonl"
    if not config_file.is_file() and not metrics_file.is_file():
        raise CompareError(f"{path} is not a run directory (no config.toml or metrics.jsonl)")
    config: dict[str, Any] = {}
    if config_file.is_file():
        try:
            config = _flatten(tomllib.loads(config_file.read_text()))
        except tomllib.TOMLDecodeError as error:
            raise CompareError(f"{config_file}: not valid TOML ({error})") from None
    history: list[dict[str, Any]] = []
    if metrics_file.is_file():
        lines = metrics_file.read_text().splitlines()
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                history.append(json.loads(line))
            except json.JSONDecodeError:
                # A run killed mid-write can leave a torn last line; everything before it is good.
                if n == len(lines):
                    break
                raise CompareError(f"{metrics_file}:{n}: not valid JSON") from None
    summary: dict[str, Any] = {}
    summary_file = path / "summary.json"
    if summary_file.is_file():
        try:
            summary = json.loads(summary_file.read_text())
        except json.JSONDecodeError:
            raise CompareError(f"{summary_file}: not valid JSON") from None
    return RunInfo(path, config, summary, history)


FIGURES = (
    ("test_accuracy", "test acc"),
    ("best_val_accuracy", "best val acc"),
    ("final_val_accuracy", "final val acc"),
    ("epochs", "epochs"),
    ("wall_seconds", "wall s"),
    ("images_per_second", "img/s"),
)


@dataclass
class Comparison:
    runs: list[RunInfo]
    differing_keys: list[str] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per run: name, headline figures, then the differing config values."""
        out = []
        for run in self.runs:
            row: dict[str, Any] = {"run": run.name + ("" if run.complete else " (incomplete)")}
            for key, _label in FIGURES:
                row[key] = run.figure(key)
            for key in self.differing_keys:
                row[key] = run.config.get(key)
            out.append(row)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": [str(r.path) for r in self.runs],
            "differing_keys": self.differing_keys,
            "rows": self.rows(),
        }


def compare_runs(paths: Sequence[str | Path]) -> Comparison:
    """Load the runs and find which config keys differ between them."""
    if not paths:
        raise CompareError("give at least one run directory")
    runs = [load_run(p) for p in paths]
    keys = sorted(set().union(*(r.config for r in runs)) - _IGNORED_KEYS)
    differing = [
        k for k in keys if len({json.dumps(r.config.get(k), default=str) for r in runs}) > 1
    ]
    return Comparison(runs, differing)


def format_value(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1 else f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def comparison_markdown(comparison: Comparison) -> str:
    """The comparison table as markdown (for notes and issues)."""
    headers = ["run", *(label for _, label in FIGURES), *comparison.differing_keys]
    keys = ["run", *(key for key, _ in FIGURES), *comparison.differing_keys]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in comparison.rows():
        lines.append("| " + " | ".join(format_value(row[k]) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def plot_comparison(comparison: Comparison, path: str | Path) -> Path:
    """Validation accuracy and training/validation loss per epoch, one colour per run."""
    from matplotlib import colormaps

    from cnn_doctor.report.curves import new_figure, save_epoch_overlay

    fig = new_figure(11, 4)
    ax_acc, ax_loss = fig.subplots(1, 2)
    cmap = colormaps["tab10"]
    for i, run in enumerate(comparison.runs):
        color = cmap(i % 10)
        epochs = [h.get("epoch", n + 1) for n, h in enumerate(run.history)]

        def series(key: str, run: RunInfo = run) -> list[float]:
            return [float("nan") if h.get(key) is None else h[key] for h in run.history]

        ax_acc.plot(epochs, series("val_accuracy"), "-o", ms=3, color=color, label=run.name)
        ax_acc.plot(epochs, series("accuracy"), ":", color=color, alpha=0.6)
        ax_loss.plot(epochs, series("loss"), ":", color=color, alpha=0.6)
        ax_loss.plot(epochs, series("val_loss"), "-o", ms=3, color=color, label=run.name)
    ax_acc.set_title("accuracy (solid: validation, dotted: train)", fontsize=10)
    ax_loss.set_title("loss (solid: validation, dotted: train)", fontsize=10)
    return save_epoch_overlay(fig, path)
