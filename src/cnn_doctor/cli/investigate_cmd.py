"""``cnn-doctor lr-find``, ``ablate``, ``sweep`` and ``compare``: experiments beyond one run.

Sweeps and ablations are Optuna studies (see ``cnn_doctor.investigate.study``): rerunning the same
command resumes; ``--storage postgresql://…`` shares the study with other machines, which join with
``--join``. Keras is imported only inside commands that train, after the backend is chosen.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from cnn_doctor.cli.app import (
    ConfigOption,
    DataDirOption,
    SetOption,
    TimeBudgetOption,
    app,
    console,
    fail,
    load_cli_config,
    select_backend,
    user_errors,
)

if TYPE_CHECKING:  # pragma: no cover
    from cnn_doctor.config import Config
    from cnn_doctor.investigate.study import StudySpec, WorkState

StorageOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--storage",
        help="Optuna storage URL, e.g. postgresql://user:pw@host/db (default: SQLite file in the "
        "study folder).",
    ),
]
StudyNameOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--study-name",
        help="Study name (default: derived from the inputs, so a rerun "
        "of the same command resumes it).",
    ),
]
WorkersOption = Annotated[
    int, typer.Option("--workers", "-w", min=1, help="Local worker processes (cores are split).")
]
JoinOption = Annotated[
    bool, typer.Option("--join", help="Join an existing study in --storage as an extra worker.")
]
OutOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--out", help="Parent folder of the study folder (default: run.out_dir)."),
]


@contextlib.contextmanager
def _investigate_errors() -> Iterator[None]:
    """``user_errors`` plus the study layer's errors, each as one line.

    Messages are escaped: they quote TOML tables like ``[optim.lr]``, which Rich would otherwise
    swallow as markup.
    """

    from cnn_doctor.config import ConfigError
    from cnn_doctor.investigate.study import StudyError

    with user_errors():
        try:
            yield
        except (StudyError, ConfigError) as error:
            fail(escape(str(error)))


def _with_budget(overrides: list[str] | None, time_budget: str | None) -> list[str]:
    """``--time-budget X`` is ``--set run.time_budget=X``: every run (each calls ``train``) gets
    the budget, so runs are compared at equal time, not equal epochs."""
    return [*(overrides or []), *([f"run.time_budget={time_budget}"] if time_budget else [])]


# --------------------------------------------------------------------------------------------------
# lr-find


@app.command("lr-find")
def lr_find_cmd(
    config: ConfigOption = None,
    set_: SetOption = None,
    data_dir: DataDirOption = None,
    steps: Annotated[int, typer.Option("--steps", min=5, help="Batches in the LR ramp.")] = 100,
    start_lr: Annotated[float, typer.Option("--start-lr", help="First LR of the ramp.")] = 1e-5,
    end_lr: Annotated[float, typer.Option("--end-lr", help="Last LR of the ramp.")] = 10.0,
    batch_size: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--batch-size", min=1, help="Default: optim.batch_size."),
    ] = None,
    method: Annotated[
        str, typer.Option("--method", help="Headline suggestion: steepest or min/10.")
    ] = "steepest",
    json_path: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--json", help="Also write suggested_lr, method, lrs, losses, plot here."),
    ] = None,
    out: OutOption = None,
) -> None:
    """LR range test: exponential LR ramp, loss-vs-LR plot and a suggested learning rate."""
    from cnn_doctor.investigate.lr_find import METHODS

    if method not in METHODS:
        fail(f"--method {method!r} is not valid; choose one of: {', '.join(METHODS)}")
    if not (0 < start_lr < end_lr):
        fail(f"--start-lr ({start_lr}) must be > 0 and below --end-lr ({end_lr})")
    with _investigate_errors():
        cfg = load_cli_config(config, set_, data_dir)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        from cnn_doctor.investigate.lr_find import lr_find_for_config
        from cnn_doctor.runs import new_run_dir

        folder = new_run_dir(out or cfg.run.out_dir, "lr-find")
        started = time.perf_counter()
        with Progress(
            "[bold]LR range test",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("lr", total=steps)

            def advance(step: int, total: int) -> None:
                progress.update(task, completed=step)

            try:
                result = lr_find_for_config(
                    cfg,
                    num_steps=steps,
                    start_lr=start_lr,
                    end_lr=end_lr,
                    batch_size=batch_size,
                    method=method,
                    plot=folder / "lr_find.png",
                    progress=advance,
                )
            except ValueError as error:
                fail(str(error))
        result.save_json(folder / "lr_find.json")
        if json_path is not None:
            result.save_json(json_path)
    seconds = time.perf_counter() - started
    alt = {m: v for m, v in result.suggestions.items() if m != method}
    if result.suggested_lr is None:
        console.print(
            f"[yellow]no suggestion[/]: the curve has too few points ({result.stop_reason}); "
            "try a lower --start-lr or more --steps"
        )
    else:
        alt_text = ", ".join(f"{m}: {v:.3g}" for m, v in alt.items() if v is not None)
        console.print(
            f"[bold green]suggested lr {result.suggested_lr:.3g}[/] ({method}; {alt_text})\n"
            f"  try: cnn-doctor train --set optim.lr={result.suggested_lr:.3g}\n"
            f"  {len(result.lrs)} steps, {result.stop_reason}, {seconds:.0f} s"
        )
    console.print(f"plot: {result.plot}")


# --------------------------------------------------------------------------------------------------
# shared study driver


def _progress_line(state: WorkState) -> str:
    target = state.target if state.target is not None else "?"
    return (
        f"{state.finished}/{target} finished ({state.complete} complete, {state.pruned} pruned, "
        f"{state.failed} failed), {state.running} running, {state.waiting} queued"
    )


def _drive(
    *,
    storage_url: str,
    study_name: str,
    study_dir: Path,
    workers: int,
    local_overrides: dict[str, Any],
    label: str,
) -> WorkState:
    """Run local workers on a study until it is done; returns the final state."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cnn_doctor.investigate import study as st

    spec = st.WorkerSpec(
        storage_url=storage_url,
        study_name=study_name,
        study_dir=str(study_dir),
        local_overrides=local_overrides,
    )
    storage = st.open_storage(storage_url)
    study = st.load_study(storage, study_name)
    study_spec = st.load_spec(study)
    initial = st.work_state(study, study_spec)
    with Progress(
        f"[bold]{label}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
    ) as progress:
        task = progress.add_task(
            label, total=initial.target, completed=initial.finished, status=_progress_line(initial)
        )

        def show(state: st.WorkState) -> None:
            progress.update(
                task, total=state.target, completed=state.finished, status=_progress_line(state)
            )

        try:
            if workers == 1:
                st.run_worker(spec, 0, on_trial=lambda _trial, state: show(state))
            else:
                codes = st.run_local_workers(spec, workers, on_poll=show)
                bad = [c for c in codes if c not in (0,)]
                if bad and all(c == 130 for c in bad):
                    raise KeyboardInterrupt
                if bad:
                    fail(f"{len(bad)} of {workers} workers failed (exit codes {bad}); see above")
        except KeyboardInterrupt:
            progress.stop()
            console.print(
                "[yellow]interrupted[/]: finished trials are saved and the one in flight is "
                "queued again; rerun the same command to resume"
            )
            raise typer.Exit(130) from None
        final = st.work_state(study, study_spec)
        show(final)
    return final


