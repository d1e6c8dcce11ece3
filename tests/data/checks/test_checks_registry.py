"""The issue-manager contract: registry, unknown names, skip reasons, silence on clean data."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_doctor.config import ConfigError
from cnn_doctor.data.checks import (
    DATA_CHECKS,
    DataCheckInput,
    IssueManager,
    UnknownCheckError,
    available_checks,
    get_check,
    register,
    run_data_check_suite,
)

REQUIRED = {
    "exact_duplicates",
    "near_duplicates",
    "train_test_leakage",
    "degenerate_images",
    "outlier_images",
    "class_imbalance",
    "label_issues",
    "unnormalized_inputs",
    "unreadable_records",
}


def test_every_required_check_is_registered_cheap_first() -> None:
    assert set(available_checks()) >= REQUIRED
    order = available_checks()
    assert order[-1] == "label_issues"  # the expensive one runs last
    for name, cls in DATA_CHECKS.items():
        assert cls.name == name and cls.description


def test_unknown_check_name_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownCheckError) as error:
        get_check("duplicats")
    assert isinstance(error.value, ConfigError)  # the CLI prints it as a one-line error
    for name in REQUIRED:
        assert name in str(error.value)


def test_register_rejects_a_nameless_or_clashing_manager() -> None:
    class Nameless(IssueManager):
        description = "x"

    with pytest.raises(TypeError):
        register(Nameless)

    class Clash(IssueManager):
        name = "degenerate_images"
        description = "another"

    with pytest.raises(ValueError, match="already registered"):
        register(Clash)


def test_checks_with_missing_inputs_are_skipped_with_a_reason() -> None:
    data = DataCheckInput(np.zeros((50, 32, 32, 3), np.uint8) + 100, np.arange(50) % 10)
    result = run_data_check_suite(
        data, ["label_issues", "train_test_leakage", "unreadable_records", "unnormalized_inputs"]
    )
    reasons = {s.name: s.reason for s in result.skipped}
    assert set(reasons) == {
        "label_issues",
        "train_test_leakage",
        "unreadable_records",
        "unnormalized_inputs",
    }
    assert "--labels" in reasons["label_issues"]
    assert "test" in reasons["train_test_leakage"]
    assert all(reasons.values())


@pytest.mark.parametrize(
    "name, bad",
    [
        ("degenerate_images", {"min_std": -1}),
        ("degenerate_images", {"saturated_fraction": 1.5}),
        ("near_duplicates", {"min_ncc": 2.0}),
        ("near_duplicates", {"max_shift": 20}),
        ("class_imbalance", {"info_ratio": 5, "warning_ratio": 2}),
        ("outlier_images", {"iqr_fence": 0}),
        ("unnormalized_inputs", {"rms_low": 2.0}),
        ("label_issues", {"filter_by": "vibes"}),
    ],
)
def test_bad_thresholds_are_rejected_at_construction(name: str, bad: dict) -> None:
    with pytest.raises(ValueError):
        get_check(name, **bad)


def test_clean_data_raises_nothing_above_info_and_runs_deterministically(clean_input) -> None:
    first = run_data_check_suite(clean_input)
    assert [f for f in first.findings if f.severity != "info"] == []
    assert {f.id for f in first.findings} <= {"outlier_images"}
    second = run_data_check_suite(
        DataCheckInput(
            clean_input.x_train,
            clean_input.y_train,
            x_test=clean_input.x_test,
            y_test=clean_input.y_test,
            normalize="standardize",
        )
    )
    assert [f.to_dict() for f in first.findings] == [f.to_dict() for f in second.findings]
