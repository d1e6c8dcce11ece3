"""``cnn-doctor train`` and ``cnn-doctor report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

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


@app.command()
def train(
    config: ConfigOption = None,
    set_: SetOption = None,
    data_dir: DataDirOption = None,
    resume: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--resume", help="Continue an interrupted run directory."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    time_budget: TimeBudgetOption = None,
) -> None:
    """Train on CIFAR-10 (the fast default recipe unless told otherwise) and report accuracy."""
    with user_errors():
        if time_budget is not None:
            set_ = [*(set_ or []), f"run.time_budget={time_budget}"]
        if resume is not None:
            if config or set_:
                fail(
                    "--resume continues a run with its saved config; "
                    "drop --config/--set/--time-budget"
                )
            from cnn_doctor.runs import RunDir

            select_backend(RunDir.open(resume).config().run.backend)
            cfg = None
        else:
            cfg = load_cli_config(config, set_, data_dir)
        from cnn_doctor.report.training import write_training_report
        from cnn_doctor.train import train as run_training

        try:
            result = run_training(cfg, resume=resume, console=console, quiet=quiet)
        except KeyboardInterrupt:
            console.print(
                "[yellow]interrupted[/]: completed epochs are saved; continue with "
                "[bold]cnn-doctor train --resume RUN_DIR[/]"
            )
            raise typer.Exit(130) from None
        report = write_training_report(result.run_dir, result.summary, result.history)
        s = result.summary
        test = "n/a" if s["test_accuracy"] is None else f"{s['test_accuracy']:.4f}"
        best = "n/a" if s["best_val_accuracy"] is None else f"{s['best_val_accuracy']:.4f}"
        speed = "n/a" if s["images_per_second"] is None else f"{s['images_per_second']:.0f}"
        console.print(
            f"[bold green]test accuracy {test}[/] "
            f"(best val {best}, {s['wall_seconds']:.0f} s, {speed} img/s)"
            f"\nrun: {result.run_dir}\nreport: {report}"
        )
        if "time_budget" in s:  # planned vs actual, as summary.json records it
            b = s["time_budget"]
            console.print(
                f"time budget {b['budget_seconds']:.0f} s: planned {b['planned_epochs']} "
                f"epoch(s) in {b['planned_seconds']:.0f} s, trained {b['actual_epochs']}, "
                f"took {b['actual_seconds']:.0f} s"
                + ("" if b["within_budget"] else " [bold red](over budget)[/]")
            )


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="A run directory.")]) -> None:
    """Rebuild report.html of a run directory from what it holds."""
    with user_errors():
        from cnn_doctor.report.html import write_report
        from cnn_doctor.runs import require_run_dir

        # never drop a report.html into a folder that is not a run
        require_run_dir(run_dir)
        console.print(f"report: {write_report(run_dir)}")
