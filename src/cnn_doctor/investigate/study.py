"""Sweeps and ablations as Optuna studies: storage, objective, pruning, workers, resume.

Why Optuna's own machinery and nothing home-made: a study lives in a relational database, so the
same code runs one worker on a laptop (SQLite file in the study folder) or dozens of workers on many
machines (one PostgreSQL URL). Claiming work is Optuna's atomic WAITING → RUNNING transition;
liveness is Optuna's heartbeat. This module only decides *what* a trial trains and *when a worker
may stop*.

* **Sweep** — TPE samples the search space; a pruner (median or hyperband) stops trials whose
  per-epoch validation accuracy lags. The study stops at ``n_trials`` finished-or-running trials.
* **Ablation** — every (variant, seed) run is enqueued up front as a WAITING trial carrying its
  config change in ``user_attrs``; workers drain the queue. No pruning: every variant must finish.

Resume and fault tolerance (no trial redone, none lost):

* The study is reopened with ``load_if_exists``; finished trials stay finished.
* Ctrl-C inside a trial: the objective re-enqueues a copy of the trial (same params / variant)
  before Optuna marks the original FAIL, so the next run of the command picks it up.
* A worker killed outright (power loss, ``kill -9``) leaves its trial RUNNING; its heartbeat
  stops, and after ``grace_period`` any worker's ``fail_stale_trials`` marks it FAIL and the same
  re-enqueue callback queues a copy. Workers wait for running trials before they exit, so a lost
  trial is always picked up by somebody.
* Each attempt is retried at most ``MAX_RETRY`` times, so a trial that crashes a worker every time
  cannot loop forever.

Every trial is a normal run directory (``<study_dir>/trials/<stamp>-tNNNN-<label>/``), written by
``cnn_doctor.train.train`` — or by any function with its signature (``run_trial_fn``), which is how
tests exercise all of this without training a network.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import multiprocessing
import os
import re
import socket
import sys
import time
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from cnn_doctor.atomic import atomic_write_json
from cnn_doctor.config import Config, ConfigError, config_from_dict

SWEEP, ABLATION = "sweep", "ablation"
KINDS = (SWEEP, ABLATION)
PRUNERS = ("median", "hyperband", "none")
SPEC_ATTR = "cnn_doctor_spec"
ENQUEUED_ATTR = "cnn_doctor_enqueued"
TRIALS_DIR = "trials"
STUDY_FILE = "study.json"
STUDY_DB = "study.db"
# A trial's heartbeat is written every HEARTBEAT_INTERVAL s from a background thread; a RUNNING
# trial silent for GRACE_PERIOD s belongs to a dead worker; 60 s leaves room for a loaded 2-core
# machine.
HEARTBEAT_INTERVAL = 15
GRACE_PERIOD = 60
MAX_RETRY = 3
MAX_CONSECUTIVE_FAILURES = 3  # a worker whose trials all crash stops instead of burning the queue
# Per-attempt user attrs: not copied into a retry (the plan attrs, e.g. the ablation variant, are).
_ATTEMPT_ATTRS = {"run_dir", "run_name", "error", "interrupted", "summary", "surplus", "worker"}

RunTrialFn = Callable[..., Any]  # train(config, *, callbacks=(), quiet=True) -> RunResult-like


class StudyError(ValueError):
    """A user-facing problem with a study (bad or unreachable storage, unknown study name...)."""


# --------------------------------------------------------------------------------------------------
# Spec: everything a worker on any machine needs, stored in the study itself


@dataclass
class StudySpec:
    """What a study trains. Stored as a study user attr, so ``--join`` needs only URL + name."""

    kind: str
    base: dict[str, Any]  # Config.to_dict() of the (budgeted) base config
    space: dict[str, Any] | None = None  # SearchSpace.to_dict() for sweeps
    n_trials: int | None = None  # sweep target
    pruner: str = "median"
    budget: str | None = None
    seed: int | None = None  # sampler seed (TPE); None = random

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise StudyError(f"unknown study kind {self.kind!r}; expected one of {KINDS}")
        if self.pruner not in PRUNERS:
            raise StudyError(f"unknown pruner {self.pruner!r}; choose one of: {', '.join(PRUNERS)}")
        if self.kind == SWEEP and (self.space is None or not self.n_trials or self.n_trials < 1):
            raise StudyError("a sweep needs a search space and n_trials >= 1")

    def base_config(self) -> Config:
        return config_from_dict(self.base)

    def fingerprint(self) -> str:
        """Identity of the experiment: changing the base config or space makes a new study."""
        payload = json.dumps(
            {"kind": self.kind, "base": self.base, "space": self.space, "budget": self.budget},
            sort_keys=True,
            default=str,
        )
        return hashlib.sha1(payload.encode()).hexdigest()[:8]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> StudySpec:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})


def default_study_name(kind: str, base_name: str, spec: StudySpec) -> str:
    """Deterministic from the inputs, so rerunning the same command resumes the same study."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(base_name).stem or "default")
    return f"{kind}-{stem}-{spec.fingerprint()}"


