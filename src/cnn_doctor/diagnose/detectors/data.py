"""Detectors for problems in what the network is fed: input scale, NaN pixels, augmentation,
label noise.
"""

from __future__ import annotations

import math

import numpy as np

from cnn_doctor.diagnose import thresholds as T
from cnn_doctor.diagnose.detectors.base import (
    Detector,
    at_least,
    config_value,
    fmt,
    fraction,
    from_pipeline,
    make_fix,
    ordered,
    positive,
    register,
)
from cnn_doctor.diagnose.detectors.hyperparameters import (
    overfit_evidence,
    overfit_summary,
    overfit_thresholds,
)
from cnn_doctor.diagnose.findings import Finding, Fix
from cnn_doctor.diagnose.trace import Trace


@register
class NonfiniteInputs(Detector):
    """The probe images contain NaN or inf: every weight they touch becomes NaN."""

    id = "nonfinite_inputs"
    area = "data"
    description = "NaN/inf values in the input images"
    requires = ("inputs",)

    def check(self, trace: Trace) -> list[Finding]:
        if trace.inputs is None or trace.inputs.finite:
            return []
        share = trace.inputs.nonfinite_fraction
        summary = (
            f"{share:.2%} of the probe's input values are NaN/inf ({trace.inputs.where}, "
            f"{trace.inputs.examples} images)."
        )
        evidence = {
            "where": trace.inputs.where,
            "examples": trace.inputs.examples,
            "nonfinite_fraction": share,
        }
        fixes = [
            Fix(
                "find and drop or impute the NaN/inf images",
                "one non-finite pixel makes the loss, every gradient and then every weight NaN",
            ),
        ]
        return [self.finding("critical", 0.95, summary, evidence, fixes)]


@register
class UnnormalizedInputs(Detector):
    """Inputs far from unit scale, or channels on different scales.

    LeCun et al. (Efficient BackProp, 4.3): zero-mean inputs with similar, ~unit variances train
    fastest. Judged per channel by RMS sqrt(mean^2 + std^2), an order of magnitude either side of
    1 (so [0, 1]-scaled images pass, raw 0-255 fail), not by a fixed [-1, 1] range, which
    misfires on standardised data. Two orders of magnitude off is critical.
    """

    id = "unnormalized_inputs"
    area = "data"
    description = "input pixels far from unit scale"
    requires = ("inputs",)

    def __init__(
        self,
        *,
        rms_low: float = T.INPUT_RMS_LOW,
        rms_high: float = T.INPUT_RMS_HIGH,
        channel_std_ratio: float = T.INPUT_CHANNEL_STD_RATIO,
    ) -> None:
        self.rms_low = positive("rms_low", rms_low)
        self.rms_high = positive("rms_high", rms_high)
        ordered("rms_low", self.rms_low, "rms_high", self.rms_high)
        self.channel_std_ratio = positive("channel_std_ratio", channel_std_ratio)
        ordered("1", 1.0, "channel_std_ratio", self.channel_std_ratio)

    def check(self, trace: Trace) -> list[Finding]:
        inputs = trace.inputs
        if inputs is None or not inputs.finite or not inputs.mean:
            return []
        mean = np.asarray(inputs.mean, dtype=np.float64)
        std = np.asarray(inputs.std, dtype=np.float64)
        rms = np.sqrt(mean**2 + std**2)
        problems = []
        if rms.max() > self.rms_high:
            problems.append("too_large")
        if rms.min() < self.rms_low:
            problems.append("too_small")
        spread = float(std.max() / std.min()) if std.min() > 0 else math.inf
        if len(std) > 1 and spread > self.channel_std_ratio:
            problems.append("channels_differ")
        if not problems:
            return []
        off = max(float(rms.max()) / self.rms_high, self.rms_low / max(float(rms.min()), 1e-30))
        severity = "critical" if off >= 10 else "warning"
        confidence = 0.8 + (0.1 if config_value(trace, "data", "normalize") == "none" else 0.0)
        summary = (
            f"Inputs are not normalised ({inputs.where}): per-channel mean "
            f"{_vec(mean)}, std {_vec(std)} (RMS {fmt(float(rms.min()))}-{fmt(float(rms.max()))}"
            f", expected within [{fmt(self.rms_low)}, {fmt(self.rms_high)}])."
        )
        evidence = {
            "problems": problems,
            "mean": inputs.mean,
            "std": inputs.std,
            "min": inputs.min,
            "max": inputs.max,
            "rms": rms.tolist(),
            "channel_std_ratio": spread,
            "where": inputs.where,
            "thresholds": {
                "rms_low": self.rms_low,
                "rms_high": self.rms_high,
                "channel_std_ratio": self.channel_std_ratio,
                "source": "LeCun et al., Efficient BackProp (1998), section 4.3",
            },
        }
        fixes = [
            make_fix(
                trace,
                "data.normalize=standardize",
                "scale pixels to [0, 1] and standardise each channel with the training-set "
                "mean/std (or add keras.layers.Rescaling(1/255) + Normalization first)",
                "unit-scale inputs keep the first layer's pre-activations and gradients at a "
                "scale the initialiser and learning rate were chosen for",
            )
        ]
        return [self.finding(severity, min(confidence, 0.95), summary, evidence, fixes)]


def _vec(values: np.ndarray) -> str:
    return "[" + ", ".join(fmt(float(v)) for v in values[:4]) + (", …]" if len(values) > 4 else "]")


