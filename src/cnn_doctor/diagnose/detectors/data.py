"""Detectors for problems in what the network is fed: input scale, NaN pixels, augmentation,
label noise.
"""

from __future__ import annotations

import math

import numpy as np

from cnn_doctor.diagnose import signals as S
from cnn_doctor.diagnose import thresholds as T
from cnn_doctor.diagnose.detectors.base import (
    Detector,
    at_least,
    fmt,
    fraction,
    make_fix,
    ordered,
    positive,
    register,
)
from cnn_doctor.diagnose.detectors.hyperparameters import (
    overfit_evidence,
    overfit_severity,
    overfit_summary,
    overfit_thresholds,
)
from cnn_doctor.diagnose.findings import Finding, Fix
from cnn_doctor.diagnose.trace import Probe, Trace


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


def validation_inputs_differ(trace: Trace) -> bool:
    """The curves of validation data prepared differently from training data (see
    ``UnnormalizedInputs._validation_mismatch``): in a model without BatchNorm, a training loss
    in the untrained band after the first epoch and falling, while the validation loss is over
    twice ln(C) from the first epoch on and never comes down."""
    val, train = trace.series("val_loss"), trace.series("loss")
    classes = trace.num_classes()
    if not classes or classes < 2 or val.size < 2 or train.size != val.size:
        return False
    if trace.context.get("has_batchnorm") is not False:
        return False
    if not (np.all(np.isfinite(val)) and np.all(np.isfinite(train))):
        return False
    chance = math.log(classes)
    if train[0] > chance * (1 + T.INITIAL_LOSS_REL_DEVIATION) or train[-1] > train[0]:
        return False
    return float(val.min()) >= chance * (1 + T.INITIAL_LOSS_WARN_DEVIATION)


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
    requires_any = ("inputs", "val_loss")

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
            return self._validation_mismatch(trace)
        mean = np.asarray(inputs.mean, dtype=np.float64)
        std = np.asarray(inputs.std, dtype=np.float64)
        rms = np.sqrt(mean**2 + std**2)
        problems, off = T.input_scale_problems(
            mean,
            std,
            rms_low=self.rms_low,
            rms_high=self.rms_high,
            channel_std_ratio=self.channel_std_ratio,
        )
        if not problems:
            return self._validation_mismatch(trace)
        far_off = off >= T.INPUT_SCALE_CRITICAL_FACTOR
        severity = "critical" if far_off else "warning"
        confidence = 0.9 if far_off else 0.8  # evidence strength, not a config knob
        spread = float(std.max() / std.min()) if std.min() > 0 else math.inf
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

    def _validation_mismatch(self, trace: Trace) -> list[Finding]:
        """Validation data prepared differently from training data (a validation generator that
        skips the rescaling, say): the callback never sees validation inputs, but the curves
        show it. After its first epoch the model's training loss is in the band of an untrained
        model's or below, yet its validation loss is already over twice ln(C) -- confidently
        wrong, the ``bad_initial_loss`` warning bar -- and stays there. One epoch is too early
        for overfitting to do that; in a model without BatchNorm (whose inference-mode
        statistics are the other way to get it) only different inputs can."""
        if not validation_inputs_differ(trace):
            return []
        val, train = trace.series("val_loss"), trace.series("loss")
        classes = trace.num_classes()
        chance = math.log(classes)
        confidently_wrong = chance * (1 + T.INITIAL_LOSS_WARN_DEVIATION)
        summary = (
            f"Validation data looks prepared differently from training data: the training loss "
            f"is {fmt(float(train[0]))} after the first epoch (ln {classes} = {fmt(chance)} "
            f"untrained) and falls to {fmt(float(train[-1]))}, yet the validation loss is "
            f"{fmt(float(val[0]))} at once and never below {fmt(float(val.min()))} (over twice "
            "an untrained model's) -- e.g. validation pixels left at 0-255."
        )
        evidence = {
            "reading": "validation_inputs_differ",
            "train_loss": train.tolist(),
            "val_loss": val.tolist(),
            "thresholds": {
                "untrained_band": T.INITIAL_LOSS_REL_DEVIATION,
                "confidently_wrong": confidently_wrong,
                "source": "Karpathy, 'A recipe for training neural networks' (loss at init "
                "= ln C); thresholds.INITIAL_LOSS_REL_DEVIATION / INITIAL_LOSS_WARN_DEVIATION",
            },
        }
        fixes = [
            Fix(
                "prepare validation (and test) images exactly as training images: the same "
                "rescaling / normalisation, ideally inside the model (keras.layers.Rescaling)",
                "a model only knows the input scale it was trained on",
            )
        ]
        return [self.finding("warning", 0.7, summary, evidence, fixes)]


