"""What a trained model is worth: predictions (with test-time augmentation), the test figure and
the run summary.

Kept apart from ``train.py`` so the fit loop does one job and everything that reads a finished
model (the label-issue search, ``diagnose RUN_DIR``, the summary) comes here without pulling in
the trainer.
"""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from cnn_doctor.config import Config

if TYPE_CHECKING:  # pragma: no cover
    import keras

    from cnn_doctor.train import InputPipeline


def tta_views(x: np.ndarray) -> list[np.ndarray]:
    """The test-time views airbench uses: the image and its mirror, each also shifted one pixel
    up-left and down-right (reflect padding). Cheap (inference only) and worth ~1 point on CIFAR."""
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    shifted = [padded[:, :-2, :-2], padded[:, 2:, 2:]]
    views = [x, *shifted]
    return views + [v[:, :, ::-1, :] for v in views]


def outputs_logits(config: Config) -> bool:
    """Whether the model's raw output needs a softmax to become probabilities."""
    return config.model.final_activation == "none"


def predict_proba(
    model: keras.Model,
    pipeline: InputPipeline,
    x: np.ndarray,
    *,
    from_logits: bool = True,
    tta: bool = False,
    batch_size: int = 1000,
) -> np.ndarray:
    """Class probabilities for raw ``uint8`` images; ``tta`` averages over ``tta_views``."""

    def probs(images: np.ndarray) -> np.ndarray:
        out = model.predict(pipeline(images), batch_size=batch_size, verbose=0)
        out = np.asarray(out, dtype="float64")
        if from_logits:
            out = np.exp(out - out.max(axis=1, keepdims=True))
            out /= out.sum(axis=1, keepdims=True)
        return out

    if not tta:
        return probs(x)
    views = tta_views(x)
    return sum(probs(v) for v in views) / len(views)


def test_accuracy(
    model: keras.Model, pipeline: InputPipeline, config: Config, x: np.ndarray, y: np.ndarray
) -> float | None:
    """Accuracy on the test set as the config asks for it (TTA or not); ``None`` when the config
    skips the test set or there is none."""
    if not config.run.evaluate_test or not len(y):
        return None
    probs = predict_proba(
        model, pipeline, x, from_logits=outputs_logits(config), tta=config.run.tta
    )
    return float((probs.argmax(axis=1) == y).mean())


test_accuracy.__test__ = False  # type: ignore[attr-defined]  (not a pytest test)


def run_summary(
    config: Config,
    history: Sequence[dict[str, Any]],
    test_acc: float | None,
    wall_seconds: float,
    n_train: int,
) -> dict[str, Any]:
    """``summary.json``: the figures a user compares runs by, and what produced them.

    Throughput is measured over every recorded epoch (each carries its own seconds), so a run
    resumed after its last epoch still reports it instead of ``None``.
    """
    import keras

    val = [h["val_accuracy"] for h in history if h.get("val_accuracy") is not None]
    timed = [h["seconds"] for h in history if h.get("seconds")]
    return {
        "test_accuracy": test_acc,
        "best_val_accuracy": max(val) if val else None,
        "final_val_accuracy": val[-1] if val else None,
        "epochs": len(history),
        "wall_seconds": round(wall_seconds, 2),
        "images_per_second": round(n_train * len(timed) / sum(timed), 1) if timed else None,
        "tta": config.run.tta,
        "precision": config.run.precision,
        "backend": keras.backend.backend(),
        "versions": versions(),
    }


def versions() -> dict[str, str]:
    """Versions of what computed the run, for the summary."""
    from importlib import metadata

    import keras

    found = {"python": platform.python_version(), "keras": keras.__version__}
    for package in ("numpy", "torch", "tensorflow", "jax", "cnn-doctor"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[package] = metadata.version(package)
    return found
