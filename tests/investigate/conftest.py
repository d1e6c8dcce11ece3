"""Fixtures for the investigate tests: tiny studies with an injected fake trainer.

Keras reads its backend once, at import: pin torch before any test module imports it (the
machine-wide ``~/.keras/keras.json`` may name another backend).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("MPLBACKEND", "Agg")

from pathlib import Path  # noqa: E402

import optuna  # noqa: E402
import pytest  # noqa: E402

from cnn_doctor.config import Config  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture
def tiny_base() -> Config:
    """A base config whose runs a fake trainer can fake (no data is ever read)."""
    config = Config()
    config.optim.epochs = 3
    config.data.val_size = 1000
    return config


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"
