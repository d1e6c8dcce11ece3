"""``fix``: diagnose -> candidate changes -> seeded A/B -> accept or reject, until nothing helps.

One round:

1. Diagnose the current config with a short instrumented run (``diagnose``'s short run). That run
   is also the baseline's first seed.
2. Candidates: the ranked findings' fixes that are config changes (``candidates.from_findings``).
   When none is testable but the run learns far slower than the default recipe on the same short
   budget (``SLOW_MARGIN`` below it, one reference run), the ablation fallback's one-factor
   changes instead; a findings round whose candidates all fail is followed by a fallback round
   on the same config under the same condition.
3. Train the baseline and every candidate on the same short budget with ``seeds`` seeds, as a
   queued Optuna study (more than ``SCREEN_ABOVE`` candidates: one seed each first, then the
   other seeds for the best ``SCREEN_KEEP`` that beat the baseline's first seed).
4. Accept the best candidate whose gain passes ``acceptance.judge`` (gain > 2 SE of the
   difference, pooled seed noise); then go to 1 from the new config.

It stops when a round accepts nothing, when nothing is left to try, when the next round cannot fit
in the budget, or after ``max_rounds``. Every step is booked in ``repair.json``; ``resume=`` picks
up where a kill left it without retraining a finished run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.markup import escape

from cnn_doctor.config import Config, ConfigError, config_from_dict, load_config
from cnn_doctor.diagnose.pipeline import (
    DIAGNOSIS_PRECISION,
    SHORT_EPOCHS,
    SHORT_SUBSET,
    short_run_overrides,
)
from cnn_doctor.investigate import study as st
from cnn_doctor.investigate.space import apply_params
from cnn_doctor.repair import trials as tr
from cnn_doctor.repair.acceptance import judge
from cnn_doctor.repair.budget import (
    SCREEN_ABOVE,
    SCREEN_KEEP,
    RunEstimate,
    check_budget,
    format_duration,
    parse_budget,
    probe_run_seconds,
    runs_per_round,
)
from cnn_doctor.repair.candidates import Candidate, fallback, from_findings
from cnn_doctor.repair.results import (
    DiagnoseFn,
    DiagnosisRun,
    RepairResult,
    instrumented_diagnosis,
    score,
)
from cnn_doctor.repair.state import RepairState

DEFAULT_BUDGET = "30m"
MAX_ROUNDS = 5
# "Far slower than the default recipe": 3 points of validation accuracy below it at the same
# short budget (the tolerance the fault benchmark counts as repaired).
SLOW_MARGIN = 0.03


def _builder_spec(model_builder: Any) -> str | None:
    if model_builder is None:
        return None
    if isinstance(model_builder, str):
        return model_builder
    module, name = (
        getattr(model_builder, "__module__", None),
        getattr(model_builder, "__qualname__", ""),
    )
    return f"{module}:{name}" if module and name and "<" not in name else None


def _short_overrides(config: Config, subset: int, epochs: int) -> list[str]:
    out = short_run_overrides(config, subset=subset, epochs=epochs)
    if config.run.precision == "auto":
        # the diagnosis computes in float32 (DIAGNOSIS_PRECISION); the runs it is compared with
        # must too, or precision would be a hidden second change
        out.append(f"run.precision={DIAGNOSIS_PRECISION}")
    return out


def _apply_text(config: Config, overrides: Sequence[str]) -> Config:
    from cnn_doctor.config import parse_override

    params = {}
    for text in overrides:
        section, key, value = parse_override(text)
        params[f"{section}.{key}"] = value
    return apply_params(config, params)


class _Repair:
    """One repair's moving parts; ``run`` drives the rounds from ``state``."""

    def __init__(
        self,
        state: RepairState,
        *,
        model_builder: Any,
        run_trial_fn: Callable[..., Any] | None,
        diagnose_fn: DiagnoseFn | None,
        estimate: RunEstimate | None,
        storage: str | None,
        workers: int,
        max_rounds: int,
        console: Any,
    ) -> None:
        self.state = state
        self.data = state.data
        self.builder = model_builder
        self.user_model = model_builder is not None
        self.run_trial_fn = run_trial_fn
        self.diagnose_fn = diagnose_fn or instrumented_diagnosis
        self.estimate = estimate
        self.storage = storage or self.data["storage"]
        self.workers = workers
        self.max_rounds = max_rounds
        self.console = console
        self.seeds = [int(self.data["seed"]) + i for i in range(int(self.data["seeds"]))]
        self.local = (
            {"data.data_dir": self.original.data.data_dir} if self.original.data.data_dir else {}
        )

    # ---- configs
    @property
    def original(self) -> Config:
        return self.state.original

    def short(self, changes: Mapping[str, Any]) -> Config:
        """The short-budget config the rounds compare: original + accepted changes + budget."""
        config = apply_params(self.original, dict(changes)) if changes else self.original
        return _apply_text(config, self.data["short"])

    def reference_config(self) -> Config:
        """The healthy recipe the run's pace is compared with (the default recipe unless the
        caller named another), on the same short budget and data."""
        if self.data.get("reference_config"):
            base = config_from_dict(self.data["reference_config"])
        else:
            base = load_config(None, [])
            base.run = replace(self.original.run)
        base.data.data_dir = self.original.data.data_dir
        return _apply_text(base, self.data["short"])

    def say(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text, highlight=False)

    # ---- budget
    def run_seconds(self) -> float:
        """Seconds one short run takes: measured runs once there are some, else the probe."""
        measured = self.data.get("run_seconds") or []
        if measured:
            return sum(measured[-8:]) / len(measured[-8:])
        assert self.estimate is not None
        return self.estimate.seconds

    def diagnosis_seconds(self) -> float:
        """Seconds a diagnosis takes: the last one measured (instrumented, so slower than a
        plain run, and the config may have changed since), else a plain run's."""
        measured = self.data.get("diagnosis_seconds") or []
        return measured[-1] if measured else self.run_seconds()

    def _book_run(self, seconds: float, *, diagnosis: bool = False) -> None:
        key = "diagnosis_seconds" if diagnosis else "run_seconds"
        self.data.setdefault(key, []).append(round(float(seconds), 2))

    def fits(self, runs: int, *, diagnosis: bool = False) -> bool:
        need = runs * self.run_seconds() + (self.diagnosis_seconds() if diagnosis else 0.0)
        return need <= self.state.remaining

    def stop_for_budget(self, *, diagnosis: bool = True) -> None:
        need = self.run_seconds() * runs_per_round(len(self.seeds), 1, screen=False)
        need += self.diagnosis_seconds() if diagnosis else 0.0
        self.stop(
            f"budget spent: {format_duration(self.state.remaining)} left, a round with one "
            f"candidate at {len(self.seeds)} seeds needs ~{format_duration(need)}"
        )

    # ---- steps
    def run(self) -> None:
        while not self.data.get("stop_reason"):
            current = self.state.open_round()
            if current is None:
                if len(self.state.rounds) >= self.max_rounds:
                    self.stop(f"round limit reached ({self.max_rounds})")
                    break
                current = self.new_round()
            self.play(current)

    def stop(self, reason: str) -> None:
        self.data["stop_reason"] = reason
        current = self.state.open_round()
        if current is not None:
            current["done"] = True
        self.state.save()

    def new_round(self, kind: str = "findings", changes: Mapping[str, Any] | None = None) -> dict:
        rounds = self.state.rounds
        if changes is None:
            changes = dict(rounds[-1]["changes_after"]) if rounds else {}
        index = len(rounds) + 1
        entry = {"index": index, "kind": kind, "changes": dict(changes), "seconds": 0.0}
        rounds.append(entry)
        self.state.save()
        return entry

    def play(self, rnd: dict[str, Any]) -> None:
        index = rnd["index"]
        config = self.short(rnd["changes"])
        folder = self.state.folder / f"round{index:02d}"
        # 1. diagnosis (the baseline's first seed)
        if rnd.get("diagnosis") is None:
            if not self.fits(runs_per_round(len(self.seeds), 1, screen=False), diagnosis=True):
                self.stop_for_budget()
                return
            self.say(f"[bold]round {index}[/]: diagnosing the current config (short run)")
            cfg = replace(config, run=replace(config.run, out_dir=str(folder), name="diagnosis"))
            diagnosis = self.diagnose_fn(cfg, self.builder)
            self._book_run(diagnosis.seconds, diagnosis=True)
            rnd["diagnosis"] = diagnosis.to_dict()
            self.state.save()
            ids = ", ".join(f.id for f in diagnosis.findings) or "nothing"
            self.say(f"  found: {ids}; validation accuracy {_pct(diagnosis.value)}")
        diagnosis = DiagnosisRun.from_dict(rnd["diagnosis"])
        # 2. candidates
        if rnd.get("candidates") is None and not self.choose(rnd, config, diagnosis):
            return
        candidates = [Candidate.from_dict(c) for c in rnd["candidates"]]
        # 3. seeded A/B
        if not self.measure(rnd, config, diagnosis, candidates, folder):
            return
        # 4. verdict
        self.decide(rnd, config, candidates)

    def choose(self, rnd: dict[str, Any], config: Config, diagnosis: DiagnosisRun) -> bool:
        """Fill ``rnd["candidates"]``; returns False when the repair stops here."""
        if rnd["kind"] == "findings":
            proposal = from_findings(diagnosis.findings, config, user_model=self.user_model)
            rnd["suggestions"] = [s.to_dict() for s in proposal.suggestions]
            candidates = proposal.candidates
            if not candidates:
                slow = self.slow(diagnosis.value)
                if slow is None:
                    return False
                if not slow:
                    what = (
                        "no finding suggests a config change"
                        if diagnosis.findings
                        else ("no finding")
                    )
                    self.stop(
                        f"{what}, and the run keeps pace with the default recipe "
                        f"({_pct(diagnosis.value)} vs {_pct(self.data['reference']['value'])})"
                    )
                    return False
                rnd["kind"] = "ablation"
        if rnd["kind"] == "ablation":
            measured = set(rnd.get("exclude", []))
            candidates = fallback(
                config, self.reference_config(), user_model=self.user_model, exclude=measured
            )
            rnd.setdefault("suggestions", [])
            if not candidates:
                self.stop("nothing left to try: every fallback factor was measured")
                return False
            why = "the findings' changes did not help" if measured else "nothing testable fires"
            self.say(
                f"  {why} but the run trails the default recipe: trying "
                f"{len(candidates)} one-factor changes (ablation fallback)"
            )
        keep = len(candidates)
        while keep and not self.fits(
            runs_per_round(len(self.seeds), keep, screen=keep > SCREEN_ABOVE)
        ):
            keep -= 1
        if keep == 0:
            self.stop_for_budget(diagnosis=False)
            return False
        rnd["not_run"] = [c.to_dict() for c in candidates[keep:]]
        rnd["candidates"] = [c.to_dict() for c in candidates[:keep]]
        rnd["study"] = f"{self.data['name']}-r{rnd['index']:02d}"
        self.state.save()
        changes = ", ".join(c.change for c in candidates[:keep])
        dropped = f" ({len(candidates) - keep} left out: budget)" if keep < len(candidates) else ""
        self.say(f"  candidates: {escape(changes)}{dropped}")
        return True

    def slow(self, value: float | None) -> bool | None:
        """Whether ``value`` trails the default recipe by more than ``SLOW_MARGIN`` (measuring
        the recipe once, on the first seed); ``None`` when the budget stops the repair."""
        if self.data.get("reference") is None:
            reference = self.reference_config()
            if self.short({}).to_dict() == reference.to_dict() and not self.user_model:
                self.data["reference"] = {"value": value, "run_dir": "", "seconds": 0.0}
            else:
                if not self.fits(2 + runs_per_round(len(self.seeds), 1, screen=False)):
                    self.stop("budget spent before the default recipe could be measured")
                    return None
                self.say("  measuring the default recipe on the same short budget (1 seed)")
                cfg = replace(
                    reference,
                    run=replace(
                        reference.run, out_dir=str(self.state.folder / "reference"), name="default"
                    ),
                )
                started = time.perf_counter()
                result = (self.run_trial_fn or _default_train())(cfg, callbacks=(), quiet=True)
                # not booked as a short run: the recipe's pace says nothing of the candidates'
                seconds = time.perf_counter() - started
                self.data["reference"] = {
                    "value": score(result),
                    "run_dir": str(getattr(result, "run_dir", "")),
                    "seconds": seconds,
                }
            self.state.save()
        ref = self.data["reference"]["value"]
        if value is None or ref is None:
            return value is None
        return value < ref - SLOW_MARGIN

    def measure(
        self,
        rnd: dict[str, Any],
        config: Config,
        diagnosis: DiagnosisRun,
        candidates: list[Candidate],
        folder: Path,
    ) -> bool:
        """Run the round's trials; False when the budget stopped it before a verdict."""
        s0, rest = self.seeds[0], self.seeds[1:]
        screen = len(candidates) > SCREEN_ABOVE
        if screen:
            first = [tr.plan_attrs(c, s0) for c in candidates]
        else:
            first = [tr.plan_attrs(None, s) for s in rest]
            first += [tr.plan_attrs(c, s) for s in self.seeds for c in candidates]
        study = tr.open_round(self.storage, rnd["study"], config, first)
        known = [
            {
                **tr.plan_attrs(None, s0),
                "value": diagnosis.value,
                "run_dir": diagnosis.run_dir,
            }
        ]
        known += rnd.get("known_runs", [])
        tr.add_known_runs(study, known)
        self._drain(rnd, folder)
        if screen:
            records, _ = tr.collect(study)
            base = diagnosis.value if diagnosis.value is not None else float("-inf")
            scored = sorted(
                (r for r in records if r["variant"] != "baseline" and r["value"] > base),
                key=lambda r: -r["value"],
            )
            by_name = {c.name: c for c in candidates}
            kept = [by_name[r["variant"]] for r in scored[:SCREEN_KEEP]]  # best first
            leader = kept[0] if kept else None
            while kept and not self.fits(len(rest) * (1 + len(kept))):
                kept.pop()  # the screen measured the real run time: keep what still fits
            if leader is not None and not kept:
                # a screen winner on one seed is not a verdict: stop so --resume can confirm it
                best = scored[0]["value"] - base
                self.stop(
                    f"budget spent before the screen's leader ({leader.change}, "
                    f"{_pts(best)} on one seed) could be run on its other seeds; continue with "
                    "--resume and more --budget"
                )
                return False
            if kept:
                plan = [tr.plan_attrs(None, s) for s in rest]
                plan += [tr.plan_attrs(c, s) for s in rest for c in kept]
                tr.enqueue_stage(study, "confirm", plan)
                kept_text = escape(", ".join(c.change for c in kept))
                self.say(
                    f"  screen done: {kept_text} beat the baseline's first seed; running the "
                    "other seeds"
                )
                self._drain(rnd, folder)
        return True

    def _drain(self, rnd: dict[str, Any], folder: Path) -> None:
        def on_trial(trial: Any) -> None:
            attrs = trial.user_attrs
            summary = attrs.get("summary") or {}
            if summary.get("wall_seconds"):
                self._book_run(float(summary["wall_seconds"]))
            if trial.value is not None:
                outcome = f"val {_pct(trial.value)}"
            else:
                outcome = f"[red]failed[/]: {attrs.get('error', '?')}"
            change = escape(str(attrs.get("change", "?")))
            self.say(f"    {change} (seed {attrs.get('seed')}): {outcome}")
            self.state.save()

        tr.drain(
            self.storage,
            rnd["study"],
            folder,
            run_trial_fn=tr.trial_fn(self.run_trial_fn, self.builder),
            local_overrides=self.local,
            workers=self.workers,
            on_trial=on_trial,
        )

    def decide(self, rnd: dict[str, Any], config: Config, candidates: list[Candidate]) -> None:
        study = st.load_study(st.open_storage(self.storage), rnd["study"])
        records, failures = tr.collect(study)
        sizes = {c.name: len(c.overrides) for c in candidates}
        judgement = judge(records, seeds_required=len(self.seeds), failures=failures, sizes=sizes)
        rnd["judgement"] = judgement.to_dict()
        rnd["runs"] = [
            {k: r.get(k) for k in ("variant", "seed", "value", "run_dir")} for r in records
        ]
        by_name = {c.name: c for c in candidates}
        accepted = judgement.accepted
        changes = dict(rnd["changes"])
        if accepted is not None:
            cand = by_name[accepted.name]
            changes.update(cand.overrides)
            rnd["accepted"] = cand.name
            self.say(
                f"  [green]accepted[/] {escape(cand.change)}: {_pts(accepted.gain)} ± "
                f"{_pts(accepted.stderr)} (SE) over the baseline's {_pct(judgement.baseline_mean)}"
            )
        else:
            best = max(
                (v for v in judgement.verdicts if v.gain is not None),
                key=lambda v: v.gain,
                default=None,
            )
            shown = (
                f" (best: {escape(by_name[best.name].change)} {_pts(best.gain)})" if best else ""
            )
            self.say(f"  no candidate beat the seed noise{shown}")
        rnd["changes_after"] = changes
        rnd["done"] = True
        self.state.save()
        if accepted is not None:
            return
        # Nothing helped. A findings round on a config that still trails the default recipe gets
        # one fallback round on the same config, reusing this round's baseline runs.
        if rnd["kind"] == "findings":
            slow = self.slow(judgement.baseline_mean)
            if slow is None:
                return
            if slow and len(self.state.rounds) < self.max_rounds:
                follow = self.new_round("ablation", rnd["changes"])
                follow["diagnosis"] = rnd["diagnosis"]
                follow["suggestions"] = []
                follow["exclude"] = [c.change for c in candidates]
                follow["known_runs"] = [
                    {**tr.plan_attrs(None, r["seed"]), "value": r["value"], "run_dir": r["run_dir"]}
                    for r in records
                    if r["variant"] == "baseline"
                ]
                self.state.save()
                return
        self.stop("no candidate's gain exceeded the seed noise")


