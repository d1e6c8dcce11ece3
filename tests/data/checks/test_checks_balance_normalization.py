"""Class balance per split (train / validation / test) and input standardization."""

from __future__ import annotations

import numpy as np
import pytest
from dc_planting import balanced_labels, natural_images

from cnn_doctor.data.checks import DataCheckInput, get_check
from cnn_doctor.data.prepare import Normalizer


def test_balanced_splits_raise_nothing(clean_input) -> None:
    assert get_check("class_imbalance").find_issues(clean_input) == []


def test_a_rare_class_is_critical_and_its_records_are_the_items() -> None:
    y = balanced_labels(200)
    rare = np.flatnonzero(y == 3)
    y[rare[2:]] = 4  # class 3 keeps 2 of 20 images: max/min = 38/2 = 19 >= 10
    data = DataCheckInput(natural_images(200), y)
    (finding,) = get_check("class_imbalance").find_issues(data)
    assert finding.severity == "critical"
    assert set(finding.items) == {("train", int(i)) for i in rare[:2]}
    assert finding.evidence["per_split"]["train"]["counts"]["class_3"] == 2


def test_validation_rows_are_counted_as_their_own_split() -> None:
    y = balanced_labels(200)
    val = np.flatnonzero(y == 0)[:15]  # validation holds most of class 0
    val = np.concatenate([val, np.flatnonzero(y == 1)[:5]])
    data = DataCheckInput(natural_images(200), y, val_rows=val)
    (finding,) = get_check("class_imbalance").find_issues(data)
    assert set(finding.evidence["per_split"]) == {"train", "val"}
    assert finding.evidence["per_split"]["train"]["counts"]["class_0"] == 5
    assert "train:" in finding.summary and "val:" in finding.summary


def test_train_test_prior_shift_is_reported() -> None:
    y_test = np.repeat(np.arange(10), [14, 14, 2, 2, 2, 2, 2, 2, 5, 5])
    data = DataCheckInput(
        natural_images(200), balanced_labels(200), x_test=natural_images(50, 2), y_test=y_test
    )
    (finding,) = get_check("class_imbalance").find_issues(data)
    assert finding.evidence["train_test_total_variation"] > 0.05
    assert "class mixes differ" in finding.summary


@pytest.mark.parametrize(
    "mode, batchnorm, severity",
    [("none", True, "warning"), ("none", False, "critical"), ("scale", True, None)],
)
def test_inputs_off_unit_scale_are_reported_by_the_doctors_rule(mode, batchnorm, severity) -> None:
    """Raw 0-255 pixels fail; [0, 1]-scaled pixels pass, as they do for the Doctor's detector."""
    data = DataCheckInput(
        natural_images(100), balanced_labels(100), normalize=mode, batchnorm=batchnorm
    )
    found = get_check("unnormalized_inputs").find_issues(data)
    if severity is None:
        assert found == []
        return
    (finding,) = found
    assert finding.severity == severity
    assert finding.fixes[0].change == "data.normalize=standardize"
    assert len(finding.evidence["input_mean"]) == 3
    assert finding.evidence["problems"] == ["too_large"]


def test_standardized_inputs_pass_and_a_given_normalizer_is_used(clean_input) -> None:
    assert get_check("unnormalized_inputs").find_issues(clean_input) == []
    wrong = Normalizer("standardize", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))  # stats from elsewhere
    data = DataCheckInput(clean_input.x_train, clean_input.y_train, normalizer=wrong)
    (finding,) = get_check("unnormalized_inputs").find_issues(data)
    assert finding.evidence["input_mean"][0] > 10
