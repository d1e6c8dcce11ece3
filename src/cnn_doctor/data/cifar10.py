"""Locate, download, verify and parse CIFAR-10 in its official *binary* layout.

Why the binary layout: it is a flat array of fixed-size records, so numpy parses all 60,000 images
in about a second with no unpickling (the python-pickle release can execute arbitrary code when
loaded, and we never want a data file to be able to do that). The same layout is what we *write*
(tests, fixtures, ``data-check --export-clean``), so every dataset this tool touches is readable by
every other CIFAR-10 binary reader.

Layout of ``cifar-10-batches-bin/``: ``data_batch_1.bin`` … ``data_batch_5.bin`` (train, in that
order), ``test_batch.bin``, and ``batches.meta.txt`` (class names, one per line). Each record is
one label byte followed by 3072 pixel bytes: 1024 red, 1024 green, 1024 blue, each a row-major
32×32 plane.

Where the data comes from, first hit wins: the explicit ``data_dir`` (config ``data.data_dir`` /
``--data-dir``), then ``$CNN_DOCTOR_DATA``, then ``~/.cache/cnn-doctor``. Each may be the folder
that *contains* ``cifar-10-batches-bin/`` or that folder itself. When none holds the data, the
official archive is downloaded (checksum-verified, extracted atomically) into the first of them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from cnn_doctor.atomic import atomic_write, atomic_write_bytes
from cnn_doctor.data.errors import DataError

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
ENV_VAR = "CNN_DOCTOR_DATA"
BINARY_DIRNAME = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
META_FILE = "batches.meta.txt"
LAYOUT_FILES = (*TRAIN_FILES, TEST_FILE, META_FILE)
CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
IMAGE_SHAPE = (32, 32, 3)
PIXELS = 32 * 32 * 3
RECORD_BYTES = 1 + PIXELS

#: ``opener(url)`` returns a readable binary stream (optionally with ``.headers``); a parameter so
#: tests can serve a generated archive without a network.
Opener = Callable[[str], IO[bytes]]


@dataclass(frozen=True, eq=False)
class Cifar10:
    """The parsed dataset. Arrays are read-only because loads are cached and shared: copy
    (``arr.copy()``) before changing anything in place."""

    x_train: np.ndarray  # (N, 32, 32, 3) uint8, records of data_batch_1..5 in file order
    y_train: np.ndarray  # (N,) int64
    x_test: np.ndarray  # (M, 32, 32, 3) uint8, test_batch order
    y_test: np.ndarray  # (M,) int64
    class_names: list[str]
    source: Path  # the cifar-10-batches-bin folder that was read

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


# --------------------------------------------------------------------------------------------
# Finding the data
# --------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``~/.cache/cnn-doctor``; computed per call so ``$HOME`` changes (tests) are honoured."""
    return Path.home() / ".cache" / "cnn-doctor"


def search_paths(explicit: str | os.PathLike[str] | None = None) -> list[tuple[str, Path]]:
    """The places searched, in priority order, each with a label for error messages."""
    places: list[tuple[str, Path]] = []
    if explicit is not None and str(explicit) != "":
        places.append(("data_dir / --data-dir", Path(explicit).expanduser()))
    env = os.environ.get(ENV_VAR, "")
    if env:
        places.append((f"${ENV_VAR}", Path(env).expanduser()))
    places.append(("user cache", default_cache_dir()))
    return places


def find_layout(root: str | os.PathLike[str]) -> Path | None:
    """The ``cifar-10-batches-bin`` folder under ``root`` (or ``root`` itself), if it has data.

    A folder counts when it holds *any* layout file: a half-present dataset is then reported file
    by file by the loader instead of being silently skipped in favour of another place.
    """
    root = Path(root)
    for candidate in (root / BINARY_DIRNAME, root):
        if candidate.is_dir() and any((candidate / name).is_file() for name in LAYOUT_FILES):
            return candidate
    return None


def _not_found_message(places: Sequence[tuple[str, Path]], reason: str) -> str:
    searched = "; ".join(f"{label}: {path}" for label, path in places)
    return (
        f"CIFAR-10 not found ({reason}). Searched, in order: {searched}. Fix: put the official "
        f"binary release (the '{BINARY_DIRNAME}/' folder from {CIFAR10_URL}, containing "
        f"{', '.join(LAYOUT_FILES)}) in one of these places, or pass --data-dir / set "
        f"${ENV_VAR} to a folder that has it."
    )


