"""Is what the network sees on a sane scale? Per-channel statistics after the normalization.

The rule is the Doctor's own (``thresholds.input_scale_problems``: per-channel RMS within an order
of magnitude of 1, channel scales within 10x of each other -- LeCun, Bottou, Orr & Müller,
"Efficient BackProp", 1998, §4.3), applied here to the training images through the trainer's
normalizer instead of to a probe batch, so ``data-check`` and ``diagnose`` cannot disagree.
[0, 1]-scaled images pass; raw 0-255 pixels (RMS ~130) and pixels divided by 255 twice fail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cnn_doctor.data.checks.base import DataCheckInput, IssueManager, check_positive, register
from cnn_doctor.data.checks.features import channel_stats_for
from cnn_doctor.diagnose import thresholds as T
from cnn_doctor.diagnose.findings import Finding, Fix

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
        rms_low: float = T.INPUT_RMS_LOW,
        rms_high: float = T.INPUT_RMS_HIGH,
        channel_std_ratio: float = T.INPUT_CHANNEL_STD_RATIO,
        sample: int = SAMPLE,
        seed: int = 0,
    ) -> None:
        self.rms_low = check_positive("rms_low", rms_low)
        self.rms_high = check_positive("rms_high", rms_high)
        if not self.rms_low < 1 < self.rms_high:
            raise ValueError(f"need rms_low < 1 < rms_high, got {rms_low}, {rms_high}")
        self.channel_std_ratio = check_positive("channel_std_ratio", channel_std_ratio)
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
        problems, off = T.input_scale_problems(
            m["input_mean"],
            m["input_std"],
            rms_low=self.rms_low,
            rms_high=self.rms_high,
            channel_std_ratio=self.channel_std_ratio,
        )
        if not problems:
            return []
        evidence = {
            **m,
            "problems": problems,
            "model_batchnorm": data.batchnorm,
            "thresholds": {
                "rms_low": self.rms_low,
                "rms_high": self.rms_high,
                "channel_std_ratio": self.channel_std_ratio,
                "source": "LeCun et al., Efficient BackProp (1998), section 4.3 "
                "(the Doctor's unnormalized_inputs rule)",
            },
        }
        fix = Fix(
            "data.normalize=standardize",
            "per-channel (x − mean) / std from the training set: zero-mean, unit-variance input",
        )
        channels = ", ".join(
            f"{a:.3g}±{b:.3g}" for a, b in zip(m["input_mean"], m["input_std"], strict=True)
        )
        if "too_large" in problems:
            what = "raw pixel values reach the network"
        elif "too_small" in problems:
            what = "the inputs are scaled far below unit scale"
        else:
            what = "the channels are on very different scales"
        far_off = off >= T.INPUT_SCALE_CRITICAL_FACTOR
        severity = "critical" if far_off and not data.batchnorm else "warning"
        summary = (
            f"Inputs are not normalised: {what} (per-channel mean±std {channels}; RMS expected "
            f"within [{self.rms_low:g}, {self.rms_high:g}])"
            + (" -- BatchNorm softens this." if data.batchnorm else ".")
        )
        return [
            Finding(
                id=self.name,
                area="data",
                severity=severity,
                confidence=0.9 if far_off else 0.8,
                summary=summary,
                evidence=evidence,
                fixes=(fix,),
            )
        ]
