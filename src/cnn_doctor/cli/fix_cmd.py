"""``cnn-doctor fix``: repair a run, and prove each change with seeds.

    cnn-doctor fix --config my.toml                     # our pipeline with the user's config
    cnn-doctor fix --model my_pkg.nets:build -c my.toml # the user's network
    cnn-doctor fix --config seed --budget 20m           # the original question's recipe
    cnn-doctor fix --resume RUN_DIR                     # continue an interrupted repair

The work is in ``cnn_doctor.repair``; this module parses, calls ``fix`` and turns user mistakes
into one-line errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from cnn_doctor.cli.app import (
    ConfigOption,
    DataDirOption,
    SetOption,
    app,
    console,
    fail,
    load_builder,
    load_cli_config,
    model_option,
    select_backend,
    user_errors,
)


@app.command("fix")
def fix_cmd(
    config: ConfigOption = None,
    set_: SetOption = None,
    data_dir: DataDirOption = None,
    model: Annotated[
        Optional[str],  # noqa: UP045
        model_option("model.* fixes then become suggestions for your code."),
    ] = None,
    budget: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--budget",
            "-b",
            help="Wall time for the whole repair, e.g. 20m, 90s, 1h (default 30m).",
        ),
    ] = None,
    resume: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--resume", help="Continue an interrupted repair folder."),
    ] = None,
    confirm: Annotated[
        bool,
        typer.Option(
            "--confirm", help="Also train the original and the fixed config at full budget."
        ),
    ] = False,
    seeds: Annotated[int, typer.Option("--seeds", min=2, help="Seeds per arm.")] = 2,
    storage: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--storage",
            help="Optuna storage URL for the trials (default: SQLite in the repair folder).",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", "-w", min=1, help="Local worker processes.")
    ] = 1,
    subset: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--subset", min=0, help="Short run: train images (default 5000; 0 = the config's)."
        ),
    ] = None,
    epochs: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--epochs", min=0, help="Short run: epochs (default 6; 0 = the config's)."),
    ] = None,
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--out", help="Parent folder of the repair folder (default: run.out_dir)."),
    ] = None,
) -> None:
    """Diagnose, try the fixes on short seeded runs, keep what beats the seed noise."""
    from cnn_doctor.diagnose.pipeline import SHORT_EPOCHS, SHORT_SUBSET
    from cnn_doctor.investigate.study import StudyError

    with user_errors():
        if resume is not None:
            if config or set_ or model or data_dir or subset is not None or epochs is not None:
                fail(
                    "--resume continues a repair with its saved settings; drop "
                    "--config/--set/--model/--data-dir/--subset/--epochs"
                )
            from cnn_doctor.repair.state import RepairState

            state = RepairState.load(resume)
            select_backend(state.original.run.backend)
            cfg = None
        else:
            cfg = load_cli_config(config, set_, data_dir)
            if model:
                load_builder(model)  # one-line errors for a bad --model, before any training
        from cnn_doctor.repair import fix

        try:
            fix(
                cfg,
                model,
                budget,
                seeds=seeds,
                subset=SHORT_SUBSET if subset is None else subset,
                epochs=SHORT_EPOCHS if epochs is None else epochs,
                storage=storage,
                workers=workers,
                confirm=confirm,
                resume=resume,
                out_dir=out,
                console=console,
            )
        except StudyError as error:
            fail(escape(str(error)))
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
