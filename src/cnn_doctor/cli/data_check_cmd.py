"""``cnn-doctor data-check``: find corrupted, duplicate, outlier, leaked and mislabeled images.

Prints a ranked table, writes ``report.html`` with image grids of the worst offenders, a JSON file
whose findings list every flagged record as ``[split, index]``, and — with ``--export-clean`` — a
cleaned copy in the same binary layout. Exits 0 whatever it finds: findings are the output, not a
failure. Keras is imported only for ``--labels``, after the backend is chosen.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cnn_doctor.cli.app import (
    ConfigOption,
    DataDirOption,
    SetOption,
    app,
    console,
    fail,
    load_cli_config,
    user_errors,
)

if TYPE_CHECKING:  # pragma: no cover
    from cnn_doctor.data.checks import DataCheckInput, DataCheckResult

RESULT_JSON = "data_check.json"
_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "dim"}


@contextmanager
def _progress() -> Iterator[Progress]:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        yield progress


def _findings_table(result: DataCheckResult) -> Table:
    table = Table(title="data check — most likely root cause first", show_lines=False)
    for column in ("#", "id", "severity", "conf.", "flagged", "summary"):
        table.add_column(column, overflow="fold")
    for rank, f in enumerate(result.findings, start=1):
        style = _SEVERITY_STYLE[f.severity]
        table.add_row(
            str(rank),
            f.id,
            f"[{style}]{f.severity}[/]",
            f"{f.confidence:.2f}",
            str(len(f.items)) if f.items else "-",
            escape(f.summary),
        )
    return table


def _label_search(
    data: DataCheckInput, config: Any, folds: int, subset: int, epochs: int, progress: Progress
) -> DataCheckInput:
    from cnn_doctor.data.checks import label_search_config, search_label_probs
    from cnn_doctor.data.checks.label_issues import trainer_fit_predict

    search_config = label_search_config(config, (f"optim.epochs={epochs}",))
    fit_predict = trainer_fit_predict(search_config, data.num_classes)
    n = min(subset, data.n_train) if subset else data.n_train
    task = progress.add_task(f"label search: {folds}-fold on {n} images (fold 1/{folds})")

    def on_fold(done: int, total: int) -> None:
        progress.update(task, description=f"label search: fold {min(done + 1, total)}/{total}")

    data = search_label_probs(
        data, fit_predict, subset=subset, folds=folds, seed=config.run.seed, on_fold=on_fold
    )
    data.label_note.update(
        {
            "model": f"{search_config.model.arch} width {search_config.model.width}",
            "epochs": search_config.optim.epochs,
        }
    )
    progress.remove_task(task)
    return data


@app.command("data-check")
def data_check(
    data_dir: DataDirOption = None,
    labels: Annotated[
        bool,
        typer.Option(
            "--labels",
            help="Also search for mislabeled images: trains a quick model "
            "k-fold (minutes) and runs confident learning on its out-of-fold output.",
        ),
    ] = False,
    export_clean: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--export-clean",
            metavar="DIR",
            help="Write a copy without the flagged records (same binary layout) plus removed.tsv.",
        ),
    ] = None,
    json_path: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--json",
            metavar="PATH",
            help="Also write the findings (with every flagged "
            "record as split + index pairs) to this JSON file.",
        ),
    ] = None,
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--out",
            metavar="DIR",
            help="Where report.html, grids and "
            "data_check.json go (default: a new runs/<timestamp>-data-check/).",
        ),
    ] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
    folds: Annotated[
        int, typer.Option("--folds", min=2, max=20, help="k for the label search's k-fold.")
    ] = 4,
    label_subset: Annotated[
        int,
        typer.Option(
            "--label-subset",
            min=0,
            help="Search this many training images "
            "(stratified; 0 = all). The search trains k models, so time grows with it.",
        ),
    ] = 10_000,
    label_epochs: Annotated[
        int, typer.Option("--label-epochs", min=1, help="Epochs per k-fold model.")
    ] = 8,
    check: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--check", help="Run only these checks (repeatable); default: all."),
    ] = None,
) -> None:
    """Check a dataset for corrupted, duplicate, outlier, leaked and mislabeled images."""
    with user_errors():
        from cnn_doctor.data.checks import (
            export_clean as write_clean_copy,
        )
        from cnn_doctor.data.checks import (
            get_check,
            load_check_input,
            run_data_check_suite,
        )
        from cnn_doctor.data.checks.report import write_data_check_report
        from cnn_doctor.diagnose.findings import findings_to_json
        from cnn_doctor.runs import ensure_dir, new_run_dir

        cfg = load_cli_config(config, set_)
        managers = [get_check(name) for name in check] if check else None
        if labels and managers is not None and "label_issues" not in (check or []):
            fail(
                "--labels trains a model for label_issues; add --check label_issues or drop --check"
            )
        explicit = data_dir or (cfg.data.data_dir or None)
        out_dir = ensure_dir(out) if out else None  # a folder that cannot be made fails first
        started = time.perf_counter()
        with _progress() as progress:
            task = progress.add_task("reading the dataset")
            data, notes = load_check_input(explicit, config=cfg, download=explicit is None)
            progress.remove_task(task)
            if labels:
                data = _label_search(data, cfg, folds, label_subset, label_epochs, progress)
            task = progress.add_task("checks")
            result = run_data_check_suite(
                data,
                managers,
                on_start=lambda name: progress.update(task, description=f"check: {name}"),
            )
            progress.update(task, description="writing the report and image grids")
            run_dir = out_dir or new_run_dir(cfg.run.out_dir, "data-check")
            report, grids, summary = write_data_check_report(run_dir, data, result)
            extra = {
                "dataset": summary,
                "skipped": [{"check": s.name, "reason": s.reason} for s in result.skipped],
                "seconds": {**result.seconds, "total": round(time.perf_counter() - started, 2)},
                "notes": notes,
                "grids": {k: str(v) for k, v in grids.items()},
            }
            findings_to_json(result.findings, run_dir / RESULT_JSON, **extra)
            if json_path is not None:
                json_path.parent.mkdir(parents=True, exist_ok=True)
                findings_to_json(result.findings, json_path, **extra)
            exported = None
            if export_clean is not None:
                progress.update(task, description=f"writing the cleaned copy to {export_clean}")
                exported = write_clean_copy(data, result.findings, export_clean)
            progress.remove_task(task)

        console.print(_findings_table(result))
        if not result.findings:
            console.print("[green]no problems found[/]")
        for s in result.skipped:
            console.print(f"[dim]skipped {s.name}: {s.reason}[/]")
        for note in notes:
            console.print(f"[yellow]note:[/] {note}")
        console.print(
            f"report: {report}\nfindings: {run_dir / RESULT_JSON}"
            + (f" and {json_path}" if json_path else "")
        )
        if exported is not None:
            console.print(
                f"clean copy: {exported.folder} (kept {exported.kept['train']} train / "
                f"{exported.kept['test']} test; removed {exported.removed['train']} / "
                f"{exported.removed['test']}; list: {exported.removal_list})"
            )
        console.print(f"[dim]{time.perf_counter() - started:.1f} s[/]")