def locate_data_dir(
    explicit: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    show_progress: bool = True,
) -> Path:
    """The ``cifar-10-batches-bin`` folder to read: the explicit folder if given, else env > cache.

    With ``download=True`` a missing dataset is fetched into the highest-priority place; either
    way a failure is *one* DataError that lists every place searched and what to put there.
    """
    places = search_paths(explicit)
    if explicit not in (None, ""):
        # An explicit folder is authoritative: silently training on other data found in the env
        # or cache would hide the user's typo.
        places = places[:1]
    for _label, root in places:
        found = find_layout(root)
        if found is not None:
            return found
    if not download:
        raise DataError(_not_found_message(places, "download disabled"))
    target = places[0][1]
    try:
        return download_cifar10(target, show_progress=show_progress)
    except DataError as error:
        raise DataError(
            _not_found_message(places, f"download into {target} failed: {error}")
        ) from None


# --------------------------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------------------------


def _urlopen(url: str) -> IO[bytes]:
    return urllib.request.urlopen(url, timeout=60)


def _stream_to_file(
    stream: IO[bytes], dest: IO[bytes], total: int | None, show_progress: bool
) -> str:
    """Copy ``stream`` into ``dest`` (with a progress bar on stderr, so stdout stays clean for
    machine-readable output); return the md5 of what was written."""
    digest = hashlib.md5()  # integrity check against the published checksum, not security
    with contextlib.ExitStack() as stack:
        progress = task = None
        if show_progress:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            progress = stack.enter_context(
                Progress(
                    TextColumn("downloading CIFAR-10"),
                    BarColumn(),
                    DownloadColumn(),
                    TransferSpeedColumn(),
                    TimeRemainingColumn(),
                    console=Console(stderr=True),
                    transient=True,
                )
            )
            task = progress.add_task("download", total=total)
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            dest.write(chunk)
            if progress is not None and task is not None:
                progress.advance(task, len(chunk))
    return digest.hexdigest()


