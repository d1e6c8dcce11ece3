"""LR range test (Smith 2017, as in fastai and Lightning): find a good learning rate in ~1 minute.

The learning rate grows exponentially from ``start_lr`` to ``end_lr`` over ``num_steps`` batches
while the training loss is recorded. During the ramp the loss is smoothed as fastai and Lightning
do (bias-corrected exponential moving average) and the test stops once that exceeds ``diverge`` ×
its best value: past that point the network is being destroyed and the rest of the curve carries
no information. Non-finite losses end the test and never reach the suggestion.

With their β = 0.98 that average lags by β/(1−β) ≈ 49 steps — half of a 100-step ramp, three decades
of LR — so a curve read from it puts the valley, and the suggestion, far to the right of where the
loss really turned (measured here: on the seed CNN with Adam the raw loss blew up from lr ≈ 0.09
while the lagging curve suggested 0.17, which then trained to chance). So by default the average's
time constant is 5% of the ramp (β = 0.8 for 100 steps; ``ramp_beta``), and the curve that is
plotted and read is that average run forward and then backward (zero phase: no shift along the LR
axis). Measured on this project's two presets: the default recipe's steepest point came out at
0.20 (its own LR), the seed's at 3.5e-3 (min/10: 6e-4; its own LR: 1e-3). A 10% window let the
seed's noisy first steps win; 5% is a choice made on those two curves, not a published constant.

Suggestions (both are computed; ``method`` picks the headline one):

* ``"steepest"`` — the LR where the smoothed loss falls fastest per decade of LR (the fastai and
  Lightning default), searched only below the loss minimum: large enough to learn quickly, still
  on the stable side of the valley (past the minimum, a loss that bounces while blowing up also
  has steep falling stretches).
* ``"min/10"`` — one tenth of the LR at the loss minimum (fastai's older rule): more conservative,
  robust when the curve is noisy.

The model is a user's model: its weights, its optimizer state (momentum buffers, iteration count)
and its learning rate (a float *or* a schedule) are restored in a ``finally`` block, so an
interrupted test leaves it exactly as it was.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cnn_doctor.atomic import atomic_write_json

METHODS = ("steepest", "min/10")
BETA = 0.98  # smoothing of the loss (fastai / Lightning default)
DIVERGE = 4.0  # stop when the smoothed loss exceeds this multiple of the best (fastai / Lightning)


@dataclass
class LRFindResult:
    """What the range test measured and what it suggests.

    ``losses`` are the zero-phase smoothed losses (what the plot and the suggestion use);
    ``raw_losses`` are the per-batch values as returned by the model.
    """

    lrs: list[float]
    losses: list[float]
    raw_losses: list[float]
    suggested_lr: float | None
    method: str
    suggestions: dict[str, float | None] = field(default_factory=dict)
    stop_reason: str = ""
    seconds: float = 0.0
    plot: Path | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` payload: ``suggested_lr``, ``method``, ``lrs``, ``losses``, ``plot``."""
        return {
            "suggested_lr": self.suggested_lr,
            "method": self.method,
            "lrs": self.lrs,
            "losses": [_finite_or_none(v) for v in self.losses],
            "plot": str(self.plot) if self.plot is not None else None,
            "suggestions": self.suggestions,
            "raw_losses": [_finite_or_none(v) for v in self.raw_losses],
            "stop_reason": self.stop_reason,
            "seconds": round(self.seconds, 3),
        }

    def save_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_json(path, self.to_json())


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


# --------------------------------------------------------------------------------------------------
# Suggestion (pure: unit-tested on hand-made curves)


def smooth_losses(raw: Sequence[float], beta: float = BETA) -> list[float]:
    """Bias-corrected exponential moving average; non-finite inputs give non-finite outputs."""
    avg, out = 0.0, []
    for i, loss in enumerate(raw, start=1):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta**i))
    return out


def ramp_beta(num_steps: int) -> float:
    """EMA factor whose time constant 1/(1−β) is 5% of the ramp (at least 2 steps)."""
    return 1.0 - 1.0 / max(2.0, num_steps / 20.0)


