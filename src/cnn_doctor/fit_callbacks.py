"""The callbacks our trainer attaches to ``fit``: seed and time each epoch, record each finished
epoch (metrics, checkpoint, state), restore the random state on resume, show progress.

Separate from ``train.py`` so the fit loop reads as data → model → fit, and each callback's one
job is visible on its own.
"""

from __future__ import annotations

import time
from typing import Any

import keras

from cnn_doctor.batches import TrainBatches
from cnn_doctor.config import Config
from cnn_doctor.runs import RunDir, restore_rng
from cnn_doctor.schedules import lr_at_epoch


class EpochClock(keras.callbacks.Callback):
    """Seeds the batch stream for each epoch and times it."""

    def __init__(self, batches: TrainBatches):
        super().__init__()
        self.batches = batches
        self.started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.set_epoch(epoch)
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


class RestoreRandomState(keras.callbacks.Callback):
    """Puts back the random state saved with the checkpoint as the first resumed epoch begins.

    Not earlier: ``fit`` itself draws from the global generator when it starts (the torch
    backend's data loader takes a seed), which the uninterrupted run did only before epoch 1.
    Restoring here makes the resumed epoch draw exactly what the uninterrupted one drew.
    """

    def __init__(self, rng: dict[str, Any]):
        super().__init__()
        self.rng: dict[str, Any] | None = rng

    def on_epoch_begin(self, epoch, logs=None):
        if self.rng is not None:
            restore_rng(self.rng, self.model)
            self.rng = None


class RunRecorder(keras.callbacks.Callback):
    """Writes each finished epoch to ``metrics.jsonl`` (fsynced), then an atomic checkpoint,
    then ``state.json`` with the random state — in that order, so the state never claims an
    epoch that is not saved. Runs before the caller's callbacks, so an epoch is saved even when
    one of them raises (a sweep's pruning signal)."""

    def __init__(self, run: RunDir, config: Config, clock: EpochClock):
        super().__init__()
        self.run = run
        self.config = config
        self.clock = clock
        self.history: list[dict[str, float]] = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        record = {
            "epoch": epoch + 1,
            "lr": lr_at_epoch(self.config.optim, epoch + 0.5),
            "loss": as_float(logs.get("loss")),
            "accuracy": as_float(logs.get("accuracy")),
            "val_loss": as_float(logs.get("val_loss")),
            "val_accuracy": as_float(logs.get("val_accuracy")),
            "seconds": round(self.clock.elapsed(), 3),
        }
        self.history.append(record)
        self.run.append_metrics(record)
        self.run.save_checkpoint(self.model, epoch + 1)


class ProgressBar(keras.callbacks.Callback):
    """A rich progress bar over all training steps, with the last epoch's metrics."""

    def __init__(self, progress, total_epochs: int, steps_per_epoch: int, start_epoch: int):
        super().__init__()
        self.progress = progress
        self.steps_per_epoch = steps_per_epoch
        self.task = progress.add_task(
            "training",
            total=total_epochs * steps_per_epoch,
            completed=start_epoch * steps_per_epoch,
            status="",
        )

    def on_train_batch_end(self, batch, logs=None):
        self.progress.advance(self.task)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        status = f"epoch {epoch + 1}: loss {as_float(logs.get('loss')):.3f}"
        if logs.get("val_accuracy") is not None:
            status += f" val_acc {as_float(logs.get('val_accuracy')):.3f}"
        self.progress.update(self.task, status=status)


def as_float(value: Any) -> float | None:
    return None if value is None else float(value)
