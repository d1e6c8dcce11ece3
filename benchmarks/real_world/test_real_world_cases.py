"""Contract checks of the real-world corpus (no training): ``pytest benchmarks/real_world``.

They guard what the lead relies on: the split is the recorded rule and was not edited, every case
is complete, expected ids are ids the diagnosis can name, and the runner scores a crash as a miss
(fault) or an alarm (healthy).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import run_real_world as runner  # noqa: E402
from cases import ALL_CASES, CASES, CASES_BY_NAME, FAULTS, HEALTHY, rule_splits  # noqa: E402
from cases_v2 import CASES_V2, FAULTS_V2, HEALTHY_V2  # noqa: E402
from cases_v3 import CASES_V3, DROPPED, FAULTS_V3, HEALTHY_V3  # noqa: E402
from common import record_true_accuracy  # noqa: E402

KNOWN_IDS = {
    "vanishing_gradients",
    "exploding_gradients",
    "dead_relu",
    "saturated_activations",
    "double_softmax",
    "missing_softmax",
    "frozen_layers",
    "bad_initial_loss",
    "underfitting",
    "diverged",
    "lr_too_high",
    "lr_too_low",
    "overfitting",
    "batch_size_extreme",
    "prediction_collapse",
    "nonfinite_inputs",
    "unnormalized_inputs",
    "missing_augmentation",
    "label_noise",
    "loss_label_mismatch",
    "metric_mismatch",
    "output_activation",
    "missing_nonlinearity",
    "unshuffled_data",
    "over_regularization",
}


def test_split_is_the_recorded_rule():
    assert {c.name: c.split for c in CASES} == rule_splits(CASES)


def test_corpus_size_and_balance():
    assert len(FAULTS) >= 24 and len(HEALTHY) >= 6
    for group in (FAULTS, HEALTHY):
        dev = sum(c.split == "dev" for c in group)
        assert abs(dev - (len(group) - dev)) <= 1


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_is_complete(case):
    assert case.kind in ("fault", "healthy") and case.split in ("dev", "heldout")
    assert case.source and case.setup and case.confirmed_cause and callable(case.script)
    assert 1 <= case.epochs <= 10
    if case.kind == "healthy":
        assert case.expected == ()
    else:
        assert case.expected and set(case.expected) <= KNOWN_IDS
        assert "prediction_collapse" not in case.expected  # a consequence, never the cause


def test_names_are_unique():
    assert len({c.name for c in ALL_CASES}) == len(ALL_CASES)
    assert set(CASES_BY_NAME) == {c.name for c in ALL_CASES}


# --- heldout2 (cases_v2.py): a second, wholly held-out set, outside the split rule ----------------
def test_heldout2_is_outside_the_split_rule():
    assert all(c.split == "heldout2" for c in CASES_V2)
    assert not {c.name for c in CASES_V2} & set(rule_splits(CASES))
    assert [c for c in ALL_CASES if c.split == "heldout2"] == CASES_V2


def test_heldout2_size_and_spread():
    assert len(FAULTS_V2) >= 12 and len(HEALTHY_V2) >= 3
    roots = [c.expected[0] for c in FAULTS_V2]
    assert len(set(roots)) >= 8
    assert max(roots.count(r) for r in set(roots)) <= 2
    backends = [c.backend for c in FAULTS_V2]
    assert backends.count("tensorflow") >= 2 and backends.count("jax") >= 2


def test_heldout2_sources_are_fresh():
    first = {c.source for c in CASES}
    second = [c.source for c in CASES_V2]
    assert len(set(second)) == len(second)
    assert not first & set(second)


SCRIPT_SUFFIX = {"heldout2": "_v2", "heldout3": "_v3"}


@pytest.mark.parametrize("case", [*CASES_V2, *CASES_V3], ids=lambda c: c.name)
def test_later_held_out_case_is_complete(case):
    assert case.kind in ("fault", "healthy")
    assert case.source.startswith("https://") and case.setup and case.confirmed_cause
    assert case.backend in ("torch", "tensorflow", "jax")
    assert 1 <= case.epochs <= 10
    kind = "fault_scripts" if case.kind == "fault" else "healthy_scripts"
    assert callable(case.script) and case.script.__module__ == kind + SCRIPT_SUFFIX[case.split]
    if case.kind == "healthy":
        assert case.expected == ()
    else:
        assert case.expected and set(case.expected) <= KNOWN_IDS
        assert "prediction_collapse" not in case.expected


def test_runner_reports_heldout2_separately():
    case = CASES_V2[0]
    found = [[case.expected[0], "warning", 0.9]]
    row = dict(runner._score({"case": case.name, "found": found}, case))
    t = runner.totals([row], use_doctor=True)
    assert t["heldout2"]["recall_at_1"] == 1.0 and "dev" not in t


# --- heldout3 (cases_v3.py): a third wholly held-out set, outside the split rule ---------------
def test_heldout3_is_outside_the_split_rule():
    assert all(c.split == "heldout3" for c in CASES_V3)
    assert not {c.name for c in CASES_V3} & set(rule_splits(CASES))
    assert [c for c in ALL_CASES if c.split == "heldout3"] == CASES_V3


def test_heldout3_size_and_spread():
    assert len(FAULTS_V3) >= 10 and len(HEALTHY_V3) >= 4
    roots = [c.expected[0] for c in FAULTS_V3]
    assert len(set(roots)) >= 9
    assert max(roots.count(r) for r in set(roots)) <= 3
    backends = [c.backend for c in FAULTS_V3]
    assert backends.count("tensorflow") >= 2 and backends.count("jax") >= 2
    assert backends.count("torch") > len(backends) / 2


def test_heldout3_sources_are_fresh():
    earlier = {c.source for c in [*CASES, *CASES_V2]}
    cases_v2 = sys.modules["cases_v2"]
    earlier_dropped = set(cases_v2.DROPPED.values())
    third = [c.source for c in CASES_V3]
    assert len(set(third)) == len(third)
    assert not earlier & set(third)
    assert not earlier_dropped & set(third)
    assert not set(DROPPED.values()) & (earlier | earlier_dropped | set(third))


def test_runner_reports_heldout3_separately():
    case = CASES_V3[0]
    found = [[case.expected[0], "warning", 0.9]]
    row = dict(runner._score({"case": case.name, "found": found}, case))
    t = runner.totals([row], use_doctor=True)
    assert t["heldout3"]["recall_at_1"] == 1.0 and "dev" not in t and "heldout2" not in t


def test_split_all_leaves_the_held_out_sets_out(monkeypatch, tmp_path):
    chosen = []
    monkeypatch.setattr(runner, "_run_case", lambda case, *a: chosen.append(case) or _row(case))
    (tmp_path / "subset.npz").write_bytes(b"")  # the runner only checks that it exists
    runner.main(["--split", "all", "--no-doctor", "--out", str(tmp_path)])
    assert chosen == CASES
    chosen.clear()
    runner.main(["--split", "heldout3", "--no-doctor", "--out", str(tmp_path)])
    assert chosen == CASES_V3


def _row(case) -> dict:
    return runner._score({"case": case.name, "found": [], "seconds": 0.0}, case)


class _FakeModel:
    def __init__(self, outputs):
        self.outputs = outputs

    def predict(self, x, batch_size=None, verbose=0):
        return self.outputs


def test_true_accuracy_uses_argmax_and_rounds_one_unit_heads():
    y = np.array([0, 1, 2, 1])
    probs = np.eye(3)[[0, 1, 0, 1]]
    history = record_true_accuracy(SimpleNamespace(), _FakeModel(probs), np.zeros(4), y)
    assert history.true_val_accuracy == pytest.approx(0.75)
    one_unit = np.array([[0.1], [0.9], [0.9], [0.2]])
    history = record_true_accuracy(SimpleNamespace(), _FakeModel(one_unit), np.zeros(4), y)
    assert history.true_val_accuracy == pytest.approx(0.5)  # rounds to 0,1,1,0


def test_crash_is_a_miss_for_faults_and_an_alarm_for_healthy():
    fault, healthy = FAULTS[0], HEALTHY[0]
    crashed = runner._score({"case": fault.name, "error": "boom", "found": []}, fault)
    assert crashed["rank"] is None
    found = [[fault.expected[0], "warning", 0.9]]
    hit = runner._score({"case": fault.name, "found": found}, fault)
    assert hit["rank"] == 1
    alarm = runner._score({"case": healthy.name, "error": "boom", "found": []}, healthy)
    quiet = runner._score({"case": healthy.name, "found": [["overfitting", "info", 0.3]]}, healthy)
    rows = [
        dict(crashed, split="dev"),
        dict(hit, split="dev"),
        dict(alarm, split="dev"),
        dict(quiet, split="dev"),
    ]
    t = runner.totals(rows, use_doctor=True)["dev"]
    assert t["recall_at_1"] == 0.5 and t["recall_at_3"] == 0.5
    assert t["healthy_alarms"] == 1
