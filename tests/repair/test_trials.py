"""A round's study: known runs and later stages are added once, crashes are collected."""

from __future__ import annotations

from pathlib import Path

from repair_fakes import fake_train

from cnn_doctor.config import load_config
from cnn_doctor.investigate import study as st
from cnn_doctor.repair import trials as tr
from cnn_doctor.repair.candidates import Candidate


def _round(tmp_path: Path):
    base = load_config(None, ["optim.epochs=2"])
    cure = Candidate("cure", {"optim.lr": 0.1}, "optim.lr=0.1", "lr_too_high")
    crash = Candidate("crash", {"model.init": "zeros"}, "model.init=zeros", "x")
    url = st.default_storage_url(tmp_path)
    plan = [tr.plan_attrs(c, 0) for c in (cure, crash)]
    return url, base, cure, crash, tr.open_round(url, "r01", base, plan)


def test_known_runs_and_later_stages_are_added_exactly_once(tmp_path: Path) -> None:
    url, base, cure, _crash, study = _round(tmp_path)
    known = [{**tr.plan_attrs(None, 0), "value": 0.3, "run_dir": "d"}]
    tr.add_known_runs(study, known)
    tr.add_known_runs(study, known)  # a resume adds it again: no duplicate
    tr.enqueue_stage(study, "confirm", [tr.plan_attrs(cure, 1)])
    tr.enqueue_stage(study, "confirm", [tr.plan_attrs(cure, 1)])
    again = tr.open_round(url, "r01", base, [])  # reopening never re-enqueues the first stage
    attrs = [(t.user_attrs["variant"], t.user_attrs["seed"]) for t in again.get_trials()]
    assert sorted(attrs) == [("baseline", 0), ("crash", 0), ("cure", 0), ("cure", 1)]


def test_drain_records_a_crash_as_a_failure_with_its_error(tmp_path: Path) -> None:
    url, _base, _cure, _crash, study = _round(tmp_path)
    tr.add_known_runs(study, [{**tr.plan_attrs(None, 0), "value": 0.3, "run_dir": "d"}])
    tr.drain(url, "r01", tmp_path, run_trial_fn=fake_train, local_overrides={})
    records, failures = tr.collect(study)
    assert {r["variant"] for r in records} == {"baseline", "cure"}
    assert "simulated crash" in failures["crash"]
