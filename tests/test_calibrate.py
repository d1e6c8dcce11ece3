"""The time budget through the real ``train`` path on tiny data: calibrate, plan, train the
planned epochs with a schedule built for them, record planned vs actual."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnn_doctor import calibrate
from cnn_doctor.budget import BudgetError
from cnn_doctor.config import load_config
from cnn_doctor.runs import load_run_config
from cnn_doctor.schedules import lr_at_epoch

MAX_EPOCHS = 40
TINY = [
    "data.val_size=20",
    "model.width=0.125",
    "optim.batch_size=32",
    "run.tta=false",
    f"optim.epochs={MAX_EPOCHS}",
    "optim.min_lr=0.001",
]


def tiny_config(data_dir: Path, out_dir: Path, *overrides: str):
    return load_config(
        None, [f"data.data_dir={data_dir}", f"run.out_dir={out_dir}", *TINY, *overrides]
    )


def assert_schedule_spans(model, epochs: int, steps_per_epoch: int, optim_cfg) -> None:
    """The optimizer's LR table covers exactly the planned steps, and the LR the optimizer used
    last is the schedule's end value (within one step of decay)."""
    schedule = model.optimizer.get_config()["learning_rate"]
    assert schedule["class_name"] == "TabulatedSchedule"
    assert len(schedule["config"]["table"]) == epochs * steps_per_epoch
    assert int(model.optimizer.iterations) == epochs * steps_per_epoch
    end = lr_at_epoch(optim_cfg, optim_cfg.epochs)  # the end of the curve, however long
    assert end == pytest.approx(optim_cfg.min_lr)
    one_step = (optim_cfg.lr - optim_cfg.min_lr) / (epochs * steps_per_epoch)
    assert abs(float(model.optimizer.learning_rate) - end) <= one_step


@pytest.mark.slow
def test_budgeted_run_ends_inside_its_budget_and_records_planned_and_actual(
    tiny_cifar_dir, tmp_path
):
    """A budget with room to spare (3 tiny epochs take seconds; 2 minutes leaves room for a
    loaded machine): the run plans, ends inside it and says so in summary.json."""
    from cnn_doctor.train import train

    config = tiny_config(tiny_cifar_dir, tmp_path, "run.time_budget=2m", "optim.epochs=3")
    result = train(config, quiet=True)
    summary = json.loads((result.run_dir / "summary.json").read_text())
    record = summary["time_budget"]
    assert record["budget_seconds"] == 120
    assert record["max_epochs"] == 3
    assert 1 <= record["planned_epochs"] <= 3
    assert record["planned_seconds"] <= 120
    assert record["actual_epochs"] == summary["epochs"] == len(result.history)
    # the guard only changes the length when the machine's speed changed since calibration
    final = record["replans"][-1]["epochs"] if record["replans"] else record["planned_epochs"]
    assert record["actual_epochs"] == final
    assert record["actual_seconds"] == summary["wall_seconds"] <= 120
    assert record["within_budget"] is True
    assert record["costs"]["step_seconds"] > 0
    # the saved config is the planned one, so a resume continues the same schedule
    saved = load_run_config(result.run_dir)
    assert saved.optim.epochs == record["planned_epochs"]
    assert saved.run.time_budget == "2m"
    steps = record["costs"]["steps_per_epoch"]
    assert_schedule_spans(result.model, record["actual_epochs"], steps, saved.optim)


@pytest.mark.slow
def test_slow_steps_plan_fewer_epochs_and_the_schedule_spans_exactly_them(
    tiny_cifar_dir, tmp_path, monkeypatch
):
    """A machine measured at 2 s a step: 5 steps an epoch leave room for a few of the 40."""
    from cnn_doctor.train import train

    monkeypatch.setattr(calibrate, "time_steps", lambda *a, **k: [2.0] * calibrate.MIN_STEPS)
    result = train(tiny_config(tiny_cifar_dir, tmp_path, "run.time_budget=60s"), quiet=True)
    record = result.summary["time_budget"]
    assert record["costs"]["step_seconds"] == 2.0
    assert 1 <= record["planned_epochs"] < MAX_EPOCHS
    assert 1 <= len(result.history) <= record["planned_epochs"]
    config = load_run_config(result.run_dir)
    assert config.optim.epochs == record["planned_epochs"]
    assert_schedule_spans(result.model, len(result.history), 5, config.optim)


