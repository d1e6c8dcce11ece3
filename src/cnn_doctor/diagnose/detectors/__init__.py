"""Detector registry and ``diagnose_trace``: run every applicable detector on a ``Trace``.

Importing this package registers the built-in detectors (one module per area). Pure numpy: no
keras, so a saved ``trace.json`` can be diagnosed anywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from cnn_doctor.diagnose import signals as S
from cnn_doctor.diagnose.detectors import (  # noqa: F401  (registers the detectors)
    architecture,
    data,
    hyperparameters,
    output_layer,
    regularization,
)
from cnn_doctor.diagnose.detectors.base import (
    DETECTORS,
    SIGNAL_HINTS,
    Detector,
    get_detector,
    register,
)
from cnn_doctor.diagnose.findings import Finding, rank_findings
from cnn_doctor.diagnose.trace import Trace
from cnn_doctor.diagnose.verdict import FAILED_STATES, Verdict, run_verdict

__all__ = [
    "DETECTORS",
    "SIGNAL_HINTS",
    "Detector",
    "Diagnosis",
    "default_detectors",
    "diagnose_trace",
    "get_detector",
    "register",
]

# A symptom explained by a root cause found in the same run keeps its place in the list but is
# ranked below: severity at most "warning", confidence scaled by this factor.
CONSEQUENCE_CONFIDENCE_FACTOR = 0.6


@dataclass
class Diagnosis:
    """Ranked findings (most likely root cause first), the run's verdict, why each skipped
    detector was skipped, and what a detector that ran could not judge (``limited``).

    Iterating a ``Diagnosis`` iterates its findings, so it can stand in for a list of them.
    """

    findings: list[Finding] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    verdict: Verdict | None = None
    limited: dict[str, str] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def ids(self) -> list[str]:
        return [f.id for f in self.findings]


def default_detectors() -> list[Detector]:
    """One instance of every registered detector with its literature-default thresholds."""
    return [DETECTORS[ident]() for ident in sorted(DETECTORS)]


def _demote(findings: Sequence[Finding], detectors: dict[str, Detector]) -> list[Finding]:
    found = {f.id for f in findings}
    result = []
    for f in findings:
        detector = detectors.get(f.id)
        causes = sorted(set(detector.consequence_of if detector else ()) & found - {f.id})
        if causes:
            evidence = dict(f.evidence, likely_consequence_of=causes)
            f = dataclasses.replace(
                f,
                severity="warning" if f.severity == "critical" else f.severity,
                confidence=round(f.confidence * CONSEQUENCE_CONFIDENCE_FACTOR, 3),
                evidence=evidence,
            )
        result.append(f)
    return result


def _escalate(findings: list[Finding], verdict: Verdict) -> list[Finding]:
    """Severity follows impact: in a run that diverged or learns nothing, the leading root cause
    (the first ranked warning that is no one's consequence) is critical."""
    if verdict.state not in FAILED_STATES or any(f.severity == "critical" for f in findings):
        return findings
    for i, f in enumerate(findings):
        if f.severity == "warning" and "likely_consequence_of" not in f.evidence:
            evidence = dict(f.evidence, escalated_because=verdict.sentence.rstrip("."))
            findings[i] = dataclasses.replace(f, severity="critical", evidence=evidence)
            break
    return rank_findings(findings)


def _cap_capacity_symptoms(
    findings: list[Finding], verdict: Verdict, detectors: dict[str, Detector]
) -> list[Finding]:
    """Severity follows impact, the other way: in a run above chance that did not diverge, a
    capacity symptom (``capacity_symptom``: dead or saturated units) is ``info``. Healthy
    rectifier networks leave most units at exactly zero for a given input (Glorot, Bordes &
    Bengio 2011, "Deep Sparse Rectifier Neural Networks": 68-83% of hidden activations are
    zero), and dead units break training when the network collapses to a constant (Lu et al.
    2019, "Dying ReLU and Initialization"); a run that learns shows it did not. Whether the lost
    units cost accuracy only an A/B can tell (``cnn-doctor fix``), so the finding stays listed."""
    if verdict.state in (*FAILED_STATES, "unknown"):
        return findings
    capped = []
    for f in findings:
        detector = detectors.get(f.id)
        if detector is not None and detector.capacity_symptom and f.severity != "info":
            evidence = dict(f.evidence, capped_because=verdict.sentence.rstrip("."))
            summary = (
                f"{f.summary} The run still learns ({verdict.state}), so this is lost capacity, "
                "not why it fails: only an A/B (`cnn-doctor fix`) can show what it costs."
            )
            f = dataclasses.replace(f, severity="info", evidence=evidence, summary=summary)
        capped.append(f)
    return rank_findings(capped)


def _with_validation_size(trace: Trace) -> Trace:
    """A callback cannot see how many validation images ``fit`` scored; the chance bands are
    tighter or wider by that size, so read it from the logged accuracies when it is unknown
    (``signals.sample_count_from_accuracies``) and record that it was inferred."""
    if trace.context.get("num_val"):
        return trace
    count = S.sample_count_from_accuracies(trace.series("val_accuracy"))
    if count is None:
        return trace
    context = dict(trace.context, num_val=count, num_val_inferred=True)
    return dataclasses.replace(trace, context=context)


def diagnose_trace(trace: Trace, detectors: Iterable[Detector] | None = None) -> Diagnosis:
    """Run each detector whose required signals the trace holds; rank what they find.

    Detectors that cannot run are listed in ``Diagnosis.skipped`` with the reason (never silently
    dropped); a detector that ran but could not judge part of its symptom says so in
    ``Diagnosis.limited``. A detector that raises is a bug in cnn-doctor, so the error
    propagates.
    """
    chosen = list(detectors) if detectors is not None else default_detectors()
    trace = _with_validation_size(trace)
    signals = trace.signals()
    findings: list[Finding] = []
    skipped: dict[str, str] = {}
    limited: dict[str, str] = {}
    for detector in chosen:
        reason = detector.missing(signals)
        if reason is not None:
            skipped[detector.id] = reason
            continue
        findings.extend(detector.check(trace))
        limit = detector.limitations(trace)
        if limit:
            limited[detector.id] = limit
    by_id = {d.id: d for d in chosen}
    verdict = run_verdict(trace)
    ranked = _escalate(rank_findings(_demote(findings, by_id)), verdict)
    ranked = _cap_capacity_symptoms(ranked, verdict, by_id)
    return Diagnosis(ranked, skipped, verdict, limited)
