"""Measure what one run of a config costs on this machine, for the time budget and projections.

Why a throwaway model: the LR schedule is tabulated for the run's length when the optimizer is
built, so the length must be known first. ``fit_to_budget`` therefore builds a copy of the model,
times a few optimizer steps (after warm-up), a validation pass and the test evaluation with TTA
on samples, and its checkpoint write; then ``budget.plan_epochs`` fixes the epochs and the caller
builds the real model, whose schedule spans exactly those epochs. The copy's time is lost to
training and counts as time spent (``calibration_seconds`` in summary.json; 34 s of a 5-min
budget on a heavily loaded 2-core CPU, most of it model build, warm-up and the test sample).
During the run, ``BudgetGuard`` re-plans after each epoch if the machine's speed changed.

Without a budget, ``ProjectionCallback`` times the real run's first steps and prints the
projected wall time; it changes nothing in the training.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from cnn_doctor.budget import (
    MARGIN,
    BudgetError,
    BudgetPlan,
    RunCosts,
    describe_plan,
    describe_projection,
    format_duration,
    parse_duration,
    plan_epochs,
    remap_positions,
    replan_epochs,
)
from cnn_doctor.config import Config

if TYPE_CHECKING:  # pragma: no cover
    from cnn_doctor.data.prepare import PreparedData

#: Steps discarded before timing: the first ones build optimizer slots and oneDNN primitives.
WARMUP_STEPS = 2
#: Timed steps: at least this many, then until ``calibration_seconds(budget)`` has passed.
MIN_STEPS = 4
MAX_STEPS = 30
#: Images timed for the per-epoch validation pass and for the final test (x TTA views); scaled up
#: to the full sets. Small, as the throwaway's time is taken out of the user's budget.
VAL_SAMPLE = 500
TEST_SAMPLE = 200

Batches = Sequence[tuple[np.ndarray, np.ndarray]]
Predict = Callable[[keras.Model, np.ndarray], Any]


def calibration_seconds(budget_seconds: float) -> float:
    """How long to time training steps: 2% of the budget, within [2, 15] s."""
    return min(15.0, max(2.0, 0.02 * budget_seconds))


def time_steps(
    model: keras.Model,
    batches: Batches,
    *,
    target_seconds: float,
    hopeless_above: float = math.inf,
) -> list[float]:
    """Seconds per optimizer step (batch assembly + augmentation included), after warm-up.

    Stops early once the steps alone of one epoch (``len(batches)`` x the mean so far) would
    exceed ``hopeless_above`` seconds: the plan will refuse anyway, and the user should not
    wait for a precise figure first.
    """
    times: list[float] = []
    step = 0
    while True:
        started = time.perf_counter()
        x, y = batches[step % len(batches)]
        model.train_on_batch(x, y)
        if step >= WARMUP_STEPS:
            times.append(time.perf_counter() - started)
        step += 1
        if times and float(np.mean(times)) * len(batches) > hopeless_above:
            return times
        if len(times) >= MAX_STEPS or (len(times) >= MIN_STEPS and sum(times) >= target_seconds):
            return times


def _scaled(seconds: float, sample: int, total: int) -> float:
    return seconds * total / sample if sample else 0.0


def time_validation(model: keras.Model, sample: np.ndarray, total: int) -> float:
    """Seconds of one validation pass over ``total`` images, timed on ``sample`` (model format)
    at the batch size ``fit`` validates with."""
    if not len(sample) or not total:
        return 0.0
    model.predict(sample[:8], batch_size=1000, verbose=0)  # warm-up: builds the predict function
    started = time.perf_counter()
    model.predict(sample, batch_size=1000, verbose=0)
    return _scaled(time.perf_counter() - started, len(sample), total)


def time_test(
    model: keras.Model, sample: np.ndarray, total: int, predict_test: Predict | None
) -> float:
    """Seconds of the final test evaluation over ``total`` images, timed on ``sample`` (raw
    images); ``predict_test`` does what the run will do, TTA included."""
    if predict_test is None or not len(sample) or not total:
        return 0.0
    started = time.perf_counter()
    predict_test(model, sample)
    return _scaled(time.perf_counter() - started, len(sample), total)


@dataclass(frozen=True)
class EvalSamples:
    """What a run evaluates, sampled for timing: the validation set (every epoch) and the test
    set (once, at the end, by ``predict_test``; ``None`` when the run skips it)."""

    val: np.ndarray  # model format
    n_val: int
    test: np.ndarray  # raw images
    n_test: int
    predict_test: Predict | None

    def seconds(self, model: keras.Model) -> tuple[float, float]:
        """(one validation pass, the test evaluation) in seconds, scaled to the full sets."""
        validation = time_validation(model, self.val, self.n_val)
        return validation, time_test(model, self.test, self.n_test, self.predict_test)


def time_checkpoint(model: keras.Model) -> float:
    """Seconds of one ``model.save``: the run checkpoints after every epoch."""
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        model.save(Path(folder) / "probe.keras")
        return time.perf_counter() - started


def device_label() -> tuple[str, bool | None]:
    """``("CPU", native_bf16)`` or ``("GPU <name>", None)`` for the user-facing plan line."""
    if keras.backend.backend() == "torch":
        import torch

        if torch.cuda.is_available():
            return f"GPU ({torch.cuda.get_device_name(0)})", None
    from cnn_doctor.precision import cpu_has_native_bfloat16

    return "CPU", cpu_has_native_bfloat16()


def fit_to_budget(
    config: Config,
    *,
    build: Callable[[Config], keras.Model],
    batches: Batches,
    samples: EvalSamples,
    started: float,
    say: Callable[[str], None] | None = None,
) -> tuple[Config, BudgetPlan]:
    """``config`` with ``optim.epochs`` set to what fits in ``run.time_budget``, and the plan.

    ``build(config)`` must return the compiled (and data-adapted) model exactly as the run will
    build it; it is called once here, on a throwaway copy, with ``samples`` timing the
    validation and test evaluations. ``started`` is the
    ``perf_counter`` value at which the run's clock started. Raises ``budget.BudgetError`` when
    the budget is too small for one epoch.
    """
    budget = parse_duration(config.run.time_budget)
    build_started = time.perf_counter()
    model = build(config)
    build_seconds = time.perf_counter() - build_started
    steps = time_steps(
        model,
        batches,
        target_seconds=calibration_seconds(budget),
        hopeless_above=budget - (time.perf_counter() - started),
    )
    step = float(np.mean(steps))
    spent = time.perf_counter() - started
    if step * len(batches) > budget - spent:  # hopeless on the steps alone: say so now
        need = (spent + step * len(batches)) / (1.0 - MARGIN)
        raise BudgetError(
            f"run.time_budget={format_duration(budget)} is too small for one epoch here: its "
            f"{len(batches)} steps alone take ~{format_duration(step * len(batches))} "
            f"({step:.3g} s/step, measured); give more than {format_duration(math.ceil(need))} "
            "(or shrink data.subset / model.width)"
        )
    validation, test = samples.seconds(model)
    checkpoint = time_checkpoint(model)
    del model
    costs = RunCosts(
        step_seconds=step,
        steps_per_epoch=len(batches),
        validation_seconds=validation,
        test_seconds=test,
        checkpoint_seconds=checkpoint,
        build_seconds=build_seconds,
        spent_seconds=time.perf_counter() - started,
    )
    plan = replace(
        plan_epochs(budget, costs, config.optim.epochs),
        calibration_seconds=time.perf_counter() - build_started,
    )
    if say is not None:
        device, native = device_label()
        say(describe_plan(plan, device=device, precision=config.run.precision, native_bf16=native))
    return replace(config, optim=replace(config.optim, epochs=plan.epochs)), plan


def budget_record(plan: BudgetPlan, wall_seconds: float, history: Sequence[dict]) -> dict:
    """What ``summary.json`` keeps: the plan, and how the run actually went against it."""
    record = plan.to_dict()
    epoch_times = [h["seconds"] for h in history if h.get("seconds") is not None]
    record["actual_seconds"] = round(wall_seconds, 2)
    record["actual_epochs"] = len(history)
    record["actual_epoch_seconds"] = round(float(np.mean(epoch_times)), 3) if epoch_times else None
    record["within_budget"] = wall_seconds <= plan.budget_seconds
    return record


@dataclass
class BudgetHook:
    """What ``train`` takes from the budget step: the config to build (epochs fixed when a
    budget is set), callbacks to add (the projection when none is), and the plan to record."""

    config: Config
    plan: BudgetPlan | None = None
    callbacks: list[keras.callbacks.Callback] = field(default_factory=list)

    def record(self, summary: dict[str, Any], history: Sequence[dict]) -> bool:
        """Add the plan and the actual time to ``summary``; False when there is no budget."""
        if self.plan is None:
            return False
        record = budget_record(self.plan, summary["wall_seconds"], history)
        guards = [c for c in self.callbacks if isinstance(c, BudgetGuard)]
        record["replans"] = guards[0].replans if guards else []
        summary["time_budget"] = record
        return True


def budget_hook(
    config: Config,
    *,
    build: Callable[[Config], keras.Model],
    data: PreparedData,
    pipeline: Callable[[np.ndarray], np.ndarray],
    batches: Batches,
    started: float,
    console: Any = None,
    quiet: bool = False,
) -> BudgetHook:
    """The budget step of a new run, between preparing the data and building the model.

    With ``run.time_budget``: calibrate on a throwaway model, plan, print the plan line. Without:
    a ``ProjectionCallback`` (unless ``quiet``). Re-seeds after calibrating, so the real model
    starts from the same weights and random streams as it would without a budget.
    """
    from cnn_doctor.evaluate import test_accuracy

    say = None if quiet else _printer(console)

    def predict_test(model: keras.Model, x: np.ndarray) -> Any:
        return test_accuracy(model, pipeline, config, x, data.y_test[: len(x)])

    runs_test = config.run.evaluate_test and len(data.y_test) > 0
    samples = EvalSamples(
        val=pipeline(data.x_val[:VAL_SAMPLE]),
        n_val=len(data.x_val),
        test=data.x_test[:TEST_SAMPLE],
        n_test=len(data.x_test),
        predict_test=predict_test if runs_test else None,
    )
    if parse_duration(config.run.time_budget) > 0:
        planned, plan = fit_to_budget(
            config,
            build=build,
            batches=batches,
            samples=samples,
            started=started,
            say=say,
        )
        keras.utils.set_random_seed(config.run.seed)
        guard = BudgetGuard(plan, started=started, say=say)
        return BudgetHook(planned, plan, [guard])
    if say is None:
        return BudgetHook(config)
    projection = ProjectionCallback(
        epochs=config.optim.epochs,
        start_epoch=0,
        steps_per_epoch=len(batches),
        samples=samples,
        started=started,
        say=say,
    )
    return BudgetHook(config, None, [projection])


def _printer(console: Any) -> Callable[[str], None]:
    if console is None:
        from rich.console import Console

        console = Console()
    return lambda line: console.print(line, highlight=False, markup=False, soft_wrap=True)


class ProjectionCallback(keras.callbacks.Callback):
    """Prints the projected wall time of an unbudgeted run once its first steps are timed.

    Validation and test costs are timed on samples at ``on_train_begin`` (inference only: the
    weights, the optimizer and the random streams are untouched), the step time from the
    real run's steps after warm-up.
    """

    def __init__(
        self,
        *,
        epochs: int,
        start_epoch: int,
        steps_per_epoch: int,
        samples: EvalSamples,
        started: float,
        say: Callable[[str], None] = print,
        measure_steps: int = MIN_STEPS * 2,
    ):
        super().__init__()
        self.epochs, self.start_epoch, self.steps_per_epoch = epochs, start_epoch, steps_per_epoch
        self.samples = samples
        self.started, self.say, self.measure_steps = started, say, measure_steps
        self.costs: RunCosts | None = None

    def on_train_begin(self, logs=None):
        self._validation, self._test = self.samples.seconds(self.model)
        self._checkpoint = time_checkpoint(self.model)
        self._stamps: list[float] = []
        self._done = False

    def on_train_batch_begin(self, batch, logs=None):
        if not self._stamps:
            self._stamps.append(time.perf_counter())

    def on_train_batch_end(self, batch, logs=None):
        if self._done:
            return
        self._stamps.append(time.perf_counter())
        deltas = np.diff(self._stamps)[WARMUP_STEPS:]
        if len(deltas) < self.measure_steps and len(self._stamps) - 1 < self.steps_per_epoch:
            return
        self._done = True
        if not len(deltas):  # an epoch shorter than the warm-up: use what there is
            deltas = np.diff(self._stamps)
        step = float(np.mean(deltas))
        steps_done = len(self._stamps) - 1
        remaining_epochs = self.epochs - self.start_epoch
        self.costs = RunCosts(
            step_seconds=step,
            steps_per_epoch=self.steps_per_epoch,
            validation_seconds=self._validation,
            test_seconds=self._test,
            checkpoint_seconds=self._checkpoint,
            spent_seconds=time.perf_counter() - self.started - steps_done * step,
        )
        self.say(describe_projection(self.costs, remaining_epochs))


class BudgetGuard(keras.callbacks.Callback):
    """Keeps a budgeted run inside its budget when the machine's speed changes after calibration.

    After each epoch it re-measures the epoch time (mean step time of that epoch, warm-up steps
    of the first one left out, plus what the epoch spent outside steps: validation, checkpoint),
    asks ``budget.replan_epochs`` for the run's length, and when it changes re-tabulates the
    remaining LR steps (``budget.remap_positions``) so the curve still ends on its end value,
    then stops ``fit`` after the last planned epoch. Never runs past the epochs ``fit`` started
    with. Each change is kept in ``replans`` for the summary.
    """

    def __init__(
        self, plan: BudgetPlan, *, started: float, say: Callable[[str], None] | None = None
    ):
        super().__init__()
        self.plan, self.started, self.say = plan, started, say
        self.current = plan.epochs
        self.replans: list[dict[str, Any]] = []

    def on_train_begin(self, logs=None):
        from cnn_doctor.optim import TabulatedSchedule

        schedule = getattr(self.model.optimizer, "_learning_rate", None)
        self.schedule = schedule if isinstance(schedule, TabulatedSchedule) else None
        if self.schedule is not None:
            self.reference = np.asarray(self.schedule.table, dtype=np.float64)
            self.positions = np.arange(len(self.reference), dtype=np.float64)
        self.first_epoch = True

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()
        self.steps: list[float] = []

    def on_train_batch_begin(self, batch, logs=None):
        self.step_started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append(time.perf_counter() - self.step_started)

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        done = epoch + 1
        timed = self.steps[WARMUP_STEPS:] if self.first_epoch else self.steps
        self.first_epoch = False
        if done < self.current and self.steps:
            step = float(np.mean(timed or self.steps))
            outside = max(0.0, (now - self.epoch_started) - sum(self.steps))
            epoch_seconds = self.plan.costs.steps_per_epoch * step + outside
            slowdown = max(1.0, epoch_seconds / self.plan.costs.epoch_seconds)
            new = replan_epochs(
                budget_seconds=self.plan.budget_seconds,
                elapsed_seconds=now - self.started,
                epochs_done=done,
                current_epochs=self.current,
                planned_epochs=self.plan.epochs,
                epoch_seconds=epoch_seconds,
                test_seconds=self.plan.costs.test_seconds * slowdown,
                margin=self.plan.margin,
            )
            if new != self.current:
                self._replan(done, new, epoch_seconds)
        if done >= self.current:
            self.model.stop_training = True

    def _replan(self, done: int, new: int, epoch_seconds: float) -> None:
        spe = self.plan.costs.steps_per_epoch
        if self.schedule is not None and new > done:
            self.positions = remap_positions(self.positions, done * spe, new * spe)
            table = np.interp(self.positions, np.arange(len(self.reference)), self.reference)
            self.schedule.set_table(table.tolist())
        self.replans.append(
            {"after_epoch": done, "epochs": new, "epoch_seconds": round(epoch_seconds, 3)}
        )
        if self.say is not None:
            if new == done:
                verb = "stopping now, before the LR schedule's end, to stay inside the budget"
            else:
                verb = f"re-planned to {new} epochs, the LR schedule re-tabulated to end on time"
            self.say(
                f"epochs now take ~{format_duration(epoch_seconds)} (planned "
                f"~{format_duration(self.plan.costs.epoch_seconds)}): {verb}"
            )
        self.current = new
