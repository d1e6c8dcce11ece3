"""``ablate`` / ``sweep --time-budget``: a per-run budget, passed to every run's config."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnn_doctor.cli import app

runner = CliRunner()


@pytest.mark.parametrize("command", ["ablate", "sweep"])
def test_a_bad_per_run_budget_is_one_line(command: str, tmp_path: Path) -> None:
    space = tmp_path / "space.toml"
    space.write_text("[optim.lr]\nlow = 0.01\nhigh = 0.1\n")
    extra = ["--space", str(space)] if command == "sweep" else ["--dry-run"]
    result = runner.invoke(app, [command, *extra, "--time-budget", "soon"])
    assert result.exit_code == 2, result.output
    assert "run.time_budget='soon' is not a duration" in result.output
    assert "Traceback" not in result.output


def test_ablate_accepts_a_per_run_budget() -> None:
    result = runner.invoke(app, ["ablate", "--dry-run", "--time-budget", "5m"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("command", ["ablate", "sweep"])
def test_joining_a_study_refuses_a_new_budget(command: str) -> None:
    result = runner.invoke(
        app, [command, "--join", "--storage", "sqlite:///nowhere.db", "--time-budget", "5m"]
    )
    assert result.exit_code == 2, result.output
    assert "--time-budget" in result.output