# --------------------------------------------------------------------------------------------------
# Storage


def redact(url: str) -> str:
    """The URL with any password replaced, safe to print and to write into study.json."""
    return re.sub(r"(//[^/:@]+:)[^@/]*@", r"\1***@", url)


def default_storage_url(study_dir: Path) -> str:
    """An SQLite file inside the study folder: nothing to install, travels with the results."""
    return f"sqlite:///{(Path(study_dir) / STUDY_DB).resolve()}"


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def open_storage(
    url: str,
    *,
    heartbeat_interval: int = HEARTBEAT_INTERVAL,
    grace_period: int = GRACE_PERIOD,
    max_retry: int = MAX_RETRY,
) -> optuna.storages.RDBStorage:
    """Connect to (and if needed initialise) the study database, with heartbeats enabled.

    Raises ``StudyError`` with one line for a malformed URL, a missing database driver or an
    unreachable server — the mistakes a user makes on the command line.
    """
    import sqlalchemy.exc

    if "://" not in url:
        raise StudyError(
            f"storage {url!r} is not a database URL; use e.g. sqlite:///study.db or "
            "postgresql://user:password@host:5432/dbname"
        )
    url = _with_postgres_driver(url)
    scheme = url.split("://", 1)[0].lower()
    engine_kwargs: dict[str, Any] = {}
    if scheme.startswith("postgresql"):
        engine_kwargs = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    elif scheme.startswith("sqlite"):
        # Local workers share the file; wait for the write lock instead of failing at once.
        engine_kwargs = {"connect_args": {"timeout": 60}}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                heartbeat_stale_trial_callback=RequeueTrial(max_retry),
            )
    except (sqlalchemy.exc.SQLAlchemyError, ValueError, ImportError) as error:
        raise StudyError(f"cannot open study storage {redact(url)}: {_first_line(error)}") from None
    if scheme.startswith("sqlite"):
        _serialize_sqlite(storage.engine)
    return storage


def _with_postgres_driver(url: str) -> str:
    """Name an installed driver in a bare ``postgresql://`` (or ``postgres://``) URL.

    SQLAlchemy 2.1 maps a bare URL to psycopg 3, 2.0 to psycopg2; our extra installs psycopg2.
    Pick whichever is importable so the URL a user copies from their database just works.
    """
    import importlib.util

    scheme, rest = url.split("://", 1)
    if scheme.lower() not in ("postgresql", "postgres"):
        return url
    for module, driver in (("psycopg2", "psycopg2"), ("psycopg", "psycopg")):
        if importlib.util.find_spec(module) is not None:
            return f"postgresql+{driver}://{rest}"
    raise StudyError(
        "a PostgreSQL storage needs a driver: pip install 'cnn-doctor[postgres]' (psycopg2)"
    )


def _serialize_sqlite(engine: Any) -> None:
    """Make every SQLite transaction ``BEGIN IMMEDIATE`` so claiming a queued trial is atomic.

    Optuna claims a WAITING trial with ``SELECT … FOR UPDATE`` then ``UPDATE``. PostgreSQL locks
    the row; SQLite ignores ``FOR UPDATE`` and pysqlite only opens the transaction at the first
    write, so two local workers could both read WAITING and both run the trial (seen in the
    two-worker test). Taking the write lock at ``BEGIN`` serialises the read-then-write.
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened during table creation predate the listeners


def make_pruner(name: str, max_epochs: int) -> optuna.pruners.BasePruner:
    """Median or hyperband on per-epoch validation accuracy; ``none`` for ablations."""
    if name == "median":
        # Wait for 4 complete trials and judge from epoch 2: epoch-1 accuracy is mostly noise.
        return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=max(max_epochs, 1), reduction_factor=3
        )
    if name == "none":
        return optuna.pruners.NopPruner()
    raise StudyError(f"unknown pruner {name!r}; choose one of: {', '.join(PRUNERS)}")


def make_sampler(seed: int | None) -> optuna.samplers.BaseSampler:
    """TPE; ``constant_liar`` keeps parallel workers from sampling the same point."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


