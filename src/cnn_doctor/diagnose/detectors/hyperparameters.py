"""Detectors for problems in how the network is trained: learning rate, divergence, batch size,
generalisation dynamics, prediction collapse.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from cnn_doctor.diagnose import signals as S
from cnn_doctor.diagnose import thresholds as T
from cnn_doctor.diagnose.detectors.base import (
    Detector,
    at_least,
    config_value,
    current_lr,
    fmt,
    fraction,
    make_fix,
    ordered,
    persistent,
    positive,
    register,
)
from cnn_doctor.diagnose.findings import Finding, Fix
from cnn_doctor.diagnose.trace import Probe, Trace, WeightStat, as_float


# --- update / weight ratio -----------------------------------------------------------------------
def _median_step_ratio(probe: Probe) -> float | None:
    """Median one-step ratio over kernels; None when no gradient reached the kernels (a dead or
    vanished network moves 0 whatever the learning rate, so its ratio says nothing about it).

    Kernels far below any standard initialisation's norm (zero-initialised, or crushed by a
    penalty) are left out: dividing by a near-zero norm measures the weight's smallness, not
    the step's size."""
    grads = [w.grad_norm for w in probe.kernels() if w.grad_norm is not None]
    if grads and float(np.median(grads)) < T.VANISHING_ABS_NORM:
        return None
    values = [
        w.step_ratio
        for w in probe.kernels()
        if w.step_ratio is not None and w.weight_norm >= T.RATIO_MIN_INIT_SCALE * init_norm(w)
    ]
    values = [v for v in values if math.isfinite(v)]
    return float(np.median(values)) if values else None


def init_norm(weight: WeightStat) -> float:
    """The norm a Glorot-uniform initialisation gives a kernel of this shape (variance
    2 / (fan_in + fan_out); He and LeCun norms are within a factor of ~2 of it)."""
    shape = [int(d) for d in weight.shape]
    if len(shape) < 2:
        return 0.0
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    fan_in, fan_out = receptive * shape[-2], receptive * shape[-1]
    return math.sqrt(2.0 * float(np.prod(shape)) / (fan_in + fan_out))


def _displacement_ratio(trace: Trace, probe: Probe, index: int, exponent: float) -> float | None:
    """Per-step ratio bound from how far kernels moved since the previous probe.

    ``moved / steps`` (exponent 1) is a lower bound on the per-step ratio (exact if every step
    points the same way); ``moved / sqrt(steps)`` (exponent 0.5) is the value for steps in random
    directions, an upper bound in practice. Each detector takes the bound that makes it fire less.
    """
    if index == 0:
        return None
    steps = probe.step - trace.probes[index - 1].step
    values = [w.moved for w in probe.kernels() if w.moved is not None and math.isfinite(w.moved)]
    if steps <= 0 or not values:
        return None
    return float(np.median(values)) / steps**exponent


def step_ratios(trace: Trace, *, bound: str) -> tuple[list[float], str]:
    """Median kernel update/weight ratio per finite probe, and how it was measured.

    Uses the one-step ratio measured on the probe batch when the trace has it; otherwise the
    displacement bound named by ``bound`` ("lower" or "upper").
    """
    if any(w.step_ratio is not None for p in trace.probes for w in p.weights):
        measured = [_median_step_ratio(p) for p in trace.probes if p.finite]
        return [m for m in measured if m is not None], "one optimizer step on the probe batch"
    exponent = 1.0 if bound == "lower" else 0.5
    derived = [
        _displacement_ratio(trace, p, i, exponent) for i, p in enumerate(trace.probes) if p.finite
    ]
    how = "weight displacement between probes / " + ("steps" if exponent == 1 else "sqrt(steps)")
    return [d for d in derived if d is not None], how


def _lr_fix(trace: Trace, factor: float, why: str) -> Fix:
    lr = current_lr(trace)
    if lr is None:
        verb = "lower" if factor < 1 else "raise"
        return Fix(f"{verb} the learning rate {1 / factor if factor < 1 else factor:g}x", why)
    new = fmt(lr * factor)
    return make_fix(trace, f"optim.lr={new}", f"set the learning rate to {new}", why)


def huge_from_the_start(trace: Trace, huge_loss: float = T.LOSS_HUGE) -> bool:
    """The loss was already >= ``huge_loss`` before the first step and training only lowered it.

    Divergence is training *raising* the loss without bound (steps too large for the surface:
    Goodfellow, Bengio & Courville 2016, section 4.3). A finite loss that started huge (the
    untrained model's loss on the probe) and falls from epoch to epoch is a scale problem at
    initialisation (``bad_initial_loss`` reads it; Karpathy 2019, "verify loss @ init"), not a
    run that blew up."""
    initial = trace.initial_loss
    loss = trace.series("loss")
    if initial is None or not math.isfinite(initial) or initial < huge_loss or loss.size < 2:
        return False
    if not np.all(np.isfinite(loss)):
        return False
    return bool(loss[0] <= initial and np.all(np.diff(loss) <= 0))


