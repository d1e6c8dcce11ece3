"""Keras reads its backend at import time, so pick torch before any test module imports keras."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def channels_first():
    """Switch Keras to channels_first for one test (the trainer may do so for torch CPU speed)."""
    before = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    try:
        yield
    finally:
        keras.config.set_image_data_format(before)