def _launch(
    *,
    kind: str,
    spec: StudySpec,
    base_name: str,
    cfg: Config,
    storage: str | None,
    study_name: str | None,
    out: Path | None,
    plan_attrs: list[dict[str, Any]],
) -> tuple[str, str, Path]:
    """Create (or reopen) the study and its folder; returns (storage URL, name, folder)."""
    from cnn_doctor.investigate import study as st

    name = study_name or st.default_study_name(kind, base_name, spec)
    study_dir = Path(out or cfg.run.out_dir) / name
    study_dir.mkdir(parents=True, exist_ok=True)
    url = storage or st.default_storage_url(study_dir)
    storage_obj = st.open_storage(url)
    study = st.create_study(storage_obj, name, spec, plan_attrs)
    requeued = st.requeue_interrupted(study)
    state = st.work_state(study, spec)
    st.write_study_file(
        study_dir,
        {
            "study_name": name,
            "storage": st.redact(url),
            "kind": kind,
            "base": base_name,
            "budget": spec.budget,
            "n_trials": spec.n_trials,
        },
    )
    if state.finished:
        console.print(
            f"resuming study [bold]{name}[/]: {_progress_line(state)}"
            + (f"; {requeued} interrupted trial(s) queued again" if requeued else "")
        )
    else:
        console.print(f"study [bold]{name}[/] in {study_dir}")
    if storage and not storage.startswith("sqlite"):
        console.print(
            f"other machines can join: cnn-doctor {'ablate' if kind == 'ablation' else 'sweep'} "
            f"--storage '{st.redact(url)}' --study-name {name} --join"
        )
    return url, name, study_dir


