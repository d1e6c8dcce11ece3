"""Is what the network sees standardized? Per-channel statistics after the config's normalization.

Judged by per-channel mean and standard deviation *after* the transform the trainer applies —
not by absolute bounds: DeepDiagnosis's "inputs outside [-1, 1]" rule misfires on properly
standardized CIFAR (a standardized channel has ~5% of values beyond ±2). LeCun, Bottou, Orr &
Müller ("Efficient BackProp", 1998, §4.3) give the reason to care: inputs with non-zero mean or
very different scales per channel slow gradient descent, and raw 0–255 inputs make the first
layer's effective learning rate ~10⁴× larger than for unit-scale inputs.

Thresholds: standardized means |mean| ≤ 0.1 and 0.8 ≤ std ≤ 1.25 in every channel (a little
tolerance for the statistics being fitted on a different subset than the one measured).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cnn_doctor.data.checks.base import DataCheckInput, IssueManager, check_positive, register
from cnn_doctor.data.checks.features import channel_stats_for
from cnn_doctor.diagnose.findings import Finding, Fix

MAX_ABS_MEAN = 0.1
STD_RANGE = (0.8, 1.25)
RAW_SCALE = 10.0  # a channel std or |mean| above this means 0–255 pixels reach the network
SAMPLE = 2_000  # images measured after normalization: 2M values a channel, ample for 2 decimals


def _normalizer_for(data: DataCheckInput) -> Callable[[np.ndarray], np.ndarray]:
    """The trainer's normalizer if given, else one fitted the way ``prepare_data`` fits it."""
    if data.normalizer is not None:
        return data.normalizer
    from cnn_doctor.data.prepare import Normalizer

    mean, std = channel_stats_for(data)
    return Normalizer(str(data.normalize), tuple(mean), tuple(std))


def channel_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of an NHWC float batch (accumulated in float64)."""
    planes = np.moveaxis(x, -1, 0).reshape(x.shape[-1], -1)
    mean = planes.mean(axis=1, dtype=np.float64)
    var = np.array(
        [np.mean((p - m) ** 2, dtype=np.float64) for p, m in zip(planes, mean, strict=True)]
    )
    return mean, np.sqrt(var)


@register
class UnnormalizedInputs(IssueManager):
    """Network inputs that are not zero-mean, unit-variance per channel."""

    name = "unnormalized_inputs"
    order = 20
    description = "per-channel mean/std of the inputs after the config's normalization"

    def __init__(
        self,
        *,
        max_abs_mean: float = MAX_ABS_MEAN,
        std_range: tuple[float, float] = STD_RANGE,
        sample: int = SAMPLE,
        seed: int = 0,
    ) -> None:
        self.max_abs_mean = check_positive("max_abs_mean", max_abs_mean)
        lo, hi = (float(v) for v in std_range)
        if not 0 < lo < 1 < hi:
            raise ValueError(f"std_range={std_range} must satisfy 0 < low < 1 < high")
        self.std_range = (lo, hi)
        if int(sample) < 1:
            raise ValueError(f"sample={sample} must be >= 1")
        self.sample = int(sample)
        self.seed = int(seed)

    def missing(self, data: DataCheckInput) -> str | None:
        if data.normalizer is None and not data.normalize:
            return "no normalization given (pass the config whose data.normalize is to be checked)"
        return None

    def measure(self, data: DataCheckInput) -> dict[str, Any]:
        """Raw and normalized per-channel statistics (also shown in the report's summary)."""
        raw_mean, raw_std = channel_stats_for(data)
        rng = np.random.default_rng(self.seed)
        n = data.n_train
        rows = np.sort(rng.choice(n, min(n, self.sample), replace=False))
        normalizer = _normalizer_for(data)
        out = np.asarray(normalizer(data.x_train[rows]), dtype=np.float32)
        if out.ndim == 4 and out.shape[-1] != 3 and out.shape[1] == 3:  # channels-first pipeline
            out = out.transpose(0, 2, 3, 1)
        mean, std = channel_moments(out)
        return {
            "mode": getattr(normalizer, "mode", data.normalize),
            "raw_mean": [round(float(v), 3) for v in raw_mean],
            "raw_std": [round(float(v), 3) for v in raw_std],
            "input_mean": [round(float(v), 4) for v in mean],
            "input_std": [round(float(v), 4) for v in std],
            "input_min": round(float(out.min()), 4),
            "input_max": round(float(out.max()), 4),
            "images_measured": len(rows),
        }

    def find_issues(self, data: DataCheckInput) -> list[Finding]:
        m = self.measure(data)
        mean, std = np.array(m["input_mean"]), np.array(m["input_std"])
        lo, hi = self.std_range
        if np.all(np.abs(mean) <= self.max_abs_mean) and np.all((std >= lo) & (std <= hi)):
            return []
        evidence = {
            **m,
            "standardized_if": f"|mean| <= {self.max_abs_mean} and {lo} <= std <= {hi} "
            "in every channel",
            "model_batchnorm": data.batchnorm,
        }
        fix = Fix(
            "data.normalize=standardize",
            "per-channel (x − mean) / std from the training set: zero-mean, unit-variance input",
        )
        channels = ", ".join(f"{a:.3g}±{b:.3g}" for a, b in zip(mean, std, strict=True))
        if np.max(np.abs(mean)) > RAW_SCALE or np.max(std) > RAW_SCALE:
            severity = "warning" if data.batchnorm else "critical"
            summary = (
                f"The network sees raw pixel values (per-channel mean±std {channels}): "
                "unscaled inputs make early layers learn orders of magnitude too fast"
                + (" (BatchNorm softens this)." if data.batchnorm else ".")
            )
            confidence = 0.9
        elif np.all(mean >= -self.max_abs_mean) and np.all(std < lo):
            severity = "info"
            summary = (
                f"Inputs are scaled but not centred (per-channel mean±std {channels}); "
                "zero-mean, unit-variance inputs train faster."
            )
            confidence = 0.6
        else:
            severity = "warning"
            summary = f"Inputs are not standardized (per-channel mean±std {channels})."
            confidence = 0.7
        return [
            Finding(
                id=self.name,
                area="data",
                severity=severity,
                confidence=confidence,
                summary=summary,
                evidence=evidence,
                fixes=(fix,),
            )
        ]
