"""Time budget: how many epochs of the recipe fit in the wall time the user has.

Why plan epochs, not stop on a timer: the default LR schedule (onecycle, linear to zero) is
defined over the run's length, and a run cut short by a timer never reaches the low-LR end where
most of the final accuracy is earned. So the number of epochs is fixed *before* the model and its
schedule are built, from costs measured on this machine (``calibrate.py``), and the schedule is
tabulated for exactly that many epochs.

Pure arithmetic on measured seconds — no keras, no clock — so every branch is tested on fake
costs. The cost model of a budgeted run (``RunCosts``)::

    spent  +  build  +  epochs * (steps_per_epoch * step + validation + checkpoint)  +  test

``spent`` is what the run used before planning (data, calibration), ``build`` what it still does
before the first step (the real model), ``test`` the final test evaluation with TTA. The plan
keeps ``MARGIN`` of the budget in reserve. When the machine's speed changes mid-run,
``replan_epochs`` gives the new length and ``remap_positions`` re-spreads the remaining steps
over the planned LR curve, so a shortened run still ends on the curve's end value.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cnn_doctor.config import ConfigError

#: Share of the budget kept in reserve. Where it comes from: a choice, not a fit. It covers what
#: the plan does not time (the final model save, the curve plot, run-dir writes: about a second)
#: and the step-time noise of a machine whose load does not change; larger changes are the
#: ``BudgetGuard``'s job (calibrate.py), which re-plans after every epoch. On this project's
#: 2-core CPU shared by several jobs, step times moved 2-10x within minutes: no fixed margin
#: covers that, a re-plan does.
MARGIN = 0.10

_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_DURATION = re.compile(rf"^(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m)?(?:(?P<s>{_NUMBER})s)?$")


class BudgetError(ConfigError):
    """A time budget the run cannot honour (unreadable, or too small for one epoch)."""


def parse_duration(value: str | float | int, *, key: str = "run.time_budget") -> float:
    """Seconds in ``value``: ``"20m"``, ``"90s"``, ``"1h30m"``, ``"1.5h"`` or plain seconds
    (``1200``, ``"1200"``). ``0`` and ``""`` mean no budget and give 0.0.

    Raises ``BudgetError`` (one line naming ``key`` and the accepted forms) on anything else.
    """
    hint = f"{key}={value!r} is not a duration; use e.g. 20m, 90s, 1h30m or seconds (0 = no budget)"
    if isinstance(value, bool):
        raise BudgetError(hint)
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = value.strip().lower().replace(" ", "")
        if text == "":
            return 0.0
        if re.fullmatch(_NUMBER, text):
            seconds = float(text)
        else:
            match = _DURATION.match(text)
            if match is None or not any(match.groupdict().values()):
                raise BudgetError(hint)
            seconds = sum(
                float(amount) * _UNIT_SECONDS[unit]
                for unit, amount in match.groupdict().items()
                if amount is not None
            )
    if not math.isfinite(seconds) or seconds < 0:
        raise BudgetError(hint)
    return seconds


def format_duration(seconds: float) -> str:
    """``"20 min"``, ``"1 h 30 min"``, ``"45 s"``, ``"5 min 30 s"``: how the user wrote it."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes:
        parts.append(f"{minutes} min")
    if secs and not hours:
        parts.append(f"{secs} s")
    return " ".join(parts)


@dataclass(frozen=True)
class RunCosts:
    """Seconds measured (or already spent) on this machine for one run of a config."""

    step_seconds: float  # one optimizer step, data pipeline included, after warm-up
    steps_per_epoch: int
    validation_seconds: float  # one pass over the validation set (once per epoch)
    test_seconds: float  # the final test evaluation, TTA included (0 when skipped)
    checkpoint_seconds: float = 0.0  # the per-epoch checkpoint write
    build_seconds: float = 0.0  # still to come before the first step (model build, data fit)
    spent_seconds: float = 0.0  # already used by the run when the plan is made

    @property
    def epoch_seconds(self) -> float:
        """Wall time of one epoch: its steps, its validation pass and its checkpoint."""
        steps = self.steps_per_epoch * self.step_seconds
        return steps + self.validation_seconds + self.checkpoint_seconds

    @property
    def fixed_seconds(self) -> float:
        """Time that does not grow with epochs: what was spent, the build and the test."""
        return self.spent_seconds + self.build_seconds + self.test_seconds

    def projected_seconds(self, epochs: int) -> float:
        """Expected wall time of the whole run with ``epochs`` epochs (no margin)."""
        return self.fixed_seconds + epochs * self.epoch_seconds


@dataclass(frozen=True)
class BudgetPlan:
    """How many epochs to train so the run ends inside ``budget_seconds``, and why."""

    budget_seconds: float
    epochs: int
    max_epochs: int
    margin: float
    costs: RunCosts
    calibration_seconds: float = 0.0  # the throwaway model's share of costs.spent_seconds

    @property
    def projected_seconds(self) -> float:
        return self.costs.projected_seconds(self.epochs)

    @property
    def limited_by_budget(self) -> bool:
        """False when the configured epochs already fit (the budget only capped nothing)."""
        return self.epochs < self.max_epochs

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget_seconds": round(self.budget_seconds, 2),
            "planned_epochs": self.epochs,
            "max_epochs": self.max_epochs,
            "planned_seconds": round(self.projected_seconds, 2),
            "planned_epoch_seconds": round(self.costs.epoch_seconds, 3),
            "margin": self.margin,
            "calibration_seconds": round(self.calibration_seconds, 2),
            "costs": {
                k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self.costs).items()
            },
        }


