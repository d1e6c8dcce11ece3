"""The one result type of every check in cnn-doctor: a named problem, with evidence and fixes.

Both training diagnosis (``diagnose``) and data checks (``data-check``) return ``Finding``s, so the
terminal table, the JSON file and the HTML report treat them alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Area = Literal["architecture", "hyperparameters", "data"]
Severity = Literal["critical", "warning", "info"]

AREAS: tuple[str, ...] = ("architecture", "hyperparameters", "data")
SEVERITIES: tuple[str, ...] = ("critical", "warning", "info")
_SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class Fix:
    """A concrete change: a config override where one exists, plus one line of why."""

    change: str  # e.g. "optim.lr=0.01", or plain words where no override exists
    why: str


@dataclass(frozen=True)
class Finding:
    """One diagnosed problem.

    ``summary`` is one sentence with the measured number in it; ``evidence`` holds the measured
    values *and* the thresholds they were compared with, so a reader can judge the call.
    ``items`` lists flagged records as ``[split, index]`` pairs for data findings.
    """

    id: str
    area: Area
    severity: Severity
    confidence: float
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    fixes: tuple[Fix, ...] = ()
    items: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if self.area not in AREAS:
            raise ValueError(f"area {self.area!r} is not one of {AREAS}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {SEVERITIES}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence {self.confidence} is outside [0, 1]")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fixes"] = [asdict(fix) for fix in self.fixes]
        data["items"] = [[split, int(index)] for split, index in self.items]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            id=data["id"],
            area=data["area"],
            severity=data["severity"],
            confidence=float(data["confidence"]),
            summary=data["summary"],
            evidence=dict(data.get("evidence", {})),
            fixes=tuple(Fix(**fix) for fix in data.get("fixes", ())),
            items=tuple((split, int(index)) for split, index in data.get("items", ())),
        )


def rank_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most likely root cause first: by severity, then confidence, then id (for stable output)."""
    return sorted(findings, key=lambda f: (_SEVERITY_RANK[f.severity], -f.confidence, f.id))


def findings_to_json(findings: Sequence[Finding], path: Path, **extra: Any) -> None:
    from cnn_doctor.atomic import atomic_write_text

    payload = {"findings": [f.to_dict() for f in rank_findings(findings)], **extra}
    atomic_write_text(Path(path), json.dumps(payload, indent=2, default=float))


def findings_from_json(path: Path) -> list[Finding]:
    return [Finding.from_dict(item) for item in json.loads(Path(path).read_text())["findings"]]