def _content_length(stream: Any) -> int | None:
    headers = getattr(stream, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _extract_layout(archive: Path, into: Path) -> Path:
    """Extract only ``cifar-10-batches-bin/<plain file>`` members (no links, no ``..``), so a
    hostile or odd archive cannot write outside ``into``; return the extracted layout folder."""
    layout = into / BINARY_DIRNAME
    layout.mkdir()
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                parts = member.name.replace("\\", "/").strip("/").split("/")
                if len(parts) != 2 or parts[0] != BINARY_DIRNAME or not member.isfile():
                    continue
                name = parts[1]
                if name in ("", ".", ".."):
                    continue
                source = tar.extractfile(member)
                if source is None:  # pragma: no cover - isfile() members always have data
                    continue
                with source, open(layout / name, "wb") as out:
                    shutil.copyfileobj(source, out)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DataError(f"{archive.name}: not a readable tar.gz archive ({error})") from None
    missing = [name for name in LAYOUT_FILES if not (layout / name).is_file()]
    if missing:
        raise DataError(
            f"the downloaded archive lacks {BINARY_DIRNAME}/{', '.join(missing)}; "
            "it is not the CIFAR-10 binary release"
        )
    return layout


def download_cifar10(
    root: str | os.PathLike[str],
    *,
    url: str | None = None,
    md5: str | None = None,
    opener: Opener | None = None,
    show_progress: bool = True,
) -> Path:
    """Download the binary archive into ``root`` and return ``root/cifar-10-batches-bin``.

    Atomic on purpose: the archive goes to a temp file, is md5-checked, is extracted into a temp
    folder next to the target, and only then renamed into place. An interrupted or corrupt
    download therefore never looks like data to the next run, and nothing is left behind on
    failure. ``url``/``md5``/``opener`` default to the official release (read at call time so
    tests can monkeypatch the module constants).
    """
    url = CIFAR10_URL if url is None else url
    md5 = CIFAR10_MD5 if md5 is None else md5
    opener = _urlopen if opener is None else opener
    root = Path(root).expanduser()
    target = root / BINARY_DIRNAME
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"cannot create {root}: {error}") from None

    fd, part_name = tempfile.mkstemp(prefix=".cifar10-", suffix=".tar.gz.part", dir=root)
    part = Path(part_name)
    staging: Path | None = None
    try:
        with os.fdopen(fd, "wb") as dest:
            try:
                stream = opener(url)
            except (urllib.error.URLError, OSError, ValueError) as error:
                raise DataError(f"cannot download {url} ({error})") from None
            try:
                with stream:
                    got = _stream_to_file(stream, dest, _content_length(stream), show_progress)
            except (urllib.error.URLError, OSError) as error:
                raise DataError(f"download of {url} was interrupted ({error})") from None
        if got != md5:
            raise DataError(
                f"checksum mismatch for {url}: md5 {got}, expected {md5}; the download is "
                "corrupt or incomplete (it was deleted, run again)"
            )
        staging = Path(tempfile.mkdtemp(prefix=".cifar10-extract-", dir=root))
        layout = _extract_layout(part, staging)
        try:
            os.replace(layout, target)  # atomic; also replaces an *empty* leftover folder
        except OSError as error:
            if find_layout(root) == target:  # a concurrent download won the race: fine
                return target
            raise DataError(f"cannot move the extracted data to {target}: {error}") from None
        return target
    finally:
        part.unlink(missing_ok=True)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def _read_records(path: Path) -> np.ndarray:
    """The raw ``(n, 3073)`` uint8 records of one batch file, with size checks."""
    if not path.is_file():
        raise DataError(
            f"{path}: missing file; the CIFAR-10 binary folder must contain "
            f"{', '.join(LAYOUT_FILES)} (re-download or copy the complete folder)"
        )
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{path}: file is empty (truncated copy?); replace it with the original")
    if size % RECORD_BYTES:
        raise DataError(
            f"{path}: size {size} bytes is not a multiple of {RECORD_BYTES} (1 label byte + "
            f"{PIXELS} pixel bytes per image); the file is truncated or not CIFAR-10 binary — "
            "replace it with the original"
        )
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error})") from None
    if raw.size != size:  # pragma: no cover - file changed while reading
        raise DataError(f"{path}: read {raw.size} of {size} bytes; the file changed while reading")
    return raw.reshape(-1, RECORD_BYTES)


def _check_labels(path: Path, labels: np.ndarray, num_classes: int | None) -> None:
    if num_classes is None or labels.size == 0:
        return
    top = int(labels.max())
    if top >= num_classes:
        record = int(np.argmax(labels >= num_classes))
        raise DataError(
            f"{path}: record {record} has label {int(labels[record])}, but {META_FILE} lists "
            f"only {num_classes} classes (labels must be 0..{num_classes - 1}); the file is "
            "corrupt or from another dataset"
        )