@register
class MissingAugmentation(Detector):
    """The run overfits (see ``overfitting``) and uses no data augmentation at all."""

    id = "missing_augmentation"
    area = "data"
    description = "overfitting with no data augmentation"
    requires = ("loss", "val_loss", "context.augment")

    def __init__(
        self,
        *,
        generalization_loss: float = T.OVERFIT_GENERALIZATION_LOSS,
        min_epochs: int = T.MIN_EPOCHS_FOR_TREND,
    ) -> None:
        self.generalization_loss = positive("generalization_loss", generalization_loss)
        self.min_epochs = at_least("min_epochs", min_epochs, 2)

    def check(self, trace: Trace) -> list[Finding]:
        augment = trace.context.get("augment")
        if augment is None or len(augment) > 0:
            return []
        ev = overfit_evidence(
            trace, generalization_loss=self.generalization_loss, min_epochs=self.min_epochs
        )
        if ev is None:
            return []
        summary = f"No data augmentation while the run overfits: {overfit_summary(ev)}."
        ev["augment"] = list(augment)
        ev["thresholds"] = overfit_thresholds(self.generalization_loss, self.min_epochs)
        fixes = [
            make_fix(
                trace,
                "data.augment=[crop,flip]",
                "add RandomCrop (pad 4) and RandomFlip('horizontal') in front of the model",
                "random crops and flips are the standard CIFAR-10 augmentation (He et al. 2016) "
                "and cut overfitting more than any other single change",
            )
        ]
        return [self.finding("warning", 0.75, summary, ev, fixes)]


@register
class LabelNoise(Detector):
    """Training labels disagree with what the model has learned more than validation labels do.

    Probe images come from the training set; once the model has learned the clean signal (and
    before it memorises the noise, Arpit et al. 2017) its accuracy on *their* labels trails its
    validation accuracy when those training labels are noisy. Flipping a share eta of labels
    uniformly gives probe_acc = val_acc - eta * (val_acc - (1 - val_acc)/(C - 1)), which we invert
    for an estimate. Needs the gap >= 5 points and >= 3 standard errors; confident-learning
    candidates (Northcutt et al.) are reported as supporting evidence.
    """

    id = "label_noise"
    area = "data"
    description = "training labels disagree with what the model learned"
    requires = ("probe_labels", "val_accuracy")

    def __init__(
        self,
        *,
        min_gap: float = T.LABEL_NOISE_MIN_GAP,
        min_z: float = T.LABEL_NOISE_MIN_Z,
    ) -> None:
        self.min_gap = fraction("min_gap", min_gap)
        self.min_z = positive("min_z", min_z)

    def check(self, trace: Trace) -> list[Finding]:
        probes = [
            p
            for p in trace.trained_probes()
            if p.output is not None and p.output.finite and p.output.accuracy is not None
        ]
        val_acc = trace.series("val_accuracy")
        classes = trace.num_classes()
        if not probes or not classes or classes < 2:
            return []
        probe = probes[-1]
        index = min(probe.epoch, val_acc.size) - 1
        if index < 0 or not math.isfinite(val_acc[index]):
            return []
        a_val, a_probe, n = (
            float(val_acc[index]),
            float(probe.output.accuracy),
            probe.output.examples,
        )
        if a_val < 2.0 / classes or n < 2:
            return []  # too little learned to tell noisy labels from plain errors
        gap = a_val - a_probe
        variance = max(a_probe * (1 - a_probe), 1.0 / n) / n
        n_val = trace.context.get("num_val")
        if n_val:
            variance += max(a_val * (1 - a_val), 1.0 / n_val) / n_val
        z = gap / math.sqrt(variance)
        if gap < self.min_gap or z < self.min_z:
            return []
        denom = a_val - (1 - a_val) / (classes - 1)
        eta = float(np.clip(gap / denom, 0.0, 1.0)) if denom > 0 else math.nan
        cl = probe.output.label_issue_fraction
        summary = (
            f"Training labels look noisy: the model agrees with {a_probe:.0%} of the probe's "
            f"training labels but {a_val:.0%} of validation labels (gap {gap:.0%}, "
            f"z = {z:.1f}); estimated {eta:.0%} of training labels wrong."
        )
        planted = config_value(trace, "data", "label_noise")
        evidence = {
            "probe_accuracy": a_probe,
            "val_accuracy": a_val,
            "gap": gap,
            "z": z,
            "estimated_noise_rate": eta,
            "confident_learning_candidates": cl,
            "probe_examples": n,
            "probe_epoch": probe.epoch,
            "config_label_noise": planted,
            "thresholds": {
                "min_gap": self.min_gap,
                "min_z": self.min_z,
                "source": "Arpit et al. 2017 (learn clean before noise); Northcutt et al. 2021",
            },
        }
        confidence = 0.55 + (0.15 if cl is not None and eta == eta and cl >= eta / 2 else 0.0)
        if planted:
            confidence += 0.2
        fixes = [
            Fix(
                "run `cnn-doctor data-check` and relabel or drop the flagged images",
                "training on wrong labels caps accuracy and teaches the network to memorise",
            ),
        ]
        smoothing = trace.context.get("label_smoothing")
        if smoothing is not None and float(smoothing) < 0.1:
            fixes.append(
                make_fix(
                    trace,
                    "optim.label_smoothing=0.2",
                    "use label smoothing 0.2",
                    "softer targets limit how hard the network fits wrong labels",
                )
            )
        if from_pipeline(trace) and planted:
            fixes.insert(
                0, Fix("data.label_noise=0.0", "this run's config flips labels on purpose")
            )
        return [self.finding("warning", min(confidence, 0.95), summary, evidence, fixes)]
