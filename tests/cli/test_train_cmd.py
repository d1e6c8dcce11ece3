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