def minimum_budget(costs: RunCosts, margin: float = MARGIN) -> float:
    """The smallest budget in which one epoch (and the test) fits with the margin kept."""
    return costs.projected_seconds(1) / (1.0 - margin)


def plan_epochs(
    budget_seconds: float, costs: RunCosts, max_epochs: int, *, margin: float = MARGIN
) -> BudgetPlan:
    """The most epochs in ``[1, max_epochs]`` whose projected run fits ``(1 - margin) * budget``.

    Raises ``BudgetError`` naming the minimum budget when not even one epoch fits: a run that
    cannot finish its schedule is not what the user asked for.
    """
    if budget_seconds <= 0:
        raise ValueError("plan_epochs needs a positive budget (0 means no budget: do not plan)")
    if max_epochs < 1:
        raise ValueError("max_epochs must be >= 1")
    if not 0 <= margin < 1:
        raise ValueError("margin must be in [0, 1)")
    usable = budget_seconds * (1.0 - margin) - costs.fixed_seconds
    epoch = costs.epoch_seconds
    fits = math.floor(usable / epoch) if epoch > 0 else max_epochs
    if fits < 1:
        need = minimum_budget(costs, margin)
        raise BudgetError(
            f"run.time_budget={format_duration(budget_seconds)} is too small for one epoch here: "
            f"one epoch takes ~{format_duration(epoch)} plus "
            f"~{format_duration(costs.fixed_seconds)} of setup and test; "
            f"give at least {format_duration(math.ceil(need))} "
            "(or shrink data.subset / model.width)"
        )
    return BudgetPlan(budget_seconds, min(fits, max_epochs), max_epochs, margin, costs)


def replan_epochs(
    *,
    budget_seconds: float,
    elapsed_seconds: float,
    epochs_done: int,
    current_epochs: int,
    planned_epochs: int,
    epoch_seconds: float,
    test_seconds: float,
    margin: float = MARGIN,
) -> int:
    """The run's new length after ``epochs_done`` epochs, from the epoch time measured so far.

    Why: the machine may slow down (or speed up) after calibration — on a shared CPU the step
    time moved 2-10x within minutes here. Shortens when the projected end eats more than half
    the reserve, and lengthens back (never past ``planned_epochs``, the length ``fit`` was
    started with) when the full reserve is kept. ``epochs_done`` means stop now.
    """

    def end(total: int) -> float:
        return elapsed_seconds + (total - epochs_done) * epoch_seconds + test_seconds

    usable = budget_seconds * (1.0 - margin)
    fitting = epochs_done + max(0, math.floor((usable - end(epochs_done)) / epoch_seconds))
    fitting = min(fitting, planned_epochs)
    if end(current_epochs) > budget_seconds * (1.0 - margin / 2):
        return min(fitting, current_epochs)
    if fitting > current_epochs:
        return fitting
    return current_epochs


def remap_positions(positions: np.ndarray, steps_done: int, total_steps: int) -> np.ndarray:
    """Where in the originally planned LR curve each step of the new length reads its LR.

    ``positions[i]`` is the (fractional) index into the original per-step table used at step
    ``i``; steps already taken keep theirs, the rest are spread evenly from the next unused
    position to the curve's last entry, so the shortened (or lengthened) run still ends on the
    schedule's end value.
    """
    last = float(positions[-1]) if len(positions) else 0.0
    start = float(positions[steps_done]) if steps_done < len(positions) else last
    rest = max(total_steps - steps_done, 0)
    tail = np.linspace(start, last, rest) if rest > 1 else np.full(rest, last)
    return np.concatenate([np.asarray(positions[:steps_done], dtype=np.float64), tail])


def describe_plan(
    plan: BudgetPlan, *, device: str, precision: str, native_bf16: bool | None
) -> str:
    """The line the user reads before training starts, e.g. ``this CPU (no native bfloat16):
    float32, ~212 s/epoch -> 5 epochs fit in 20 min``."""
    if native_bf16 is None:
        where = f"this {device}"
    else:
        where = f"this {device} ({'native' if native_bf16 else 'no native'} bfloat16)"
    c = plan.costs
    head = (
        f"{where}: {precision}, ~{format_duration(c.epoch_seconds)}/epoch "
        f"-> {plan.epochs} epoch{'s' if plan.epochs != 1 else ''} fit in "
        f"{format_duration(plan.budget_seconds)}"
    )
    detail = (
        f"{c.step_seconds:.3g} s/step x {c.steps_per_epoch} + validation "
        f"{format_duration(c.validation_seconds)}; test {format_duration(c.test_seconds)}; "
        f"projected {format_duration(plan.projected_seconds)} with a {plan.margin:.0%} reserve"
    )
    if not plan.limited_by_budget:
        detail += f"; all {plan.max_epochs} configured epochs fit"
    else:
        detail += f"; of {plan.max_epochs} configured"
    return f"{head} ({detail})"


def describe_projection(costs: RunCosts, epochs: int) -> str:
    """Without a budget: the projected wall time of the configured run, after its first steps."""
    return (
        f"projected wall time ~{format_duration(costs.projected_seconds(epochs))} for {epochs} "
        f"epochs (~{format_duration(costs.epoch_seconds)}/epoch, "
        f"{costs.step_seconds:.3g} s/step; test {format_duration(costs.test_seconds)})"
    )