def _default_train() -> Callable[..., Any]:
    from cnn_doctor.train import train

    return train


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _pts(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:+.1f} pts"


# --------------------------------------------------------------------------------------------------
# Public entry point


def fix(
    config: Config | str | None = None,
    model_builder: Callable[..., Any] | str | None = None,
    budget: str | float | None = None,
    *,
    overrides: Sequence[str] = (),
    seeds: int = 2,
    subset: int = SHORT_SUBSET,
    epochs: int = SHORT_EPOCHS,
    storage: str | None = None,
    workers: int = 1,
    confirm: bool = False,
    resume: Path | str | None = None,
    out_dir: Path | str | None = None,
    max_rounds: int = MAX_ROUNDS,
    console: Any = None,
    run_trial_fn: Callable[..., Any] | None = None,
    diagnose_fn: DiagnoseFn | None = None,
    estimate: RunEstimate | None = None,
    reference: Config | None = None,
    reference_value: float | None = None,
) -> RepairResult:
    """Repair a training config and prove each change with seeds.

    Args:
        config: a ``Config``, a TOML path or preset name (``"seed"``), or ``None`` (defaults);
            ``overrides`` are ``section.key=value`` texts applied on top.
        model_builder: the user's ``f(input_shape=..., num_classes=...)`` (or its
            ``"module:function"``); ``model.*`` fixes then become code suggestions.
        budget: wall time for the whole repair (``"20m"``, or seconds; default
            ``DEFAULT_BUDGET``). A budget too small for one baseline and one candidate raises
            ``BudgetError`` naming the minimum. With ``resume``, a budget given is the time
            allowed from now on.
        seeds: seeds per arm (>= 2). ``subset``/``epochs``: the short run (as ``diagnose``).
        storage / workers: the Optuna storage URL (default SQLite in the repair folder) and
            local worker processes.
        confirm: also train the original and the fixed config at their full budget (1 seed).
        resume: a repair folder to continue; its trials are not redone.
        run_trial_fn / diagnose_fn / estimate: replace the trainer, the diagnosis and the
            run-time probe (tests, other trainers).
        reference / reference_value: the healthy recipe whose pace triggers the ablation
            fallback (default: the default recipe, measured once on the short budget when
            needed), and its short-run score when already known (benchmarks).

    Example:
        >>> result = cnn_doctor.fix("seed", budget="20m")  # doctest: +SKIP
        >>> [s.change for s in result.steps]  # doctest: +SKIP
    """
    from cnn_doctor.repair.report import write_outputs

    if seeds < 2:
        raise ConfigError(f"--seeds {seeds}: seed noise needs at least 2 seeds per arm")
    if workers < 1:
        raise ConfigError(f"--workers {workers} must be >= 1")
    if resume is not None:
        state = RepairState.load(Path(resume))
        spec = state.data.get("model")
        if model_builder is None and spec:
            model_builder = tr.resolve_builder(spec)
        if budget is not None:
            state.data["budget_seconds"] = state.spent + parse_budget(budget)
            if str(state.data.get("stop_reason", "")).startswith("budget spent"):
                # more time: carry on where the budget stopped it
                state.data["stop_reason"] = None
                last = state.rounds[-1] if state.rounds else None
                if last is not None and not last.get("judgement"):
                    last["done"] = False
        if storage is None and "***" in state.data["storage"]:
            raise ConfigError("this repair's storage needs a password: pass --storage again")
        storage = storage or state.data["storage"]
    else:
        if isinstance(config, Config):
            cfg = apply_params(config, {}) if not overrides else _apply_text(config, overrides)
        else:
            cfg = load_config(config, list(overrides))
        if isinstance(model_builder, str):
            model_builder = tr.resolve_builder(model_builder)
        budget_seconds = parse_budget(DEFAULT_BUDGET if budget is None else budget)
        short = _short_overrides(cfg, subset, epochs)
        if estimate is None:
            estimate = probe_run_seconds(_apply_text(cfg, short), model_builder=model_builder)
        check_budget(budget_seconds, estimate, seeds)
        folder = _new_folder(Path(out_dir or cfg.run.out_dir), cfg, model_builder)
        url = storage or st.default_storage_url(folder)
        state = RepairState.create(
            folder,
            name=folder.name,
            created=datetime.now().isoformat(timespec="seconds"),
            original=cfg.to_dict(),
            short=short,
            seed=cfg.run.seed,
            seeds=seeds,
            budget_seconds=budget_seconds,
            storage=st.redact(url),
            model=_builder_spec(model_builder),
            estimate=estimate.to_dict(),
            reference_config=None if reference is None else reference.to_dict(),
            reference=None
            if reference_value is None
            else {"value": float(reference_value), "run_dir": "", "seconds": 0.0},
        )
        storage = url
    if estimate is None and state.data.get("estimate"):
        estimate = RunEstimate(**state.data["estimate"])
    repair = _Repair(
        state,
        model_builder=model_builder,
        run_trial_fn=run_trial_fn,
        diagnose_fn=diagnose_fn,
        estimate=estimate,
        storage=storage,
        workers=workers,
        max_rounds=max_rounds,
        console=console,
    )
    if console is not None:
        console.print(
            f"repair folder [bold]{state.folder}[/] ({format_duration(state.remaining)} of the "
            f"budget left, {len(repair.seeds)} seeds, short run ~{repair.run_seconds():.0f} s)",
            highlight=False,
        )
    try:
        repair.run()
    except KeyboardInterrupt:
        repair.say(
            "[yellow]interrupted[/]: finished runs are kept; continue with "
            f"[bold]cnn-doctor fix --resume {state.folder}[/]"
        )
        raise
    finally:
        state.save()
    if confirm and not state.data.get("confirm"):
        _confirm(repair)
    return write_outputs(state, console=console)


