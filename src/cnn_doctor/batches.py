"""What the model is fed: raw uint8 images → normalized float32 in the model's data format, and the
shuffled, augmented training batches, reproducible per ``(seed, epoch)``.

Kept apart from ``train.py`` (which fits) so the trainer, ``fit_arrays``, the Doctor's probes and
``diagnose RUN_DIR`` all feed a model through one pipeline.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from cnn_doctor.config import Config
from cnn_doctor.data.augment import Augmenter
from cnn_doctor.data.prepare import Normalizer


@dataclass(frozen=True)
class InputPipeline:
    """Maps raw ``uint8`` NHWC images to what the model eats: normalized float32, in the
    model's data format. Saved with the run so ``diagnose RUN_DIR`` feeds the model correctly."""

    normalizer: Normalizer
    channels_first: bool = False

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = self.normalizer(x)
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2)) if self.channels_first else out

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (3, 32, 32) if self.channels_first else (32, 32, 3)

    def to_dict(self) -> dict[str, Any]:
        return {"normalizer": self.normalizer.to_dict(), "channels_first": self.channels_first}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputPipeline:
        return cls(Normalizer.from_dict(data["normalizer"]), bool(data["channels_first"]))


def one_hot(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Integer labels as float32 one-hot rows (what the trainer's categorical loss reads)."""
    return np.eye(num_classes, dtype="float32")[y]


class TrainBatches(keras.utils.PyDataset):
    """Shuffled, augmented, normalized training batches, reproducible per ``(seed, epoch)``.

    The last partial batch is dropped (when there is more than one batch): a tiny final batch
    gives BatchNorm noisy statistics and a differently scaled gradient step.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        num_classes: int,
        config: Config,
        pipeline: InputPipeline,
    ):
        super().__init__()
        self.x, self.y = x, y
        self.num_classes = num_classes
        self.batch_size = min(config.optim.batch_size, len(x))
        self.data_cfg = config.data
        self.seed = config.run.seed
        self.pipeline = pipeline
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        rng = np.random.default_rng([self.seed, epoch, 0])
        self.order = rng.permutation(len(self.x))
        self.augmenter = Augmenter(self.data_cfg, seed=int(rng.integers(2**31)))

    def __len__(self) -> int:
        return max(1, len(self.x) // self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        images = self.x[rows].astype("float32")
        if self.data_cfg.augment:
            images = self.augmenter(images)
        return self.pipeline(images), one_hot(self.y[rows], self.num_classes)


def channels_first_for(backend: str) -> bool:
    """Torch convolutions are NCHW-native; Keras's channels_last on torch transposes around
    every conv. Measured in ``benchmarks/model_speed.py``."""
    return backend == "torch" and os.environ.get("CNN_DOCTOR_CHANNELS_LAST", "") != "1"


@contextlib.contextmanager
def image_data_format(data_format: str) -> Iterator[None]:
    """Build layers in ``data_format`` without leaving Keras's global setting changed: layers
    record their format when constructed, so the caller's own models are unaffected."""
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format(data_format)
    try:
        yield
    finally:
        keras.config.set_image_data_format(previous)
