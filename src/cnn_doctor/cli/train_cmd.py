"""``cnn-doctor train`` and ``cnn-doctor report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cnn_doctor.cli.app import (
    ConfigOption,
    DataDirOption,
    SetOption,
    app,
    console,
    fail,
    select_backend,
    user_errors,
)


def resolve(config_path: str | None, overrides: list[str] | None, data_dir: Path | None):
    """Load the config (file/preset + overrides) and pin the backend it names."""
    from cnn_doctor.config import load_config

    extra = [f"data.data_dir={data_dir}"] if data_dir else []
    config = load_config(config_path, [*(overrides or []), *extra])
    select_backend(config.run.backend)
    return config


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
) -> None:
    """Train on CIFAR-10 (the fast default recipe unless told otherwise) and report accuracy."""
    with user_errors():
        if resume is not None:
            if config or set_:
                fail("--resume continues a run with its saved config; drop --config/--set")
            if not (resume / "config.toml").is_file():
                fail(f"{resume} is not a run directory (no config.toml)")
            from cnn_doctor.config import config_from_dict, tomllib

            saved = config_from_dict(tomllib.loads((resume / "config.toml").read_text()))
            select_backend(saved.run.backend)
            cfg = None
        else:
            cfg = resolve(config, set_, data_dir)
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
        console.print(
            f"[bold green]test accuracy {test}[/] "
            f"(best val {s['best_val_accuracy']}, {s['wall_seconds']:.0f} s, "
            f"{s['images_per_second']} img/s)\nrun: {result.run_dir}\nreport: {report}"
        )


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="A run directory.")]) -> None:
    """Rebuild report.html of a run directory from what it holds."""
    from cnn_doctor.report.html import write_report

    if not run_dir.is_dir():
        fail(f"{run_dir} is not a directory")
    console.print(f"report: {write_report(run_dir)}")