@register
class Diverged(Detector):
    """Training produced NaN/inf (or a loss >= 1e3): the numbers, not the model, have failed."""

    id = "diverged"
    area = "hyperparameters"
    description = "NaN/inf loss, gradients or weights"
    requires_any = ("loss", "probes")
    # divergence is the visible end of these; when one is found it is the thing to fix
    consequence_of = (
        "exploding_gradients",
        "nonfinite_inputs",
        "unnormalized_inputs",
        "loss_label_mismatch",
    )

    def __init__(self, *, huge_loss: float = T.LOSS_HUGE) -> None:
        self.huge_loss = positive("huge_loss", huge_loss)

    def check(self, trace: Trace) -> list[Finding]:
        bad_epochs, huge_epochs = [], []
        for index, row in enumerate(trace.history):
            for key in ("loss", "val_loss"):
                if key in row and row[key] is not None:
                    value = as_float(row[key])
                    if not math.isfinite(value):
                        bad_epochs.append(index + 1)
                    elif abs(value) >= self.huge_loss:
                        huge_epochs.append(index + 1)
        bad_probes = [p.epoch for p in trace.probes if not p.finite]
        bad_batches = [i for i, v in enumerate(trace.batch_losses) if not math.isfinite(float(v))]
        if huge_epochs and huge_from_the_start(trace, self.huge_loss):
            huge_epochs = []  # huge before the first step, falling since: not a divergence
        if not (bad_epochs or huge_epochs or bad_probes or bad_batches):
            return []
        inputs_bad = trace.inputs is not None and not trace.inputs.finite
        first = min(bad_epochs + huge_epochs + [e for e in bad_probes if e > 0] or [0])
        what = "NaN/inf" if (bad_epochs or bad_probes or bad_batches) else "a loss >= 1e3"
        summary = f"Training diverged: {what} from epoch {first}" + (
            "; the probe inputs themselves contain NaN/inf." if inputs_bad else "."
        )
        evidence = {
            "nonfinite_epochs": sorted(set(bad_epochs)),
            "huge_loss_epochs": sorted(set(huge_epochs)),
            "nonfinite_probe_epochs": bad_probes,
            "first_nonfinite_batch": bad_batches[0] if bad_batches else None,
            "inputs_finite": None if trace.inputs is None else trace.inputs.finite,
            "thresholds": {"huge_loss": self.huge_loss, "source": "AUTOTRAINER (ICSE'21)"},
        }
        fixes = []
        if inputs_bad:
            fixes.append(
                Fix(
                    "remove or impute NaN/inf values in the inputs",
                    "one NaN pixel poisons every weight it reaches within a step",
                )
            )
        fixes += [
            _lr_fix(
                trace,
                0.1,
                "the usual cause is a step too large for the loss surface "
                "(AUTOTRAINER lowers the LR 10x)",
            ),
            Fix(
                "clip gradients: optimizer clipnorm=1.0",
                "caps the step when a batch produces an outsized gradient",
            ),
        ]
        return [self.finding("critical", 0.95, summary, evidence, fixes)]