def _vec(values: np.ndarray) -> str:
    return "[" + ", ".join(fmt(float(v)) for v in values[:4]) + (", …]" if len(values) > 4 else "]")


@register
class MissingAugmentation(Detector):
    """The run overfits (see ``overfitting``) and uses no data augmentation at all."""

    id = "missing_augmentation"
    area = "data"
    description = "overfitting with no data augmentation"
    consequence_of = ("unshuffled_data",)
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
        return [self.finding(overfit_severity(ev), 0.75, summary, ev, fixes)]


@register
class LabelNoise(Detector):
    """Training labels disagree with what the model has learned more than validation labels do.

    Probe images come from the training set; once the model has learned the clean signal (and
    before it memorises the noise, Arpit et al. 2017) its accuracy on *their* labels trails its
    validation accuracy when those training labels are noisy. Flipping a share eta of labels
    uniformly gives probe_acc = val_acc - eta * (val_acc - (1 - val_acc)/(C - 1)), which we invert
    for an estimate. Needs the gap >= 5 points and >= 3 standard errors; confident-learning
    candidates (Northcutt et al.) are reported as supporting evidence.

    When validation accuracy never left chance, a second reading: labels unrelated to the
    images (see ``_unrelated_labels``).
    """

    id = "label_noise"
    area = "data"
    description = "training labels disagree with what the model learned"
    requires = ("probe_labels", "val_accuracy")
    consequence_of = ("unshuffled_data",)

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
        if n < 2:
            return []
        if not T.above_chance(a_val, classes, trace.context.get("num_val")):
            return self._unrelated_labels(trace, probe, val_acc, classes)
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
        evidence = {
            "probe_accuracy": a_probe,
            "val_accuracy": a_val,
            "gap": gap,
            "z": z,
            "estimated_noise_rate": eta,
            "confident_learning_candidates": cl,
            "probe_examples": n,
            "probe_epoch": probe.epoch,
            "thresholds": {
                "min_gap": self.min_gap,
                "min_z": self.min_z,
                "source": "Arpit et al. 2017 (learn clean before noise); Northcutt et al. 2021",
            },
        }
        confidence = 0.55 + (0.15 if cl is not None and eta == eta and cl >= eta / 2 else 0.0)
        confidence += 0.2 * min(1.0, (z - self.min_z) / self.min_z)  # stronger evidence
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
        return [self.finding("warning", min(confidence, 0.95), summary, evidence, fixes)]

    def _unrelated_labels(
        self, trace: Trace, probe: Probe, val_acc: np.ndarray, classes: int
    ) -> list[Finding]:
        """Labels that carry nothing the images show (images and labels shuffled apart, labels
        read from the wrong file): the network can only memorise its training pairs, so it gets
        significantly above chance on the probe's training images while validation accuracy
        never leaves chance (Zhang et al. 2017, random labels: training accuracy rises, test
        accuracy stays at chance). Real labels never give that: networks learn the patterns
        that generalise before they memorise (Arpit et al. 2017)."""
        a_probe, n = float(probe.output.accuracy), probe.output.examples
        n_val = trace.context.get("num_val")
        val = val_acc[np.isfinite(val_acc)]
        at_chance = [
            not T.above_chance(float(v), classes, n_val)
            and not T.below_chance(float(v), classes, n_val)
            for v in val
        ]
        if val.size == 0 or not all(at_chance):
            return []  # below chance is a split of unseen classes (unshuffled_data), not this
        if validation_inputs_differ(trace):
            return []  # validation inputs unlike the training ones score chance whatever the labels
        if not T.above_chance(a_probe, classes, n) or a_probe - float(val[-1]) < self.min_gap:
            return []
        summary = (
            f"The training labels look unrelated to the images: the model is right on "
            f"{a_probe:.0%} of the probe's training images (significantly above the "
            f"{1 / classes:.0%} of chance) yet validation accuracy never left chance "
            f"(best {float(val.max()):.0%} over {val.size} epochs) -- it memorises image/label "
            "pairs that follow no pattern (or the validation labels are not those of their "
            "images)."
        )
        evidence = {
            "reading": "labels_unrelated_to_images",
            "probe_accuracy": a_probe,
            "probe_examples": n,
            "val_accuracy_by_epoch": val.tolist(),
            "confident_learning_candidates": probe.output.label_issue_fraction,
            "thresholds": {
                "chance_z": T.CHANCE_Z,
                "min_gap": self.min_gap,
                "source": "Zhang et al. 2017 (random labels are memorised, test stays at "
                "chance); Arpit et al. 2017",
            },
        }
        fixes = [
            Fix(
                "check that every image keeps its label, in training and validation data: "
                "shuffle images and labels with one "
                "permutation (e.g. idx = np.random.permutation(len(x)); x, y = x[idx], y[idx]) "
                "and view a grid of images with their labels",
                "two separate shuffles, or labels read in another order than the images, pair "
                "each image with a random label",
            ),
            Fix(
                "run `cnn-doctor data-check` on the training set",
                "it flags images whose label disagrees with what a model predicts for them",
            ),
        ]
        return [self.finding("critical", 0.8, summary, evidence, fixes)]


