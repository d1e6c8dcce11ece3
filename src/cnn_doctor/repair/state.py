"""The repair folder's ledger: ``repair.json``, written atomically after every step.

Everything a resume needs lives here (the original config, the short-run overrides, each round's
diagnosis, candidates, study name and verdict, the seconds spent); the trials themselves live in
the Optuna storage. A kill loses at most the run in flight.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnn_doctor.atomic import atomic_write_json
from cnn_doctor.config import Config, ConfigError, config_from_dict

STATE_FILE = "repair.json"
VERSION = 1


@dataclass
class RepairState:
    """The ledger in memory; ``save`` books the time spent since the last save."""

    folder: Path
    data: dict[str, Any] = field(default_factory=dict)
    _mark: float = field(default_factory=time.perf_counter, repr=False)

    # ---- persistence
    @classmethod
    def create(cls, folder: Path, **values: Any) -> RepairState:
        state = cls(
            Path(folder), {"version": VERSION, "spent_seconds": 0.0, "rounds": [], **values}
        )
        state.save()
        return state

    @classmethod
    def load(cls, folder: Path) -> RepairState:
        path = Path(folder) / STATE_FILE
        if not path.is_file():
            raise ConfigError(f"{folder} is not a repair folder (no {STATE_FILE})")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path} is damaged ({error}); start a new repair") from None
        if data.get("version") != VERSION:
            raise ConfigError(f"{path} was written by another cnn-doctor version")
        return cls(Path(folder), data)

    def save(self) -> None:
        """Book the seconds since the last save (to the repair and its open round), then write."""
        now = time.perf_counter()
        elapsed, self._mark = now - self._mark, now
        self.data["spent_seconds"] = float(self.data.get("spent_seconds", 0.0)) + elapsed
        current = self.open_round()
        if current is not None:
            current["seconds"] = float(current.get("seconds", 0.0)) + elapsed
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.folder / STATE_FILE, self.data)

    # ---- accessors
    @property
    def original(self) -> Config:
        return config_from_dict(self.data["original"])

    @property
    def rounds(self) -> list[dict[str, Any]]:
        return self.data["rounds"]

    def open_round(self) -> dict[str, Any] | None:
        rounds = self.data.get("rounds") or []
        return rounds[-1] if rounds and not rounds[-1].get("done") else None

    @property
    def spent(self) -> float:
        return float(self.data.get("spent_seconds", 0.0)) + (time.perf_counter() - self._mark)

    @property
    def remaining(self) -> float:
        return float(self.data["budget_seconds"]) - self.spent
