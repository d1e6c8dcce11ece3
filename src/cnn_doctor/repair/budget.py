"""The repair's wall-time budget: parse it, estimate what one short run costs, plan within it.

A repair spends its budget on short runs, so the one number that matters is the seconds a short
run takes here. Before anything is trained it is *measured*: a probe trains the short config for
a handful of steps (one epoch of ``PROBE_STEPS`` batches, with the real validation set) and times
every batch and the validation pass with a callback. The estimate for a short run is then

    setup + epochs * (steps_per_epoch * seconds_per_step + validation_seconds)

where ``setup`` is whatever the probe spent outside the steady-state steps (data loading, model
build, compile, the first slow batch, saving). Once real runs finish, their measured wall times
replace the estimate.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cnn_doctor.budget import BudgetError, format_duration, parse_duration
from cnn_doctor.config import Config

PROBE_STEPS = 4
SCREEN_ABOVE = 3  # more candidates than this: screen on one seed first
SCREEN_KEEP = 3  # candidates that get the remaining seeds after a screen


def parse_budget(value: str | float | int) -> float:
    """Seconds of a repair budget (``cnn_doctor.budget.parse_duration``'s forms), > 0."""
    seconds = parse_duration(value, key="--budget")
    if seconds <= 0:
        raise BudgetError(f"--budget={value!r} must be more than 0 seconds, e.g. 20m")
    return seconds


@dataclass(frozen=True)
class RunEstimate:
    """What one short run costs here, and how that was found out."""

    seconds: float
    how: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def steps_per_epoch(config: Config, num_train: int) -> int:
    """Batches per epoch as the trainer forms them (the last partial batch is dropped)."""
    batch = min(config.optim.batch_size, max(num_train, 1))
    return max(1, num_train // batch)


def probe_run_seconds(
    config: Config,
    *,
    model_builder: Callable[..., Any] | None = None,
    out_dir: Path | None = None,
) -> RunEstimate:
    """Measure a few training steps of ``config`` and extrapolate to its full short run."""
    import keras

    from cnn_doctor.train import train

    class _Timer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.batches: list[float] = []
            self.validation = 0.0
            self._t = 0.0

        def on_train_batch_begin(self, batch, logs=None):
            self._t = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.batches.append(time.perf_counter() - self._t)

        def on_test_begin(self, logs=None):
            self._t = time.perf_counter()

        def on_test_end(self, logs=None):
            self.validation += time.perf_counter() - self._t

    from cnn_doctor.data.prepare import prepare_data

    prepared = prepare_data(config.data, config.run.seed)
    n_train = len(prepared.x_train)
    batch = min(config.optim.batch_size, n_train)
    # a tiny batch (2 images x 4 steps) must still hold every class: the config refuses less
    probe_images = min(n_train, max(batch * PROBE_STEPS, len(prepared.class_names)))
    probe = replace(
        config,
        data=replace(config.data, subset=probe_images),
        optim=replace(config.optim, epochs=1),
        run=replace(config.run, name="budget-probe", tta=False, evaluate_test=False),
    )
    timer = _Timer()
    with tempfile.TemporaryDirectory(dir=out_dir) as folder:
        probe.run.out_dir = folder
        keras.backend.clear_session()
        started = time.perf_counter()
        train(probe, callbacks=[timer], model_builder=model_builder, quiet=True)
        wall = time.perf_counter() - started
    steps = steps_per_epoch(config, n_train)
    per_step = statistics.median(timer.batches[1:] or timer.batches or [0.0])
    setup = max(0.0, wall - per_step * len(timer.batches) - timer.validation)
    seconds = setup + config.optim.epochs * (steps * per_step + timer.validation)
    how = (
        f"measured: {per_step:.3f} s/step x {steps} steps x {config.optim.epochs} epochs + "
        f"{timer.validation:.1f} s validation/epoch + {setup:.1f} s setup"
    )
    return RunEstimate(seconds, how)


def runs_per_round(seeds: int, candidates: int, *, screen: bool) -> int:
    """Short runs one round trains (the diagnosis run doubles as the baseline's first seed)."""
    if screen:
        kept = min(candidates, SCREEN_KEEP)
        return candidates + (seeds - 1) * (1 + kept)
    return (seeds - 1) + seeds * candidates


def minimum_seconds(estimate: RunEstimate, seeds: int) -> float:
    """The least a repair can do: a diagnosis (= baseline seed 1), the baseline's other seeds,
    and one candidate on every seed."""
    return estimate.seconds * (1 + runs_per_round(seeds, 1, screen=False))


def check_budget(budget_seconds: float, estimate: RunEstimate, seeds: int) -> None:
    """Raise ``BudgetError`` naming the minimum when even one baseline and one candidate do not
    fit."""
    need = minimum_seconds(estimate, seeds)
    if budget_seconds < need:
        runs = 1 + runs_per_round(seeds, 1, screen=False)
        raise BudgetError(
            f"--budget {format_duration(budget_seconds)} is too small: one baseline and one "
            f"candidate at {seeds} seeds need {runs} short runs of ~{estimate.seconds:.0f} s "
            f"each ({estimate.how}), at least {format_duration(need)}; raise --budget, or shrink "
            "the short run with --subset/--epochs"
        )
