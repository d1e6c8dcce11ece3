"""The Keras side of a sweep: report per-epoch validation accuracy to Optuna and stop bad trials.

Kept apart from ``study.py`` because it imports keras: study bookkeeping (and the workers of an
ablation, which never prune) should not pay the keras import.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import keras
import optuna


class OptunaPruning(keras.callbacks.Callback):
    """Reports ``monitor`` to an Optuna trial after every epoch and prunes when told to.

    Epochs are reported 1-based (as in ``metrics.jsonl``); the last epoch is reported but never
    pruned (the run is complete by then). Raising ``optuna.TrialPruned`` from
    ``on_epoch_end`` is safe: the trainer's own recorder runs earlier in the callback list, so the
    epoch is already saved when the trial stops, and ``train`` lets the exception through.

    Example:
        >>> callback = OptunaPruning(trial, monitor="val_accuracy")
        >>> train(config, callbacks=[callback])
    """

    def __init__(self, trial: optuna.Trial, monitor: str = "val_accuracy") -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor
        self._warned = False

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._warned = False

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            if not self._warned:
                warnings.warn(
                    f"OptunaPruning: {self.monitor!r} is not in the epoch logs "
                    f"(available: {', '.join(sorted(logs)) or 'none'}); pass validation data or "
                    "monitor=... — this trial cannot be pruned",
                    stacklevel=2,
                )
                self._warned = True
            return
        value = float(value)
        step = epoch + 1
        self.trial.report(value, step=step)
        if step >= (self.params or {}).get("epochs", math.inf):
            return  # the run is complete: pruning now would only lose its test figure
        if not math.isfinite(value) or self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {step}: {self.monitor}={value:.4f}")
