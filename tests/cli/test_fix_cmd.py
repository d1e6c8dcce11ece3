"""``cnn-doctor fix`` from the command line: user mistakes are one line, never a traceback."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cnn_doctor.cli import app

runner = CliRunner()


def _tiny(tiny_cifar_dir: Path, tmp_path: Path) -> list[str]:
    return [
        "--data-dir",
        str(tiny_cifar_dir),
        "--set",
        f"run.out_dir={tmp_path}",
        "--set",
        "data.val_size=50",
        "--set",
        "model.width=0.125",
        "--set",
        "optim.batch_size=16",
        "--epochs",
        "2",
        "--subset",
        "0",
    ]


def test_a_budget_too_small_is_one_line_naming_the_measured_minimum(tiny_cifar_dir, tmp_path):
    result = runner.invoke(app, ["fix", *_tiny(tiny_cifar_dir, tmp_path), "--budget", "1s"])
    assert result.exit_code == 2, result.output
    assert "too small" in result.output and "at least" in result.output
    assert "measured:" in result.output and "s/step" in result.output
    assert "Traceback" not in result.output
    assert not any(p.name.startswith("2") and "fix" in p.name for p in tmp_path.iterdir())


def test_unreadable_budget_and_bad_resume_folder_are_one_line_errors(tmp_path):
    result = runner.invoke(app, ["fix", "--budget", "soon"])
    assert result.exit_code == 2 and "--budget" in result.output
    result = runner.invoke(app, ["fix", "--resume", str(tmp_path)])
    assert result.exit_code == 2 and "not a repair folder" in result.output
    result = runner.invoke(app, ["fix", "--resume", str(tmp_path), "--set", "optim.lr=1"])
    assert result.exit_code == 2 and "saved settings" in result.output
    result = runner.invoke(app, ["fix", "--model", "no_such_pkg_xyz:build"])
    assert result.exit_code == 2 and "cannot import" in result.output