@register
class LrTooHigh(Detector):
    """Steps too large: the loss spikes above its starting value, climbs back up, or accuracy
    oscillates, or one step moves weights by more than 10% of their norm.

    Sources: update/weight ratio > 1e-1 (TheDeepChecker); accuracy drops >= 0.03 in >= 20% of
    epochs (AUTOTRAINER's oscillation rule); a loss above the untrained model's by the same 50%
    used for the initial-loss check; a final loss 5% above the best (Prechelt's GL_5 margin).
    """

    id = "lr_too_high"
    area = "hyperparameters"
    description = "learning rate too high: loss spikes, rises or oscillates"
    requires_any = ("loss", "update_ratios", "weight_updates")
    # a loss the output layer cannot minimise sensibly spikes and oscillates at any LR
    consequence_of = (
        "unnormalized_inputs",
        "nonfinite_inputs",
        "missing_softmax",
        "double_softmax",
        "loss_label_mismatch",
        "output_activation",
        "unshuffled_data",
    )

    def __init__(
        self,
        *,
        ratio_high: float = T.UPDATE_RATIO_HIGH,
        spike: float = T.INITIAL_LOSS_REL_DEVIATION,
        rise: float = T.OVERFIT_GENERALIZATION_LOSS,
        acc_drop: float = T.OSCILLATION_ACC_DROP,
        oscillation_share: float = T.OSCILLATION_FRACTION,
        persistence: float = T.PERSISTENT_PROBE_FRACTION,
        min_epochs: int = T.MIN_EPOCHS_FOR_TREND,
    ) -> None:
        self.ratio_high = positive("ratio_high", ratio_high)
        self.spike = positive("spike", spike)
        self.rise = positive("rise", rise)
        self.acc_drop = fraction("acc_drop", acc_drop)
        self.oscillation_share = fraction("oscillation_share", oscillation_share)
        self.persistence = fraction("persistence", persistence)
        self.min_epochs = at_least("min_epochs", min_epochs, 2)

    def check(self, trace: Trace) -> list[Finding]:
        symptoms: dict[str, Any] = {}
        loss = S.finite(trace.series("loss"))
        classes = trace.num_classes()
        start = trace.start_loss
        if start is None or not math.isfinite(start):
            start = math.log(classes) if classes else None
        if start and loss.size and float(loss.max()) > start * (1 + self.spike):
            symptoms["loss_spike"] = {"max_train_loss": float(loss.max()), "initial": start}
        if loss.size >= self.min_epochs:
            best = int(np.argmin(loss))
            if best < loss.size - 1 and loss[-1] > loss[best] * (1 + self.rise):
                symptoms["loss_rising"] = {"best": float(loss[best]), "last": float(loss[-1])}
        acc = trace.series("accuracy")
        if acc.size >= self.min_epochs:
            share = S.drop_fraction(acc, self.acc_drop)
            drops = int(round(share * (acc.size - 1)))
            # two drops at least: with few epochs a single noisy drop would exceed any share
            if share >= self.oscillation_share and drops >= 2:
                symptoms["accuracy_oscillates"] = {
                    "share_of_epochs_dropping": share,
                    "drops": drops,
                }
        ratios, how = step_ratios(trace, bound="lower")
        flags = [r > self.ratio_high for r in ratios]
        if persistent(flags, self.persistence):
            symptoms["update_ratio_high"] = {"median_kernel_ratio": ratios, "measured_by": how}
        if not symptoms:
            return []
        names = ", ".join(k.replace("_", " ") for k in symptoms)
        lr = current_lr(trace)
        summary = (
            f"Learning rate{' ' + fmt(lr) if lr else ''} looks too high: {names}"
            + (f" (median update/weight ratio {fmt(ratios[-1])})" if ratios else "")
            + "."
        )
        evidence = {
            "symptoms": symptoms,
            "train_loss": trace.series("loss").tolist(),
            "lr": lr,
            "thresholds": {
                "update_ratio_high": self.ratio_high,
                "loss_spike": self.spike,
                "loss_rise": self.rise,
                "accuracy_drop": self.acc_drop,
                "oscillation_share": self.oscillation_share,
                "source": "TheDeepChecker [1e-4, 1e-1] update ratio; AUTOTRAINER oscillation",
            },
        }
        fixes = [
            _lr_fix(
                trace, 0.1, "a 10x smaller step is AUTOTRAINER's first repair for unstable training"
            ),
            make_fix(
                trace,
                "optim.warmup_epochs=1",
                "warm the learning rate up over the first epoch",
                "early steps on a random network are the most unstable",
            ),
        ]
        severity = "critical" if len(symptoms) >= 2 else "warning"
        if set(symptoms) == {"loss_spike"} and _transient_spike(loss, start):
            severity = "info"  # severity follows impact: the run recovered and keeps learning
        return [self.finding(severity, 0.45 + 0.15 * len(symptoms), summary, evidence, fixes)]


def _transient_spike(loss: np.ndarray, start: float | None) -> bool:
    """The loss spike was the first epoch's alone (its mean carries the first, largest steps --
    the transient learning-rate warm-up exists for, Goyal et al. 2017), and every later epoch
    is below the untrained model's loss and lower than the one before."""
    if start is None or loss.size < T.MIN_EPOCHS_FOR_TREND or int(np.argmax(loss)) != 0:
        return False
    later = loss[1:]
    return bool(np.all(later < start) and np.all(np.diff(later) < 0))