def zero_phase_smooth(raw: Sequence[float], beta: float = BETA) -> list[float]:
    """The bias-corrected EMA run forward, then backward over its output: no lag along the curve.

    Non-finite inputs stay non-finite in place; the finite values are smoothed as one sequence
    with those points left out.
    """
    values = np.asarray(raw, dtype=float)
    out = np.full(values.shape, np.nan)
    finite = np.isfinite(values)
    if not finite.any():
        return out.tolist()
    forward = np.asarray(smooth_losses(values[finite].tolist(), beta))
    out[finite] = np.asarray(smooth_losses(forward[::-1].tolist(), beta))[::-1]
    return out.tolist()


def suggest_lr(
    lrs: Sequence[float],
    losses: Sequence[float],
    method: str = "steepest",
    *,
    skip_begin: int = 10,
    skip_end: int = 1,
) -> float | None:
    """The suggested LR from a (smoothed) range-test curve, or ``None`` if the curve is too short.

    Non-finite points are dropped *together with their LR* (dropping only the loss would shift the
    curve against the LRs). ``skip_begin``/``skip_end`` ignore the flat start and the exploding end
    for ``"steepest"``; when too few points remain they are ignored rather than failing.
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not valid; choose one of: {', '.join(METHODS)}")
    if len(lrs) != len(losses):
        raise ValueError(f"lrs and losses differ in length ({len(lrs)} vs {len(losses)})")
    lr_arr = np.asarray(lrs, dtype=float)
    loss_arr = np.asarray(losses, dtype=float)
    keep = np.isfinite(lr_arr) & np.isfinite(loss_arr) & (lr_arr > 0)
    lr_arr, loss_arr = lr_arr[keep], loss_arr[keep]
    if len(loss_arr) < 3:
        return None
    if method == "min/10":
        return float(lr_arr[int(np.argmin(loss_arr))] / 10)
    if len(loss_arr) - skip_begin - skip_end >= 3:
        lr_arr = lr_arr[skip_begin : len(lr_arr) - skip_end]
        loss_arr = loss_arr[skip_begin : len(loss_arr) - skip_end]
    lowest = int(np.argmin(loss_arr))
    if lowest >= 2:  # the stable side of the valley; the whole curve if it is still falling
        lr_arr, loss_arr = lr_arr[: lowest + 1], loss_arr[: lowest + 1]
    # Gradient per decade of LR: the points are log-spaced, so this is what the plot shows.
    grad = np.gradient(loss_arr, np.log10(lr_arr))
    return float(lr_arr[int(np.argmin(grad))])


# --------------------------------------------------------------------------------------------------
# Public entry point


def lr_find(
    model: Any,
    x: Any,
    y: Any,
    *,
    start_lr: float = 1e-6,
    end_lr: float = 10.0,
    num_steps: int = 100,
    batch_size: int = 128,
    method: str = "steepest",
    beta: float | None = None,
    diverge: float = DIVERGE,
    seed: int = 0,
    plot: str | Path | None = None,
    preprocess: Callable[[np.ndarray], np.ndarray] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LRFindResult:
    """Run an LR range test on a compiled Keras model and restore the model afterwards.

    Args:
        model: a compiled ``keras.Model`` (``model.compile(optimizer=..., loss=...)``).
        x: training inputs (numpy array, first axis = examples).
        y: targets in whatever form the compiled loss expects.
        start_lr: first learning rate of the exponential ramp.
        end_lr: last learning rate (reached only if the loss has not diverged before).
        num_steps: batches in the ramp; ~100–300 is enough for a usable curve.
        batch_size: examples per step (the whole of ``x`` if it is smaller).
        method: headline suggestion, ``"steepest"`` or ``"min/10"``.
        beta: smoothing factor of the loss EMA (``None``: ``ramp_beta(num_steps)``).
        diverge: stop once the smoothed loss exceeds this multiple of the best one.
        seed: order in which batches are drawn.
        plot: where to save the loss-vs-LR PNG (``None`` = no plot).
        preprocess: applied to each batch of ``x`` (e.g. a normalizer for uint8 images).
        progress: called as ``progress(step, num_steps)`` after each step.

    Returns:
        An ``LRFindResult``; ``suggested_lr`` is ``None`` when the curve was too short to judge.

    Example:
        >>> result = cnn_doctor.lr_find(model, x_train, y_train, plot="lr.png")
        >>> model.optimizer.learning_rate = result.suggested_lr
    """
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
        raise ValueError(
            "lr_find needs a compiled model: call model.compile(optimizer=..., loss=...) first"
        )
    if not (start_lr > 0 and math.isfinite(start_lr)):
        raise ValueError(f"start_lr must be a positive number, got {start_lr!r}")
    if not (end_lr > start_lr and math.isfinite(end_lr)):
        raise ValueError(f"end_lr must be larger than start_lr ({start_lr}), got {end_lr!r}")
    if int(num_steps) != num_steps or num_steps < 5:
        raise ValueError(f"num_steps must be an integer >= 5, got {num_steps!r}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if beta is None:
        beta = ramp_beta(int(num_steps))
    if not 0 < beta < 1:
        raise ValueError(f"beta must be in (0, 1), got {beta!r}")
    if not diverge > 1:
        raise ValueError(f"diverge must be > 1 (a multiple of the best loss), got {diverge!r}")
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not valid; choose one of: {', '.join(METHODS)}")
    n = len(x)
    if n == 0:
        raise ValueError("x is empty")
    if y is not None and len(y) != n:
        raise ValueError(f"x and y differ in length ({n} vs {len(y)})")

    lrs = np.geomspace(start_lr, end_lr, int(num_steps)).tolist()
    batches = _batches(x, y, int(batch_size), seed, preprocess)
    started = time.perf_counter()
    raw, stop_reason = _range_test(model, batches, lrs, beta, diverge, progress)
    smoothed = zero_phase_smooth(raw, beta)
    used_lrs = lrs[: len(raw)]
    suggestions = {m: suggest_lr(used_lrs, smoothed, m) for m in METHODS}
    result = LRFindResult(
        lrs=used_lrs,
        losses=smoothed,
        raw_losses=raw,
        suggested_lr=suggestions[method],
        method=method,
        suggestions=suggestions,
        stop_reason=stop_reason,
        seconds=time.perf_counter() - started,
    )
    if plot is not None:
        result.plot = plot_lr_find(result, plot)
    return result


# --------------------------------------------------------------------------------------------------
# Private algorithm


def _batches(
    x: Any,
    y: Any,
    batch_size: int,
    seed: int,
    preprocess: Callable[[np.ndarray], np.ndarray] | None,
) -> Iterator[tuple[Any, Any]]:
    """Endless shuffled batches; reshuffles each pass so small datasets still give varied steps."""
    rng = np.random.default_rng(seed)
    n = len(x)
    batch_size = min(batch_size, n)
    while True:
        order = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):
            idx = np.sort(order[start : start + batch_size])
            xb = x[idx]
            if preprocess is not None:
                xb = preprocess(xb)
            yield xb, (y[idx] if y is not None else None)


class _LRSetter:
    """Sets the optimizer's LR per step and puts the original (float or schedule) back.

    A plain-float LR lives in a variable that is assigned directly. A schedule cannot be assigned
    (Keras raises), so it is swapped for a callable for the duration of the test.
    """

    def __init__(self, optimizer: Any) -> None:
        import keras

        self._optimizer = optimizer
        self._original = optimizer._learning_rate
        self._is_variable = isinstance(self._original, keras.Variable)
        self._saved_value = float(np.asarray(self._original.numpy())) if self._is_variable else None
        self._current = 0.0
        if not self._is_variable:
            optimizer.learning_rate = lambda: self._current

    def set(self, lr: float) -> None:
        if self._is_variable:
            self._original.assign(lr)
        else:
            self._current = lr

    def restore(self) -> None:
        if self._is_variable:
            self._original.assign(self._saved_value)
        else:
            self._optimizer.learning_rate = self._original


def _range_test(
    model: Any,
    batches: Iterator[tuple[Any, Any]],
    lrs: list[float],
    beta: float,
    diverge: float,
    progress: Callable[[int, int], None] | None,
) -> tuple[list[float], str]:
    """Train one batch per LR; return the raw losses and why the ramp ended."""
    first_x, first_y = next(batches)
    if not model.built:
        model(first_x[:1])
    optimizer = model.optimizer
    if not optimizer.built:
        # Build now so the snapshot below captures the pristine (zero) slots and iteration count.
        optimizer.build(model.trainable_variables)
    saved_weights = model.get_weights()
    saved_optimizer = [np.array(v.numpy()) for v in optimizer.variables]
    setter = _LRSetter(optimizer)
    raw: list[float] = []
    best = math.inf
    avg = 0.0
    stop_reason = "reached end_lr"
    try:
        batch: tuple[Any, Any] | None = (first_x, first_y)
        for step, lr in enumerate(lrs, start=1):
            xb, yb = batch if batch is not None else next(batches)
            batch = None
            setter.set(lr)
            loss = float(np.asarray(model.train_on_batch(xb, yb, return_dict=True)["loss"]))
            raw.append(loss)
            if progress is not None:
                progress(step, len(lrs))
            if not math.isfinite(loss):
                stop_reason = f"loss became non-finite at lr={lr:.3g}"
                break
            avg = beta * avg + (1 - beta) * loss
            smoothed = avg / (1 - beta**step)
            if step > 1 and smoothed > diverge * best:
                stop_reason = f"smoothed loss exceeded {diverge:g}x its best at lr={lr:.3g}"
                break
            best = min(best, smoothed)
    finally:
        model.set_weights(saved_weights)
        for variable, value in zip(optimizer.variables, saved_optimizer, strict=True):
            variable.assign(value)
        setter.restore()
        model.reset_metrics()
    return raw, stop_reason


# --------------------------------------------------------------------------------------------------
# Plot


def plot_lr_find(result: LRFindResult, path: str | Path) -> Path:
    """Smoothed loss vs LR (log axis) with both suggestions marked."""
    from cnn_doctor.report.curves import new_figure, save_figure

    fig = new_figure(7, 4.2)
    ax = fig.subplots()
    lrs = np.asarray(result.lrs, dtype=float)
    losses = np.asarray(result.losses, dtype=float)
    raw = np.asarray(result.raw_losses, dtype=float)
    ok = np.isfinite(losses)
    ax.plot(lrs[np.isfinite(raw)], raw[np.isfinite(raw)], color="#bbb", lw=0.8, label="raw")
    ax.plot(lrs[ok], losses[ok], color="#1f77b4", lw=1.8, label="smoothed (β=0.98)")
    colors = {"steepest": "#d62728", "min/10": "#2ca02c"}
    for method, lr in result.suggestions.items():
        if lr is None:
            continue
        style = "-" if method == result.method else "--"
        ax.axvline(lr, color=colors[method], ls=style, lw=1.2, label=f"{method}: {lr:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    finite = losses[ok]
    if finite.size:
        # Top: cut the divergence spike (it would flatten the interesting part); bottom: keep
        # the raw points, which run below the lagging smoothed curve where the loss falls.
        top = min(float(np.nanmax(finite)), 4 * float(np.nanmin(finite)))
        raw_ok = raw[np.isfinite(raw)]
        bottom = min(float(np.nanmin(finite)), float(raw_ok.min()) if raw_ok.size else np.inf)
        pad = 0.05 * max(top - bottom, 1e-6)
        ax.set_ylim(bottom - pad, top + pad)
    ax.set_title(f"LR range test — {result.stop_reason}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


# --------------------------------------------------------------------------------------------------
# From a cnn-doctor config (what ``cnn-doctor lr-find`` runs)


def lr_find_for_config(
    config: Any,
    *,
    num_steps: int = 100,
    start_lr: float = 1e-6,
    end_lr: float = 10.0,
    batch_size: int | None = None,
    method: str = "steepest",
    plot: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LRFindResult:
    """The range test on the model, optimizer, loss and data a ``Config`` would train.

    Uses the trainer's own builders, so the curve is measured on exactly the recipe ``train`` runs
    (same normalization, label smoothing, weight decay, optimizer family); only the LR schedule is
    replaced by the ramp. Augmentation is off: it adds noise to a curve read by its slope.
    """
    import keras

    from cnn_doctor.data.prepare import prepare_data
    from cnn_doctor.train import (
        InputPipeline,
        build_compiled_model,
        channels_first_for,
        seed_everything,
    )

    seed_everything(config.run.seed)
    data = prepare_data(config.data, config.run.seed)
    pipeline = InputPipeline(data.normalizer, channels_first_for(keras.backend.backend()))
    size = batch_size or config.optim.batch_size
    model = build_compiled_model(
        config,
        data.num_classes,
        max(1, len(data.x_train) // size),
        input_shape=pipeline.input_shape,
    )
    y = np.eye(data.num_classes, dtype="float32")[data.y_train]
    return lr_find(
        model,
        data.x_train,
        y,
        start_lr=start_lr,
        end_lr=end_lr,
        num_steps=num_steps,
        batch_size=size,
        method=method,
        seed=config.run.seed,
        plot=plot,
        preprocess=pipeline,
        progress=progress,
    )
