"""The binary CIFAR-10 loader: round trips, corrupt files, search order, and the download."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from cnn_doctor.data import cifar10
from cnn_doctor.data.cifar10 import (
    BINARY_DIRNAME,
    META_FILE,
    RECORD_BYTES,
    TEST_FILE,
    TRAIN_FILES,
    clear_cache,
    download_cifar10,
    load_cifar10,
    locate_data_dir,
    read_batch_file,
    synthetic_cifar10,
    write_batch_file,
    write_dataset,
)
from cnn_doctor.data.errors import DataError


def _small(root: Path, names: tuple[str, ...] = ("a", "b", "c"), seed: int = 0) -> Path:
    """A 10-train / 4-test layout under ``root`` (fast to write and to break)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (14, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, len(names), 14)
    return write_dataset(root, x[:10], y[:10], x[10:], y[10:], names)


# --------------------------------------------------------------------------- parse / write


def test_batch_file_round_trip_and_record_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    y = np.array([0, 7, 9])
    path = tmp_path / "b.bin"
    write_batch_file(path, x, y)
    assert path.stat().st_size == 3 * RECORD_BYTES
    raw = np.fromfile(path, np.uint8).reshape(3, RECORD_BYTES)
    # The official record: label, then the R plane, G plane, B plane, each row-major.
    assert raw[1, 0] == 7
    assert np.array_equal(raw[1, 1:1025], x[1, :, :, 0].ravel())
    assert np.array_equal(raw[1, 2049:], x[1, :, :, 2].ravel())
    x2, y2 = read_batch_file(path)
    assert x2.dtype == np.uint8 and x2.shape == (3, 32, 32, 3) and y2.dtype == np.int64
    assert np.array_equal(x2, x) and np.array_equal(y2, y)


def test_dataset_round_trip_order_and_sources(tmp_path: Path) -> None:
    data = synthetic_cifar10(23, 7, seed=3)  # 23 does not split evenly over five files
    folder = write_dataset(
        tmp_path, data.x_train, data.y_train, data.x_test, data.y_test, data.class_names
    )
    assert folder == tmp_path / BINARY_DIRNAME
    assert sorted(p.name for p in folder.iterdir()) == sorted((*TRAIN_FILES, TEST_FILE, META_FILE))
    for where in (tmp_path, folder):  # the parent or the layout folder itself
        loaded = load_cifar10(where, download=False)
        assert np.array_equal(loaded.x_train, data.x_train)
        assert np.array_equal(loaded.y_train, data.y_train)
        assert np.array_equal(loaded.x_test, data.x_test)
        assert np.array_equal(loaded.y_test, data.y_test)
        assert loaded.class_names == data.class_names
        assert loaded.source == folder
        assert loaded.y_train.dtype == np.int64


def test_meta_trailing_blank_lines_and_cache(tmp_path: Path) -> None:
    folder = _small(tmp_path)
    (folder / META_FILE).write_text("a\nb\nc\n\n")  # the official file ends with blank lines
    first = load_cifar10(tmp_path, download=False)
    assert first.class_names == ["a", "b", "c"]
    assert load_cifar10(tmp_path, download=False) is first  # cached
    assert not first.x_train.flags.writeable  # shared by the cache, so read-only
    _small(tmp_path, names=("a", "b", "c", "dd"))  # rewriting the files invalidates the cache
    assert load_cifar10(tmp_path, download=False).class_names == ["a", "b", "c", "dd"]
    clear_cache()


def test_write_rejects_bad_arrays(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="NHWC"):
        write_batch_file(tmp_path / "b.bin", np.zeros((2, 3, 32, 32), np.uint8), np.zeros(2))
    with pytest.raises(ValueError, match="labels"):
        write_batch_file(tmp_path / "b.bin", np.zeros((2, 32, 32, 3), np.uint8), np.zeros(3))
    x = np.zeros((5, 32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="class names"):
        write_dataset(tmp_path, x, np.full(5, 3), x[:1], np.zeros(1, int), ["a", "b"])


# --------------------------------------------------------------------------- corrupt data


@pytest.mark.parametrize(
    ("breakage", "culprit", "message"),
    [
        ("empty", "data_batch_2.bin", "empty"),
        ("short", "data_batch_2.bin", "not a multiple of 3073"),
        ("label", "data_batch_4.bin", "label 5"),
        ("missing", "data_batch_3.bin", "missing file"),
        ("missing", TEST_FILE, "missing file"),
        ("missing", META_FILE, "missing file"),
    ],
)
def test_bad_files_name_the_file(tmp_path: Path, breakage: str, culprit: str, message: str) -> None:
    folder = _small(tmp_path)
    path = folder / culprit
    if breakage == "empty":
        path.write_bytes(b"")
    elif breakage == "short":
        path.write_bytes(path.read_bytes()[:-100])
    elif breakage == "label":
        raw = bytearray(path.read_bytes())
        raw[RECORD_BYTES] = 5  # second record's label; only 3 class names
        path.write_bytes(bytes(raw))
    else:
        path.unlink()
    with pytest.raises(DataError, match=message) as info:
        load_cifar10(tmp_path, download=False)
    assert str(path) in str(info.value)


def test_absent_without_download_lists_every_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_data_env: Path
) -> None:
    monkeypatch.setenv("CNN_DOCTOR_DATA", str(tmp_path / "env"))
    with pytest.raises(DataError) as info:
        load_cifar10(None, download=False)
    message = str(info.value)
    for place in (tmp_path / "env", isolated_data_env / ".cache"):
        assert str(place) in message
    assert BINARY_DIRNAME in message and "--data-dir" in message