@register
class LrTooLow(Detector):
    """Steps too small: one optimizer step changes weights by < 1e-4 of their norm
    (TheDeepChecker's lower bound) while the loss creeps down.

    Judged at probes where the learning rate is near its peak, so a schedule's intended decay at
    the end does not count as "too low".
    """

    id = "lr_too_low"
    area = "hyperparameters"
    description = "learning rate too low: tiny updates, slow loss decrease"
    requires = ("loss",)
    requires_any = ("update_ratios", "weight_updates")
    consequence_of = (
        "vanishing_gradients",
        "saturated_activations",
        "dead_relu",
        "double_softmax",
        "frozen_layers",
        "over_regularization",
        "output_activation",
        "loss_label_mismatch",
        # a class-sorted stretch of batches is fitted by the output bias alone: its loss, and
        # with it every gradient, shrinks until the next class arrives (tiny updates, no learning)
        "unshuffled_data",
    )

    def __init__(
        self,
        *,
        ratio_low: float = T.UPDATE_RATIO_LOW,
        window: int = T.PLATEAU_WINDOW,
        min_decrease: float = T.PLATEAU_MIN_DECREASE,
        max_progress: float = T.UNDERFIT_MAX_PROGRESS,
        persistence: float = T.PERSISTENT_PROBE_FRACTION,
        peak_share: float = T.LR_NEAR_PEAK_SHARE,
    ) -> None:
        self.ratio_low = positive("ratio_low", ratio_low)
        self.window = at_least("window", window, 2)
        self.min_decrease = fraction("min_decrease", min_decrease)
        self.max_progress = fraction("max_progress", max_progress)
        self.persistence = fraction("persistence", persistence)
        self.peak_share = fraction("peak_share", peak_share)
        ordered("ratio_low", self.ratio_low, "1", 1.0)

    def _peak_trace(self, trace: Trace) -> Trace:
        lrs = [p.lr for p in trace.probes if p.lr is not None and math.isfinite(p.lr)]
        if not lrs:
            return trace
        cutoff = self.peak_share * max(lrs)
        keep = [p.lr is None or p.lr >= cutoff for p in trace.probes]
        if all(keep):
            return trace
        # keep probe order (displacement bounds need the previous probe's step count)
        peak = Trace(context=trace.context, history=trace.history)
        peak.probes = [p for p, k in zip(trace.probes, keep, strict=True) if k]
        return peak

    def check(self, trace: Trace) -> list[Finding]:
        loss = trace.series("loss")
        if loss.size < 2 or not np.all(np.isfinite(loss)):
            return []
        ratios, how = step_ratios(self._peak_trace(trace), bound="upper")
        if not ratios or not persistent([r < self.ratio_low for r in ratios], self.persistence):
            return []
        window = min(self.window, loss.size)
        decrease = S.relative_decrease(loss, window)
        classes = trace.num_classes()
        start = trace.start_loss or (math.log(classes) if classes else float(loss[0]))
        if float(loss.max()) > start * (1 + T.INITIAL_LOSS_REL_DEVIATION):
            return []  # the loss blew up at some point: whatever is small now, it is not the LR
        smoothing = float(trace.context.get("label_smoothing") or 0.0)
        progress = S.loss_progress(
            start, float(loss.min()), S.loss_floor(classes, smoothing) if classes else 0.0
        )
        slow = decrease < self.min_decrease or progress < self.max_progress
        if not slow:
            return []
        lr = current_lr(trace)
        summary = (
            f"Learning rate{' ' + fmt(lr) if lr else ''} looks too low: one step changes the "
            f"weights by {fmt(float(np.median(ratios)))} of their norm (< {fmt(self.ratio_low)}) "
            f"and the loss fell only {max(decrease, 0):.1%} over the last {window} epochs."
        )
        evidence = {
            "median_kernel_update_ratio": ratios,
            "measured_by": how,
            "window_decrease": decrease,
            "progress": progress,
            "lr": lr,
            "thresholds": {
                "ratio_low": self.ratio_low,
                "min_decrease": self.min_decrease,
                "max_progress": self.max_progress,
                "source": "TheDeepChecker update/weight ratio band [1e-4, 1e-1]",
            },
        }
        factor = min(
            100.0, max(10.0, 10 ** round(math.log10(1e-3 / max(np.median(ratios), 1e-12))))
        )
        fixes = [
            _lr_fix(
                trace,
                factor,
                "brings the update/weight ratio towards ~1e-3, the middle of the healthy band",
            ),
            Fix(
                "run `cnn-doctor lr-find`",
                "an LR range test picks the rate from the loss surface instead of guessing",
            ),
        ]
        return [self.finding("warning", 0.75, summary, evidence, fixes)]


