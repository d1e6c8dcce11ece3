"""Keras objects built from ``optim.*``: optimizer, learning-rate schedule and loss.

Imports keras, so only the training side loads it (``schedules.py`` stays pure for tests/plots).
"""

from __future__ import annotations

import keras
import numpy as np

from cnn_doctor.config import Config
from cnn_doctor.schedules import lr_table


@keras.saving.register_keras_serializable(package="cnn_doctor")
class TabulatedSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Looks the LR up in a per-step table built from ``schedules.lr_at_epoch``.

    One definition of every curve (the pure function) serves plots, tests and training alike.
    Past the table's end the last value is held, so a resumed or extended run never indexes out.
    """

    def __init__(self, table: list[float]):
        self.table = [float(v) for v in table]
        self._values = keras.ops.convert_to_tensor(np.asarray(self.table, "float32"))

    def __call__(self, step):
        index = keras.ops.minimum(keras.ops.cast(step, "int32"), len(self.table) - 1)
        return keras.ops.take(self._values, index)

    def set_table(self, table: list[float]) -> None:
        """Replace the per-step LRs mid-run (the time budget re-plans the remaining epochs when
        the machine slows down, so the curve still reaches its end value)."""
        self.table = [float(v) for v in table]
        self._values = keras.ops.convert_to_tensor(np.asarray(self.table, "float32"))

    def get_config(self) -> dict:
        return {"table": self.table}


def build_optimizer(config: Config, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The optimizer named by ``optim.name`` following the configured schedule.

    AdamW's *decoupled* decay replaces the model's L2 term (see ``uses_decoupled_decay``), so
    ``model.weight_decay`` is applied exactly once whichever optimizer is chosen.
    """
    o = config.optim
    lr = TabulatedSchedule(lr_table(o, steps_per_epoch).tolist())
    if o.name == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=o.momentum, nesterov=o.nesterov)
    if o.name == "adam":
        return keras.optimizers.Adam(learning_rate=lr)
    if o.name == "adamw":
        return keras.optimizers.AdamW(learning_rate=lr, weight_decay=config.model.weight_decay)
    if o.name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr, momentum=o.momentum)
    raise ValueError(f"unknown optimizer {o.name!r}")  # config validation prevents this


def uses_decoupled_decay(config: Config) -> bool:
    return config.optim.name == "adamw"


def build_loss(config: Config) -> keras.losses.Loss:
    """Categorical cross-entropy on one-hot targets (label smoothing needs one-hot)."""
    return keras.losses.CategoricalCrossentropy(
        from_logits=config.optim.from_logits, label_smoothing=config.optim.label_smoothing
    )
