"""Each schedule's LR curve, from the one pure definition in ``schedules.py``."""

import math

import pytest

from cnn_doctor.config import OptimConfig
from cnn_doctor.schedules import lr_at_epoch, lr_table


def curve(**kwargs):
    cfg = OptimConfig(**{"lr": 1.0, "epochs": 10, **kwargs})
    return cfg, [lr_at_epoch(cfg, e) for e in range(11)]


def test_constant_is_flat() -> None:
    _, lrs = curve(schedule="constant")
    assert lrs == [1.0] * 11


def test_step_multiplies_by_gamma_at_each_milestone() -> None:
    _, lrs = curve(schedule="step", step_epochs=[3, 6], gamma=0.1)
    assert lrs[:3] == [1.0] * 3
    assert lrs[3:6] == pytest.approx([0.1] * 3)
    assert lrs[6:] == pytest.approx([0.01] * 5)


def test_exponential_expresses_the_keras_tutorial_schedule() -> None:
    # "constant for 50 epochs, then x exp(-0.1) per epoch"
    cfg = OptimConfig(
        lr=1e-3, epochs=60, schedule="exponential", hold_epochs=50, gamma=math.exp(-0.1)
    )
    assert lr_at_epoch(cfg, 49.9) == pytest.approx(1e-3)
    assert lr_at_epoch(cfg, 50) == pytest.approx(1e-3)
    assert lr_at_epoch(cfg, 51) == pytest.approx(1e-3 * math.exp(-0.1))
    assert lr_at_epoch(cfg, 55) == pytest.approx(1e-3 * math.exp(-0.5))


def test_cosine_falls_from_lr_to_min_lr_after_hold() -> None:
    _, lrs = curve(schedule="cosine", min_lr=0.1, hold_epochs=2)
    assert lrs[0] == lrs[2] == 1.0
    assert lrs[6] == pytest.approx(0.55)  # halfway: (1 + 0.1) / 2
    assert lrs[10] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))


def test_onecycle_rises_linearly_then_decays_to_min_lr() -> None:
    _, lrs = curve(schedule="onecycle", warmup_epochs=2)
    assert lrs[0] == 0.0
    assert lrs[1] == pytest.approx(0.5)
    assert lrs[2] == pytest.approx(1.0)
    assert lrs[6] == pytest.approx(0.5)
    assert lrs[10] == pytest.approx(0.0)


def test_warmup_prefixes_other_schedules() -> None:
    _, lrs = curve(schedule="constant", warmup_epochs=4)
    assert lrs[:5] == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])


def test_table_has_one_entry_per_step_and_follows_the_curve() -> None:
    cfg = OptimConfig(lr=1.0, epochs=4, schedule="step", step_epochs=[2], gamma=0.5)
    table = lr_table(cfg, steps_per_epoch=10)
    assert len(table) == 40
    assert table[0] == pytest.approx(1.0) and table[-1] == pytest.approx(0.5)