def _join(storage: str | None, study_name: str | None, out: Path | None) -> tuple[Any, str, Path]:
    from cnn_doctor.config import load_config
    from cnn_doctor.investigate import study as st

    if not storage:
        fail("--join needs --storage URL (the database the study lives in)")
    storage_obj = st.open_storage(storage)
    name = st.find_study_name(storage_obj, study_name)
    study = st.load_study(storage_obj, name)
    spec = st.load_spec(study)
    select_backend(spec.base.get("run", {}).get("backend", "torch"))
    study_dir = Path(out or load_config().run.out_dir) / name
    study_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"joining study [bold]{name}[/] ({spec.kind}) — run folders in {study_dir}")
    return spec, name, study_dir


def _local_overrides(cfg: Config | None, data_dir: Path | None) -> dict[str, Any]:
    """Machine-specific settings: kept out of the stored experiment, applied by local workers."""
    value = str(data_dir) if data_dir else (cfg.data.data_dir if cfg is not None else "")
    return {"data.data_dir": value} if value else {}


def _portable_base(cfg: Config) -> dict[str, Any]:
    raw = cfg.to_dict()
    raw["data"]["data_dir"] = ""  # machine-local: each worker brings its own (--data-dir)
    return raw


# --------------------------------------------------------------------------------------------------
# ablate


@app.command()
def ablate(
    base: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--base", "-b", help="Base config (TOML file or preset); default recipe."),
    ] = None,
    budget: Annotated[
        str, typer.Option("--budget", help="small (<= 30 min CPU) or full.")
    ] = "small",
    set_: SetOption = None,
    data_dir: DataDirOption = None,
    storage: StorageOption = None,
    study_name: StudyNameOption = None,
    workers: WorkersOption = 1,
    join: JoinOption = False,
    out: OutOption = None,
    time_budget: TimeBudgetOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the planned variants and exit.")
    ] = False,
) -> None:
    """One-factor-at-a-time study over architecture, hyperparameters and data, ranked by effect."""
    from cnn_doctor.investigate import study as st

    with _investigate_errors():
        if join:
            if time_budget:
                fail("--join runs the study's stored config; drop --time-budget")
            _spec, name, study_dir = _join(storage, study_name, out)
            url: str = storage  # type: ignore[assignment]
            overrides = _local_overrides(None, data_dir)
        else:
            from cnn_doctor.investigate.ablation import ablation_plan, get_budget

            cfg = load_cli_config(base, _with_budget(set_, time_budget), data_dir)
            chosen = get_budget(budget)
            budgeted = chosen.apply(cfg)
            if budgeted.data.val_size == 0:
                fail("an ablation compares validation accuracy: data.val_size must be > 0")
            plan = ablation_plan(budgeted, chosen)
            if dry_run:
                _print_plan(plan, chosen)
                return
            spec = st.StudySpec(
                kind=st.ABLATION, base=_portable_base(budgeted), pruner="none", budget=chosen.name
            )
            url, name, study_dir = _launch(
                kind="ablation",
                spec=spec,
                base_name=base or "default",
                cfg=cfg,
                storage=storage,
                study_name=study_name,
                out=out,
                plan_attrs=[p.to_attrs() for p in plan],
            )
            overrides = _local_overrides(cfg, data_dir)
        state = _drive(
            storage_url=url,
            study_name=name,
            study_dir=study_dir,
            workers=workers,
            local_overrides=overrides,
            label="ablation",
        )
        _finish_ablation(url, name, study_dir, state)