def overfit_evidence(
    trace: Trace,
    *,
    generalization_loss: float,
    min_epochs: int,
    min_train_gain: float = T.OVERFIT_MIN_TRAIN_GAIN,
    max_transfer: float = T.OVERFIT_MAX_TRANSFER,
    min_acc_gap: float = T.OVERFIT_MIN_ACC_GAP,
) -> dict[str, Any] | None:
    """Evidence that the run overfits, or None.

    Three views of one symptom, judged from epoch ``min_epochs`` on (UMLAUT starts at epoch 3):

    - ``validation_loss_rising`` (Prechelt, UMLAUT): validation loss above its best by more than
      Prechelt's GL threshold, training loss still lower than at that best epoch, the train/val gap
      wider than at the best epoch, and both the final training loss and the best validation loss
      below the untrained model's (a model that fits nothing cannot overfit).
    - ``validation_accuracy_stalled`` (Chollet): over the last ``min_epochs`` epochs training
      accuracy climbs by ``min_train_gain`` or more while validation accuracy gains at most
      ``max_transfer`` of that, and training accuracy leads by ``min_acc_gap`` or more. It catches
      the memorising run whose validation loss has not turned up yet.
    - ``probe_generalization_gap`` (Goodfellow et al. 5.2): the probe's training images are
      classified far better than validation images, both in inference mode (see
      ``_probe_generalization_gap``); it sees the gap while both curves still climb.
    """
    val = trace.series("val_loss")
    train = trace.series("loss")
    if val.size < min_epochs or train.size != val.size:
        return None
    if not (np.all(np.isfinite(val)) and np.all(np.isfinite(train))):
        return None
    gl, best = S.generalization_loss(val)
    base = {
        "generalization_loss": gl,
        "best_val_epoch": best + 1,
        "val_loss": val.tolist(),
        "train_loss": train.tolist(),
    }
    rising = _validation_loss_rising(trace, val, train, gl, best, generalization_loss)
    if rising is not None:
        return {**base, **rising}
    stalled = _validation_accuracy_stalled(
        trace, min_epochs, min_train_gain, max_transfer, min_acc_gap
    )
    if stalled is not None:
        return {**base, **stalled}
    gap = _probe_generalization_gap(trace, min_epochs, min_acc_gap)
    return {**base, **gap} if gap is not None else None


def _validation_loss_rising(
    trace: Trace, val: np.ndarray, train: np.ndarray, gl: float, best: int, threshold: float
) -> dict[str, Any] | None:
    if not gl > threshold or best >= val.size - 1:
        return None
    if not train[-1] < train[best]:
        return None
    classes = trace.num_classes()
    start = trace.start_loss
    if start is None or not math.isfinite(start):
        start = math.log(classes) if classes else None
    if start is not None and not (train[-1] < start and val[best] < start):
        return None  # no better than an untrained model: chaos, not overfitting
    acc, val_acc = trace.series("accuracy"), trace.series("val_accuracy")
    if (
        acc.size == val.size
        and val_acc.size == val.size
        and np.all(np.isfinite(acc))
        and np.all(np.isfinite(val_acc))
    ):
        gap_best, gap_last = float(acc[best] - val_acc[best]), float(acc[-1] - val_acc[-1])
        gap_kind = "accuracy"
    else:
        gap_best, gap_last = float(val[best] - train[best]), float(val[-1] - train[-1])
        gap_kind = "loss"
    if not gap_last > gap_best:
        return None
    return {
        "rule": "validation_loss_rising",
        "gap_kind": gap_kind,
        "gap_at_best": gap_best,
        "gap_at_end": gap_last,
    }


def _validation_accuracy_stalled(
    trace: Trace, window: int, min_train_gain: float, max_transfer: float, min_acc_gap: float
) -> dict[str, Any] | None:
    acc, val_acc = trace.series("accuracy"), trace.series("val_accuracy")
    if acc.size < window or val_acc.size != acc.size:
        return None
    acc, val_acc = acc[-window:], val_acc[-window:]
    if not (np.all(np.isfinite(acc)) and np.all(np.isfinite(val_acc))):
        return None
    train_gain, val_gain = float(acc[-1] - acc[0]), float(val_acc[-1] - val_acc[0])
    gap = float(acc[-1] - val_acc[-1])
    if train_gain < min_train_gain or val_gain > max_transfer * train_gain or gap < min_acc_gap:
        return None
    return {
        "rule": "validation_accuracy_stalled",
        "gap_kind": "accuracy",
        "gap_at_best": float(acc[0] - val_acc[0]),
        "gap_at_end": gap,
        "window_epochs": window,
        "train_accuracy_gain": train_gain,
        "val_accuracy_gain": val_gain,
        "transfer": val_gain / train_gain,
    }


