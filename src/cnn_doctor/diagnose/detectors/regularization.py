"""Regularisation so strong that the network cannot fit its own training data.

Kept apart from ``underfitting`` on purpose: underfitting is the symptom (the loss stalls far
above its floor), this names one cause of it, with the measurements that single it out -- the
penalty's share of what the optimizer minimises, and dropout's train/validation signature.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cnn_doctor.diagnose import signals as S
from cnn_doctor.diagnose import thresholds as T
from cnn_doctor.diagnose.detectors.base import (
    Detector,
    fraction,
    make_fix,
    register,
)
from cnn_doctor.diagnose.findings import Finding
from cnn_doctor.diagnose.trace import Probe, Trace


def data_loss_progress(trace: Trace) -> float | None:
    """Share of the reachable decrease of the *data* loss (probe batch, training mode) realised
    by the best trained probe: initial probe loss -> the label-smoothing floor."""
    start = trace.initial_loss
    classes = trace.num_classes()
    trained = [p.loss for p in trace.trained_probes() if p.loss is not None]
    trained = [v for v in trained if math.isfinite(v)]
    if start is None or not math.isfinite(start) or not trained or not classes:
        return None
    smoothing = float(trace.context.get("label_smoothing") or 0.0)
    progress = S.loss_progress(start, min(trained), S.loss_floor(classes, smoothing))
    return None if math.isnan(progress) else progress


def _penalty_share(probe: Probe) -> float | None:
    """The regularisation terms' share of the loss the optimizer minimised at this probe."""
    if probe.total_loss is None or probe.loss is None or not probe.total_loss > 0:
        return None
    return max(0.0, (probe.total_loss - probe.loss) / probe.total_loss)