def _records_to_images(records: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    planes = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # CHW planes -> NHWC
    if out is None:
        return np.ascontiguousarray(planes)
    out[...] = planes
    return out


def read_batch_file(
    path: str | os.PathLike[str], num_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One batch file as ``(x uint8 (n,32,32,3), y int64 (n,))``; labels are range-checked when
    ``num_classes`` is given (the loader passes the number of names in ``batches.meta.txt``)."""
    path = Path(path)
    records = _read_records(path)
    labels = records[:, 0].astype(np.int64)
    _check_labels(path, labels, num_classes)
    return _records_to_images(records), labels


def read_class_names(path: str | os.PathLike[str]) -> list[str]:
    """Class names from ``batches.meta.txt``: one per line, blank lines ignored (the official file
    ends with empty lines)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: missing file; it lists the class names, one per line")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read the class names ({error})") from None
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise DataError(f"{path}: no class names; expected one name per line")
    if len(names) > 256:
        raise DataError(f"{path}: {len(names)} class names, but labels are one byte (max 256)")
    return names


def _read_split(files: Sequence[Path], num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate batch files into preallocated arrays (peak memory ≈ result + one file)."""
    records = [_read_records(path) for path in files]  # validates every size before allocating
    total = sum(len(r) for r in records)
    x = np.empty((total, *IMAGE_SHAPE), dtype=np.uint8)
    y = np.empty(total, dtype=np.int64)
    offset = 0
    for path, recs in zip(files, records, strict=True):
        n = len(recs)
        y[offset : offset + n] = recs[:, 0]
        _check_labels(path, y[offset : offset + n], num_classes)
        _records_to_images(recs, x[offset : offset + n])
        offset += n
    return x, y


_cache: dict[tuple[Any, ...], Cifar10] = {}


def _cache_key(folder: Path) -> tuple[Any, ...]:
    stats = []
    for name in LAYOUT_FILES:
        try:
            st = (folder / name).stat()
            stats.append((name, st.st_size, st.st_mtime_ns))
        except OSError:
            stats.append((name, None, None))
    return (str(folder.resolve()), tuple(stats))


def clear_cache() -> None:
    """Forget the cached parse (frees its memory)."""
    _cache.clear()


def load_cifar10(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    show_progress: bool = True,
) -> Cifar10:
    """Find (and if allowed download) CIFAR-10 and parse it.

    The last parse is cached, keyed by folder and file sizes/mtimes, because several commands in
    one process (train, then data-check, then report) read the same 180 MB; only one dataset is
    kept so memory stays bounded. ``data_dir=""`` means "not given" (the config default).
    """
    folder = locate_data_dir(data_dir or None, download=download, show_progress=show_progress)
    key = _cache_key(folder)
    cached = _cache.get(key)
    if cached is not None:
        return cached

    class_names = read_class_names(folder / META_FILE)
    x_train, y_train = _read_split([folder / name for name in TRAIN_FILES], len(class_names))
    x_test, y_test = _read_split([folder / TEST_FILE], len(class_names))
    for array in (x_train, y_train, x_test, y_test):
        array.flags.writeable = False
    dataset = Cifar10(x_train, y_train, x_test, y_test, class_names, folder)
    _cache.clear()
    _cache[key] = dataset
    return dataset


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _check_images(x: np.ndarray, y: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"{what}: images must be (N, 32, 32, 3) NHWC, got {x.shape}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"{what}: labels must be ({x.shape[0]},), got {y.shape}")
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.integer) or (x.size and (x.min() < 0 or x.max() > 255)):
            raise ValueError(f"{what}: images must be uint8 (0-255), got {x.dtype}")
        x = x.astype(np.uint8)
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() > 255):
        raise ValueError(f"{what}: labels must be integers in 0..255")
    return x, y.astype(np.uint8)


def _atomic_write(path: Path, data: bytes | np.ndarray) -> None:
    """Write via a temp file + rename so a crash never leaves a short file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, np.ndarray):
        atomic_write(path, data.tofile)
    else:
        atomic_write_bytes(path, data)


def write_batch_file(path: str | os.PathLike[str], x: np.ndarray, y: np.ndarray) -> None:
    """Write images ``(N,32,32,3)`` uint8 and labels as one CIFAR-10 binary batch file."""
    x, y = _check_images(x, y, str(path))
    records = np.empty((x.shape[0], RECORD_BYTES), dtype=np.uint8)
    records[:, 0] = y
    records[:, 1:] = x.transpose(0, 3, 1, 2).reshape(x.shape[0], PIXELS)  # NHWC -> CHW planes
    _atomic_write(Path(path), records)


def write_dataset(
    directory: str | os.PathLike[str],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    class_names: Sequence[str],
    train_files: int = len(TRAIN_FILES),
) -> Path:
    """Write a complete binary layout and return its ``cifar-10-batches-bin`` folder.

    ``directory`` may be the parent or the ``cifar-10-batches-bin`` folder itself. Train images
    are split in order over ``data_batch_1..5`` so reading back yields the same order. The loader
    requires all five files, hence ``train_files`` must stay 5 (kept as a named knob so callers
    state it) and at least 5 training images are needed (an empty batch file reads as corrupt).
    """
    if train_files != len(TRAIN_FILES):
        raise ValueError(f"train_files must be {len(TRAIN_FILES)} (the loader reads all five)")
    x_train, y_train = _check_images(x_train, y_train, "train")
    x_test, y_test = _check_images(x_test, y_test, "test")
    names = [str(name).strip() for name in class_names]
    if not names or any(not name or "\n" in name for name in names):
        raise ValueError("class_names must be non-empty single-line strings")
    for what, y in (("train", y_train), ("test", y_test)):
        if y.size and int(y.max()) >= len(names):
            raise ValueError(f"{what}: label {int(y.max())} >= number of class names {len(names)}")
    if len(x_train) < train_files:
        raise ValueError(f"need at least {train_files} training images, got {len(x_train)}")
    if len(x_test) < 1:
        raise ValueError("need at least one test image")

    directory = Path(directory)
    folder = directory if directory.name == BINARY_DIRNAME else directory / BINARY_DIRNAME
    folder.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, len(x_train), train_files + 1).round().astype(int)
    for name, start, stop in zip(TRAIN_FILES, bounds[:-1], bounds[1:], strict=True):
        write_batch_file(folder / name, x_train[start:stop], y_train[start:stop])
    write_batch_file(folder / TEST_FILE, x_test, y_test)
    _atomic_write(folder / META_FILE, ("\n".join(names) + "\n").encode("utf-8"))
    return folder