def _probe_generalization_gap(
    trace: Trace, min_epochs: int, min_acc_gap: float
) -> dict[str, Any] | None:
    """The model is right far more often on training images than on validation images, both
    scored the same way (inference mode) -- Goodfellow et al. (2016) sec. 5.2 define overfitting
    as a train/test gap that is too large.

    The logged training accuracy cannot show this fairly (dropout and augmentation are on while it
    is measured, and it averages over the epoch), so the probe's accuracy on the training images
    it holds stands in for it; it must beat validation accuracy by ``min_acc_gap`` and by
    ``CHANCE_Z`` standard errors at the last two probes from epoch ``min_epochs`` on.
    """
    val_acc = trace.series("val_accuracy")
    classes = trace.num_classes()
    probes = [
        p
        for p in trace.trained_probes()
        if p.epoch >= min_epochs
        and p.epoch <= val_acc.size
        and p.output is not None
        and p.output.accuracy is not None
        and math.isfinite(val_acc[p.epoch - 1])
    ][-2:]
    if len(probes) < 2 or not classes:
        return None
    n_val = trace.context.get("num_val")
    gaps, zs = [], []
    for p in probes:
        fit, val = float(p.output.accuracy), float(val_acc[p.epoch - 1])
        se = math.hypot(T.binomial_se(fit, p.output.examples), T.binomial_se(val, n_val))
        gaps.append(fit - val)
        zs.append((fit - val) / se if se > 0 else math.inf)
    if min(gaps) < min_acc_gap or min(zs) < T.CHANCE_Z:
        return None
    if not T.above_chance(float(val_acc[probes[-1].epoch - 1]), classes, n_val):
        return None  # nothing generalises yet: that is the label_noise / unshuffled question
    last = probes[-1]
    return {
        "rule": "probe_generalization_gap",
        "gap_kind": "accuracy",
        "gap_at_best": gaps[0],
        "gap_at_end": gaps[-1],
        "probe_accuracy": float(last.output.accuracy),
        "val_accuracy": float(val_acc[last.epoch - 1]),
        "z": zs[-1],
        "probe_epochs": [p.epoch for p in probes],
    }


def overfit_severity(ev: Mapping[str, Any]) -> str:
    """A wide gap while validation still improves is a warning sign, not yet overfitting in
    Chollet's sense (validation stops improving): ``info``; the two curve rules are ``warning``.
    With 2000 training images even a healthy recipe with augmentation fits its training images
    ~15 points better than validation images after 6 epochs (measured: benchmarks/faults,
    default_adam and vgg), so the gap alone cannot be an alarm."""
    return "info" if ev["rule"] == "probe_generalization_gap" else "warning"


def overfit_thresholds(generalization_loss: float, min_epochs: int) -> dict[str, Any]:
    """The numbers both overfitting rules compared against, with their sources."""
    return {
        "generalization_loss": generalization_loss,
        "min_epochs": min_epochs,
        "min_train_gain": T.OVERFIT_MIN_TRAIN_GAIN,
        "max_transfer": T.OVERFIT_MAX_TRANSFER,
        "min_acc_gap": T.OVERFIT_MIN_ACC_GAP,
        "chance_z": T.CHANCE_Z,
        "source": "Prechelt 1998 GL_5; UMLAUT (CHI'21); Chollet, Deep Learning with Python "
        "ch. 5; Goodfellow et al. 2016 sec. 5.2 (train/test gap)",
    }


def overfit_summary(ev: Mapping[str, Any]) -> str:
    """What the overfitting evidence shows, in one clause (shared by two detectors)."""
    if ev["rule"] == "probe_generalization_gap":
        return (
            f"on the probe's training images the model is right {ev['probe_accuracy']:.0%} of "
            f"the time, on validation images {ev['val_accuracy']:.0%} (a "
            f"{ev['gap_at_end']:.0%} gap, z = {ev['z']:.1f}, at epochs "
            f"{' and '.join(str(e) for e in ev['probe_epochs'])}); validation accuracy "
            "still climbs, so this is the gap opening rather than overfitting yet"
        )
    if ev["rule"] == "validation_accuracy_stalled":
        return (
            f"over the last {ev['window_epochs']} epochs training accuracy rose "
            f"{ev['train_accuracy_gain']:.0%} but validation accuracy only "
            f"{ev['val_accuracy_gain']:+.0%}, leaving a {ev['gap_at_end']:.0%} train/val gap"
        )
    return (
        f"validation loss is {ev['generalization_loss']:.0%} above its best "
        f"(epoch {ev['best_val_epoch']}) while training loss kept falling; the train/val "
        f"{ev['gap_kind']} gap grew from {ev['gap_at_best']:.3g} to {ev['gap_at_end']:.3g}"
    )