# --------------------------------------------------------------------------------------------------
# Retry (shared by Ctrl-C and by heartbeat staleness)


class RequeueTrial:
    """Queue a WAITING copy of a trial that did not finish (same params, same plan attrs).

    Like Optuna's ``RetryHeartbeatStaleTrialCallback`` (same ``failed_trial`` / ``retry_history``
    system attrs), but per-attempt user attrs (run dir, error...) are not copied into the retry.
    """

    def __init__(self, max_retry: int = MAX_RETRY) -> None:
        self.max_retry = max_retry

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        history = [*trial.system_attrs.get("retry_history", []), trial.number]
        if len(history) > self.max_retry:
            return
        system_attrs = {
            **trial.system_attrs,
            "failed_trial": history[0],
            "retry_history": history,
        }
        user_attrs = {k: v for k, v in trial.user_attrs.items() if k not in _ATTEMPT_ATTRS}
        study.add_trial(
            optuna.create_trial(
                state=TrialState.WAITING,
                params=trial.params,
                distributions=trial.distributions,
                user_attrs=user_attrs,
                system_attrs=system_attrs,
            )
        )


def superseded_numbers(trials: Sequence[optuna.trial.FrozenTrial]) -> set[int]:
    """Numbers of trials that have a retry (their copy, not they, counts)."""
    out: set[int] = set()
    for t in trials:
        out.update(t.system_attrs.get("retry_history", []))
    return out


def requeue_interrupted(study: optuna.Study, max_retry: int = MAX_RETRY) -> int:
    """Re-enqueue interrupted trials that have no retry yet (e.g. a second Ctrl-C hit the requeue).

    Called by the command that launches a study, never by joining workers, so two machines cannot
    both re-enqueue the same trial.
    """
    trials = study.get_trials(deepcopy=False)
    done = superseded_numbers(trials)
    requeue = RequeueTrial(max_retry)
    count = 0
    for t in trials:
        if t.state == TrialState.FAIL and t.user_attrs.get("interrupted") and t.number not in done:
            requeue(study, t)
            count += 1
    return count


# --------------------------------------------------------------------------------------------------
# Creating / joining


def create_study(
    storage: optuna.storages.BaseStorage,
    name: str,
    spec: StudySpec,
    plan_attrs: Sequence[Mapping[str, Any]] = (),
) -> optuna.Study:
    """Create the study, or reopen it (resume) if the same experiment already exists.

    ``plan_attrs``: one user-attr dict per ablation run, enqueued exactly once per study.
    """
    max_epochs = int(spec.base.get("optim", {}).get("epochs", 1))
    try:
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            direction="maximize",
            load_if_exists=True,
            sampler=make_sampler(spec.seed),
            pruner=make_pruner(spec.pruner, max_epochs),
        )
    except Exception as error:  # sqlalchemy errors surface here when the server goes away
        raise StudyError(f"cannot create study {name!r}: {_first_line(error)}") from None
    existing = study.user_attrs.get(SPEC_ATTR)
    if existing is None:
        study.set_user_attr(SPEC_ATTR, spec.to_dict())
    else:
        old = StudySpec.from_dict(existing)
        if old.fingerprint() != spec.fingerprint():
            raise StudyError(
                f"study {name!r} already exists with a different base config or search space; "
                "pass another --study-name, or rerun with the original files to resume it"
            )
        if spec.kind == SWEEP and old.n_trials != spec.n_trials:
            study.set_user_attr(SPEC_ATTR, {**existing, "n_trials": spec.n_trials})
    if spec.kind == ABLATION and not study.user_attrs.get(ENQUEUED_ATTR):
        for attrs in plan_attrs:
            study.enqueue_trial({}, user_attrs=dict(attrs))
        study.set_user_attr(ENQUEUED_ATTR, True)
    return study


def find_study_name(storage: optuna.storages.BaseStorage, name: str | None) -> str:
    """The study to join: ``name`` if it exists, else the storage's only cnn-doctor study."""
    try:
        summaries = optuna.get_all_study_summaries(storage, include_best_trial=False)
    except Exception as error:
        raise StudyError(f"cannot list studies: {_first_line(error)}") from None
    ours = [s.study_name for s in summaries if SPEC_ATTR in s.user_attrs]
    if name is not None:
        if name not in ours:
            listing = ", ".join(ours) or "none"
            raise StudyError(
                f"no cnn-doctor study named {name!r} in this storage (found: {listing})"
            )
        return name
    if not ours:
        raise StudyError("this storage holds no cnn-doctor study yet; start one with sweep/ablate")
    if len(ours) > 1:
        raise StudyError(
            f"this storage holds several studies ({', '.join(ours)}); pick one with --study-name"
        )
    return ours[0]


