"""Atomic writes: the target holds the old bytes or the new ones, never a mixture or nothing."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from cnn_doctor.atomic import (
    atomic_write,
    atomic_write_json,
    atomic_write_text,
    temporary_sibling,
)


def test_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path):
    target = tmp_path / "summary.json"
    atomic_write_text(target, "old")
    atomic_write_json(target, {"a": 1})
    assert target.read_text() == '{\n  "a": 1\n}'
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_a_failing_writer_keeps_the_old_file_and_cleans_up(tmp_path: Path):
    target = tmp_path / "state.json"
    atomic_write_text(target, "good")

    def disk_full(handle):
        handle.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, disk_full)
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_temporary_sibling_renames_on_success_only(tmp_path: Path):
    target = tmp_path / "model.keras"
    with temporary_sibling(target, suffix=".keras") as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".keras"
        tmp.write_bytes(b"new model")
    assert target.read_bytes() == b"new model"

    with pytest.raises(RuntimeError), temporary_sibling(target, suffix=".keras") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"new model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]
