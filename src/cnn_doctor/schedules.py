"""Learning-rate schedules, defined once as a pure function of (fractional) epoch.

``lr_at_epoch`` is the single source of truth: tests and plots call it directly, and training
uses ``build_schedule``, which tabulates it per optimizer step into a Keras
``LearningRateSchedule``. Tabulating (rather than re-writing each curve in ``keras.ops``) keeps the
curve the user sees in a plot identical to the one the optimizer follows, on every backend.
"""

from __future__ import annotations

import math

import numpy as np

from cnn_doctor.config import OptimConfig


def lr_at_epoch(cfg: OptimConfig, epoch: float) -> float:
    """Learning rate after ``epoch`` epochs of training (``epoch`` may be fractional).

    - ``constant``: ``lr``.
    - ``step``: ``lr * gamma**k`` where k = number of ``step_epochs`` milestones already passed.
    - ``exponential``: ``lr`` for ``hold_epochs`` epochs, then ``× gamma`` per completed epoch —
      e.g. the Keras tutorial's "constant for 50 epochs, then ×exp(-0.1) per epoch" is
      ``hold_epochs=50, gamma=0.905``.
    - ``cosine``: ``lr`` for ``hold_epochs``, then half a cosine down to ``min_lr`` at the end.
    - ``onecycle``: linear rise from 0 over ``warmup_epochs``, then linear decay to ``min_lr`` at
      the last step (linear-to-zero is near-optimal under a fixed budget: Li et al., "Budgeted
      training", ICLR 2020; used by airbench and Page's ResNet-9).

    ``warmup_epochs`` also puts a linear warm-up in front of every other schedule.
    """
    total = float(cfg.epochs)
    epoch = min(max(epoch, 0.0), total)
    warmup = min(cfg.warmup_epochs, total)
    if cfg.schedule == "onecycle":
        if warmup > 0 and epoch < warmup:
            return cfg.lr * epoch / warmup
        span = max(total - warmup, 1e-12)
        return cfg.min_lr + (cfg.lr - cfg.min_lr) * max(0.0, (total - epoch) / span)

    if cfg.schedule == "constant":
        lr = cfg.lr
    elif cfg.schedule == "step":
        passed = sum(1 for milestone in cfg.step_epochs if epoch >= milestone)
        lr = cfg.lr * cfg.gamma**passed
    elif cfg.schedule == "exponential":
        lr = cfg.lr * cfg.gamma ** max(0, math.floor(epoch) - cfg.hold_epochs)
    elif cfg.schedule == "cosine":
        span = max(total - cfg.hold_epochs, 1e-12)
        progress = min(max((epoch - cfg.hold_epochs) / span, 0.0), 1.0)
        lr = cfg.min_lr + (cfg.lr - cfg.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
    else:  # validated in config; kept for a clear message if the two ever disagree
        raise ValueError(f"unknown schedule {cfg.schedule!r}")
    if warmup > 0 and epoch < warmup:
        lr *= epoch / warmup
    return lr


def lr_table(cfg: OptimConfig, steps_per_epoch: int) -> np.ndarray:
    """The LR used at each optimizer step (evaluated at the step's start)."""
    steps = np.arange(cfg.epochs * steps_per_epoch, dtype=np.float64)
    # Evaluate mid-step for warm-up so the very first step does not use exactly lr=0.
    epochs = (steps + 0.5) / steps_per_epoch
    return np.array([lr_at_epoch(cfg, float(e)) for e in epochs], dtype=np.float32)
