"""The ``Detector`` contract, the registry, and small helpers every detector shares.

A detector names one problem. It declares which trace signals it ``requires`` (all of them) and
``requires_any`` (at least one); thresholds are keyword-only constructor arguments, validated there
so a typo fails at construction, not as a silent non-detection. ``check(trace)`` is pure: it reads
the trace and returns findings, nothing else.

Severity means: ``critical`` -- training cannot succeed as set up (NaN, a softmax read as logits,
no gradient reaching the first layers); ``warning`` -- accuracy is measurably held back; ``info``
-- worth knowing, and possibly intended.

``consequence_of`` lists root causes that would *explain* this detector's symptom (prediction
collapse is what a dead network looks like from outside); when one of them is also found, the
symptom is ranked below it (see ``detectors.diagnose_trace``).

``capacity_symptom`` marks a symptom whose cost is lost capacity (units that pass nothing): in a
run that works (above chance, not diverged) it is reported as ``info``, since nothing in the run
shows that the lost units cost accuracy; only an A/B (``cnn-doctor fix``) could.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar

from cnn_doctor.diagnose.findings import Area, Finding, Fix, Severity
from cnn_doctor.diagnose.trace import Trace

DETECTORS: dict[str, type[Detector]] = {}

# What a user does to obtain a missing signal; used in "skipped" reasons.
SIGNAL_HINTS: dict[str, str] = {
    "gradients": "pass probe_data=(x, y) to Doctor",
    "update_ratios": "pass probe_data=(x, y) to Doctor",
    "activations": "pass probe_data to Doctor (and use a functional/Sequential model)",
    "outputs": "pass probe_data to Doctor",
    "probe_labels": "pass probe_data=(x, y) with labels to Doctor",
    "initial_loss": "pass probe_data=(x, y) to Doctor",
    "inputs": "pass probe_data to Doctor",
    "loss": "compile the model with a loss",
    "accuracy": "compile the model with metrics=['accuracy']",
    "val_loss": "pass validation_data to fit()",
    "val_accuracy": "pass validation_data to fit() and metrics=['accuracy']",
    "weight_updates": "let the Doctor probe after at least one epoch",
    "context.augment": "tell the Doctor: Doctor(context={'augment': [...]}) ([] = none)",
    "context.batch_size": "tell the Doctor: Doctor(context={'batch_size': ...})",
    "context.from_logits": "compile with a cross-entropy loss object or name",
}

D = TypeVar("D", bound="type[Detector]")


class Detector:
    """Base class: subclasses set ``id``, ``area``, ``requires`` and implement ``check``."""

    id: ClassVar[str]
    area: ClassVar[Area]
    description: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    requires_any: ClassVar[tuple[str, ...]] = ()
    consequence_of: ClassVar[tuple[str, ...]] = ()
    capacity_symptom: ClassVar[bool] = False

    def __init__(self) -> None:
        """Detectors without thresholds take no arguments; the others take keyword-only ones."""

    def check(self, trace: Trace) -> list[Finding]:  # pragma: no cover - abstract
        raise NotImplementedError

    def limitations(self, trace: Trace) -> str | None:
        """What this detector could not judge on ``trace`` although it ran (e.g. a signal too
        coarse to resolve its threshold), or None. Shown in the report: silence is not health."""
        return None

    def missing(self, signals: set[str]) -> str | None:
        """Why this detector cannot run on a trace holding ``signals``, or None if it can."""
        absent = [name for name in self.requires if name not in signals]
        hinted = list(absent)
        if self.requires_any and not any(name in signals for name in self.requires_any):
            absent.append(" or ".join(self.requires_any))
            hinted.extend(self.requires_any)
        if not absent:
            return None
        hints = sorted({SIGNAL_HINTS[a] for a in hinted if a in SIGNAL_HINTS})
        reason = f"needs {', '.join(absent)}"
        return f"{reason} ({'; '.join(hints)})" if hints else reason

    def finding(
        self,
        severity: Severity,
        confidence: float,
        summary: str,
        evidence: dict[str, Any],
        fixes: Iterable[Fix] = (),
    ) -> Finding:
        return Finding(
            id=self.id,
            area=self.area,
            severity=severity,
            confidence=round(min(1.0, max(0.0, confidence)), 3),
            summary=summary,
            evidence=evidence,
            fixes=tuple(fixes),
        )

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in sorted(vars(self).items()))
        return f"{type(self).__name__}({params})"


def register(cls: D) -> D:
    """Class decorator adding a detector to ``DETECTORS`` under its ``id``."""
    ident = getattr(cls, "id", None)
    if not ident:
        raise TypeError(f"{cls.__name__} has no `id`")
    if ident in DETECTORS and DETECTORS[ident] is not cls:
        raise ValueError(f"detector id {ident!r} is already registered by {DETECTORS[ident]}")
    DETECTORS[ident] = cls
    return cls


def get_detector(ident: str, **thresholds: Any) -> Detector:
    """Instantiate a registered detector; an unknown id lists the valid ones."""
    if ident not in DETECTORS:
        raise KeyError(f"unknown detector {ident!r}; registered: {', '.join(sorted(DETECTORS))}")
    return DETECTORS[ident](**thresholds)


# --- threshold validation ----------------------------------------------------------------------
def positive(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def fraction(name: str, value: float, *, open_low: bool = True) -> float:
    ok = isinstance(value, (int, float)) and (0 < value <= 1 if open_low else 0 <= value <= 1)
    if not ok:
        interval = "(0, 1]" if open_low else "[0, 1]"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return float(value)


def at_least(name: str, value: int, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def ordered(low_name: str, low: float, high_name: str, high: float) -> None:
    if not low < high:
        raise ValueError(f"{low_name} ({low}) must be smaller than {high_name} ({high})")


# --- shared reading helpers --------------------------------------------------------------------
def from_pipeline(trace: Trace) -> bool:
    """Fixes can be config overrides when the run came from our pipeline."""
    return trace.context.get("source") == "pipeline" or "config" in trace.context


def config_value(trace: Trace, section: str, key: str, default: Any = None) -> Any:
    config = trace.context.get("config") or {}
    return (config.get(section) or {}).get(key, default)


def make_fix(trace: Trace, override: str | None, words: str, why: str) -> Fix:
    """A config override for pipeline runs, plain words for a user's own training script."""
    if override and from_pipeline(trace):
        return Fix(override, why)
    return Fix(words, why)


def current_lr(trace: Trace) -> float | None:
    value = trace.context.get("lr")
    if value is None:
        value = config_value(trace, "optim", "lr")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def fmt(value: float, digits: int = 3) -> str:
    """Compact numbers for summaries and overrides: 0.001 -> 0.001, 2.2e-07 -> 2.2e-07, 2.5."""
    if value is None or not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def persistent(flags: list[bool], share: float) -> bool:
    return bool(flags) and sum(flags) / len(flags) >= share


def detector_ids(predicate: Callable[[type[Detector]], bool] = lambda cls: True) -> list[str]:
    return sorted(k for k, cls in DETECTORS.items() if predicate(cls))