@register
class Overfitting(Detector):
    """Validation stops improving while training keeps improving, or the model is right far more
    often on training than on validation images (see ``overfit_evidence``)."""

    id = "overfitting"
    area = "hyperparameters"
    description = (
        "validation loss rises or validation accuracy stalls while training improves, or "
        "training images are fit far better than validation images"
    )
    requires = ("loss", "val_loss")
    consequence_of = (
        "missing_augmentation",
        "label_noise",
        "diverged",
        "lr_too_high",
        "unshuffled_data",
        "unnormalized_inputs",  # validation prepared differently: its curves look like this
    )

    def __init__(
        self,
        *,
        generalization_loss: float = T.OVERFIT_GENERALIZATION_LOSS,
        min_epochs: int = T.MIN_EPOCHS_FOR_TREND,
    ) -> None:
        self.generalization_loss = positive("generalization_loss", generalization_loss)
        self.min_epochs = at_least("min_epochs", min_epochs, 2)

    def check(self, trace: Trace) -> list[Finding]:
        ev = overfit_evidence(
            trace, generalization_loss=self.generalization_loss, min_epochs=self.min_epochs
        )
        if ev is None:
            return []
        summary = f"Overfitting: {overfit_summary(ev)}."
        ev["thresholds"] = overfit_thresholds(self.generalization_loss, self.min_epochs)
        dropout = config_value(trace, "model", "dropout")
        fixes = [
            make_fix(
                trace,
                "data.augment=[crop,flip]",
                "augment: random crops and flips",
                "more distinct training images is the strongest regulariser for CIFAR-10",
            ),
            make_fix(
                trace,
                "model.dropout=0.3" if dropout is not None and dropout < 0.3 else None,
                "add dropout / weight decay",
                "penalises fitting individual training images",
            ),
        ]
        if ev["best_val_epoch"] < len(ev["val_loss"]):
            fixes.append(
                make_fix(
                    trace,
                    f"optim.epochs={ev['best_val_epoch']}",
                    f"stop at epoch {ev['best_val_epoch']} (keras.callbacks.EarlyStopping)",
                    "validation loss was lowest there",
                )
            )
        confidence = 0.6 + min(0.3, float(ev["generalization_loss"]))
        return [self.finding(overfit_severity(ev), confidence, summary, ev, fixes)]


