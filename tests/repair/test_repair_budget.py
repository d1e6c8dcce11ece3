"""Budget parsing and the too-small error that names the minimum."""

from __future__ import annotations

import pytest

from cnn_doctor.config import ConfigError
from cnn_doctor.repair.budget import (
    BudgetError,
    RunEstimate,
    check_budget,
    minimum_seconds,
    parse_budget,
    runs_per_round,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20m", 1200), ("90s", 90), ("1h30m", 5400), ("1.5h", 5400), (45, 45), ("120", 120)],
)
def test_parse_budget(text, seconds) -> None:
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "5 parsecs", "0m", "-3m", 0])
def test_parse_budget_rejects_what_is_not_a_duration(text) -> None:
    with pytest.raises(ConfigError, match="--budget"):
        parse_budget(text)


def test_runs_per_round_counts_the_diagnosis_as_the_first_baseline_seed() -> None:
    assert runs_per_round(2, 1, screen=False) == 3  # baseline seed 2 + candidate x 2 seeds
    assert runs_per_round(3, 2, screen=False) == 2 + 6
    assert runs_per_round(2, 6, screen=True) == 6 + 1 + 3  # screen, then baseline + top 3


def test_a_budget_below_one_baseline_and_one_candidate_names_the_minimum() -> None:
    estimate = RunEstimate(30.0, "measured: 0.1 s/step")
    assert minimum_seconds(estimate, 2) == 120.0
    with pytest.raises(BudgetError, match=r"too small.*4 short runs of ~30 s.*at least 2 min"):
        check_budget(100.0, estimate, 2)
    check_budget(120.0, estimate, 2)  # exactly enough is enough


def test_the_probe_run_of_a_two_image_batch_still_holds_every_class(tiny_cifar_dir, tmp_path):
    """Batch 2 x the probe's 4 steps is 8 images, fewer than the 10 classes the config insists
    on; the probe takes one image per class at least instead of refusing the run."""
    from cnn_doctor.config import load_config
    from cnn_doctor.repair.budget import probe_run_seconds

    config = load_config(
        None,
        [
            f"data.data_dir={tiny_cifar_dir}",
            "data.val_size=50",
            "model.width=0.125",
            "optim.batch_size=2",
            "optim.epochs=1",
        ],
    )
    estimate = probe_run_seconds(config, out_dir=tmp_path)
    assert estimate.seconds > 0
