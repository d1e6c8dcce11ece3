"""The time-budget planner on fake costs, duration parsing, and the schedule built for the plan."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnn_doctor.budget import (
    MARGIN,
    BudgetError,
    RunCosts,
    describe_plan,
    format_duration,
    minimum_budget,
    parse_duration,
    plan_epochs,
    remap_positions,
    replan_epochs,
)
from cnn_doctor.config import ConfigError, OptimConfig, load_config
from cnn_doctor.schedules import lr_at_epoch, lr_table

# A float32 CPU run of the default recipe, roughly: 175 steps of 1.1 s, 7 s validation, 60 s test.
COSTS = RunCosts(
    step_seconds=1.1,
    steps_per_epoch=175,
    validation_seconds=7.0,
    test_seconds=60.0,
    checkpoint_seconds=0.5,
    build_seconds=2.0,
    spent_seconds=30.0,
)


# --------------------------------------------------------------------------- durations
@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("20m", 1200.0),
        ("90s", 90.0),
        ("1h30m", 5400.0),
        ("1h", 3600.0),
        ("1.5h", 5400.0),
        ("2m30s", 150.0),
        ("1200", 1200.0),
        (" 20M ", 1200.0),
        (45, 45.0),
        (7.5, 7.5),
        ("0", 0.0),
        ("", 0.0),
        (0, 0.0),
    ],
)
def test_durations_parse_to_seconds(text, seconds) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["20x", "m", "h30", "30m1h", "-5", "1..5m", "inf", "nan", "5 min"])
def test_bad_durations_are_one_clear_error(text) -> None:
    with pytest.raises(BudgetError, match=r"is not a duration; use e\.g\. 20m, 90s, 1h30m"):
        parse_duration(text)


def test_config_key_is_validated_on_load() -> None:
    assert load_config(None, ["run.time_budget=20m"]).run.time_budget == "20m"
    with pytest.raises(ConfigError, match=r"run\.time_budget='20 parsecs' is not a duration"):
        load_config(None, ["run.time_budget=20 parsecs"])


def test_durations_are_written_as_a_person_would() -> None:
    assert format_duration(1200) == "20 min"
    assert format_duration(5400) == "1 h 30 min"
    assert format_duration(330) == "5 min 30 s"
    assert format_duration(45) == "45 s"


# --------------------------------------------------------------------------- planning
def test_plan_is_the_most_epochs_that_fit_inside_the_budget_minus_the_margin() -> None:
    plan = plan_epochs(1200, COSTS, max_epochs=12)
    epoch = 175 * 1.1 + 7.0 + 0.5
    assert COSTS.epoch_seconds == pytest.approx(epoch)
    expected = int((1200 * (1 - MARGIN) - (30 + 2 + 60)) // epoch)
    assert plan.epochs == expected == 4
    assert plan.limited_by_budget
    assert plan.projected_seconds <= 1200 * (1 - MARGIN)
    # one more epoch would not have fitted
    assert COSTS.projected_seconds(plan.epochs + 1) > 1200 * (1 - MARGIN)


def test_plan_grows_with_the_budget_and_clamps_to_the_configured_epochs() -> None:
    epochs = [plan_epochs(b, COSTS, max_epochs=12).epochs for b in (600, 1200, 2400, 4800)]
    assert epochs == sorted(epochs) and epochs[0] < epochs[-1]
    big = plan_epochs(10 * 3600, COSTS, max_epochs=12)
    assert big.epochs == 12 and not big.limited_by_budget


def test_faster_steps_buy_more_epochs() -> None:
    fast = RunCosts(**{**COSTS.__dict__, "step_seconds": 0.55})
    assert plan_epochs(1200, fast, 100).epochs > plan_epochs(1200, COSTS, 100).epochs


def test_a_budget_too_small_for_one_epoch_is_refused_naming_the_minimum() -> None:
    need = minimum_budget(COSTS)
    assert plan_epochs(need + 1, COSTS, 12).epochs == 1
    with pytest.raises(BudgetError) as error:
        plan_epochs(need - 1, COSTS, 12)
    message = str(error.value)
    assert "too small for one epoch" in message
    assert f"give at least {format_duration(math.ceil(need))}" in message
    assert "\n" not in message
    assert isinstance(error.value, ConfigError)  # the CLI turns it into one line


def test_minimum_budget_is_one_epoch_plus_setup_and_test_over_the_margin() -> None:
    assert minimum_budget(COSTS) == pytest.approx(COSTS.projected_seconds(1) / (1 - MARGIN))


def test_costs_already_spent_count_against_the_budget() -> None:
    late = RunCosts(**{**COSTS.__dict__, "spent_seconds": 400.0})
    assert plan_epochs(1200, late, 12).epochs < plan_epochs(1200, COSTS, 12).epochs


def test_plan_line_names_device_precision_and_bf16_capability() -> None:
    plan = plan_epochs(1200, COSTS, max_epochs=12)
    line = describe_plan(plan, device="CPU", precision="float32", native_bf16=False)
    assert line.startswith("this CPU (no native bfloat16): float32, ~3 min 20 s/epoch")
    assert "-> 4 epochs fit in 20 min" in line


def test_plan_rejects_nonsense_arguments() -> None:
    with pytest.raises(ValueError):
        plan_epochs(0, COSTS, 12)
    with pytest.raises(ValueError):
        plan_epochs(100, COSTS, 0)


# --------------------------------------------------------------------------- the schedule
@pytest.mark.parametrize("schedule", ["onecycle", "cosine"])
def test_schedule_built_for_the_planned_length_ends_at_its_last_step(schedule) -> None:
    """The LR table is tabulated for the planned epochs, so its last step is the schedule's end
    value (within one step of decay), not a point half-way down a longer schedule."""
    configured = OptimConfig(lr=0.2, epochs=12, schedule=schedule, min_lr=0.001)
    plan = plan_epochs(1200, COSTS, max_epochs=configured.epochs)
    planned = OptimConfig(**{**configured.__dict__, "epochs": plan.epochs})
    spe = COSTS.steps_per_epoch
    table = lr_table(planned, spe)
    assert len(table) == plan.epochs * spe
    end = lr_at_epoch(planned, plan.epochs)
    assert end == pytest.approx(0.001)
    one_step_of_decay = (0.2 - 0.001) * 3 / (plan.epochs * spe)
    assert abs(float(table[-1]) - end) < one_step_of_decay
    # the configured-length schedule at the same step would still be far from its end
    assert lr_table(configured, spe)[len(table) - 1] > 0.1


# --------------------------------------------------------------------------- re-planning mid-run
def replan(**kwargs) -> int:
    args = {
        "budget_seconds": 1000.0,
        "elapsed_seconds": 300.0,
        "epochs_done": 2,
        "current_epochs": 8,
        "planned_epochs": 8,
        "epoch_seconds": 100.0,
        "test_seconds": 50.0,
    }
    return replan_epochs(**{**args, **kwargs})


def test_replan_keeps_the_length_while_the_machine_runs_as_measured() -> None:
    # 300 + 6 x 100 + 50 = 950 > 900 (reserve), but <= 950 (half the reserve): no churn
    assert replan() == 8


def test_replan_shortens_when_the_machine_slows_down() -> None:
    new = replan(epoch_seconds=150.0)  # end would be 300 + 900 + 50 = 1250 s
    assert new == 2 + int((900 - 350) // 150) == 5
    assert 300 + (new - 2) * 150 + 50 <= 900


def test_replan_stops_now_when_no_further_epoch_fits() -> None:
    assert replan(elapsed_seconds=860.0) == 2


def test_replan_lengthens_back_but_never_past_the_plan_fit_started_with() -> None:
    assert replan(current_epochs=4, epoch_seconds=50.0) == 8
    assert replan(current_epochs=4) == 2 + int((900 - 350) // 100) == 7


def test_remapped_positions_keep_the_past_and_end_on_the_curve_end() -> None:
    spe, planned = 10, 8
    positions = np.arange(planned * spe, dtype=float)
    shorter = remap_positions(positions, steps_done=20, total_steps=50)
    assert len(shorter) == 50
    assert np.array_equal(shorter[:20], positions[:20])
    assert shorter[20] == 20 and shorter[-1] == planned * spe - 1
    assert np.all(np.diff(shorter) > 0)
    longer = remap_positions(shorter, steps_done=30, total_steps=70)  # lengthened back
    assert np.array_equal(longer[:30], shorter[:30]) and longer[-1] == planned * spe - 1
    # the LR those positions read from a onecycle table ends on its end value
    cfg = OptimConfig(lr=0.2, epochs=planned, schedule="onecycle", min_lr=0.0)
    table = lr_table(cfg, spe)
    remapped = np.interp(shorter, np.arange(len(table)), table)
    assert remapped[-1] == pytest.approx(table[-1]) and remapped[0] == pytest.approx(table[0])
