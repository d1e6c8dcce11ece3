"""The life of one run directory, in one place: validate-then-create, lock, atomic writes, state
with the random streams, and resume.

A run directory is the product's memory: ``config.toml`` says what was asked, ``metrics.jsonl``
what happened epoch by epoch, ``checkpoint.keras`` + ``state.json`` where to continue after
Ctrl-C, a kill or a full disk. Everything that writes into one goes through this module so that

- a folder is created only once the run is known to be able to start (callers validate first);
- every file is written atomically (``cnn_doctor.atomic``), so a crash leaves the previous
  version, never a torn one;
- only one process trains in a folder at a time (an OS file lock, released by the kernel when the
  holder dies, so a killed run never blocks its own resume);
- ``state.json`` is written last, after the checkpoint, and carries the random-number state
  (Python, NumPy, the backend's global generator and every Keras ``SeedGenerator`` in the model),
  so a resumed run draws the same dropout masks as the uninterrupted one would have;
- every failure a user can meet (a folder that cannot be created, a full disk, a damaged
  ``state.json`` or checkpoint, a folder that is not a run) is a ``RunError`` with one line that
  says what happened and what is still intact. The CLI prints it without a traceback.

Keras is imported lazily (only by the functions that touch a model), so the CLI can use the
folder helpers before the backend is chosen.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cnn_doctor.atomic import (
    atomic_write_json,
    atomic_write_text,
    temporary_sibling,
)
from cnn_doctor.config import Config, ConfigError, config_from_dict

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = [
    "CHECKPOINT_FILE",
    "CONFIG_FILE",
    "LOCK_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "NORMALIZER_FILE",
    "STATE_FILE",
    "SUMMARY_FILE",
    "RunDir",
    "RunError",
    "RunState",
    "capture_rng",
    "ensure_dir",
    "load_run_config",
    "new_run_dir",
    "read_metrics",
    "require_run_dir",
    "restore_rng",
]

METRICS_FILE = "metrics.jsonl"
CHECKPOINT_FILE = "checkpoint.keras"
STATE_FILE = "state.json"
SUMMARY_FILE = "summary.json"
CONFIG_FILE = "config.toml"
MODEL_FILE = "model.keras"
NORMALIZER_FILE = "normalizer.json"
LOCK_FILE = ".lock"
# What makes a folder a run (or data-check / diagnosis) directory worth reading or rebuilding.
RUN_MARKERS = (CONFIG_FILE, "trace.json", "data_check.json", "report_sections")


class RunError(ValueError):
    """A run directory cannot be created, used or resumed; the message says why and what is
    still intact. The CLI prints it as one line."""


# --------------------------------------------------------------------------- folders
def new_run_dir(out_dir: str | os.PathLike[str], name: str) -> Path:
    """Create ``<out_dir>/<YYYYmmdd-HHMMSS>-<name>`` (a numeric suffix avoids collisions).

    The one place cnn-doctor creates an output folder (training runs, data checks, LR range
    tests). Call it only after everything that can be validated has been: a failed start must
    not leave an empty run behind.
    """
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(out_dir) / f"{stamp}-{name}"
    candidate, n = base, 1
    while True:
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            n += 1
            candidate = base.with_name(f"{base.name}-{n}")
        except OSError as error:
            raise RunError(
                f"cannot create the output folder {candidate}: {error.strerror or error} "
                "(set run.out_dir / --out to a writable folder)"
            ) from None


def ensure_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` as an existing folder (created if needed), or a ``RunError`` saying why not —
    for an output folder the user named (``--out DIR``)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunError(
            f"cannot create the output folder {path}: {error.strerror or error}"
        ) from None
    return path


def require_run_dir(path: str | os.PathLike[str], markers: tuple[str, ...] = RUN_MARKERS) -> Path:
    """``path`` as a run directory, or a ``RunError`` naming what is missing."""
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"{path} is not a directory")
    if not any((path / marker).exists() for marker in markers):
        raise RunError(f"{path} is not a run directory (none of {', '.join(markers)})")
    return path


def load_run_config(run_dir: str | os.PathLike[str]) -> Config:
    """The config a run was started with (``config.toml``)."""
    from cnn_doctor.config import tomllib

    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a run directory (no {CONFIG_FILE})")
    try:
        return config_from_dict(tomllib.loads(path.read_text()))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise RunError(f"{path} is unreadable ({error})") from None


def read_metrics(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Per-epoch records of a run. A torn *last* line (the process died mid-append, before the
    epoch's checkpoint) is ignored; damage anywhere else is a ``RunError``."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except ValueError as error:
            if number == len(lines):
                break
            raise RunError(f"{path} line {number} is corrupt ({error})") from None
        records.append(record)
    return records


# --------------------------------------------------------------------------- random state
def _backend_rng_state() -> dict[str, str]:
    """The backend's *global* generator. Keras's torch backend draws unseeded dropout masks from
    it (``torch.nn.functional.dropout``); TensorFlow and JAX draw from ``SeedGenerator`` states."""
    import keras

    if keras.backend.backend() != "torch":
        return {}
    import torch

    state = {"torch": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode("ascii")}
    if torch.cuda.is_available():
        state["torch_cuda"] = [
            base64.b64encode(s.numpy().tobytes()).decode("ascii")
            for s in torch.cuda.get_rng_state_all()
        ]
    return state


def _set_backend_rng_state(state: dict[str, Any]) -> None:
    if "torch" not in state:
        return
    import torch

    raw = np.frombuffer(base64.b64decode(state["torch"]), dtype=np.uint8).copy()
    torch.set_rng_state(torch.from_numpy(raw))
    if "torch_cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(
            [
                torch.from_numpy(np.frombuffer(base64.b64decode(s), dtype=np.uint8).copy())
                for s in state["torch_cuda"]
            ]
        )


def _seed_generator_states(model: keras.Model) -> list[Any]:
    # ``model.variables`` includes every SeedGenerator's state (``model.save`` does not save
    # them): dropout and random augmentation layers would restart their streams on resume.
    return [v for v in model.variables if v.name == "seed_generator_state"]


def capture_rng(model: keras.Model | None = None) -> dict[str, Any]:
    """Every random stream training draws from, as JSON-able data."""
    np_state = np.random.get_state(legacy=False)
    version, mt, gauss = random.getstate()
    return {
        "python": [version, list(mt), gauss],
        "numpy": {
            "key": np_state["state"]["key"].tolist(),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "backend": _backend_rng_state(),
        "seed_generators": []
        if model is None
        else [np.asarray(v.numpy()).tolist() for v in _seed_generator_states(model)],
    }


def restore_rng(state: dict[str, Any], model: keras.Model | None = None) -> None:
    """Put back what ``capture_rng`` saw (the model must have the same architecture)."""
    version, mt, gauss = state["python"]
    random.setstate((version, tuple(mt), gauss))
    np_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            np.asarray(np_state["key"], dtype=np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["gauss"],
        )
    )
    _set_backend_rng_state(state.get("backend", {}))
    if model is not None:
        variables = _seed_generator_states(model)
        saved = state.get("seed_generators", [])
        if len(saved) != len(variables):
            raise RunError(
                f"the saved random state has {len(saved)} seed generators, the model "
                f"{len(variables)}: the checkpoint does not belong to this state"
            )
        for variable, value in zip(variables, saved, strict=True):
            variable.assign(np.asarray(value, dtype=variable.dtype))


# --------------------------------------------------------------------------- the run directory
@dataclass(frozen=True)
class RunState:
    """What ``state.json`` promises: ``epochs_done`` epochs are in ``checkpoint.keras``."""

    epochs_done: int = 0
    rng: dict[str, Any] | None = None


@dataclass(frozen=True)
class RunDir:
    """One run directory. Create it with ``RunDir.create`` (after validating), open an existing
    one with ``RunDir.open``; hold ``lock()`` while training in it."""

    path: Path

    # ---- life
    @classmethod
    def create(cls, config: Config, *, name: str | None = None) -> RunDir:
        """A fresh folder under ``run.out_dir`` holding ``config.toml``."""
        run = cls(new_run_dir(config.run.out_dir, name or config.run.name or config.model.arch))
        run.write_text(CONFIG_FILE, config.to_toml())
        return run

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RunDir:
        """An existing training run (it must hold ``config.toml``)."""
        return cls(require_run_dir(path, markers=(CONFIG_FILE,)))

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder's lock: a second trainer (a second ``--resume``, another worker)
        is refused instead of interleaving writes. The kernel drops the lock when the holder
        exits or is killed, so a stale lock file never blocks."""
        from filelock import FileLock, Timeout

        lock = FileLock(self.path / LOCK_FILE, timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise RunError(
                f"{self.path} is in use by another cnn-doctor process; wait for it to finish "
                "(or stop it) before training in this folder"
            ) from None
        except OSError as error:
            raise RunError(f"cannot lock {self.path}: {error.strerror or error}") from None
        try:
            yield
        finally:
            lock.release()

    def config(self) -> Config:
        return load_run_config(self.path)

    # ---- writing
    @contextlib.contextmanager
    def _writing(self, name: str) -> Iterator[Path]:
        """Turn an ``OSError`` while writing (disk full, permissions) into a ``RunError`` that
        says the earlier results are intact — atomic writes guarantee they are."""
        try:
            yield self.path / name
        except OSError as error:
            raise RunError(
                f"cannot write {self.path / name}: {error.strerror or error}. Everything "
                f"written before is intact; fix the cause and continue with "
                f"`cnn-doctor train --resume {self.path}`"
            ) from None

    def write_text(self, name: str, text: str) -> Path:
        with self._writing(name) as path:
            return atomic_write_text(path, text)

    def write_json(self, name: str, payload: Any) -> Path:
        with self._writing(name) as path:
            return atomic_write_json(path, payload)

    def save_model(self, model: keras.Model, name: str = MODEL_FILE) -> Path:
        with self._writing(name) as path, temporary_sibling(path, suffix=".keras") as tmp:
            model.save(tmp)
        return path

    def append_metrics(self, record: dict[str, Any]) -> None:
        """One epoch's line, fsynced. An append is not atomic, but ``state.json`` (written
        after the checkpoint) decides which lines count, and ``read_metrics`` skips a torn one."""
        with self._writing(METRICS_FILE) as path, open(path, "a") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def rewrite_metrics(self, records: list[dict[str, Any]]) -> None:
        self.write_text(METRICS_FILE, "".join(json.dumps(r) + "\n" for r in records))

    def save_checkpoint(self, model: keras.Model, epochs_done: int) -> None:
        """Checkpoint, then ``state.json`` with the random state: the state never claims an
        epoch the checkpoint does not hold."""
        self.save_model(model, CHECKPOINT_FILE)
        self.write_json(STATE_FILE, {"epochs_done": epochs_done, "rng": capture_rng(model)})

    # ---- resuming
    def read_state(self) -> RunState:
        """``state.json`` checked; absent means no epoch finished (a fresh start is safe)."""
        path = self.path / STATE_FILE
        if not path.exists():
            return RunState()
        try:
            raw = json.loads(path.read_text())
            epochs = raw["epochs_done"]
            if not isinstance(epochs, int) or epochs < 0:
                raise ValueError(f"epochs_done={epochs!r}")
            rng = raw.get("rng")
            if rng is not None and not isinstance(rng, dict):
                raise ValueError("rng is not an object")
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
            raise RunError(
                f"{path} is corrupt ({type(error).__name__}: {error}); this run cannot be "
                "resumed safely. Its metrics and checkpoint are untouched; start a new run"
            ) from None
        return RunState(epochs, rng)

    def load_checkpoint(self, state: RunState) -> keras.Model:
        """The model after ``state.epochs_done`` epochs. Its random streams are *not* restored
        here: ``fit`` draws from the global generator when it starts (the torch backend's data
        loader takes a seed), so the trainer restores ``state.rng`` as the first resumed epoch
        begins, exactly where the uninterrupted run stood."""
        import keras

        import cnn_doctor.models  # noqa: F401  (registers custom layers)
        import cnn_doctor.optim  # noqa: F401  (registers the schedule for deserialization)

        path = self.path / CHECKPOINT_FILE
        if not path.is_file():
            raise RunError(
                f"{STATE_FILE} says {state.epochs_done} epochs are done but {path} is missing; "
                "refusing to restart from epoch 0 over the recorded metrics. Start a new run"
            )
        try:
            model = keras.models.load_model(path)
        except Exception as error:  # noqa: BLE001 - any load failure means a damaged file
            raise RunError(
                f"{path} is unreadable ({type(error).__name__}: {str(error)[:200]}); this run "
                "cannot be resumed. Its metrics are untouched; start a new run"
            ) from None
        return model
