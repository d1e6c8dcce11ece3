"""``cnn-doctor diagnose``: why a run's accuracy does not improve, and what to change.

Three ways in:

    cnn-doctor diagnose --set model.activation=sigmoid     # our pipeline, short instrumented run
                                                           # (5000 images, 6 epochs; --subset 0
                                                           # --epochs 0 = the config's full run)
    cnn-doctor diagnose --model my_pkg.nets:build -c my.toml   # your network, our data/training
    cnn-doctor diagnose runs/20250101-120000-fast           # a finished run, after the fact

Exit code 0 whatever is found; non-zero only when the diagnosis itself could not run (2 for a
user mistake, with a one-line message).
"""

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
    load_builder,
    load_cli_config,
    model_option,
    select_backend,
    user_errors,
)


@app.command()
def diagnose(
    run_dir: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Argument(help="Diagnose this finished run directory instead of training."),
    ] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
    model: Annotated[
        Optional[str],  # noqa: UP045
        model_option("called as f(input_shape=..., num_classes=...)."),
    ] = None,
    data_dir: DataDirOption = None,
    subset: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--subset",
            min=0,
            help="Train on this many images, 1000 held out for validation "
            "(default 5000: a few minutes; 0 = the config's data).",
        ),
    ] = None,
    epochs: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--epochs", min=0, help="Train at most this many epochs (default 6; 0 = the config's)."
        ),
    ] = None,
    json_path: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--json", help="Also write the findings as JSON here."),
    ] = None,
    probe: Annotated[
        bool,
        typer.Option(
            "--probe/--no-probe",
            help="RUN_DIR without trace.json: probe the saved "
            "model on the run's data (else diagnose the curves only).",
        ),
    ] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train briefly with instrumentation (or read a finished run) and rank what is wrong."""
    with user_errors():
        if run_dir is not None:
            if config or set_ or model or epochs is not None or subset is not None:
                fail(
                    "RUN_DIR is diagnosed as it was trained; drop "
                    "--config/--set/--model/--subset/--epochs"
                )
            _diagnose_run_dir(run_dir, json_path, probe)
            return
        from cnn_doctor.diagnose.pipeline import SHORT_EPOCHS, SHORT_SUBSET, short_run_overrides

        asked = load_cli_config(config, set_, data_dir)
        short = short_run_overrides(
            asked,
            subset=SHORT_SUBSET if subset is None else subset,
            epochs=SHORT_EPOCHS if epochs is None else epochs,
        )
        # the user's own --set wins over the short-run defaults
        cfg = load_cli_config(config, [*short, *(set_ or [])], data_dir)
        builder = load_builder(model) if model else None
        from cnn_doctor.diagnose.pipeline import instrumented_train
        from cnn_doctor.diagnose.render import print_diagnosis

        result, doctor = instrumented_train(
            cfg, model_builder=builder, console=console, quiet=quiet, json_path=json_path
        )
        print_diagnosis(doctor.diagnosis, console=console)
        console.print(f"run: {result.run_dir}\nreport: {result.run_dir / 'report.html'}")


def _diagnose_run_dir(run_dir: Path, json_path: Path | None, probe: bool) -> None:
    from cnn_doctor.runs import CONFIG_FILE, load_run_config, require_run_dir

    require_run_dir(run_dir, markers=("trace.json", CONFIG_FILE))
    if (run_dir / CONFIG_FILE).is_file():
        select_backend(load_run_config(run_dir).run.backend)
    from cnn_doctor.diagnose import diagnose_trace
    from cnn_doctor.diagnose.pipeline import trace_from_run_dir
    from cnn_doctor.diagnose.render import print_diagnosis
    from cnn_doctor.diagnose.report import save_diagnosis

    trace = trace_from_run_dir(run_dir, probe=probe)
    diagnosis = diagnose_trace(trace)
    save_diagnosis(trace, diagnosis, run_dir, json_path=json_path)
    print_diagnosis(diagnosis, console=console)
    console.print(f"report: {run_dir / 'report.html'}")