# --------------------------------------------------------------------------------------------
# Synthetic data
# --------------------------------------------------------------------------------------------

_PALETTE = np.array(
    [
        [220, 40, 40],
        [40, 200, 60],
        [50, 70, 220],
        [230, 210, 40],
        [200, 50, 200],
        [40, 200, 210],
        [240, 140, 30],
        [130, 130, 130],
        [120, 60, 20],
        [240, 240, 240],
    ],
    dtype=np.float32,
)


def synthetic_images(y: np.ndarray, seed: int = 0) -> np.ndarray:
    """Learnable CIFAR-shaped images for labels ``y`` (0..9): class = colour + pattern.

    Why it looks like this: a tiny net must reach high accuracy in a few seconds on a few hundred
    images (so other tests can check that training *works*), and the signal must survive
    crop/flip augmentation. Each class has its own colour and one of five textures (stripes of
    two orientations, checker, diagonal, centred square) at a random phase, plus noise and a
    brightness jitter so normalisation statistics are non-trivial.
    """
    y = np.asarray(y, dtype=np.int64)
    rng = np.random.default_rng(seed)
    n = len(y)
    ii, jj = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    phase = rng.integers(0, 8, size=(n, 2))
    pi = (ii[None] + phase[:, :1, None]) // 4  # (n, 32, 32)
    pj = (jj[None] + phase[:, 1:, None]) // 4
    diagonal = ((ii + jj)[None] + phase[:, :1, None]) // 4
    kind = (y % 5)[:, None, None]
    centre = (np.abs(ii - 15.5) < 8) & (np.abs(jj - 15.5) < 8)
    mask = np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3],
        [pi % 2 == 0, pj % 2 == 0, (pi + pj) % 2 == 0, diagonal % 2 == 0],
        default=np.broadcast_to(centre, (n, 32, 32)),
    )
    colour = _PALETTE[y % len(_PALETTE)][:, None, None, :]
    image = colour * (0.45 + 0.55 * mask[..., None])
    image *= rng.uniform(0.85, 1.15, size=(n, 1, 1, 1)).astype(np.float32)
    image += rng.normal(0.0, 10.0, size=image.shape).astype(np.float32)
    return np.clip(image, 0, 255).round().astype(np.uint8)


def synthetic_cifar10(
    n_train: int = 200, n_test: int = 50, *, num_classes: int = 10, seed: int = 0
) -> Cifar10:
    """A balanced synthetic dataset (labels cycle through the classes, then are shuffled)."""
    if not 1 <= num_classes <= len(_PALETTE):
        raise ValueError(f"num_classes must be in 1..{len(_PALETTE)}")
    rng = np.random.default_rng(seed)
    y_train = rng.permutation(np.arange(n_train) % num_classes).astype(np.int64)
    y_test = rng.permutation(np.arange(n_test) % num_classes).astype(np.int64)
    x_train = synthetic_images(y_train, seed=seed + 1)
    x_test = synthetic_images(y_test, seed=seed + 2)
    names = list(CLASS_NAMES[:num_classes])
    return Cifar10(x_train, y_train, x_test, y_test, names, Path("<synthetic>"))
