"""Fixtures for the data-check tests; the builders live in ``dc_planting`` (a unique module name,
so it cannot collide with another folder's ``conftest`` on ``sys.path``)."""

from __future__ import annotations

import pytest
from dc_planting import balanced_labels, natural_images

from cnn_doctor.data.checks import DataCheckInput


@pytest.fixture
def clean_input() -> DataCheckInput:
    """200 train / 50 test clean, balanced images, normalization 'standardize'."""
    return DataCheckInput(
        natural_images(200, seed=1),
        balanced_labels(200),
        x_test=natural_images(50, seed=2),
        y_test=balanced_labels(50, seed=3),
        normalize="standardize",
    )
