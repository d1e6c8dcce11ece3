"""The contract every registered detector keeps (timm-style: parametrized over the registry)."""

from __future__ import annotations

import inspect
import json
import math
import re

import pytest
from diagnose_traces import FAULTS, fault, healthy_trace

from cnn_doctor.diagnose import DETECTORS, diagnose_trace
from cnn_doctor.diagnose.detectors import Detector, get_detector, register
from cnn_doctor.diagnose.findings import AREAS

IDS = sorted(DETECTORS)
FAULT_FOR = {expected: name for name, (_, expected, _) in FAULTS.items()}


def _threshold_params(cls: type[Detector]) -> list[str]:
    params = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


@pytest.mark.parametrize("ident", IDS)
def test_silent_on_the_healthy_run(ident):
    assert get_detector(ident).check(healthy_trace()) == []


@pytest.mark.parametrize("ident", IDS)
def test_finding_is_well_formed(ident):
    detector = get_detector(ident)
    (finding,) = detector.check(fault(FAULT_FOR[ident]))
    assert finding.id == ident == detector.id
    assert finding.area == detector.area and detector.area in AREAS
    assert re.search(r"\d", finding.summary), "the summary states the measured number"
    assert finding.fixes and all(fix.change and fix.why for fix in finding.fixes)
    json.dumps(finding.to_dict(), allow_nan=False)  # evidence is plain, finite JSON


@pytest.mark.parametrize("ident", IDS)
def test_deterministic_and_pure(ident):
    trace = fault(FAULT_FOR[ident])
    before = trace.to_dict()
    detector = get_detector(ident)
    assert detector.check(trace) == detector.check(trace)
    assert trace.to_dict() == before, "check() must not modify the trace"


@pytest.mark.parametrize(
    ("ident", "param"),
    [(ident, param) for ident in IDS for param in _threshold_params(DETECTORS[ident])],
)
@pytest.mark.parametrize("bad", [-1.0, math.nan, "0.5"])
def test_rejects_bad_thresholds(ident, param, bad):
    with pytest.raises(ValueError, match=param):
        get_detector(ident, **{param: bad})


@pytest.mark.parametrize("ident", IDS)
def test_thresholds_are_keyword_only(ident):
    params = list(inspect.signature(DETECTORS[ident].__init__).parameters.values())[1:]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)


def test_consequences_name_registered_detectors_and_have_no_cycles():
    graph = {ident: set(DETECTORS[ident].consequence_of) for ident in IDS}
    for ident, causes in graph.items():
        assert causes <= set(IDS), f"{ident} names unknown causes {causes - set(IDS)}"
        assert ident not in causes

    def reaches(start, target, seen=()):
        return any(
            c == target or (c not in seen and reaches(c, target, (*seen, c))) for c in graph[start]
        )

    assert not [ident for ident in IDS if reaches(ident, ident)]


def test_unknown_detector_lists_the_registered_ones():
    with pytest.raises(KeyError, match="dead_relu"):
        get_detector("dead_relus")


def test_registering_a_second_detector_under_a_taken_id_fails():
    class Impostor(Detector):
        id = "dead_relu"
        area = "architecture"

    with pytest.raises(ValueError, match="already registered"):
        register(Impostor)


def test_diagnosis_is_deterministic_and_ranked():
    first = diagnose_trace(fault("lr_too_high"))
    second = diagnose_trace(fault("lr_too_high"))
    assert first.findings == second.findings
    keys = [
        ({"critical": 0, "warning": 1, "info": 2}[f.severity], -f.confidence)
        for f in first.findings
    ]
    assert keys == sorted(keys)