def test_a_budget_too_small_for_one_epoch_stops_before_any_run_directory(
    tiny_cifar_dir, tmp_path, monkeypatch
):
    from cnn_doctor.train import train

    monkeypatch.setattr(calibrate, "time_steps", lambda *a, **k: [10.0] * calibrate.MIN_STEPS)
    # 5 steps of 10 s cannot fit in 30 s: refused as soon as the steps are timed
    with pytest.raises(
        BudgetError,
        match=r"too small for one epoch here: its 5 steps alone take "
        r"~50 s \(10 s/step, measured\); give more than",
    ):
        train(tiny_config(tiny_cifar_dir, tmp_path, "run.time_budget=30s"), quiet=True)
    assert not any(tmp_path.iterdir())


def test_unbudgeted_run_prints_its_projected_wall_time(tiny_cifar_dir, tmp_path):
    from rich.console import Console

    from cnn_doctor.train import train

    console = Console(record=True, width=200)
    result = train(tiny_config(tiny_cifar_dir, tmp_path, "optim.epochs=2"), console=console)
    text = console.export_text()
    assert "projected wall time ~" in text and "for 2 epochs" in text
    assert "time_budget" not in result.summary
    assert len(result.history) == 2


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_guard_shortens_the_run_and_retabulates_the_lr_when_the_machine_slows_down(monkeypatch):
    """Planned: 8 epochs of 10 steps at 1 s in a 120 s budget. The machine then runs at 2 s a
    step: after epoch 1 the guard cuts the run to what still fits, and the LR table is
    re-spread so its last step is still the curve's end value."""
    import keras
    import numpy as np

    from cnn_doctor.budget import RunCosts, plan_epochs
    from cnn_doctor.config import OptimConfig
    from cnn_doctor.optim import TabulatedSchedule
    from cnn_doctor.schedules import lr_table

    costs = RunCosts(step_seconds=1.0, steps_per_epoch=10, validation_seconds=0.0, test_seconds=5.0)
    plan = plan_epochs(120, costs, max_epochs=8)
    assert plan.epochs == 8  # 5 + 8 x 10 = 85 <= 108
    reference = lr_table(OptimConfig(lr=0.2, epochs=plan.epochs, min_lr=0.0), 10)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(TabulatedSchedule(reference.tolist())), loss="mse")
    clock = FakeClock()
    monkeypatch.setattr(calibrate.time, "perf_counter", clock)
    guard = calibrate.BudgetGuard(plan, started=0.0)
    guard.set_model(model)
    guard.on_train_begin()
    epoch = 0
    while not model.stop_training:
        guard.on_epoch_begin(epoch)
        for step in range(10):
            guard.on_train_batch_begin(step)
            clock.now += 2.0
            guard.on_train_batch_end(step)
        guard.on_epoch_end(epoch)
        epoch += 1
    # after epoch 1 (t = 20 s): 20 s an epoch, test ~10 s, 108 s usable -> 1 + 3 more epochs
    assert guard.replans[0] == {"after_epoch": 1, "epochs": 4, "epoch_seconds": 20.0}
    assert epoch == 4 and clock.now + 10.0 <= 120
    table = np.asarray(model.optimizer._learning_rate.table)
    assert len(table) == 4 * 10
    assert np.allclose(table[:10], reference[:10])  # the steps already taken are kept
    assert table[-1] == pytest.approx(reference[-1]) and np.all(np.diff(table[10:]) < 0)
