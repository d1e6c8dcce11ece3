"""A tolerant reader of the CIFAR-10 binary layout that *reports* bad records instead of refusing.

The strict loader (``cnn_doctor.data.cifar10``) rejects a damaged file outright, which is right for
training but useless for a data check: the point of ``data-check`` is to say *which* records are
broken. This reader keeps every record it can parse, and lists the others (truncated tail, label
byte outside the class list) with the file, the position and the reason.

Record indices follow the product's convention: a record's position in its split in file order
(``data_batch_1..5.bin`` → 0–49999, ``test_batch.bin`` → 0–9999).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnn_doctor.data.cifar10 import BINARY_DIRNAME as LAYOUT_DIR
from cnn_doctor.data.cifar10 import META_FILE, RECORD_BYTES, TEST_FILE, TRAIN_FILES
from cnn_doctor.data.errors import DataError

TEST_FILES = (TEST_FILE,)


@dataclass(frozen=True)
class UnreadableRecord:
    """A record that could not be used: where it is and why."""

    split: str
    index: int
    file: str
    reason: str


@dataclass
class RawSplit:
    """The readable records of one split; ``index[i]`` is row ``i``'s record index in file order."""

    x: np.ndarray  # uint8 (N, 32, 32, 3)
    y: np.ndarray  # int64 (N,)
    index: np.ndarray  # int64 (N,)
    unreadable: list[UnreadableRecord] = field(default_factory=list)


def find_layout_dir(data_dir: str | Path) -> Path:
    """``data_dir`` itself, or its ``cifar-10-batches-bin`` child, whichever holds the batches."""
    root = Path(data_dir).expanduser()
    for candidate in (root, root / LAYOUT_DIR):
        if (candidate / TRAIN_FILES[0]).is_file() or (candidate / TEST_FILES[0]).is_file():
            return candidate
    raise DataError(
        f"{root}: no CIFAR-10 binary files found (expected {TRAIN_FILES[0]} … {TEST_FILES[0]} "
        f"in it or in {root / LAYOUT_DIR}); pass --data-dir pointing at the binary layout"
    )


def read_class_names(layout_dir: Path, num_classes: int = 10) -> list[str]:
    """Class names from ``batches.meta.txt``; numbered placeholders when the file is missing."""
    meta = Path(layout_dir) / META_FILE
    if meta.is_file():
        names = [line.strip() for line in meta.read_text().splitlines() if line.strip()]
        if names:
            return names
    return [f"class_{i}" for i in range(num_classes)]


def read_split_tolerant(
    layout_dir: Path, files: tuple[str, ...], split: str, num_classes: int
) -> RawSplit:
    """Parse ``files`` in order, keeping readable records and listing the unreadable ones.

    Missing files are reported as unreadable (with their expected 10,000 records unknown, so as
    one entry at the running index) rather than raised: the other files can still be checked.
    """
    xs, ys, idx = [], [], []
    bad: list[UnreadableRecord] = []
    offset = 0
    for name in files:
        path = Path(layout_dir) / name
        if not path.is_file():
            bad.append(UnreadableRecord(split, offset, name, "file missing"))
            continue
        raw = np.fromfile(path, dtype=np.uint8)
        whole, tail = divmod(raw.size, RECORD_BYTES)
        records = raw[: whole * RECORD_BYTES].reshape(whole, RECORD_BYTES)
        labels = records[:, 0].astype(np.int64)
        ok = labels < num_classes
        for pos in np.flatnonzero(~ok):
            bad.append(
                UnreadableRecord(
                    split,
                    offset + int(pos),
                    name,
                    f"label byte {int(labels[pos])} is not a class index (0–{num_classes - 1})",
                )
            )
        if tail:
            bad.append(
                UnreadableRecord(
                    split,
                    offset + whole,
                    name,
                    f"truncated record: {tail} of {RECORD_BYTES} bytes at the end of the file",
                )
            )
        pixels = records[ok, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        xs.append(pixels)
        ys.append(labels[ok])
        idx.append(offset + np.flatnonzero(ok))
        offset += whole + (1 if tail else 0)
    if not xs:
        empty = np.zeros((0, 32, 32, 3), np.uint8)
        return RawSplit(empty, np.zeros(0, np.int64), np.zeros(0, np.int64), bad)
    return RawSplit(
        np.ascontiguousarray(np.concatenate(xs)),
        np.concatenate(ys),
        np.concatenate(idx).astype(np.int64),
        bad,
    )