def _print_plan(plan: list[Any], budget: Any) -> None:
    table = Table(title=f"ablation plan — budget {budget.name}: {budget.description}")
    for column in ("area", "factor", "change", "variant"):
        table.add_column(column)
    seen = set()
    for run in plan:
        v = run.variant
        if v.name in seen:
            continue
        seen.add(v.name)
        table.add_row(*(escape(text) for text in (v.area, v.factor, v.change, v.name)))
    console.print(table)
    console.print(f"{len(seen)} variants x {budget.seeds} seeds = {len(plan)} runs")


def _finish_ablation(url: str, name: str, study_dir: Path, state: WorkState) -> None:
    from cnn_doctor.investigate import study as st
    from cnn_doctor.investigate.ablation import summarize_ablation
    from cnn_doctor.investigate.results import ablation_results, write_ablation_outputs

    study = st.load_study(st.open_storage(url), name)
    results = ablation_results(study)
    try:
        summary = summarize_ablation(results)
    except ValueError as error:
        fail(f"{error} ({_progress_line(state)})")
    files = write_ablation_outputs(study_dir, summary, results, f"Ablation {name}")
    table = Table(
        title=f"ablation — baseline val acc {summary.baseline_mean:.4f} ± "
        f"{summary.baseline_spread:.4f}, seed noise sd {summary.noise_sd:.4f}"
    )
    for column in ("#", "area", "factor", "change", "val acc", "effect", "> noise?", "n"):
        table.add_column(column)
    for i, r in enumerate(summary.rows, start=1):
        table.add_row(
            str(i),
            r.area,
            escape(r.factor),
            escape(r.change),
            f"{r.mean:.4f} ± {r.spread:.4f}",
            f"{r.effect:+.4f} ± {r.stderr:.4f}",
            "[bold]yes[/]" if r.significant else "no",
            str(r.n),
        )
    console.print(table)
    if state.waiting or state.running:
        console.print(f"[yellow]partial[/]: {_progress_line(state)}")
    console.print(f"table: {files['markdown']}\nplot: {files['plot']}\nreport: {files['report']}")


# --------------------------------------------------------------------------------------------------
# sweep


