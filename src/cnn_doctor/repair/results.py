"""What a repair measures and returns: a round's diagnosis run, accepted steps, tried candidates,
and the ``RepairResult`` that ``fix`` returns and the CLI prints.

Plain data; ``instrumented_diagnosis`` (the default diagnosis of a round) imports keras only
when called.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnn_doctor.config import Config
from cnn_doctor.diagnose.findings import Finding
from cnn_doctor.repair.candidates import Suggestion


@dataclass(frozen=True)
class DiagnosisRun:
    """The short instrumented run of one round: its score, findings and where it lives."""

    value: float | None
    findings: list[Finding]
    run_dir: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "findings": [f.to_dict() for f in self.findings],
            "run_dir": self.run_dir,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DiagnosisRun:
        return cls(
            raw.get("value"),
            [Finding.from_dict(f) for f in raw.get("findings", [])],
            raw.get("run_dir", ""),
            float(raw.get("seconds", 0.0)),
        )


DiagnoseFn = Callable[..., DiagnosisRun]  # (config, model_builder) -> DiagnosisRun


def instrumented_diagnosis(config: Config, model_builder: Any = None) -> DiagnosisRun:
    """``diagnose``'s short instrumented run of ``config``."""
    import keras

    from cnn_doctor.diagnose.pipeline import instrumented_train

    keras.backend.clear_session()
    started = time.perf_counter()
    result, doctor = instrumented_train(config, model_builder=model_builder, quiet=True)
    return DiagnosisRun(
        score(result), list(doctor.findings), str(result.run_dir), time.perf_counter() - started
    )


def score(result: Any) -> float | None:
    """The number every arm is compared on: the run's best validation accuracy."""
    value = (getattr(result, "summary", None) or {}).get("best_val_accuracy")
    return None if value is None else float(value)


@dataclass(frozen=True)
class Step:
    """One accepted change."""

    round: int
    change: str
    finding: str
    before: float
    after: float
    gain: float
    stderr: float
    seeds: int
    seconds: float
    overrides: dict[str, Any]


@dataclass(frozen=True)
class Tried:
    """A candidate that was measured (or crashed) and not accepted."""

    round: int
    change: str
    finding: str
    status: str  # rejected | screened_out | failed | not_run
    n: int
    gain: float | None
    stderr: float | None
    error: str = ""


@dataclass
class RepairResult:
    """What ``fix`` found, as the CLI prints it."""

    folder: Path
    original: Config
    fixed: Config
    steps: list[Step]
    tried: list[Tried]
    suggestions: list[Suggestion]
    remaining_findings: list[Finding]
    stop_reason: str
    seconds: float
    baseline: float | None  # the original config's mean at the short budget
    final: float | None  # the fixed config's mean at the short budget
    reference: float | None  # the default recipe at the short budget (when it was measured)
    confirm: dict[str, Any] | None = None
    files: dict[str, Path] = field(default_factory=dict)
