"""Exact and near duplicates within a split, and leakage across train/test, found exactly."""

from __future__ import annotations

import numpy as np
from dc_planting import balanced_labels, brighten, jpeg, natural_images, shift

from cnn_doctor.data.checks import DataCheckInput, get_check, run_data_check_suite


def _planted() -> tuple[DataCheckInput, dict[str, set]]:
    x = natural_images(160, seed=11)
    t = natural_images(40, seed=12)
    x[100] = x[5]  # exact pair: item is the later copy
    x[101] = x[5]  # a group of three: two items
    x[30] = x[140]  # copy placed *before* its original: the lowest index stays
    x[110] = shift(x[6], 2, -1)
    x[111] = jpeg(x[7], 50)
    x[112] = brighten(x[8], 1.25, -20)
    x[113] = jpeg(brighten(shift(x[9], -1, 1), 0.85, 15), 70)
    t[3] = x[60]  # exact leak
    t[4] = jpeg(x[61], 60)  # near leak
    t[5] = shift(x[62], 0, 2)
    expected = {
        "exact_duplicates": {("train", 100), ("train", 101), ("train", 140)},
        "near_duplicates": {("train", 110), ("train", 111), ("train", 112), ("train", 113)},
        "train_test_leakage": {("test", 3), ("test", 4), ("test", 5)},
    }
    data = DataCheckInput(x, balanced_labels(160), x_test=t, y_test=balanced_labels(40))
    return data, expected


def test_exact_near_and_leaked_copies_are_found_exactly() -> None:
    data, expected = _planted()
    result = run_data_check_suite(data, list(expected))
    found = {f.id: set(f.items) for f in result.findings}
    assert found == expected


def test_evidence_names_the_group_and_the_train_partner() -> None:
    data, _ = _planted()
    (exact,) = get_check("exact_duplicates").find_issues(data)
    assert [["train", 5], ["train", 100], ["train", 101]] in exact.evidence["duplicate_groups"]
    assert exact.confidence == 1.0
    (leak,) = get_check("train_test_leakage").find_issues(data)
    partners = {tuple(p["item"]): p["partner"] for p in leak.evidence["pairs"]}
    assert partners == {
        ("test", 3): ["train", 60],
        ("test", 4): ["train", 61],
        ("test", 5): ["train", 62],
    }
    kinds = {tuple(p["item"]): p["kind"] for p in leak.evidence["pairs"]}
    assert kinds[("test", 3)] == "exact" and kinds[("test", 4)] == "near"
    assert leak.items[0] == ("test", 3)  # exact leaks first
    (near,) = get_check("near_duplicates").find_issues(data)
    assert all(p["ncc"] >= near.evidence["thresholds"]["min_ncc"] for p in near.evidence["pairs"])


def test_clean_data_has_no_duplicates(clean_input) -> None:
    result = run_data_check_suite(
        clean_input, ["exact_duplicates", "near_duplicates", "train_test_leakage"]
    )
    assert result.findings == []


def test_degenerate_images_are_not_reported_as_near_duplicates() -> None:
    x = natural_images(60, seed=3)
    rng = np.random.default_rng(1)
    for row in (10, 20, 30):
        x[row] = rng.integers(0, 3, (32, 32, 3))  # three different almost-black frames
    data = DataCheckInput(x, balanced_labels(60))
    assert get_check("near_duplicates").find_issues(data) == []


def test_connected_groups_join_chains_and_stars_and_drop_self_pairs() -> None:
    from cnn_doctor.data.checks.matching import connected_groups

    a = np.array([9, 3, 4, 7, 5, 5])
    b = np.array([8, 4, 1, 9, 6, 5])  # chain 1-4-3, star 9-8 / 9-7, pair 5-6, self pair 5-5
    assert connected_groups(a, b) == [[1, 3, 4], [5, 6], [7, 8, 9]]
    assert connected_groups(np.array([2]), np.array([2])) == []
    assert connected_groups(np.array([], dtype=int), np.array([], dtype=int)) == []