def _new_folder(parent: Path, config: Config, model_builder: Any) -> Path:
    from cnn_doctor.runs import new_run_dir

    name = config.run.name or ("model" if model_builder is not None else config.model.arch)
    return new_run_dir(parent, f"fix-{name}")


def _confirm(repair: _Repair) -> None:
    """Before vs after at equal wall time, one seed each: the original config at its full
    budget, then the fixed config inside the seconds the original took (``run.time_budget``,
    so its schedule is planned for that length). A faster-per-epoch fix thus gets more epochs,
    a slower one fewer: the comparison a user with a fixed amount of time cares about. A
    config with its own ``run.time_budget`` keeps it (both then share the user's budget)."""
    from cnn_doctor.repair.report import fixed_config

    state = repair.state
    out: dict[str, Any] = dict(state.data.get("confirm_partial") or {})
    fn = tr.trial_fn(repair.run_trial_fn, repair.builder) or _default_train()
    for label, cfg in (("original", repair.original), ("fixed", fixed_config(state))):
        if label in out:
            continue  # --resume: already trained
        cfg = replace(cfg, run=replace(cfg.run, out_dir=str(state.folder / "confirm"), name=label))
        original_seconds = (out.get("original") or {}).get("seconds")
        if label == "fixed" and not cfg.run.time_budget and original_seconds is not None:
            seconds = max(1, math.ceil(original_seconds))
            cfg = replace(cfg, run=replace(cfg.run, time_budget=f"{seconds}s"))
        limit = f"a {cfg.run.time_budget} time budget" if cfg.run.time_budget else "full length"
        repair.say(f"confirm: training the {label} config at {limit}")
        started = time.perf_counter()
        try:
            result = fn(cfg, callbacks=(), quiet=True)
        except ConfigError as error:  # e.g. the original's time fits no epoch of the fix
            out[label] = {"error": str(error), "time_budget": cfg.run.time_budget or None}
            repair.say(f"  [red]failed[/]: {error}")
        else:
            summary = getattr(result, "summary", {}) or {}
            out[label] = {
                "best_val_accuracy": summary.get("best_val_accuracy"),
                "test_accuracy": summary.get("test_accuracy"),
                "epochs": summary.get("epochs"),
                "time_budget": cfg.run.time_budget or None,
                "seconds": round(time.perf_counter() - started, 1),
                "run_dir": str(getattr(result, "run_dir", "")),
            }
        state.data["confirm_partial"] = out  # nothing lost if the second run is interrupted
        state.save()
    state.data["confirm"] = out
    state.save()