@register
class BatchSizeExtreme(Detector):
    """A batch so small that BatchNorm's statistics are noise, or so large that an epoch is a
    handful of steps.

    Small: < 8 images with BatchNorm in the model (Wu & He 2018, Fig. 1). Large: >= 10% of the
    training set is Keskar et al.'s large-batch regime (``info``); >= 50% is one or two steps per
    epoch (``warning``), as is the large regime when training has stalled.
    """

    id = "batch_size_extreme"
    area = "hyperparameters"
    description = "batch size too small for BatchNorm or too large for the dataset"
    requires_any = ("context.batch_size", "context.steps_per_epoch")

    def __init__(
        self,
        *,
        small_with_bn: int = T.BATCH_SMALL_WITH_BN,
        large_fraction: float = T.BATCH_LARGE_FRACTION,
        huge_fraction: float = T.BATCH_HUGE_FRACTION,
        window: int = T.PLATEAU_WINDOW,
        min_decrease: float = T.PLATEAU_MIN_DECREASE,
    ) -> None:
        self.small_with_bn = at_least("small_with_bn", small_with_bn, 2)
        self.large_fraction = fraction("large_fraction", large_fraction)
        self.huge_fraction = fraction("huge_fraction", huge_fraction)
        ordered("large_fraction", self.large_fraction, "huge_fraction", self.huge_fraction + 1e-12)
        self.window = at_least("window", window, 2)
        self.min_decrease = fraction("min_decrease", min_decrease)

    def check(self, trace: Trace) -> list[Finding]:
        ctx = trace.context
        batch = ctx.get("batch_size")
        n = ctx.get("num_train")
        steps = ctx.get("steps_per_epoch")
        has_bn = bool(ctx.get("has_batchnorm") or config_value(trace, "model", "batchnorm"))
        lr = current_lr(trace)
        if batch and batch < self.small_with_bn and has_bn:
            summary = (
                f"Batch size {batch} is below {self.small_with_bn} with BatchNorm in the model: "
                "per-batch statistics are too noisy to normalise with."
            )
            evidence = {
                "batch_size": batch,
                "has_batchnorm": True,
                "thresholds": {
                    "small_with_bn": self.small_with_bn,
                    "source": "Wu & He, Group Normalization (ECCV 2018), Fig. 1",
                },
            }
            new = 32
            fixes = [
                make_fix(
                    trace,
                    f"optim.batch_size={new}",
                    f"use a batch size of {new}",
                    "BatchNorm's error stays flat from 16-32 images per batch upwards",
                ),
            ]
            if lr:
                fixes.append(
                    make_fix(
                        trace,
                        f"optim.lr={fmt(lr * new / batch)}",
                        f"and scale the LR to {fmt(lr * new / batch)}",
                        "linear LR scaling with batch size (Goyal et al. 2017)",
                    )
                )
            return [self.finding("warning", 0.7, summary, evidence, fixes)]
        if batch and n:
            share = batch / n
        elif steps:
            share = 1.0 / steps
        else:
            return []
        if share < self.large_fraction:
            return []
        loss = S.finite(trace.series("loss"))
        window = min(self.window, loss.size)
        stalled = window >= 2 and S.relative_decrease(loss, window) < self.min_decrease
        severity = "warning" if share >= self.huge_fraction or stalled else "info"
        per_epoch = steps or (math.ceil(n / batch) if batch and n else None)
        summary = (
            f"Batch size is {share:.0%} of the training set"
            + (f" ({per_epoch} optimizer step(s) per epoch)" if per_epoch else "")
            + ("; training has stalled." if stalled else ".")
        )
        evidence = {
            "batch_size": batch,
            "num_train": n,
            "steps_per_epoch": per_epoch,
            "batch_share": share,
            "training_stalled": bool(stalled),
            "thresholds": {
                "large_fraction": self.large_fraction,
                "huge_fraction": self.huge_fraction,
                "source": "Keskar et al. (ICLR 2017): large batch = 10% of the training set",
            },
        }
        fixes = []
        if batch and n:
            new = max(16, 2 ** int(math.floor(math.log2(max(n * self.large_fraction / 2, 1)))))
            new = min(new, batch // 2) if batch >= 32 else new
            fixes.append(
                make_fix(
                    trace,
                    f"optim.batch_size={new}",
                    f"use a batch size of {new}",
                    "more, noisier steps per epoch; small batches generalise "
                    "better (Keskar et al. 2017)",
                )
            )
            if lr:
                fixes.append(
                    make_fix(
                        trace,
                        f"optim.lr={fmt(lr * new / batch)}",
                        f"and scale the LR to {fmt(lr * new / batch)}",
                        "linear LR scaling with batch size (Goyal et al. 2017)",
                    )
                )
        else:
            fixes.append(Fix("use a smaller batch_size in fit()", "more optimizer steps per epoch"))
        confidence = 0.6 if severity == "warning" else 0.4
        return [self.finding(severity, confidence, summary, evidence, fixes)]


@register
class PredictionCollapse(Detector):
    """After training, (nearly) every probe image is predicted as the same class.

    At >= 90% in one class accuracy is capped at (1 - 0.9) + 1/C (0.2 for C = 10). A class that
    also dominates the *labels* is imbalance, not collapse, so it is excluded.
    """

    id = "prediction_collapse"
    area = "hyperparameters"
    description = "one class predicted for nearly every input"
    requires = ("outputs",)
    consequence_of = (
        "diverged",
        "dead_relu",
        "double_softmax",
        "missing_softmax",
        "lr_too_high",
        "vanishing_gradients",
        "saturated_activations",
        "unnormalized_inputs",
        "nonfinite_inputs",
        "frozen_layers",
        "lr_too_low",
        "batch_size_extreme",
        "unshuffled_data",
        "over_regularization",
        "loss_label_mismatch",
        "output_activation",
        "missing_nonlinearity",
    )

    def __init__(self, *, share: float = T.COLLAPSE_FRACTION) -> None:
        self.share = fraction("share", share)

    def check(self, trace: Trace) -> list[Finding]:
        probes = [p for p in trace.trained_probes() if p.output is not None and p.output.finite]
        if not probes:
            return []
        out = probes[-1].output
        counts = np.asarray(out.predicted_counts, dtype=np.float64)
        if counts.size < 2 or counts.sum() == 0:
            return []
        top = int(np.argmax(counts))
        share = float(counts[top] / counts.sum())
        if share < self.share:
            return []
        label_share = None
        if out.label_counts is not None and sum(out.label_counts) > 0:
            label_share = out.label_counts[top] / sum(out.label_counts)
            if label_share >= T.COLLAPSE_MAJORITY_LABEL_SHARE:
                return []
        summary = (
            f"Prediction collapse: {share:.0%} of probe images are predicted as class {top}"
            + (f" (which is {label_share:.0%} of their labels)" if label_share is not None else "")
            + "."
        )
        evidence = {
            "predicted_counts": out.predicted_counts,
            "label_counts": out.label_counts,
            "top_class": top,
            "top_share": share,
            "probe_epoch": probes[-1].epoch,
            "thresholds": {"share": self.share},
        }
        fixes = [
            _lr_fix(
                trace,
                0.1,
                "a network pushed into predicting a constant has usually taken "
                "steps too large for it",
            ),
            Fix(
                "check the class balance of the training labels",
                "a network that sees one class most often learns to predict it first",
            ),
        ]
        return [self.finding("warning", 0.7, summary, evidence, fixes)]
