"""A repair round's seeded runs as an Optuna ablation study (``investigate.study``'s machinery).

Each round is one study in the repair's storage (SQLite in the repair folder by default, or the
user's PostgreSQL): every (candidate, seed) run is a queued trial carrying its config change, so
completed trials persist, a Ctrl-C re-queues the one in flight, ``--resume`` drains what is left
without redoing anything, and ``--workers N`` spreads the queue over processes. Runs already made
elsewhere (the diagnosis run is the baseline's first seed; a follow-up round reuses the baseline
runs of the last) are added as completed trials, so the study holds every number its verdict
uses.
"""

from __future__ import annotations

import functools
import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from cnn_doctor.config import Config
from cnn_doctor.investigate import study as st
from cnn_doctor.investigate.ablation import BASELINE
from cnn_doctor.investigate.results import ablation_results
from cnn_doctor.repair.candidates import Candidate

AREA = "repair"
_EXTRA_ATTR = "cnn_doctor_repair_enqueued"  # stage markers already enqueued


def plan_attrs(candidate: Candidate | None, seed: int) -> dict[str, Any]:
    """The user attrs of one queued trial (``None`` = the unchanged baseline)."""
    if candidate is None:
        return {
            "variant": BASELINE,
            "area": BASELINE,
            "factor": BASELINE,
            "change": "unchanged",
            "overrides": {},
            "seed": seed,
        }
    return {
        "variant": candidate.name,
        "area": AREA,
        "factor": candidate.finding,
        "change": candidate.change,
        "overrides": dict(candidate.overrides),
        "seed": seed,
    }


def portable_base(config: Config) -> dict[str, Any]:
    """The round's base config without the machine-local data folder (workers bring theirs)."""
    raw = config.to_dict()
    raw["data"]["data_dir"] = ""
    return raw


def open_round(
    storage_url: str, name: str, base: Config, plan: Sequence[Mapping[str, Any]]
) -> optuna.Study:
    """Create the round's study (or reopen it: resume), its first stage queued once."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own progress lines say it all
    spec = st.StudySpec(kind=st.ABLATION, base=portable_base(base), pruner="none", budget=name)
    study = st.create_study(st.open_storage(storage_url), name, spec, plan)
    st.requeue_interrupted(study)
    return study


def enqueue_stage(study: optuna.Study, marker: str, plan: Sequence[Mapping[str, Any]]) -> None:
    """Queue a later stage's runs exactly once (a resume finds the marker and skips)."""
    done = list(study.user_attrs.get(_EXTRA_ATTR, []))
    if marker in done:
        return
    for attrs in plan:
        study.enqueue_trial({}, user_attrs=dict(attrs))
    study.set_user_attr(_EXTRA_ATTR, [*done, marker])


def add_known_runs(study: optuna.Study, runs: Sequence[Mapping[str, Any]]) -> None:
    """Record finished runs made outside the study as completed trials (once each).

    ``runs``: mappings with ``variant``, ``seed``, ``value`` and ``run_dir`` (plus the plan attrs).
    """
    present = {
        (t.user_attrs.get("variant"), t.user_attrs.get("seed"))
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    }
    for run in runs:
        key = (run["variant"], run["seed"])
        if key in present or run.get("value") is None:
            continue
        attrs = {k: v for k, v in run.items() if k != "value"}
        study.add_trial(
            optuna.trial.create_trial(
                state=TrialState.COMPLETE, value=float(run["value"]), user_attrs=attrs
            )
        )
        present.add(key)


def train_with_builder(
    config: Config,
    *,
    builder: Callable[..., Any] | str,
    callbacks: Sequence[Any] = (),
    quiet: bool = True,
) -> Any:
    """``cnn_doctor.train.train`` with the user's model builder (picklable via ``partial``, so
    spawned workers can run it: ``builder`` may be its ``module:function`` text)."""
    import keras

    from cnn_doctor.train import train

    if isinstance(builder, str):
        builder = resolve_builder(builder)
    keras.backend.clear_session()  # a long-lived worker must drop the last model's graph
    return train(config, callbacks=callbacks, model_builder=builder, quiet=quiet)


def resolve_builder(spec: str) -> Callable[..., Any]:
    """``package.module:function`` -> the function (``ValueError`` with one line if not)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"model builder {spec!r}: expected package.module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(
            f"model builder {spec!r}: cannot import {module_name!r} ({error})"
        ) from None
    builder = getattr(module, attr, None)
    if not callable(builder):
        raise ValueError(f"model builder {spec!r}: {module_name} has no function {attr!r}")
    return builder


def trial_fn(
    run_trial_fn: Callable[..., Any] | None, builder: Callable[..., Any] | str | None
) -> Callable[..., Any] | None:
    """What each trial calls: the injected trainer, ``train`` with the builder, or ``None``
    (the study's default, ``cnn_doctor.train.train``)."""
    if run_trial_fn is not None:
        if builder is None:
            return run_trial_fn
        return functools.partial(run_trial_fn, model_builder=builder)
    if builder is not None:
        return functools.partial(train_with_builder, builder=builder)
    return None


def drain(
    storage_url: str,
    name: str,
    study_dir: Path,
    *,
    run_trial_fn: Callable[..., Any] | None,
    local_overrides: Mapping[str, Any],
    workers: int = 1,
    on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None,
) -> None:
    """Run every queued trial of the round. A crashing candidate is recorded (its trials FAIL
    with the error) and the queue goes on; Ctrl-C propagates after re-queueing the trial."""
    spec = st.WorkerSpec(
        storage_url=storage_url,
        study_name=name,
        study_dir=str(study_dir),
        run_trial_fn=run_trial_fn,
        local_overrides=dict(local_overrides),
        poll_seconds=1.0,
    )
    if workers > 1:
        seen: set[int] = set()
        study = st.load_study(st.open_storage(storage_url), name)

        def poll(_state: st.WorkState) -> None:
            if on_trial is None:
                return
            for t in study.get_trials(
                deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)
            ):
                if t.number not in seen:
                    seen.add(t.number)
                    on_trial(t)

        codes = st.run_local_workers(spec, workers, on_poll=poll)
        if any(code == 130 for code in codes):
            raise KeyboardInterrupt
        return
    while True:
        try:
            st.run_worker(spec, 0, on_trial=(lambda t, _s: on_trial(t)) if on_trial else None)
            return
        except st.StudyError:
            # run_worker stops after 3 failures in a row to save a sweep's queue; here every
            # candidate must be tried, and each failure is already recorded on its trial.
            study = st.load_study(st.open_storage(storage_url), name)
            if not any(t.state == TrialState.WAITING for t in study.get_trials(deepcopy=False)):
                return


def collect(study: optuna.Study) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """(finished runs as ``judge`` reads them, candidate name -> error for crashed trials)."""
    records = ablation_results(study)
    for record in records:
        record["value"] = float(record["value"]) if math.isfinite(record["value"]) else 0.0
    trials = study.get_trials(deepcopy=False)
    superseded = st.superseded_numbers(trials)
    failures: dict[str, str] = {}
    for t in trials:
        if t.state != TrialState.FAIL or t.number in superseded:
            continue
        if t.user_attrs.get("interrupted") or "variant" not in t.user_attrs:
            continue
        failures.setdefault(t.user_attrs["variant"], t.user_attrs.get("error", "crashed"))
    return records, failures
