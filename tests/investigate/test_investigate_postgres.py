"""The distributed path for real: two worker processes on one PostgreSQL study.

Needs a server: ``export CNN_DOCTOR_TEST_PG_URL=$(bash scripts/start_postgres.sh)`` (``.ci/run``
does this). The trainer is a fake that sleeps a little, so the two workers genuinely interleave.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections import Counter
from pathlib import Path

import optuna
import pytest
from investigate_fakes import fake_train
from optuna.trial import TrialState

from cnn_doctor.config import Config
from cnn_doctor.investigate import study as st
from cnn_doctor.investigate.ablation import ablation_plan

PG_URL = os.environ.get("CNN_DOCTOR_TEST_PG_URL", "")
pytestmark = pytest.mark.skipif(
    not PG_URL,
    reason="CNN_DOCTOR_TEST_PG_URL is unset; start a server with scripts/start_postgres.sh "
    "(.ci/run does) to test two workers on one PostgreSQL study",
)


@pytest.fixture
def study_name():
    name = f"test-{uuid.uuid4().hex[:10]}"
    yield name
    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=name, storage=st.open_storage(PG_URL))


def _worker(name: str, tmp_path: Path) -> st.WorkerSpec:
    return st.WorkerSpec(
        PG_URL, name, str(tmp_path), run_trial_fn=fake_train, poll_seconds=0.2, gc_after_trial=False
    )


def _run_dirs_per_trial(tmp_path: Path) -> Counter:
    names = [d.name for d in (tmp_path / st.TRIALS_DIR).iterdir()]
    return Counter(int(re.search(r"-t(\d{4})-", n).group(1)) for n in names)


def test_two_workers_run_every_queued_trial_exactly_once(
    tiny_base: Config, study_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = [p.to_attrs() for p in ablation_plan(tiny_base, "small", depth=2)][:16]
    spec = st.StudySpec(kind=st.ABLATION, base=tiny_base.to_dict(), pruner="none")
    study = st.create_study(st.open_storage(PG_URL), study_name, spec, plan)
    monkeypatch.setenv("CNN_DOCTOR_FAKE_TRAIN_SECONDS", "0.2")  # inherited by the workers

    codes = st.run_local_workers(_worker(study_name, tmp_path), 2, poll_seconds=0.2)

    assert codes == [0, 0]
    completed = study.get_trials(states=(TrialState.COMPLETE,))
    ran = Counter((t.user_attrs["variant"], t.user_attrs["seed"]) for t in completed)
    assert ran == Counter((p["variant"], p["seed"]) for p in plan)  # each exactly once
    others = [t for t in study.get_trials() if t.state != TrialState.COMPLETE]
    assert all(t.user_attrs.get("surplus") for t in others)  # only harmless surplus asks
    per_trial = _run_dirs_per_trial(tmp_path)
    assert set(per_trial.values()) == {1} and len(per_trial) == len(plan)
    assert len({t.user_attrs["worker"] for t in completed}) == 2  # both workers took part


def test_two_workers_share_a_tpe_sweep_without_running_a_trial_twice(
    tiny_base: Config, study_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = {"optim": {"lr": {"low": 1e-3, "high": 1.0, "log": True}}}
    # No pruner: it would make each worker import keras (~6 s); pruning is tested in-process.
    spec = st.StudySpec(
        kind=st.SWEEP, base=tiny_base.to_dict(), space=space, n_trials=8, pruner="none", seed=0
    )
    st.create_study(st.open_storage(PG_URL), study_name, spec)
    monkeypatch.setenv("CNN_DOCTOR_FAKE_TRAIN_SECONDS", "0.2")

    codes = st.run_local_workers(_worker(study_name, tmp_path), 2, poll_seconds=0.2)

    assert codes == [0, 0]
    study = st.load_study(st.open_storage(PG_URL), study_name)
    state = st.work_state(study, spec)
    # Two workers may both pass the "one more?" check at the last slot: at most one extra trial.
    assert 8 <= state.finished <= 9 and state.running == state.waiting == 0
    per_trial = _run_dirs_per_trial(tmp_path)
    assert set(per_trial.values()) == {1}
    assert len({tuple(t.params.items()) for t in study.get_trials()}) == len(study.get_trials())