@register
class UnshuffledData(Detector):
    """Training batches ordered by class (arrays sorted by label with ``shuffle=False``, or a
    generator / dataset that yields one class after another).

    The model then follows the batches: it learns to predict whatever class the current batches
    hold and ends every epoch predicting the last one. That leaves a signature no shuffled run
    can show: at the epoch's end (nearly) every probe image is predicted as one class -- which
    caps accuracy on any shuffled sample at (1 - share) + that class's share of the labels
    (the prediction-collapse bound) -- yet the epoch's logged training accuracy, scored batch by
    batch as the epoch went, is well above that cap. It must hold at most trained probes.
    Keras shuffles arrays by default, but not generators, ``PyDataset``s or ``tf.data``
    datasets, and not arrays under ``shuffle=False``.

    Without probe outputs or a per-batch reading, the logged training accuracy itself can show
    it: significantly below chance in most epochs (``_below_chance_evidence``).

    A second, weaker reading needs no collapse: the probe labels, in the order the user passed
    them, fail a runs test (they are sorted by class). The callback cannot see ``fit``'s
    ``shuffle`` argument, so alone that is only ``info``; it becomes a warning when validation
    accuracy is significantly *below* chance -- what ``validation_split`` on sorted arrays
    produces, since it takes the last classes before any shuffling.
    """

    id = "unshuffled_data"
    area = "data"
    description = "training batches ordered by class (data not shuffled)"
    requires_any = ("outputs", "batch_accuracy", "accuracy")
    # outputs the loss misreads can also score below chance on the training batches
    consequence_of = (
        "missing_softmax",
        "loss_label_mismatch",
        "double_softmax",
        "output_activation",
    )

    def __init__(
        self,
        *,
        share: float = T.COLLAPSE_FRACTION,
        z: float = T.CHANCE_Z,
        persistence: float = T.PERSISTENT_PROBE_FRACTION,
    ) -> None:
        self.share = fraction("share", share)
        self.z = positive("z", z)
        self.persistence = fraction("persistence", persistence)

    def check(self, trace: Trace) -> list[Finding]:
        classes = trace.num_classes()
        if not classes or classes < 2:
            return []
        collapse = self._collapse_evidence(trace, classes)
        if collapse is not None:
            return [self._collapse_finding(trace, collapse)]
        order = self._order_evidence(trace, classes)
        batches = self._batch_evidence(trace)
        if batches is not None:
            return [self._batch_finding(batches, order)]
        if order is not None:
            return [self._order_finding(order)]
        below = self._below_chance_evidence(trace, classes)
        return [] if below is None else [self._below_chance_finding(below)]

    def _below_chance_evidence(self, trace: Trace, classes: int) -> dict | None:
        """The logged training accuracy -- scored on each batch just before the model learns from
        it -- is significantly *below* chance in most epochs, while validation is no better than
        chance. Random batches cannot do that: a model that predicts anything independent of the
        batch scores 1/C on it on average. Class-ordered batches can: the model keeps predicting
        the class of the batches before, and is wrong on the class it has just reached."""
        acc, val = trace.series("accuracy"), trace.series("val_accuracy")
        if acc.size < T.MIN_EPOCHS_FOR_TREND or val.size != acc.size:
            return None
        n_train = trace.context.get("num_train")
        n_val = trace.context.get("num_val")
        below = [T.below_chance(float(a), classes, n_train) for a in acc]
        if sum(below) / len(below) < self.persistence:
            return None
        if any(T.above_chance(float(v), classes, n_val) for v in val if math.isfinite(v)):
            return None
        return {
            "reading": "training_accuracy_below_chance",
            "train_accuracy": acc.tolist(),
            "val_accuracy": val.tolist(),
            "epochs_below_chance": f"{sum(below)}/{len(below)}",
            "thresholds": {"chance_z": T.CHANCE_Z, "persistence": self.persistence},
        }

    def _below_chance_finding(self, evidence: dict) -> Finding:
        worst = min(evidence["train_accuracy"])
        summary = (
            f"Training accuracy is significantly below chance in "
            f"{evidence['epochs_below_chance']} epochs (lowest {worst:.0%}) while validation "
            "stays at chance: the model does worse than guessing on the batches it trains on, "
            "which shuffled batches cannot cause -- it keeps predicting the classes of the "
            "batches before (data ordered by class), or the labels are misaligned."
        )
        return self.finding("warning", 0.6, summary, evidence, [_SHUFFLE_FIX])

    def _batch_evidence(self, trace: Trace) -> dict | None:
        """Batches that are not random samples: per-batch training accuracy far more variable
        than binomial sampling allows. Whether the same batch positions deviate every epoch is
        reported as evidence, not required (a model that keeps learning moves the dips)."""
        rows = []
        for epoch, values in enumerate(trace.batch_accuracy, start=1):
            stats = S.batch_accuracy_dispersion(values)
            if stats is not None:
                flagged = stats["dispersion"] >= T.BATCH_DISPERSION_MIN
                flagged = flagged and stats["z"] >= T.BATCH_DISPERSION_Z
                rows.append({"epoch": epoch, **stats, "flagged": bool(flagged)})
        if rows:
            # fit() uses one batch size for the whole run: an epoch whose values imply another
            # was not read right (e.g. uneven batches), so it is not judged
            sizes = [r["batch_size"] for r in rows]
            # (a tie goes to the smaller size: it allows more binomial spread, fewer alarms)
            usual = min(set(sizes), key=lambda b: (-sizes.count(b), b))
            rows = [r for r in rows if r["batch_size"] == usual]
        if not rows or sum(r["flagged"] for r in rows) / len(rows) < self.persistence:
            return None
        pairs = zip(trace.batch_accuracy, trace.batch_accuracy[1:], strict=False)
        repeats = [z for a, b in pairs if (z := S.epoch_to_epoch_correlation(a, b)) is not None]
        repeat_z = float(np.median(repeats)) if repeats else None
        return {
            "epochs": [{k: v for k, v in r.items() if k != "flagged"} for r in rows],
            "epochs_flagged": f"{sum(r['flagged'] for r in rows)}/{len(rows)}",
            "same_positions_every_epoch_z": repeat_z,
            "thresholds": {
                "dispersion_min": T.BATCH_DISPERSION_MIN,
                "dispersion_z": T.BATCH_DISPERSION_Z,
                "source": "binomial dispersion-index test (Cochran 1954): random batches give "
                "an index of ~1",
            },
        }

    def _batch_finding(self, evidence: dict, order: dict | None) -> Finding:
        worst = max(evidence["epochs"], key=lambda r: r["dispersion"])
        repeat_z = evidence["same_positions_every_epoch_z"]
        summary = (
            f"Training batches are not random samples: in epoch {worst['epoch']} the per-batch "
            f"training accuracy varies {worst['dispersion']:.1f}x more than random batches of "
            f"{worst['batch_size']} allow"
        )
        if repeat_z is not None and repeat_z >= T.CHANCE_Z:
            summary += ", at the same batch positions every epoch (a fixed order)"
        if order is not None:
            summary += (
                f"; the probe labels come in {order['probe_label_runs']} class runs where a "
                f"shuffled order gives ~{order['probe_label_runs_if_shuffled']:.0f}"
            )
            evidence = {**evidence, "probe_label_order": order}
        return self.finding("warning", 0.8, summary + ".", evidence, [_SHUFFLE_FIX])

    def _collapse_evidence(self, trace: Trace, classes: int) -> dict | None:
        """The run's own signature: collapsed at the epoch's end, yet high logged accuracy."""
        acc = trace.series("accuracy")
        probes = [p for p in trace.trained_probes() if p.output is not None and p.output.finite]
        if len(probes) < 2:
            return None
        n = int(trace.context.get("num_train") or 0)
        rows, flags = [], []
        for p in probes:
            if p.epoch < 1 or p.epoch > acc.size or not math.isfinite(acc[p.epoch - 1]):
                continue
            counts = np.asarray(p.output.predicted_counts, dtype=np.float64)
            top = int(np.argmax(counts))
            share = float(counts[top] / counts.sum()) if counts.sum() else 0.0
            label_share = 1.0 / classes
            if p.output.label_counts and sum(p.output.label_counts) > 0:
                label_share = p.output.label_counts[top] / sum(p.output.label_counts)
            cap = (1.0 - share) + label_share
            noise = self.z * T.binomial_se(cap, n)
            logged = float(acc[p.epoch - 1])
            flag = share >= self.share and logged > cap + max(noise, T.LABEL_NOISE_MIN_GAP)
            flags.append(flag)
            rows.append(
                {
                    "epoch": p.epoch,
                    "predicted_class": top,
                    "predicted_share": share,
                    "accuracy_cap_if_shuffled": cap,
                    "logged_train_accuracy": logged,
                }
            )
        if len(flags) < 2 or sum(flags) / len(flags) < self.persistence:
            return None
        same_class = len({r["predicted_class"] for r, f in zip(rows, flags, strict=True) if f})
        return {
            "epochs": rows,
            "flags": flags,
            "same_class_every_epoch": same_class == 1,
            "probe_label_counts": probes[-1].output.label_counts,
        }

    def _collapse_finding(self, trace: Trace, evidence: dict) -> Finding:
        rows, flags = evidence.pop("epochs"), evidence.pop("flags")
        last = next(r for r, f in zip(reversed(rows), reversed(flags), strict=True) if f)
        val = trace.series("val_accuracy")
        summary = (
            f"Training batches look ordered by class: after epoch {last['epoch']} the model "
            f"predicts class {last['predicted_class']} for {last['predicted_share']:.0%} of "
            f"probe images, which caps accuracy on shuffled data at "
            f"{last['accuracy_cap_if_shuffled']:.0%}, yet the epoch logged "
            f"{last['logged_train_accuracy']:.0%} training accuracy"
            + (f" (validation {val[-1]:.0%})" if val.size and math.isfinite(val[-1]) else "")
            + "."
        )
        evidence = {
            "epochs": rows,
            "epochs_flagged": f"{sum(flags)}/{len(flags)}",
            **evidence,
            "thresholds": {
                "collapse_share": self.share,
                "z": self.z,
                "min_gap": T.LABEL_NOISE_MIN_GAP,
                "source": "prediction-collapse accuracy bound (thresholds.COLLAPSE_FRACTION); "
                "Keras fit() docs: generators and datasets are not shuffled",
            },
        }
        return self.finding("warning", 0.85, summary, evidence, [_SHUFFLE_FIX])

    def _order_evidence(self, trace: Trace, classes: int) -> dict | None:
        """The user's arrays are sorted by class: the probe labels, in the order they were
        passed, have far fewer runs than a random order (or hold a single class)."""
        ctx = trace.context
        runs, expected = ctx.get("label_runs"), ctx.get("label_runs_expected")
        if runs is None or expected is None:
            return None
        z = ctx.get("label_runs_z")
        probe_n = sum((trace.probes[-1].output.label_counts or []) if trace.probes else [])
        single_class = runs == 1 and probe_n >= T.SINGLE_CLASS_PROBE_MIN
        if not single_class and (z is None or z > -T.LABEL_ORDER_Z):
            return None
        val = trace.series("val_accuracy")
        final_val = float(val[-1]) if val.size and math.isfinite(val[-1]) else None
        return {
            "probe_label_runs": runs,
            "probe_label_runs_if_shuffled": round(float(expected), 1),
            "runs_z": None if z is None else round(float(z), 1),
            "probe_single_class": single_class,
            "final_val_accuracy": final_val,
            "val_below_chance": final_val is not None
            and T.below_chance(final_val, classes, ctx.get("num_val")),
            "chance": 1.0 / classes,
            "thresholds": {
                "runs_z": -T.LABEL_ORDER_Z,
                "single_class_probe_min": T.SINGLE_CLASS_PROBE_MIN,
                "below_chance_z": T.CHANCE_Z,
                "source": "k-category Wald-Wolfowitz runs test (Mood 1940); thresholds.CHANCE_Z",
            },
        }

    def _order_finding(self, evidence: dict) -> Finding:
        order = (
            "hold a single class"
            if evidence["probe_single_class"]
            else f"come in {evidence['probe_label_runs']} runs of one class where a shuffled "
            f"order would give about {evidence['probe_label_runs_if_shuffled']:.0f}"
        )
        summary = (
            f"The data arrays are sorted by class: the probe labels, in the order given, {order}"
        )
        fixes = [_SHUFFLE_FIX]
        if evidence["val_below_chance"]:
            summary += (
                f", and validation accuracy ({evidence['final_val_accuracy']:.0%}) is below "
                f"chance ({evidence['chance']:.0%}) -- the validation images are classes the "
                "model never trained on, as validation_split takes the *last* part of sorted "
                "arrays before any shuffling."
            )
            fixes.insert(0, _SPLIT_FIX)
            return self.finding("warning", 0.8, summary, evidence, fixes)
        summary += (
            ". Harmless only if fit() shuffles them (arrays with shuffle=True, no "
            "validation_split); generators, datasets, shuffle=False and validation_split "
            "see them in this order."
        )
        return self.finding("info", 0.5, summary, evidence, fixes + [_SPLIT_FIX])


_SHUFFLE_FIX = Fix(
    "shuffle the training data: fit(x, y, shuffle=True) on arrays (the default), "
    "dataset.shuffle(buffer >= dataset size) for tf.data, or shuffle the index order "
    "in your generator / PyDataset at every epoch (on_epoch_end)",
    "each batch must be a random sample of all classes; class-ordered batches teach "
    "the model to predict the current class and forget the others",
)
_SPLIT_FIX = Fix(
    "shuffle the arrays once before splitting (idx = np.random.permutation(len(x)); "
    "x, y = x[idx], y[idx]), or split with sklearn's train_test_split(..., stratify=y)",
    "Keras's validation_split takes the last fraction of the arrays as given, so sorted "
    "arrays put whole classes into validation that training never sees",
)
