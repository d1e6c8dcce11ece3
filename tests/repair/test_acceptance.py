"""The acceptance rule on planted numbers: gains inside the seed noise are rejected."""

from __future__ import annotations

import pytest

from cnn_doctor.repair.acceptance import MIN_NOISE_SD, judge


def _records(arms: dict[str, list[float]]) -> list[dict]:
    return [
        {"variant": name, "value": value, "seed": i}
        for name, values in arms.items()
        for i, value in enumerate(values)
    ]


def test_a_gain_far_above_the_seed_noise_is_accepted() -> None:
    j = judge(_records({"baseline": [0.30, 0.32], "cure": [0.60, 0.62], "noise": [0.29, 0.34]}))
    assert j.accepted is not None and j.accepted.name == "cure"
    assert j.accepted.gain == pytest.approx(0.30)
    noise = next(v for v in j.verdicts if v.name == "noise")
    assert noise.status == "rejected" and not noise.passes


def test_a_gain_inside_the_seed_noise_is_rejected() -> None:
    # pooled sd over the arms is ~0.028, so SE of the difference is ~0.028 and 2 SE ~0.057
    j = judge(_records({"baseline": [0.50, 0.54], "small": [0.53, 0.57], "other": [0.48, 0.52]}))
    assert j.accepted is None
    small = next(v for v in j.verdicts if v.name == "small")
    assert small.gain == pytest.approx(0.03) and small.status == "rejected"
    assert small.gain < 2 * small.stderr


def test_the_noise_floor_stops_identical_seeds_from_accepting_a_hair() -> None:
    # a stuck run lands on exactly 10% with both seeds: sd 0 must not make +0.2 pt significant
    j = judge(_records({"baseline": [0.10, 0.10], "hair": [0.102, 0.102]}))
    assert j.noise_sd == MIN_NOISE_SD
    assert j.accepted is None


def test_the_largest_passing_gain_wins_and_one_seed_is_never_enough() -> None:
    j = judge(
        _records(
            {"baseline": [0.40, 0.41], "good": [0.50, 0.51], "better": [0.60, 0.61], "one": [0.9]}
        )
    )
    assert j.accepted is not None and j.accepted.name == "better"
    one = next(v for v in j.verdicts if v.name == "one")
    assert one.status == "screened_out"  # measured on one seed: reported, not eligible


def test_a_crashed_candidate_is_failed_with_its_error_not_no_effect() -> None:
    j = judge(
        _records({"baseline": [0.40, 0.41], "ok": [0.40, 0.42]}),
        failures={"boom": "RuntimeError: simulated", "baseline": "ignored"},
    )
    boom = next(v for v in j.verdicts if v.name == "boom")
    assert boom.status == "failed" and boom.error == "RuntimeError: simulated"
    assert boom.gain is None


def test_half_crashed_candidate_is_failed_even_with_one_measured_seed() -> None:
    j = judge(_records({"baseline": [0.4, 0.41], "half": [0.9]}), failures={"half": "OOM"})
    half = next(v for v in j.verdicts if v.name == "half")
    assert half.status == "failed" and half.n == 1 and half.error == "OOM"


def test_rejects_fewer_than_two_required_seeds_and_a_missing_baseline() -> None:
    with pytest.raises(ValueError, match="seeds_required"):
        judge(_records({"baseline": [0.1, 0.2]}), seeds_required=1)
    with pytest.raises(ValueError, match="baseline"):
        judge(_records({"x": [0.1, 0.2]}))


def test_the_smallest_change_within_one_standard_error_of_the_best_wins() -> None:
    arms = {
        "baseline": [0.30, 0.31],
        "recipe": [0.61, 0.62],
        "one": [0.605, 0.615],
        "far": [0.45, 0.46],
    }
    sizes = {"recipe": 9, "one": 1, "far": 1}
    assert judge(_records(arms)).accepted.name == "recipe"  # without sizes: the largest gain
    assert judge(_records(arms), sizes=sizes).accepted.name == "one"  # 0.5 pt behind, SE ~0.7 pt
    arms["one"] = [0.50, 0.51]  # now clearly behind the recipe: the recipe wins
    assert judge(_records(arms), sizes=sizes).accepted.name == "recipe"
