"""Outliers in pixel-statistics space: planted extremes found, reported as info."""

from __future__ import annotations

import numpy as np
from dc_planting import balanced_labels, natural_images

from cnn_doctor.data.checks import DataCheckInput, get_check


def test_planted_extreme_images_rank_first_and_are_info() -> None:
    x = natural_images(300, seed=4)
    x[17] = 0
    x[17, 8:24, 8:24] = (255, 0, 255)  # magenta square on black: nothing like the rest
    x[250, :, :, 0] = np.linspace(0, 255, 32).astype(np.uint8)[None, :]
    x[250, :, :, 1] = 255  # saturated green with a red ramp
    x[250, :, :, 2] = 0
    data = DataCheckInput(x, balanced_labels(300))
    (finding,) = get_check("outlier_images").find_issues(data)
    assert finding.severity == "info"
    assert set(finding.items[:2]) == {("train", 17), ("train", 250)}
    assert len(finding.items) <= 10
    assert "Tukey" in finding.evidence["fence_rule"]


def test_too_few_images_is_a_stated_skip() -> None:
    data = DataCheckInput(natural_images(20), np.arange(20) % 10)
    assert "at least" in get_check("outlier_images").missing(data)
