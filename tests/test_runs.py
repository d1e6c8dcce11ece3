"""The run directory's life: created only when asked, locked while used, honest on resume."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnn_doctor.config import load_config
from cnn_doctor.runs import (
    CONFIG_FILE,
    STATE_FILE,
    RunDir,
    RunError,
    RunState,
    capture_rng,
    new_run_dir,
    read_metrics,
    require_run_dir,
    restore_rng,
)


def test_new_run_dirs_never_collide(tmp_path: Path):
    first = new_run_dir(tmp_path / "runs", "fast")
    second = new_run_dir(tmp_path / "runs", "fast")
    assert first != second and first.is_dir() and second.is_dir()


def test_an_output_folder_that_cannot_be_created_is_a_run_error(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(RunError, match="cannot create the output folder"):
        new_run_dir(blocker / "runs", "fast")


def test_require_run_dir_refuses_a_plain_folder(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(RunError, match="not a run directory"):
        require_run_dir(tmp_path)
    with pytest.raises(RunError, match="not a directory"):
        require_run_dir(tmp_path / "missing")


def _run(tmp_path: Path) -> RunDir:
    return RunDir.create(load_config(None, [f"run.out_dir={tmp_path}"]))


def test_create_writes_the_config_and_open_reads_it_back(tmp_path: Path):
    run = _run(tmp_path)
    assert (run.path / CONFIG_FILE).is_file()
    assert RunDir.open(run.path).config().run.out_dir == str(tmp_path)


def test_a_second_lock_on_the_same_run_is_refused(tmp_path: Path):
    run = _run(tmp_path)
    with run.lock(), pytest.raises(RunError, match="in use by another"), RunDir(run.path).lock():
        pass
    with run.lock():  # released: usable again
        pass


def test_a_lock_left_by_a_killed_process_does_not_block(tmp_path: Path):
    run = _run(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from cnn_doctor.runs import RunDir; "
            "lock = RunDir(__import__('pathlib').Path(sys.argv[1])).lock(); lock.__enter__(); "
            "print('locked', flush=True); time.sleep(60)",
            str(run.path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunError, match="in use"), run.lock():
            pass
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)
        holder.stdout.close()
    with run.lock():  # the kernel dropped the dead holder's lock
        pass


@pytest.mark.parametrize(
    "content",
    ["{garbage", '{"epochs_done": -1}', '{"epochs": 2}', '{"epochs_done": 2, "rng": 5}', "\x00"],
)
def test_a_corrupt_state_file_is_a_run_error(tmp_path: Path, content: str):
    run = _run(tmp_path)
    (run.path / STATE_FILE).write_text(content)
    with pytest.raises(RunError, match="state.json is corrupt"):
        run.read_state()


def test_no_state_file_means_no_epoch_finished(tmp_path: Path):
    assert _run(tmp_path).read_state() == RunState(0, None)


def test_a_missing_checkpoint_is_refused_not_restarted(tmp_path: Path):
    run = _run(tmp_path)
    with pytest.raises(RunError, match="is missing"):
        run.load_checkpoint(RunState(2))


def test_an_unreadable_checkpoint_is_a_run_error(tmp_path: Path):
    run = _run(tmp_path)
    (run.path / "checkpoint.keras").write_bytes(b"not a zip file")
    with pytest.raises(RunError, match="unreadable"):
        run.load_checkpoint(RunState(2))


def test_read_metrics_skips_a_torn_last_line_but_not_damage_inside(tmp_path: Path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1}\n{"epoch": 2}\n{"epo')
    assert [m["epoch"] for m in read_metrics(tmp_path)] == [1, 2]
    path.write_text('{"epoch": 1}\n{"epo\n{"epoch": 3}\n')
    with pytest.raises(RunError, match="line 2 is corrupt"):
        read_metrics(tmp_path)


def test_rng_state_round_trips_through_json():
    import keras

    keras.utils.set_random_seed(3)
    layer = keras.layers.Dropout(0.5, seed=7)
    model = keras.Sequential([keras.Input((4,)), layer])
    stream = layer.seed_generator
    saved = json.loads(json.dumps(capture_rng(model)))
    want = (random.random(), np.random.rand(), keras.random.uniform((3,), seed=stream))
    keras.utils.set_random_seed(99)
    keras.random.uniform((3,), seed=stream)  # move the layer's stream on
    restore_rng(saved, model)
    got = (random.random(), np.random.rand(), keras.random.uniform((3,), seed=stream))
    assert got[:2] == want[:2]
    np.testing.assert_array_equal(np.asarray(got[2]), np.asarray(want[2]))
    if keras.backend.backend() == "torch":
        import torch

        restore_rng(saved, model)
        first = torch.rand(3)
        restore_rng(saved, model)
        assert torch.equal(first, torch.rand(3))