def load_study(storage: optuna.storages.BaseStorage, name: str) -> optuna.Study:
    """Open an existing study (no sampler/pruner: for reading state and results)."""
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise StudyError(f"no study named {name!r} in this storage") from None


def load_spec(study: optuna.Study) -> StudySpec:
    raw = study.user_attrs.get(SPEC_ATTR)
    if raw is None:
        raise StudyError(f"study {study.study_name!r} was not created by cnn-doctor")
    return StudySpec.from_dict(raw)


# --------------------------------------------------------------------------------------------------
# Objective


def _value_of(result: Any) -> float:
    """The number a trial maximises: the run's best validation accuracy."""
    summary = getattr(result, "summary", None) or {}
    value = summary.get("best_val_accuracy")
    if value is None:
        vals = [h.get("val_accuracy") for h in getattr(result, "history", []) or []]
        vals = [v for v in vals if v is not None]
        value = max(vals) if vals else None
    if value is None:
        raise StudyError("the run reported no validation accuracy (is data.val_size 0?)")
    value = float(value)
    return value if math.isfinite(value) else 0.0


def _find_run_dir(out_dir: Path, name: str) -> Path | None:
    matches = sorted(out_dir.glob(f"*-{name}*"))
    return matches[-1] if matches else None


def _default_train() -> RunTrialFn:
    from cnn_doctor.train import train

    return train


def make_objective(
    spec: StudySpec,
    study_dir: Path,
    run_trial_fn: RunTrialFn | None = None,
    *,
    local_overrides: Mapping[str, Any] | None = None,
    worker: str = "",
) -> Callable[[optuna.Trial], float]:
    """The function Optuna calls per trial: build the config, train it, return val accuracy.

    ``local_overrides`` are machine-specific settings (e.g. ``data.data_dir``) applied on top of the
    stored base config; they do not change what the experiment is.
    """
    from cnn_doctor.investigate.ablation import variant_config
    from cnn_doctor.investigate.space import apply_params, parse_space

    base = spec.base_config()
    if local_overrides:
        base = apply_params(base, local_overrides)
    space = parse_space(spec.space, "stored search space") if spec.kind == SWEEP else None
    trials_dir = Path(study_dir) / TRIALS_DIR
    prune = spec.kind == SWEEP and spec.pruner != "none"

    def objective(trial: optuna.Trial) -> float:
        if worker:
            trial.set_user_attr("worker", worker)
        if spec.kind == ABLATION:
            attrs = trial.user_attrs
            if "variant" not in attrs:
                # Another worker claimed the last queued run between our check and Optuna's ask.
                trial.set_user_attr("surplus", True)
                raise optuna.TrialPruned("no queued ablation run left for this trial")
            config = variant_config(base, attrs["overrides"], int(attrs["seed"]))
            label = f"{attrs['variant']}-s{attrs['seed']}"
        else:
            assert space is not None
            try:
                config = apply_params(base, space.suggest(trial))
            except ConfigError as error:
                trial.set_user_attr("error", str(error))
                raise
            label = "sweep"
        config.run.out_dir = str(trials_dir)
        config.run.name = f"t{trial.number:04d}-{label}"
        trial.set_user_attr("run_name", config.run.name)
        callbacks: list[Any] = []
        if prune:
            from cnn_doctor.investigate.pruning import OptunaPruning

            callbacks.append(OptunaPruning(trial, monitor="val_accuracy"))
        fn = run_trial_fn or _default_train()
        try:
            if run_trial_fn is None:
                import keras

                # Keras keeps global graph state per process; a long-lived worker must drop it.
                keras.backend.clear_session()
            result = fn(config, callbacks=callbacks, quiet=True)
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            with contextlib.suppress(Exception):
                frozen = next(
                    t for t in trial.study.get_trials(deepcopy=False) if t.number == trial.number
                )
                RequeueTrial()(trial.study, frozen)
            raise
        except optuna.TrialPruned:
            run_dir = _find_run_dir(trials_dir, config.run.name)
            if run_dir is not None:
                trial.set_user_attr("run_dir", str(run_dir))
            raise
        except Exception as error:
            trial.set_user_attr("error", f"{type(error).__name__}: {error}"[:500])
            raise
        trial.set_user_attr("run_dir", str(getattr(result, "run_dir", "")))
        summary = getattr(result, "summary", None) or {}
        keep = (
            "test_accuracy",
            "best_val_accuracy",
            "final_val_accuracy",
            "wall_seconds",
            "images_per_second",
            "epochs",
        )
        trial.set_user_attr("summary", {k: summary.get(k) for k in keep if k in summary})
        return _value_of(result)

    return objective


