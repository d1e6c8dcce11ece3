"""The one-line verdict a report opens with, read from the curves alone.

Before the list of causes a user needs the state of the run: is it learning at all? The five
states, checked in this order (the first that holds wins):

- ``diverged``: a NaN/inf loss or weight, or a loss >= 1e3 (AUTOTRAINER's bar, as ``diverged``)
  unless it was that huge before the first step and has only fallen since;
- ``not learning``: the last accuracy (validation if logged, else training) is not
  significantly above chance, 1/C (``thresholds.above_chance``, z = 3);
- ``overfitting``: the overfitting rules hold (validation loss rising or validation accuracy
  stalled while training improves; ``overfit_evidence``);
- ``learning slowly``: above chance, but the training loss fell by less than 5% over the recent
  window (TheDeepChecker's loss-not-decreasing check, the same window as ``underfitting``);
- ``learning``: none of the above.

Pure numpy on the trace, like the detectors; a trace without curves gets ``unknown``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnn_doctor.diagnose import signals as S
from cnn_doctor.diagnose import thresholds as T
from cnn_doctor.diagnose.detectors.hyperparameters import huge_from_the_start, overfit_evidence
from cnn_doctor.diagnose.trace import Trace

STATES = ("diverged", "not learning", "overfitting", "learning slowly", "learning", "unknown")
# Runs in these states cannot succeed as set up: their leading cause is critical.
FAILED_STATES = ("diverged", "not learning")


@dataclass(frozen=True)
class Verdict:
    state: str
    sentence: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "sentence": self.sentence, "evidence": self.evidence}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls(data["state"], data["sentence"], dict(data.get("evidence", {})))


def _last_accuracy(trace: Trace) -> tuple[str, float, int | None] | None:
    for key, size_key in (("val_accuracy", "num_val"), ("accuracy", "num_train")):
        values = trace.series(key)
        if values.size and math.isfinite(values[-1]):
            return key, float(values[-1]), trace.context.get(size_key)
    return None


def run_verdict(trace: Trace) -> Verdict:
    """The state of the run (see the module docstring)."""
    loss = trace.series("loss")
    if not trace.history:
        return Verdict("unknown", "No training curves were recorded.")
    bad = [
        i + 1
        for i, row in enumerate(trace.history)
        for key in ("loss", "val_loss")
        if key in row and not math.isfinite(float(row[key] if row[key] is not None else 0.0))
    ]
    huge = [
        i + 1 for i, v in enumerate(loss.tolist()) if math.isfinite(v) and abs(v) >= T.LOSS_HUGE
    ]
    if huge and huge_from_the_start(trace):
        huge = []  # started huge and falls: an initialisation problem, judged below
    if bad or huge or any(not p.finite for p in trace.trained_probes()):
        first = min(bad + huge) if bad or huge else None
        return Verdict(
            "diverged",
            "Diverged: the loss became NaN/inf or exploded"
            + (f" at epoch {first}." if first else " (weights or gradients are not finite)."),
            {"nonfinite_epochs": sorted(set(bad)), "huge_loss_epochs": huge},
        )
    classes = trace.num_classes()
    measured = _last_accuracy(trace)
    if classes and classes > 1 and measured is not None:
        key, value, examples = measured
        if not T.above_chance(value, classes, examples):
            name = "validation" if key == "val_accuracy" else "training"
            return Verdict(
                "not learning",
                f"Not learning: {name} accuracy is {value:.1%} after {trace.epochs} epoch(s), "
                f"no better than chance ({1 / classes:.0%} for {classes} classes).",
                {key: value, "chance": 1 / classes, "examples": examples, "z": T.CHANCE_Z},
            )
    if overfit_evidence(
        trace, generalization_loss=T.OVERFIT_GENERALIZATION_LOSS, min_epochs=T.MIN_EPOCHS_FOR_TREND
    ):
        acc, val = trace.series("accuracy"), trace.series("val_accuracy")
        detail = (
            f" (training accuracy {acc[-1]:.0%}, validation {val[-1]:.0%})"
            if acc.size and val.size and math.isfinite(acc[-1]) and math.isfinite(val[-1])
            else ""
        )
        return Verdict(
            "overfitting",
            f"Overfitting: training keeps improving while validation does not{detail}.",
        )
    finite = S.finite(loss)
    window = min(T.PLATEAU_WINDOW, max(T.MIN_EPOCHS_FOR_TREND, finite.size // 2))
    if finite.size >= T.MIN_EPOCHS_FOR_TREND:
        decrease = S.relative_decrease(finite, window)
        if decrease == decrease and decrease < T.PLATEAU_MIN_DECREASE:
            return Verdict(
                "learning slowly",
                f"Learning slowly: above chance, but the training loss fell only "
                f"{max(decrease, 0):.1%} over the last {window} epochs (< "
                f"{T.PLATEAU_MIN_DECREASE:.0%}).",
                {"window_decrease": decrease, "window": window},
            )
    text = "Learning: accuracy is above chance and the loss is still falling"
    if measured is not None:
        text += f" ({'validation' if measured[0] == 'val_accuracy' else 'training'} accuracy "
        text += f"{measured[1]:.1%} after {trace.epochs} epoch(s))"
    return Verdict("learning", text + ".", {"last_loss": float(np.nan_to_num(loss[-1]))})
