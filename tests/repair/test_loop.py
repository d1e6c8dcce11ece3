"""The repair loop end to end with a fake trainer and diagnosis (milliseconds per run).

Planted (see ``repair_fakes``): lr > 1 costs 40 points and its finding offers a cure
(``optim.lr=0.1``), a change that only adds noise (``model.dropout=0.3``), one that crashes
(``model.init=zeros``), plain words and a budget change.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest
import repair_fakes
from optuna.trial import TrialState
from repair_fakes import fake_diagnose, fake_train

from cnn_doctor.config import load_config, tomllib
from cnn_doctor.investigate import study as st
from cnn_doctor.repair import BudgetError, fix
from cnn_doctor.repair.budget import RunEstimate
from cnn_doctor.repair.state import RepairState

ESTIMATE = RunEstimate(0.05, "fake")


def _fix(tmp_path: Path, *overrides: str, **kwargs):
    config = load_config(None, ["optim.epochs=3", "data.subset=500", *overrides])
    return fix(
        config,
        budget=kwargs.pop("budget", "10m"),
        out_dir=tmp_path,
        run_trial_fn=fake_train,
        diagnose_fn=fake_diagnose,
        estimate=kwargs.pop("estimate", ESTIMATE),
        **kwargs,
    )


def _trials(folder: Path) -> list:
    state = RepairState.load(folder)
    storage = st.open_storage(st.default_storage_url(folder))
    out = []
    for rnd in state.rounds:
        if rnd.get("study"):
            out += st.load_study(storage, rnd["study"]).get_trials(deepcopy=False)
    return out


def test_the_cure_is_accepted_the_noise_rejected_the_crash_failed(tmp_path: Path) -> None:
    result = _fix(tmp_path, "optim.lr=5")
    (step,) = result.steps
    assert step.change == "optim.lr=0.1" and step.finding == "lr_too_high"
    assert step.gain == pytest.approx(0.40, abs=0.01) and step.seeds == 2
    assert step.before == pytest.approx(0.30) and step.after == pytest.approx(0.70)
    tried = {t.change: t for t in result.tried}
    assert tried["model.dropout=0.3"].status == "rejected"
    assert abs(tried["model.dropout=0.3"].gain) < 2 * tried["model.dropout=0.3"].stderr
    assert tried["model.init=zeros"].status == "failed"
    assert "simulated crash" in tried["model.init=zeros"].error
    reasons = {s.change: s.reason for s in result.suggestions}
    assert "not a config change" in reasons["clip gradients: optimizer clipnorm=1.0"]
    assert "optim.epochs" in reasons["optim.epochs=2"]
    # round 2 diagnosed the fixed config: no finding, and it keeps pace with the default recipe
    assert "keeps pace" in result.stop_reason
    assert result.fixed.optim.lr == 0.1 and result.fixed.data.subset == 500  # full config kept
    fixed = tomllib.loads((result.folder / "fixed.toml").read_text())
    assert fixed["optim"]["lr"] == 0.1 and fixed["optim"]["epochs"] == 3
    assert (result.folder / "repair_curves.png").is_file()
    report = (result.folder / "report.html").read_text()
    assert "Repair (cnn-doctor fix)" in report and "optim.lr=0.1" in report
    assert "rejected" in (result.folder / "repair.md").read_text()


def test_confirm_trains_the_fix_in_the_wall_time_the_original_took(tmp_path: Path) -> None:
    result = _fix(tmp_path, "optim.lr=5", confirm=True)
    original, fixed = result.confirm["original"], result.confirm["fixed"]
    assert original["time_budget"] is None  # the original runs as configured
    assert fixed["time_budget"] == f"{max(1, math.ceil(original['seconds']))}s"
    saved = tomllib.loads((Path(fixed["run_dir"]) / "config.toml").read_text())
    assert saved["run"]["time_budget"] == fixed["time_budget"]
    assert saved["optim"]["lr"] == 0.1  # the accepted cure
    assert fixed["best_val_accuracy"] > original["best_val_accuracy"]


def test_a_user_model_gets_the_config_cure_and_a_code_suggestion(tmp_path: Path) -> None:
    result = _fix(tmp_path, model_builder=repair_fakes.softmax_builder)
    assert [s.change for s in result.steps] == ["optim.from_logits=false"]
    (suggestion,) = [s for s in result.suggestions if s.finding == "double_softmax"]
    assert suggestion.change == "model.final_activation=none"
    assert "builder's code" in suggestion.reason
    assert "softmax_builder" in (result.folder / "fixed.toml").read_text()  # --model to rerun


def test_a_kill_mid_round_resumes_without_redoing_a_finished_run(tmp_path: Path) -> None:
    repair_fakes.INTERRUPT["after"] = 4  # diagnosis, then the 4th queued trial is interrupted
    with pytest.raises(KeyboardInterrupt):
        _fix(tmp_path, "optim.lr=5")
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    before = list(repair_fakes.CALLS)
    diagnoses = len(repair_fakes.DIAGNOSES)
    result = fix(resume=folder, run_trial_fn=fake_train, diagnose_fn=fake_diagnose)
    assert [s.change for s in result.steps] == ["optim.lr=0.1"]
    # the first round's diagnosis was not redone; round 2's is new
    assert len(repair_fakes.DIAGNOSES) == diagnoses + 1
    # every (round, variant, seed) completed exactly once; only the interrupted run ran twice
    done = Counter(
        (t.user_attrs["variant"], t.user_attrs["seed"], t.user_attrs.get("change"))
        for t in _trials(folder)
        if t.state == TrialState.COMPLETE
    )
    assert all(n == 1 for n in done.values())

    def label(name: str) -> str:  # "t0003-optim.lr=0.1-s0" -> "optim.lr=0.1-s0"
        return name.split("-", 1)[1] if name.startswith("t0") else name

    earlier = [label(n) for n in before[1:4]]  # the round-1 trials that finished
    later = [label(n) for n in repair_fakes.CALLS[len(before) :]]
    assert label(before[4]) in later  # the interrupted one ran again
    assert not set(earlier) & set(later)  # nothing finished ran again


def test_nothing_fires_but_the_run_trails_the_default_so_the_ablation_finds_it(
    tmp_path: Path,
) -> None:
    result = _fix(tmp_path, "model.activation=sigmoid", "model.depth=12")
    assert result.reference == pytest.approx(0.696)
    assert result.steps and result.steps[0].change == "model.activation=gelu"
    assert result.steps[0].finding == "ablation:activation"
    assert result.final == pytest.approx(0.70)


def test_a_budget_too_small_for_one_candidate_is_an_error_naming_the_minimum(
    tmp_path: Path,
) -> None:
    with pytest.raises(BudgetError, match="at least"):
        _fix(tmp_path, "optim.lr=5", budget="10s", estimate=RunEstimate(30.0, "fake"))
    assert not any(tmp_path.iterdir())  # nothing was started


def test_a_budget_that_fits_one_candidate_tries_the_first_and_says_what_it_left_out(
    tmp_path: Path,
) -> None:
    # after the diagnosis, 3 runs of 30 s (baseline seed 2 + 1 candidate x 2 seeds) fit, 5 do not
    repair_fakes.SECONDS["run"] = 30.0
    result = _fix(tmp_path, "optim.lr=5", budget="135s", estimate=RunEstimate(30.0, "fake"))
    assert [s.change for s in result.steps] == ["optim.lr=0.1"]
    assert {t.status for t in result.tried if t.round == 1} == {"not_run"}
    assert "budget spent" in result.stop_reason


def test_resume_with_more_budget_continues_a_repair_the_budget_stopped(tmp_path: Path) -> None:
    repair_fakes.SECONDS["run"] = 30.0
    # round 1 fits the 20 s estimate; then its runs measure 30 s and round 2 no longer fits
    first = _fix(tmp_path, "optim.lr=5", budget="85s", estimate=RunEstimate(20.0, "fake"))
    assert [s.change for s in first.steps] == ["optim.lr=0.1"]
    assert "budget spent" in first.stop_reason
    calls = len(repair_fakes.CALLS)
    result = fix(
        resume=first.folder, budget="10m", run_trial_fn=fake_train, diagnose_fn=fake_diagnose
    )
    assert [s.change for s in result.steps] == ["optim.lr=0.1"]
    assert "keeps pace" in result.stop_reason  # round 2 diagnosed the fixed config
    # trained on resume: that diagnosis and the default recipe's pace run, nothing of round 1
    assert repair_fakes.CALLS[calls:] == ["diagnosis", "default"]


def test_resume_of_a_folder_that_is_not_a_repair_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="not a repair folder"):
        fix(resume=tmp_path)