@register
class OverRegularization(Detector):
    """Weight decay or dropout so strong that the net cannot fit its training data.

    Two views, each required together with "cannot fit": the data loss on the probe realised
    less than half of its reachable decrease (``UNDERFIT_MAX_PROGRESS``, as for underfitting).

    - Penalty: at most trained probes the regularisation terms are the majority of the logged
      loss (``PENALTY_DOMINANT_SHARE``; Goodfellow et al. 7.1.1: a large coefficient pulls the
      weights to zero instead of fitting the data) -- or they were the majority of the untrained
      model's loss and the penalised kernels have since lost half their norm
      (``PENALISED_KERNEL_SHRINK``): the penalty won and crushed the weights, after which its
      share looks small.
    - Dropout (UMLAUT): some rate above 0.5, and training accuracy trailing validation accuracy
      by more than 5 points -- where the probe's inference-mode accuracy on training images is
      known, it must beat the logged (dropout-on) training accuracy by as much, which tells
      dropout apart from noisy training labels (those drag both down).
    """

    id = "over_regularization"
    area = "architecture"
    description = "weight decay / dropout so strong the net cannot fit its training data"
    requires_any = ("probes", "context.layers")

    def __init__(
        self,
        *,
        penalty_share: float = T.PENALTY_DOMINANT_SHARE,
        dropout_rate: float = T.DROPOUT_MAX_RATE,
        val_over_train: float = T.VAL_OVER_TRAIN_ACCURACY,
        max_progress: float = T.UNDERFIT_MAX_PROGRESS,
        persistence: float = T.PERSISTENT_PROBE_FRACTION,
        shrink_ratio: float = T.PENALISED_KERNEL_SHRINK,
    ) -> None:
        self.penalty_share = fraction("penalty_share", penalty_share)
        self.dropout_rate = fraction("dropout_rate", dropout_rate)
        self.val_over_train = fraction("val_over_train", val_over_train)
        self.max_progress = fraction("max_progress", max_progress)
        self.persistence = fraction("persistence", persistence)
        self.shrink_ratio = fraction("shrink_ratio", shrink_ratio)

    def check(self, trace: Trace) -> list[Finding]:
        progress = data_loss_progress(trace)
        if progress is None:
            progress = self._curve_progress(trace)
        if progress is None or not progress < self.max_progress:
            return []
        views: dict[str, Any] = {}
        penalty = self._penalty(trace)
        if penalty is not None:
            views["penalty_dominates"] = penalty
        dropout = self._dropout(trace)
        if dropout is not None:
            views["dropout_too_strong"] = dropout
        if not views:
            return []
        parts = []
        if "penalty_dominates" in views:
            if penalty.get("kernels_shrunk"):
                parts.append(
                    f"the weight penalty was {penalty['initial_share']:.0%} of the untrained "
                    f"model's loss (>= {self.penalty_share:.0%}) and has shrunk the penalised "
                    f"kernels to {penalty['kernel_norm_last_over_first']:.0%} of their initial "
                    f"norm (<= {self.shrink_ratio:.0%})"
                )
            else:
                parts.append(
                    f"the weight penalty is {penalty['last_share']:.0%} of the loss the "
                    f"optimizer minimises (>= {self.penalty_share:.0%} at "
                    f"{penalty['probes_flagged']} probes)"
                )
        if "dropout_too_strong" in views:
            parts.append(
                f"dropout {dropout['max_rate']:g} (> {self.dropout_rate:g}) keeps training "
                f"accuracy {dropout['train_accuracy']:.0%} below validation's "
                f"{dropout['val_accuracy']:.0%}"
            )
        summary = (
            "Over-regularised: "
            + "; ".join(parts)
            + f", and the data loss realised only {max(progress, 0):.0%} of its reachable "
            "decrease."
        )
        evidence = {
            "views": views,
            "data_loss_progress": progress,
            "thresholds": {
                "penalty_share": self.penalty_share,
                "dropout_rate": self.dropout_rate,
                "val_over_train": self.val_over_train,
                "max_progress": self.max_progress,
                "shrink_ratio": self.shrink_ratio,
                "source": "Goodfellow et al. (2016) sec. 7.1.1; UMLAUT (CHI'21) dropout > 0.5 "
                "and val acc > train acc + 5 pts; van Laarhoven 2017 (kernel norms grow "
                "without a penalty)",
            },
        }
        fixes = []
        if "penalty_dominates" in views:
            factors = sorted(
                {
                    float(v)
                    for r in trace.context.get("layers") or []
                    for v in (r.get("regularizer") or {}).values()
                }
            )
            words = (
                f"lower the kernel_regularizer factor ({', '.join(f'{f:g}' for f in factors)}) "
                "10-100x (5e-4 is a usual CIFAR-10 value)"
                if factors
                else "lower the weight decay 10-100x"
            )
            fixes.append(
                make_fix(
                    trace,
                    "model.weight_decay=0.0005",
                    words,
                    "the penalty should nudge the weights, not outweigh the data loss",
                )
            )
        if "dropout_too_strong" in views:
            fixes.append(
                make_fix(
                    trace,
                    "model.dropout=0.3",
                    f"lower the Dropout rate(s) from {dropout['max_rate']:g} to 0.2-0.5",
                    "at this rate most units are silenced at every step; the network cannot "
                    "fit even its training images",
                )
            )
        return [self.finding("warning", 0.8 if len(views) == 1 else 0.9, summary, evidence, fixes)]

    def _penalty(self, trace: Trace) -> dict[str, Any] | None:
        shares = [s for p in trace.trained_probes() if (s := _penalty_share(p)) is not None]
        if not shares:
            return None
        flags = [s >= self.penalty_share for s in shares]
        norms = self._kernel_norm_ratio(trace)
        view = {
            "penalty_share_by_probe": shares,
            "last_share": shares[-1],
            "probes_flagged": f"{sum(flags)}/{len(flags)}",
            "kernel_norm_last_over_first": norms,
        }
        if sum(flags) / len(flags) >= self.persistence:
            return view
        # The penalty won early and spent the run shrinking the weights: it dominated the
        # untrained model's loss and the penalised kernels lost half their norm (its share then
        # falls only because it has crushed them).
        initial = trace.initial_probe
        start = None if initial is None else _penalty_share(initial)
        if start is None or start < self.penalty_share:
            return None
        if norms is None or norms > self.shrink_ratio:
            return None
        return {**view, "initial_share": start, "kernels_shrunk": True}

    @staticmethod
    def _kernel_norm_ratio(trace: Trace) -> float | None:
        """Median kernel norm at the last probe over the first, over the kernels a
        regulariser penalises (all kernels when the model's layers do not say)."""
        if len(trace.probes) < 2:
            return None
        penalised = {r["name"] for r in trace.context.get("layers") or [] if r.get("regularizer")}

        def norms(probe) -> dict[str, float]:
            return {
                w.name: w.weight_norm
                for w in probe.kernels()
                if not penalised or w.layer.rsplit("/", 1)[-1] in penalised
            }

        first, last = norms(trace.probes[0]), norms(trace.probes[-1])
        if not first or first.keys() != last.keys():
            return None
        ratios = [last[k] / first[k] for k in first if first[k] > 0]
        return float(np.median(ratios)) if ratios else None

    def _dropout(self, trace: Trace) -> dict[str, Any] | None:
        rates = [
            float(r["dropout"])
            for r in trace.context.get("layers") or []
            if r.get("dropout") is not None
        ]
        if not rates or max(rates) <= self.dropout_rate:
            return None
        acc, val = trace.series("accuracy"), trace.series("val_accuracy")
        start = T.MIN_EPOCHS_FOR_TREND - 1  # UMLAUT judges from epoch 3 on
        if acc.size <= start or val.size != acc.size:
            return None
        gaps = val[start:] - acc[start:]
        if not np.all(np.isfinite(gaps)) or float(np.median(gaps)) < self.val_over_train:
            return None
        view: dict[str, Any] = {
            "max_rate": max(rates),
            "train_accuracy": float(acc[-1]),
            "val_accuracy": float(val[-1]),
            "median_val_minus_train": float(np.median(gaps)),
        }
        probes = [
            p
            for p in trace.trained_probes()
            if p.output is not None and p.output.accuracy is not None
        ]
        if probes:
            fit = float(probes[-1].output.accuracy)  # dropout off, training labels
            view["probe_accuracy_dropout_off"] = fit
            if fit - float(acc[-1]) < self.val_over_train:
                return None  # the training labels themselves disagree: not dropout
        return view

    @staticmethod
    def _curve_progress(trace: Trace) -> float | None:
        """Without probes: the logged loss's progress (it includes the penalty: an upper bound
        on how far the data loss came only when no penalty is set, so used for dropout alone)."""
        loss = S.finite(trace.series("loss"))
        classes = trace.num_classes()
        if loss.size < T.MIN_EPOCHS_FOR_TREND or not classes:
            return None
        smoothing = float(trace.context.get("label_smoothing") or 0.0)
        progress = S.loss_progress(
            math.log(classes), float(loss.min()), S.loss_floor(classes, smoothing)
        )
        return None if math.isnan(progress) else progress