# --------------------------------------------------------------------------------------------------
# Workers


@dataclass
class WorkState:
    """How much of a study is done, from the database alone (every machine sees the same)."""

    complete: int = 0
    pruned: int = 0
    failed: int = 0  # final failures (no retry queued)
    running: int = 0
    waiting: int = 0
    target: int | None = None  # sweep: n_trials; ablation: the number of planned runs

    @property
    def finished(self) -> int:
        return self.complete + self.pruned + self.failed

    @property
    def can_start(self) -> bool:
        """Whether a worker should start another trial now."""
        if self.waiting:
            return True
        if self.target is None:  # ablation: only queued runs exist
            return False
        return self.finished + self.running < self.target


def work_state(study: optuna.Study, spec: StudySpec) -> WorkState:
    trials = study.get_trials(deepcopy=False)
    superseded = superseded_numbers(trials)
    state = WorkState()
    for t in trials:
        if t.number in superseded or t.user_attrs.get("surplus"):
            continue
        if t.state == TrialState.COMPLETE:
            state.complete += 1
        elif t.state == TrialState.PRUNED:
            state.pruned += 1
        elif t.state == TrialState.FAIL:
            state.failed += 1
        elif t.state == TrialState.RUNNING:
            state.running += 1
        elif t.state == TrialState.WAITING:
            state.waiting += 1
    if spec.kind == SWEEP:
        state.target = spec.n_trials
    else:
        state.target = state.finished + state.running + state.waiting
    return state


@dataclass
class WorkerSpec:
    """Everything a worker process needs (picklable: it crosses a process boundary)."""

    storage_url: str
    study_name: str
    study_dir: str
    run_trial_fn: RunTrialFn | None = None  # None = cnn_doctor.train.train
    local_overrides: dict[str, Any] = field(default_factory=dict)
    heartbeat_interval: int = HEARTBEAT_INTERVAL
    grace_period: int = GRACE_PERIOD
    threads: int | None = None  # intra-op threads for this worker (None = library default)
    poll_seconds: float = 5.0
    max_trials: int | None = None  # stop this worker after this many trials (tests, time slots)
    quiet_optuna: bool = True
    gc_after_trial: bool = True  # frees a finished model's memory; ~1 s with torch loaded


@dataclass
class WorkerReport:
    ran: int = 0
    failed: int = 0
    numbers: list[int] = field(default_factory=list)


def _limit_threads(threads: int | None) -> None:
    """Split the cores between local workers (each would otherwise use all of them)."""
    if not threads:
        return
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(threads)


def run_worker(
    spec: WorkerSpec,
    index: int = 0,
    on_trial: Callable[[optuna.trial.FrozenTrial, WorkState], None] | None = None,
) -> WorkerReport:
    """Run trials of an existing study until nothing is left to claim, then return.

    Waits (polling) while other workers still run trials, because a worker that dies leaves a trial
    that only a live worker can re-run once the heartbeat marks it stale.
    """
    _limit_threads(spec.threads)
    if spec.quiet_optuna:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(
        spec.storage_url, heartbeat_interval=spec.heartbeat_interval, grace_period=spec.grace_period
    )
    study_spec = load_spec(load_study(storage, spec.study_name))
    base_backend = study_spec.base.get("run", {}).get("backend", "torch")
    os.environ.setdefault("KERAS_BACKEND", base_backend)
    host = socket.gethostname()
    # Distinct streams per worker (and machine): identical seeds would sample identical points.
    seed = None
    if study_spec.seed is not None:
        seed = study_spec.seed + 1000 * index + zlib.crc32(host.encode()) % 1000
    max_epochs = int(study_spec.base.get("optim", {}).get("epochs", 1))
    study = optuna.load_study(
        study_name=spec.study_name,
        storage=storage,
        sampler=make_sampler(seed),
        pruner=make_pruner(study_spec.pruner, max_epochs),
    )
    worker = f"{host}:{os.getpid()}"
    objective = make_objective(
        study_spec,
        Path(spec.study_dir),
        spec.run_trial_fn,
        local_overrides=spec.local_overrides,
        worker=worker,
    )
    report = WorkerReport()
    consecutive_failures = 0
    last_error = ""
    while spec.max_trials is None or report.ran < spec.max_trials:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        study_spec = load_spec(study)  # n_trials may have been raised by a relaunch
        state = work_state(study, study_spec)
        if not state.can_start:
            if state.running == 0:
                break
            time.sleep(spec.poll_seconds)
            continue
        finished: list[optuna.trial.FrozenTrial] = []
        study.optimize(
            objective,
            n_trials=1,
            catch=(Exception,),
            gc_after_trial=spec.gc_after_trial,
            callbacks=[_Collect(finished)],
        )
        if not finished:  # pragma: no cover - optimize always reports its trial
            continue
        trial = finished[0]
        if trial.user_attrs.get("surplus"):
            continue
        report.ran += 1
        report.numbers.append(trial.number)
        if trial.state == TrialState.FAIL:
            report.failed += 1
            consecutive_failures += 1
            last_error = trial.user_attrs.get("error", "see the log above")
            if consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                raise StudyError(
                    f"{consecutive_failures} trials in a row failed; last error: {last_error}"
                )
        else:
            consecutive_failures = 0
        if on_trial is not None:
            on_trial(trial, work_state(study, study_spec))
    return report


