"""Fixtures for the repair tests: a fake trainer and diagnosis, reset for every test."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("MPLBACKEND", "Agg")

import optuna  # noqa: E402
import pytest  # noqa: E402
import repair_fakes  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(autouse=True)
def _fresh_fakes():
    repair_fakes.reset()
    yield
    repair_fakes.reset()
