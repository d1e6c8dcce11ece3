"""Optuna study machinery with a fake trainer: exactly-once, resume, heartbeat retry, pruning."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import investigate_fakes
import optuna
import pytest
from investigate_fakes import failing_train, fake_train, interrupting_train
from optuna.trial import TrialState

from cnn_doctor.config import Config
from cnn_doctor.investigate import study as st
from cnn_doctor.investigate.ablation import ablation_plan, summarize_ablation
from cnn_doctor.investigate.results import (
    ablation_results,
    best_config,
    write_ablation_outputs,
    write_sweep_outputs,
)

LR_SPACE = {"optim": {"lr": {"low": 1e-3, "high": 1.0, "log": True}}}


def _ablation(
    base: Config, url: str, name: str = "abl", n: int | None = None, factors=None, **storage_kw
):
    plan = [p.to_attrs() for p in ablation_plan(base, "small", depth=2)]
    if factors is not None:
        plan = [p for p in plan if p["factor"] in factors]
    if n is not None:
        plan = plan[:n]
    spec = st.StudySpec(kind=st.ABLATION, base=base.to_dict(), pruner="none", budget="small")
    study = st.create_study(st.open_storage(url, **storage_kw), name, spec, plan)
    return study, spec, plan


def _worker(url: str, name: str, tmp_path: Path, fn=fake_train, **kw) -> st.WorkerSpec:
    return st.WorkerSpec(
        url,
        name,
        str(tmp_path / name),
        run_trial_fn=fn,
        poll_seconds=0.2,
        gc_after_trial=False,
        **kw,
    )


def _ran(study: optuna.Study) -> Counter:
    """(variant, seed) -> number of COMPLETE trials."""
    return Counter(
        (t.user_attrs["variant"], t.user_attrs["seed"])
        for t in study.get_trials(states=(TrialState.COMPLETE,))
    )


def _planned(plan: list[dict]) -> Counter:
    return Counter((p["variant"], p["seed"]) for p in plan)


def test_ablation_runs_every_planned_run_exactly_once_and_ranks_the_planted_effect(
    tiny_base: Config, sqlite_url: str, tmp_path: Path
) -> None:
    factors = {"baseline", "batchnorm", "augment:flip", "width", "dropout", "lr"}
    study, _spec, plan = _ablation(tiny_base, sqlite_url, factors=factors)
    report = st.run_worker(_worker(sqlite_url, "abl", tmp_path))
    assert report.ran == len(plan) and report.failed == 0
    assert _ran(study) == _planned(plan)
    run_dirs = list((tmp_path / "abl" / st.TRIALS_DIR).iterdir())
    assert len(run_dirs) == len(plan)  # every trial is a normal run directory
    assert all((d / "config.toml").is_file() and (d / "summary.json").is_file() for d in run_dirs)

    results = ablation_results(study)
    summary = summarize_ablation(results)
    assert summary.rows[0].factor == "batchnorm" and summary.rows[0].significant
    flip = next(r for r in summary.rows if r.factor == "augment:flip")
    assert flip.effect == pytest.approx(-0.03) and flip.significant
    files = write_ablation_outputs(tmp_path / "abl", summary, results, "Ablation test")
    assert "| 1 | architecture | batchnorm |" in files["markdown"].read_text()
    assert files["plot"].is_file() and files["report"].is_file()


def test_rerunning_the_same_study_resumes_without_enqueuing_twice(
    tiny_base: Config, sqlite_url: str
) -> None:
    study, spec, plan = _ablation(tiny_base, sqlite_url, n=6)
    again = st.create_study(st.open_storage(sqlite_url), "abl", spec, plan)
    assert len(again.get_trials(states=(TrialState.WAITING,))) == 6
    other = st.StudySpec(kind=st.ABLATION, base=Config().to_dict(), pruner="none", budget="small")
    with pytest.raises(st.StudyError, match="different base config"):
        st.create_study(st.open_storage(sqlite_url), "abl", other, plan)


def test_interrupted_trial_is_requeued_and_the_resume_redoes_nothing(
    tiny_base: Config, sqlite_url: str, tmp_path: Path
) -> None:
    study, _spec, plan = _ablation(tiny_base, sqlite_url, n=8)
    investigate_fakes.INTERRUPT_MARKER["name"] = "t0003-"
    with pytest.raises(KeyboardInterrupt):
        st.run_worker(_worker(sqlite_url, "abl", tmp_path, fn=interrupting_train))
    by_number = {t.number: t for t in study.get_trials()}
    assert [by_number[i].state for i in range(3)] == [TrialState.COMPLETE] * 3
    assert by_number[3].state == TrialState.FAIL and by_number[3].user_attrs["interrupted"]
    copy = [t for t in study.get_trials() if t.system_attrs.get("failed_trial") == 3]
    assert len(copy) == 1 and copy[0].state == TrialState.WAITING
    assert copy[0].user_attrs["variant"] == by_number[3].user_attrs["variant"]
    assert "interrupted" not in copy[0].user_attrs  # per-attempt attrs are not inherited

    assert st.requeue_interrupted(study) == 0  # already queued: nothing to add
    st.run_worker(_worker(sqlite_url, "abl", tmp_path))
    assert _ran(study) == _planned(plan)
    assert len(list((tmp_path / "abl" / st.TRIALS_DIR).iterdir())) == len(plan)


def test_trial_of_a_killed_worker_is_retried_after_its_heartbeat_stops(
    tiny_base: Config, sqlite_url: str, tmp_path: Path
) -> None:
    beat = {"heartbeat_interval": 1, "grace_period": 1}
    study, _spec, plan = _ablation(tiny_base, sqlite_url, n=3, **beat)
    storage = st.open_storage(sqlite_url, **beat)
    with pytest.warns(UserWarning, match="Heartbeat"):  # ask() outside optimize(): on purpose
        dead = study.ask()  # claimed by a "worker" that then dies: RUNNING forever
    storage.record_heartbeat(dead._trial_id)
    time.sleep(2.2)
    st.run_worker(_worker(sqlite_url, "abl", tmp_path, **beat))
    assert study.get_trials()[dead.number].state == TrialState.FAIL
    retry = [t for t in study.get_trials() if t.system_attrs.get("failed_trial") == dead.number]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert _ran(study) == _planned(plan)


def test_worker_gives_up_after_repeated_crashes(
    tiny_base: Config, sqlite_url: str, tmp_path: Path
) -> None:
    _ablation(tiny_base, sqlite_url, n=6)
    with pytest.raises(st.StudyError, match="simulated crash"):
        st.run_worker(_worker(sqlite_url, "abl", tmp_path, fn=failing_train))


def test_surplus_trial_without_a_queued_run_is_pruned_and_not_counted(
    tiny_base: Config, sqlite_url: str, tmp_path: Path
) -> None:
    study, spec, _plan = _ablation(tiny_base, sqlite_url, n=0)
    study.optimize(st.make_objective(spec, tmp_path, fake_train), n_trials=1)
    (trial,) = study.get_trials()
    assert trial.state == TrialState.PRUNED and trial.user_attrs["surplus"]
    assert st.work_state(study, spec).finished == 0


def _sweep(base: Config, url: str, n_trials: int, pruner: str = "median") -> st.StudySpec:
    spec = st.StudySpec(
        kind=st.SWEEP, base=base.to_dict(), space=LR_SPACE, n_trials=n_trials, pruner=pruner, seed=0
    )
    st.create_study(st.open_storage(url), "sw", spec)
    return spec


def test_sweep_reaches_its_trial_count_and_can_be_extended(
    tiny_base: Config, sqlite_url: str, tmp_path: Path
) -> None:
    spec = _sweep(tiny_base, sqlite_url, 6)
    st.run_worker(_worker(sqlite_url, "sw", tmp_path))
    study = st.load_study(st.open_storage(sqlite_url), "sw")
    assert st.work_state(study, spec).finished == 6
    _sweep(tiny_base, sqlite_url, 9)  # same command with --trials 9: three more, none redone
    report = st.run_worker(_worker(sqlite_url, "sw", tmp_path))
    assert report.ran == 3
    assert st.work_state(study, st.load_spec(study)).finished == 9
    completed = study.get_trials(states=(TrialState.COMPLETE,))
    assert all(Path(t.user_attrs["run_dir"]).is_dir() for t in completed)
    best = best_config(study, st.load_spec(study))
    assert best is not None and 1e-3 <= best.optim.lr <= 1.0
    files = write_sweep_outputs(tmp_path / "sw", study, st.load_spec(study), "Sweep")
    assert files["best"].is_file() and "optim.lr" in files["markdown"].read_text()


def test_pruning_callback_stops_a_lagging_trial_after_saving_its_epoch(
    tiny_base: Config, tmp_path: Path
) -> None:
    spec = st.StudySpec(kind=st.SWEEP, base=tiny_base.to_dict(), space=LR_SPACE, n_trials=1)
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.99)
    )
    study.optimize(st.make_objective(spec, tmp_path, fake_train), n_trials=1)
    (trial,) = study.get_trials()
    assert trial.state == TrialState.PRUNED
    assert list(trial.intermediate_values) == [1]  # reported 1-based, stopped after epoch 1
    run_dir = Path(trial.user_attrs["run_dir"])
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 1


def test_two_local_worker_processes_share_an_sqlite_study(
    tiny_base: Config, sqlite_url: str, tmp_path: Path
) -> None:
    study, _spec, plan = _ablation(tiny_base, sqlite_url, n=6)
    codes = st.run_local_workers(_worker(sqlite_url, "abl", tmp_path), 2, poll_seconds=0.2)
    assert codes == [0, 0]
    assert _ran(study) == _planned(plan)


def test_storage_errors_are_one_line_and_hide_the_password() -> None:
    with pytest.raises(st.StudyError, match="not a database URL"):
        st.open_storage("study.db")
    with pytest.raises(st.StudyError, match="cannot open study storage") as info:
        st.open_storage("postgresql://me:secret@127.0.0.1:1/nowhere")
    assert "secret" not in str(info.value) and "\n" not in str(info.value)


def test_joining_finds_the_only_study_or_asks_for_a_name(
    tiny_base: Config, sqlite_url: str
) -> None:
    storage = st.open_storage(sqlite_url)
    with pytest.raises(st.StudyError, match="no cnn-doctor study"):
        st.find_study_name(storage, None)
    _sweep(tiny_base, sqlite_url, 2)
    assert st.find_study_name(storage, None) == "sw"
    _ablation(tiny_base, sqlite_url, n=1)
    with pytest.raises(st.StudyError, match="several studies"):
        st.find_study_name(storage, None)
    with pytest.raises(st.StudyError, match="found: "):
        st.find_study_name(storage, "nope")


def test_default_study_name_is_stable_and_changes_with_the_experiment(tiny_base: Config) -> None:
    spec = st.StudySpec(kind=st.SWEEP, base=tiny_base.to_dict(), space=LR_SPACE, n_trials=5)
    more = st.StudySpec(kind=st.SWEEP, base=tiny_base.to_dict(), space=LR_SPACE, n_trials=50)
    other = st.StudySpec(kind=st.SWEEP, base=Config().to_dict(), space=LR_SPACE, n_trials=5)
    name = st.default_study_name("sweep", "configs/my.toml", spec)
    assert name.startswith("sweep-my-")
    assert name == st.default_study_name("sweep", "configs/my.toml", more)  # --trials may change
    assert name != st.default_study_name("sweep", "configs/my.toml", other)
    assert st.redact("postgresql://u:pw@h:5/db") == "postgresql://u:***@h:5/db"