class _Collect:
    """Optuna callback keeping the frozen trial ``optimize`` just finished."""

    def __init__(self, into: list[optuna.trial.FrozenTrial]) -> None:
        self.into = into

    def __call__(self, _study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self.into.append(trial)


def _worker_main(spec: WorkerSpec, index: int) -> None:
    """Entry point of a spawned local worker process."""
    try:
        report = run_worker(spec, index)
    except StudyError as error:
        print(f"worker {index}: error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    logging.getLogger(__name__).debug("worker %s ran %s trials", index, report.ran)


def start_local_workers(spec: WorkerSpec, n: int) -> list[multiprocessing.process.BaseProcess]:
    """Start ``n`` worker processes (spawned: a forked torch/OpenMP runtime can deadlock).

    Each gets ``cores / n`` threads unless ``spec.threads`` says otherwise.
    """
    if n < 1:
        raise StudyError(f"--workers must be >= 1, got {n}")
    threads = spec.threads or max(1, (os.cpu_count() or 1) // n)
    child_spec = dataclasses.replace(spec, threads=threads)
    ctx = multiprocessing.get_context("spawn")
    processes = []
    for i in range(n):
        process = ctx.Process(target=_worker_main, args=(child_spec, i), name=f"cnn-doctor-w{i}")
        process.start()
        processes.append(process)
    return processes


@contextlib.contextmanager
def local_workers(spec: WorkerSpec, n: int) -> Iterator[list[multiprocessing.process.BaseProcess]]:
    """Start workers, and on exit (normal or Ctrl-C) give each time to requeue its trial."""
    processes = start_local_workers(spec, n)
    try:
        yield processes
    finally:
        deadline = time.monotonic() + 30
        for process in processes:
            process.join(timeout=max(0.1, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():  # pragma: no cover - only when a worker hangs
                process.terminate()
                process.join(5)


def run_local_workers(
    spec: WorkerSpec,
    n: int,
    *,
    on_poll: Callable[[WorkState], None] | None = None,
    poll_seconds: float = 2.0,
) -> list[int]:
    """Run ``n`` local workers to completion; returns their exit codes.

    ``on_poll`` receives the study's state every ``poll_seconds`` (progress display).
    """
    storage = open_storage(
        spec.storage_url, heartbeat_interval=spec.heartbeat_interval, grace_period=spec.grace_period
    )
    study = load_study(storage, spec.study_name)
    study_spec = load_spec(study)
    with local_workers(spec, n) as processes:
        while any(p.is_alive() for p in processes):
            if on_poll is not None:
                on_poll(work_state(study, study_spec))
            time.sleep(poll_seconds)
        if on_poll is not None:
            on_poll(work_state(study, study_spec))
    return [p.exitcode if p.exitcode is not None else -1 for p in processes]


def write_study_file(study_dir: Path, payload: Mapping[str, Any]) -> Path:
    """``study.json``: how to find the study again (URL without password, name, kind)."""
    study_dir.mkdir(parents=True, exist_ok=True)
    path = study_dir / STUDY_FILE
    return atomic_write_json(path, dict(payload))