@app.command()
def sweep(
    base: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--base", "-b", help="Base config (TOML file or preset); default recipe."),
    ] = None,
    space: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--space", help="Search space TOML, e.g. [optim.lr] low=1e-3 high=1 log=true"),
    ] = None,
    trials: Annotated[int, typer.Option("--trials", "-n", min=1, help="Trials in total.")] = 20,
    pruner: Annotated[
        str, typer.Option("--pruner", help="median, hyperband or none (on per-epoch val acc).")
    ] = "median",
    seed: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--seed", help="TPE sampler seed (default: random)."),
    ] = None,
    set_: SetOption = None,
    data_dir: DataDirOption = None,
    storage: StorageOption = None,
    study_name: StudyNameOption = None,
    workers: WorkersOption = 1,
    join: JoinOption = False,
    out: OutOption = None,
    time_budget: TimeBudgetOption = None,
) -> None:
    """Optuna (TPE + pruning) search over a space of config keys; resumable and distributable."""
    from cnn_doctor.investigate import study as st

    with _investigate_errors():
        if join:
            if base or space or time_budget:
                fail(
                    "--join takes the base config and space from the study; "
                    "drop --base/--space/--time-budget"
                )
            spec, name, study_dir = _join(storage, study_name, out)
            url: str = storage  # type: ignore[assignment]
            overrides = _local_overrides(None, data_dir)
        else:
            from cnn_doctor.investigate.space import load_space

            if space is None:
                fail("a sweep needs --space FILE, e.g. [optim.lr] low = 1e-3, high = 1, log = true")
            if pruner not in st.PRUNERS:
                fail(f"--pruner {pruner!r} is not valid; choose one of: {', '.join(st.PRUNERS)}")
            cfg = load_cli_config(base, _with_budget(set_, time_budget), data_dir)
            if cfg.data.val_size == 0:
                fail("a sweep maximises validation accuracy: data.val_size must be > 0")
            search = load_space(space)
            spec = st.StudySpec(
                kind=st.SWEEP,
                base=_portable_base(cfg),
                space=search.to_dict(),
                n_trials=trials,
                pruner=pruner,
                seed=seed,
            )
            url, name, study_dir = _launch(
                kind="sweep",
                spec=spec,
                base_name=base or "default",
                cfg=cfg,
                storage=storage,
                study_name=study_name,
                out=out,
                plan_attrs=[],
            )
            overrides = _local_overrides(cfg, data_dir)
        state = _drive(
            storage_url=url,
            study_name=name,
            study_dir=study_dir,
            workers=workers,
            local_overrides=overrides,
            label=spec.kind,
        )
        if spec.kind == st.ABLATION:
            _finish_ablation(url, name, study_dir, state)
        else:
            _finish_sweep(url, name, study_dir, state)


def _finish_sweep(url: str, name: str, study_dir: Path, state: WorkState) -> None:
    from cnn_doctor.investigate import study as st
    from cnn_doctor.investigate.results import sweep_rows, write_sweep_outputs

    study = st.load_study(st.open_storage(url), name)
    spec = st.load_spec(study)
    files = write_sweep_outputs(study_dir, study, spec, f"Sweep {name}")
    rows = sweep_rows(study)
    keys = sorted({k for r in rows for k in r["params"]})
    table = Table(title=f"sweep {name} — {_progress_line(state)}")
    for column in ("trial", "state", "best val acc", *keys):
        table.add_column(column)
    for r in rows[:15]:
        value = r["value"] if r["value"] is not None else r["best_epoch_value"]
        table.add_row(
            str(r["trial"]),
            r["state"],
            "–" if value is None else f"{value:.4f}",
            *(escape(_short(r["params"].get(k))) for k in keys),
        )
    console.print(table)
    if "best" in files:
        console.print(f"best config: {files['best']}  (cnn-doctor train -c {files['best']})")
    console.print(f"table: {files['markdown']}")


def _short(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------------------------------
# compare


@app.command()
def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run directories to compare.")],
    out: Annotated[
        Path, typer.Option("--out", help="Where to write the overlaid curves PNG.")
    ] = Path("compare.png"),
    markdown: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--markdown", help="Also write the table as markdown here."),
    ] = None,
) -> None:
    """Side-by-side table (only the config keys that differ) and overlaid learning curves."""

    from cnn_doctor.investigate.compare import (
        FIGURES,
        compare_runs,
        comparison_markdown,
        format_value,
        plot_comparison,
    )

    with _investigate_errors():
        comparison = compare_runs(run_dirs)
        # One column per run, one row per figure / differing key: fits a terminal for ~5 runs
        # however many keys differ.
        rows = comparison.rows()
        table = Table(title=f"{len(comparison.runs)} runs (config rows: only keys that differ)")
        table.add_column("")
        for i in range(1, len(rows) + 1):
            table.add_column(f"#{i}", overflow="fold")
        table.add_row("run", *(escape(str(row["run"])) for row in rows))
        for key, label in [*FIGURES, *((k, k) for k in comparison.differing_keys)]:
            table.add_row(label, *(escape(format_value(row[key])) for row in rows))
        console.print(table)
        png = plot_comparison(comparison, out)
        console.print(f"curves: {png}")
        if markdown is not None:
            markdown.parent.mkdir(parents=True, exist_ok=True)
            markdown.write_text(comparison_markdown(comparison))
            console.print(f"table: {markdown}")
