"""``cnn-doctor train`` from the command line: a complete run, and one-line user errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cnn_doctor.cli import app

runner = CliRunner()


def test_train_on_a_small_subset_writes_a_complete_run_directory(tiny_cifar_dir, tmp_path):
    result = runner.invoke(
        app,
        [
            "train",
            "--data-dir",
            str(tiny_cifar_dir),
            "--quiet",
            "--set",
            f"run.out_dir={tmp_path}",
            "--set",
            "data.val_size=20",
            "--set",
            "data.subset=100",
            "--set",
            "optim.epochs=2",
            "--set",
            "model.width=0.125",
            "--set",
            "optim.batch_size=25",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.output
    (run_dir,) = tmp_path.iterdir()
    names = {p.name for p in run_dir.iterdir()}
    assert {
        "config.toml",
        "metrics.jsonl",
        "summary.json",
        "model.keras",
        "curves.png",
        "report.html",
    } <= names
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 2
    assert "data_dir" in (run_dir / "config.toml").read_text()
    assert json.loads((run_dir / "summary.json").read_text())["test_accuracy"] is not None


def test_bad_override_is_one_line_not_a_traceback(tmp_path):
    result = runner.invoke(app, ["train", "--set", "optim.lr=fast"])
    assert result.exit_code == 2
    assert "optim.lr='fast' is not a number" in result.output
    assert "Traceback" not in result.output


def test_missing_data_dir_says_where_to_put_the_files(tmp_path):
    result = runner.invoke(
        app,
        ["train", "--data-dir", str(tmp_path / "nowhere"), "--set", "run.out_dir=" + str(tmp_path)],
    )
    assert result.exit_code == 2
    assert "cifar-10-batches-bin" in result.output
    assert "Traceback" not in result.output


def test_resume_of_a_folder_that_is_not_a_run_is_refused(tmp_path: Path):
    result = runner.invoke(app, ["train", "--resume", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a run directory" in result.output


def test_time_budget_that_is_not_a_duration_is_one_line(tmp_path):
    result = runner.invoke(app, ["train", "--time-budget", "20 parsecs"])
    assert result.exit_code == 2
    assert "run.time_budget='20 parsecs' is not a duration; use e.g. 20m" in result.output
    assert "Traceback" not in result.output


def test_time_budget_too_small_for_one_epoch_names_the_minimum(
    tiny_cifar_dir, tmp_path, monkeypatch
):
    from cnn_doctor import calibrate

    # a machine measured at 10 s a step: one epoch (5 steps) cannot fit in 30 s
    monkeypatch.setattr(calibrate, "time_steps", lambda *a, **k: [10.0] * calibrate.MIN_STEPS)
    result = runner.invoke(
        app,
        [
            "train",
            "--data-dir",
            str(tiny_cifar_dir),
            "--time-budget",
            "30s",
            "--set",
            f"run.out_dir={tmp_path}",
            "--set",
            "data.val_size=20",
            "--set",
            "model.width=0.125",
            "--set",
            "optim.batch_size=32",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "too small for one epoch" in result.output and "give more than" in result.output
    assert "Traceback" not in result.output
    assert not any(tmp_path.iterdir())  # no run directory left behind


def test_resume_refuses_a_new_time_budget(tmp_path: Path):
    result = runner.invoke(app, ["train", "--resume", str(tmp_path), "--time-budget", "5m"])
    assert result.exit_code == 2
    assert "drop --config/--set/--time-budget" in result.output
