"""The Typer application object and the error handling every command shares.

Commands live in their own modules (``train_cmd``, ``diagnose_cmd``…) and register on ``app``;
``cnn_doctor.cli`` imports them all. Keras is imported lazily inside commands, after
``select_backend`` has set ``KERAS_BACKEND`` — keras reads it once, at import.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Optional

import typer
from rich.console import Console

if TYPE_CHECKING:  # pragma: no cover
    from cnn_doctor.config import Config

app = typer.Typer(
    name="cnn-doctor",
    help="Find out why a CNN's accuracy on CIFAR-10 stalls, and what to change.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

EXIT_USER_ERROR = 2

# Options several commands share (typer needs Optional, not `X | None`, on Python 3.10).
ConfigOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--config", "-c", help="TOML config file, or a preset name (default, seed)."),
]
SetOption = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option("--set", "-s", help="Override one key: section.key=value (repeatable)."),
]
DataDirOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        "--data-dir",
        help="Folder in the CIFAR-10 binary layout (else the config's data.data_dir, "
        "$CNN_DOCTOR_DATA, then the user cache).",
    ),
]
TimeBudgetOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--time-budget",
        help="Wall time of a run, e.g. 20m, 90s, 1h30m (= --set run.time_budget=...): the "
        "epochs that fit are measured on this machine first.",
    ),
]


def model_option(use: str) -> Any:
    """``--model/-m package.module:function``, the user's own network (``load_builder`` reads it);
    ``use`` ends the help with what the command does with that network."""
    return typer.Option("--model", "-m", help=f"Your model builder, package.module:function; {use}")


def load_builder(spec: str) -> Callable[..., Any]:
    """``package.module:function`` -> the function; every failure is a one-line user error."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        fail(f"--model {spec!r}: expected package.module:function, e.g. my_pkg.nets:build")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        fail(f"--model {spec!r}: cannot import {module_name!r} ({error})")
    builder = getattr(module, attr, None)
    if not callable(builder):
        fail(f"--model {spec!r}: {module_name} has no function {attr!r}")
    return builder


def load_cli_config(
    config_path: str | None, overrides: list[str] | None, data_dir: Path | None = None
) -> Config:
    """The config a command was given (file/preset + ``--set`` + ``--data-dir``), with its
    backend pinned before keras loads. ``ConfigError`` on a mistake (``user_errors`` prints it)."""
    from cnn_doctor.config import load_config

    extra = [f"data.data_dir={data_dir}"] if data_dir else []
    config = load_config(config_path, [*(overrides or []), *extra])
    select_backend(config.run.backend)
    return config


def fail(message: str) -> NoReturn:
    """Stop with a one-line error for a user mistake: no stack trace."""
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(EXIT_USER_ERROR)


def select_backend(backend: str) -> None:
    """Pin the Keras backend before keras is imported anywhere in this process."""
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != backend:
            fail(f"keras is already loaded with backend {keras.backend.backend()!r}")
        return
    os.environ["KERAS_BACKEND"] = backend


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can cause (bad config, bad data files, a run directory that cannot
    be created, written or resumed) into ``fail`` messages."""
    from cnn_doctor.config import ConfigError
    from cnn_doctor.data.errors import DataError
    from cnn_doctor.runs import RunError

    try:
        yield
    except (ConfigError, DataError, RunError) as error:
        fail(str(error))
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/] — completed work is saved")
        raise typer.Exit(130) from None