# --------------------------------------------------------------------------- search order


def test_resolution_order_explicit_env_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_data_env: Path
) -> None:
    explicit = _small(tmp_path / "explicit")
    env = _small(tmp_path / "env")
    cache = _small(isolated_data_env / ".cache" / "cnn-doctor")
    monkeypatch.setenv("CNN_DOCTOR_DATA", str(tmp_path / "env"))
    assert locate_data_dir(tmp_path / "explicit") == explicit
    assert locate_data_dir(explicit) == explicit  # the layout folder itself
    assert locate_data_dir(None) == env
    assert locate_data_dir("") == env  # config default "" means "not given"
    with pytest.raises(DataError, match="nothing-here"):  # an explicit folder is authoritative
        locate_data_dir(tmp_path / "nothing-here")
    monkeypatch.delenv("CNN_DOCTOR_DATA")
    assert locate_data_dir() == cache


# --------------------------------------------------------------------------- download


def _archive(tmp_path: Path, *, complete: bool = True) -> tuple[Path, str]:
    """A tiny tar.gz shaped like the official release, and its md5."""
    source = _small(tmp_path / "src")
    if not complete:
        (source / "data_batch_5.bin").unlink()
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname=BINARY_DIRNAME)
        evil = tarfile.TarInfo(f"{BINARY_DIRNAME}/../../escaped.txt")  # must be ignored
        evil.size = 3
        tar.addfile(evil, io.BytesIO(b"bad"))
    return archive, hashlib.md5(archive.read_bytes()).hexdigest()


def test_download_good_checksum_extracts_and_loads(tmp_path: Path) -> None:
    archive, md5 = _archive(tmp_path)
    root = tmp_path / "cache"
    folder = download_cifar10(root, url=archive.as_uri(), md5=md5, show_progress=True)
    assert folder == root / BINARY_DIRNAME
    assert sorted(p.name for p in root.iterdir()) == [BINARY_DIRNAME]  # no temp files left
    assert not (tmp_path / "escaped.txt").exists()
    assert load_cifar10(root, download=False).x_train.shape == (10, 32, 32, 3)


@pytest.mark.parametrize("problem", ["checksum", "incomplete-archive", "interrupted"])
def test_download_failure_leaves_nothing(tmp_path: Path, problem: str) -> None:
    archive, md5 = _archive(tmp_path, complete=problem != "incomplete-archive")
    opener = None
    if problem == "checksum":
        md5 = "0" * 32
    if problem == "interrupted":

        class Broken(io.BytesIO):
            def read(self, size: int = -1) -> bytes:
                raise ConnectionResetError("connection reset")

        def opener(url: str) -> io.BytesIO:
            return Broken(b"")

    root = tmp_path / "cache"
    with pytest.raises(DataError, match="checksum|lacks|interrupted"):
        download_cifar10(root, url=archive.as_uri(), md5=md5, opener=opener, show_progress=False)
    assert list(root.iterdir()) == []


def test_load_downloads_into_cache_when_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_data_env: Path
) -> None:
    archive, md5 = _archive(tmp_path)
    monkeypatch.setattr(cifar10, "CIFAR10_URL", archive.as_uri())
    monkeypatch.setattr(cifar10, "CIFAR10_MD5", md5)
    data = load_cifar10(show_progress=False)
    assert data.source == isolated_data_env / ".cache" / "cnn-doctor" / BINARY_DIRNAME
    assert data.class_names == ["a", "b", "c"]


def test_offline_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_data_env: Path
) -> None:
    monkeypatch.setattr(cifar10, "CIFAR10_URL", (tmp_path / "no-such.tar.gz").as_uri())
    with pytest.raises(DataError, match="download into .* failed") as info:
        load_cifar10(show_progress=False)
    assert str(isolated_data_env / ".cache" / "cnn-doctor") in str(info.value)
    assert not (isolated_data_env / ".cache" / "cnn-doctor" / BINARY_DIRNAME).exists()
