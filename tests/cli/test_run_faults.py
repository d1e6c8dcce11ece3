"""Faults a user meets, tried as a user would (through the CLI): each ends with one clear line,
a non-zero exit and the earlier results intact — never a traceback, never a silent restart.

One finished two-epoch run is trained once per module and copied for each fault.
"""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import keras
import pytest
from typer.testing import CliRunner

from cnn_doctor.cli import app
from cnn_doctor.runs import RunDir

runner = CliRunner()

TINY = [
    "--quiet",
    "--set",
    "data.val_size=20",
    "--set",
    "model.width=0.125",
    "--set",
    "optim.batch_size=32",
    "--set",
    "run.tta=false",
    "--set",
    "model.dropout=0.2",
]


def _train(data_dir: Path, out_dir: Path, *extra: str):
    return runner.invoke(
        app,
        ["train", "--data-dir", str(data_dir), "--set", f"run.out_dir={out_dir}", *TINY, *extra],
    )


def _one_line_error(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output
    assert result.output.strip().startswith("error:"), result.output


@pytest.fixture(scope="module")
def finished_run(tiny_cifar_dir: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("finished")
    result = _train(tiny_cifar_dir, out, "--set", "optim.epochs=2")
    assert result.exit_code == 0, result.output
    (run_dir,) = out.iterdir()
    return run_dir


@pytest.fixture
def run_copy(finished_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / finished_run.name
    shutil.copytree(finished_run, copy)
    return copy


def _metrics(run_dir: Path) -> bytes:
    return (run_dir / "metrics.jsonl").read_bytes()


def test_disk_full_while_checkpointing_keeps_the_saved_epochs(
    tiny_cifar_dir, tmp_path, monkeypatch
):
    real_save = keras.Model.save
    calls = []

    def save_until_disk_full(self, filepath, *args, **kwargs):
        calls.append(filepath)
        if len(calls) == 2:  # the second epoch's checkpoint
            Path(filepath).write_bytes(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device", str(filepath))
        return real_save(self, filepath, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "save", save_until_disk_full)
    result = _train(tiny_cifar_dir, tmp_path, "--set", "optim.epochs=3")
    _one_line_error(result, "No space left on device")
    assert "--resume" in result.output
    (run_dir,) = tmp_path.iterdir()
    assert json.loads((run_dir / "state.json").read_text())["epochs_done"] == 1
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".checkpoint")]  # no temp left

    monkeypatch.setattr(keras.Model, "save", real_save)  # space freed: the run continues
    resumed = runner.invoke(app, ["train", "--resume", str(run_dir), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]


def test_corrupt_state_json_is_refused_and_touches_nothing(run_copy: Path):
    (run_copy / "state.json").write_text("{garbage")
    before = _metrics(run_copy)
    _one_line_error(
        runner.invoke(app, ["train", "--resume", str(run_copy), "--quiet"]), "state.json is corrupt"
    )
    assert _metrics(run_copy) == before


def test_corrupt_checkpoint_is_refused_and_touches_nothing(run_copy: Path):
    (run_copy / "checkpoint.keras").write_bytes(b"not a zip")
    before = _metrics(run_copy)
    _one_line_error(
        runner.invoke(app, ["train", "--resume", str(run_copy), "--quiet"]), "unreadable"
    )
    assert _metrics(run_copy) == before


def test_missing_checkpoint_is_not_a_silent_restart(run_copy: Path):
    (run_copy / "checkpoint.keras").unlink()
    before = _metrics(run_copy)
    _one_line_error(runner.invoke(app, ["train", "--resume", str(run_copy), "--quiet"]), "missing")
    assert _metrics(run_copy) == before


def test_second_trainer_in_the_same_run_is_refused(run_copy: Path):
    with RunDir(run_copy).lock():  # a first trainer holds the run
        result = runner.invoke(app, ["train", "--resume", str(run_copy), "--quiet"])
    _one_line_error(result, "in use by another cnn-doctor process")


def test_resumed_finished_run_reports_its_throughput(run_copy: Path):
    result = runner.invoke(app, ["train", "--resume", str(run_copy), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "None" not in result.output
    summary = json.loads((run_copy / "summary.json").read_text())
    assert summary["images_per_second"] > 0 and summary["epochs"] == 2


def test_invalid_config_leaves_no_run_folder(tiny_cifar_dir, tmp_path):
    _one_line_error(
        _train(tiny_cifar_dir, tmp_path / "runs", "--set", "model.arch=nosuchnet"),
        "not a registered model",
    )
    assert not (tmp_path / "runs").exists()


def test_label_byte_outside_the_classes_is_one_line_and_no_run_folder(tiny_cifar_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_cifar_dir, data)
    batch = data / "cifar-10-batches-bin" / "data_batch_1.bin"
    raw = bytearray(batch.read_bytes())
    raw[0] = 42  # the first record's label byte
    batch.write_bytes(bytes(raw))
    _one_line_error(_train(data, tmp_path / "runs"), "has label 42")
    assert not (tmp_path / "runs").exists()


def test_output_folder_that_cannot_be_created(tiny_cifar_dir, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    _one_line_error(
        _train(tiny_cifar_dir, blocker / "runs", "--set", "optim.epochs=1"),
        "cannot create the output folder",
    )


@pytest.mark.parametrize("command", ["report", "diagnose", "compare"])
def test_commands_pointed_at_a_folder_that_is_not_a_run(command: str, tmp_path: Path):
    folder = tmp_path / "holiday-photos"
    folder.mkdir()
    (folder / "beach.txt").write_text("sand")
    _one_line_error(runner.invoke(app, [command, str(folder)]), "not a run directory")
    assert sorted(p.name for p in folder.iterdir()) == ["beach.txt"]  # nothing written into it


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ("notaurl", "is not a database URL"),
        ("postgresql://me:pw@127.0.0.1:1/nowhere", "cannot open study storage"),
    ],
)
def test_bad_sweep_storage_is_one_line(storage: str, message: str, tmp_path: Path):
    space = tmp_path / "space.toml"
    space.write_text("[optim.lr]\nlow = 0.001\nhigh = 0.1\nlog = true\n")
    result = runner.invoke(
        app, ["sweep", "--space", str(space), "--storage", storage, "--out", str(tmp_path / "s")]
    )
    _one_line_error(result, message)


@pytest.mark.parametrize("command", ["data-check", "lr-find"])
def test_other_outputs_that_cannot_be_created(command: str, tiny_cifar_dir, tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    args = [command, "--data-dir", str(tiny_cifar_dir), "--out", str(blocker / "out")]
    _one_line_error(runner.invoke(app, args), "cannot create the output folder")
