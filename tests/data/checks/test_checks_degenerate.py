"""Blank and noise images are flagged, each with its reason; real-looking images are not."""

from __future__ import annotations

import numpy as np
from dc_planting import balanced_labels, jpeg, natural_images

from cnn_doctor.data.checks import DataCheckInput, get_check


def _planted() -> tuple[DataCheckInput, dict[int, str]]:
    rng = np.random.default_rng(0)
    x = natural_images(120, seed=5)
    planted = {
        3: "black",
        10: "white",
        20: "constant",
        31: "constant",
        40: "noise",
        55: "noise",
        77: "black",
    }
    x[3] = rng.integers(0, 4, (32, 32, 3))  # black with a little sensor noise
    x[10] = 252
    x[20] = 128
    x[31] = np.clip(90 + rng.normal(0, 1.0, (32, 32, 3)), 0, 255)  # near-constant
    x[40] = rng.integers(0, 256, (32, 32, 3))  # uniform noise
    x[55] = jpeg(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), 75)  # noise, re-encoded
    x[77] = 0
    return DataCheckInput(x, balanced_labels(120)), planted


def test_planted_blank_and_noise_images_are_found_with_their_reason() -> None:
    data, planted = _planted()
    (finding,) = get_check("degenerate_images").find_issues(data)
    assert {index for _, index in finding.items} == set(planted)
    assert all(split == "train" for split, _ in finding.items)
    reasons = {w["item"][1]: w["reason"] for w in finding.evidence["worst"]}
    assert reasons == planted
    assert finding.area == "data" and finding.severity in ("warning", "critical")
    # blanks come before noise (worst first)
    order = [index for _, index in finding.items]
    assert order.index(40) > order.index(20)


def test_items_are_record_indices_not_array_rows() -> None:
    data, planted = _planted()
    shifted = DataCheckInput(data.x_train, data.y_train, train_index=np.arange(120) + 1000)
    (finding,) = get_check("degenerate_images").find_issues(shifted)
    assert {index for _, index in finding.items} == {i + 1000 for i in planted}


def test_natural_images_and_test_split_are_covered(clean_input) -> None:
    assert get_check("degenerate_images").find_issues(clean_input) == []
    x_test = clean_input.x_test.copy()
    x_test[7] = 255
    data = DataCheckInput(
        clean_input.x_train, clean_input.y_train, x_test=x_test, y_test=clean_input.y_test
    )
    (finding,) = get_check("degenerate_images").find_issues(data)
    assert finding.items == (("test", 7),)
