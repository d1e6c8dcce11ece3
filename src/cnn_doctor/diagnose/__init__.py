"""Training diagnosis: measure a run (``Doctor`` callback -> ``Trace``), name what is wrong
(``diagnose_trace`` -> ranked ``Finding``s), say what to change.

Importing this package does not import keras (so the backend can still be chosen); ``Doctor``,
which is a keras callback, is loaded on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnn_doctor.diagnose.detectors import DETECTORS, Diagnosis, diagnose_trace
from cnn_doctor.diagnose.findings import Finding, Fix, rank_findings
from cnn_doctor.diagnose.trace import Trace

if TYPE_CHECKING:
    from cnn_doctor.diagnose.doctor import Doctor

__all__ = [
    "DETECTORS",
    "Diagnosis",
    "Doctor",
    "Finding",
    "Fix",
    "Trace",
    "diagnose_trace",
    "rank_findings",
]


def __getattr__(name: str) -> Any:
    if name == "Doctor":
        from cnn_doctor.diagnose.doctor import Doctor

        return Doctor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
