"""Detectors for problems in the network itself: gradient flow, activations, output layer, frozen
weights, initialisation, capacity.
"""

from __future__ import annotations

import math

import numpy as np

from cnn_doctor.diagnose import signals as S
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
    persistent,
    positive,
    register,
)
from cnn_doctor.diagnose.findings import Finding, Fix
from cnn_doctor.diagnose.trace import Probe, Trace


def _kernel_grads(probe: Probe) -> list[tuple[str, float]]:
    """(layer, gradient norm) of each kernel in forward order, for a finite probe."""
    return [(w.layer, float(w.grad_norm)) for w in probe.kernels() if w.grad_norm is not None]


def _grad_probes(trace: Trace) -> list[Probe]:
    return [p for p in trace.probes if p.finite and len(_kernel_grads(p)) >= 2]


def _last_with(trace: Trace, attr: str) -> Probe | None:
    """The last probe with ``attr`` set, preferring probes taken after training started."""
    candidates = [p for p in trace.probes if getattr(p, attr)]
    trained = [p for p in candidates if p.epoch > 0]
    pool = trained or candidates
    return pool[-1] if pool else None


_RELU_FAMILY = frozenset({"relu", "gelu", "leaky_relu", "elu", "selu", "silu", "swish", "relu6"})


def _activation_fixes(trace: Trace, why_prefix: str, *, relu: bool = True) -> list[Fix]:
    hidden = {
        r["activation"]
        for r in (trace.context.get("layers") or [])[:-1]
        if r.get("activation") and r["activation"] not in ("linear", "softmax")
    }
    fixes = []
    if relu and (from_pipeline(trace) or not hidden or not hidden <= _RELU_FAMILY):
        # (a user's net that already uses ReLU-family activations gets no advice to use them)
        fixes.append(
            make_fix(
                trace,
                "model.activation=gelu",
                "use ReLU-family activations (relu, gelu) in hidden layers",
                f"{why_prefix}: their derivative does not shrink towards 0 for large inputs",
            )
        )
    if from_pipeline(trace) and config_value(trace, "model", "batchnorm") is False:
        fixes.append(
            Fix("model.batchnorm=true", "BatchNorm keeps every layer's inputs at unit scale")
        )
    elif not from_pipeline(trace) and not trace.context.get("has_batchnorm"):
        fixes.append(
            Fix(
                "add BatchNormalization after each conv",
                "it keeps every layer's inputs at unit scale, so gradients neither vanish nor "
                "explode with depth",
            )
        )
    if not fixes:
        fixes.append(
            Fix(
                "add residual (skip) connections, or use fewer layers",
                "identity paths carry the gradient to early layers whatever the depth (He et al., "
                "Deep Residual Learning, CVPR 2016)",
            )
        )
    return fixes


def _signal_ends(probe: Probe) -> tuple[str, float, str, float] | None:
    """(first layer, its signal_std, last layer, its signal_std) over the activation layers."""
    stats = [a for a in probe.activations if a.signal_std is not None]
    if len(stats) < 2:
        return None
    return stats[0].layer, stats[0].signal_std, stats[-1].layer, stats[-1].signal_std


@register
class VanishingGradients(Detector):
    """The learning signal dies out with depth, so the early layers stop learning.

    Backward view, on weight gradients: AUTOTRAINER's rule ||g_first|| / ||g_last|| < 1e-3 and
    ||g_first|| < 1e-4, or TheDeepChecker's every gradient norm < 1e-6. Forward view (Glorot &
    Bengio 2010, who trace the problem through both passes): how much the last activation
    layer's response differs between images, relative to the first's, below the same 1e-3. The
    forward view catches deep sigmoid stacks whose weight gradients look healthy in norm but
    carry no input-dependent part (every image reaches the head as the same vector). A view must
    hold at most probes (a single probe can be unlucky).
    """

    id = "vanishing_gradients"
    area = "architecture"
    description = "the learning signal dies out with depth; early layers stop learning"
    requires_any = ("gradients", "activations")
    consequence_of = (
        "saturated_activations",
        "dead_relu",
        "double_softmax",
        "frozen_layers",
        "lr_too_high",
        "diverged",
        "output_activation",
        "over_regularization",
        # raw 0-255 inputs saturate the first units and the softmax (LeCun et al. 1998, 4.3)
        "unnormalized_inputs",
    )

    def __init__(
        self,
        *,
        first_last_ratio: float = T.VANISHING_FIRST_LAST_RATIO,
        first_norm: float = T.VANISHING_FIRST_NORM,
        abs_norm: float = T.VANISHING_ABS_NORM,
        signal_ratio: float = T.VANISHING_SIGNAL_RATIO,
        persistence: float = T.PERSISTENT_PROBE_FRACTION,
    ) -> None:
        self.first_last_ratio = positive("first_last_ratio", first_last_ratio)
        self.first_norm = positive("first_norm", first_norm)
        self.abs_norm = positive("abs_norm", abs_norm)
        self.signal_ratio = positive("signal_ratio", signal_ratio)
        self.persistence = fraction("persistence", persistence)

    def _backward(self, trace: Trace) -> tuple[list[bool], list[float], list[bool]]:
        flags, ratios, silent = [], [], []
        for probe in _grad_probes(trace):
            grads = _kernel_grads(probe)
            first, last = grads[0][1], grads[-1][1]
            ratio = first / last if last > 0 else math.nan
            ratios.append(ratio)
            autotrainer = last > 0 and ratio < self.first_last_ratio and first < self.first_norm
            no_signal = max(g for _, g in grads) < self.abs_norm
            silent.append(no_signal)
            flags.append(bool(autotrainer or no_signal))
        return flags, ratios, silent

    def _forward(self, trace: Trace) -> tuple[list[bool], list[float]]:
        flags, ratios = [], []
        for probe in trace.probes:
            if not self._resolves(probe):
                continue
            ends = _signal_ends(probe) if probe.finite else None
            if ends is None or ends[1] <= 0:
                continue
            ratio = ends[3] / ends[1]
            ratios.append(ratio)
            flags.append(ratio < self.signal_ratio)
        return flags, ratios

    def _resolves(self, probe: Probe) -> bool:
        """Whether the probe's activations can show a ratio as small as ``signal_ratio``: values
        rounded to a 16-bit format carry noise of about its unit roundoff (bfloat16: 2**-8), which
        floors the measured ratio above the 1e-3 rule, so such probes cannot vote."""
        roundoff = max((T.UNIT_ROUNDOFF.get(a.dtype, 0.0) for a in probe.activations), default=0.0)
        return roundoff < self.signal_ratio

    def limitations(self, trace: Trace) -> str | None:
        coarse = [p for p in trace.probes if p.activations and not self._resolves(p)]
        if not coarse:
            return None
        dtype = coarse[-1].activations[0].dtype
        return (
            f"forward view not judged: activations were computed in {dtype}, whose rounding "
            f"cannot show a last/first signal ratio below {self.signal_ratio:g} (set "
            "run.precision=float32 to measure it)"
        )

    def check(self, trace: Trace) -> list[Finding]:
        back_flags, back_ratios, silent = self._backward(trace)
        fwd_flags, fwd_ratios = self._forward(trace)
        backward = persistent(back_flags, self.persistence)
        forward = persistent(fwd_flags, self.persistence)
        if not (backward or forward):
            return []
        evidence: dict = {
            "views": [v for v, on in (("backward", backward), ("forward", forward)) if on],
            "thresholds": {
                "first_last_ratio": self.first_last_ratio,
                "first_norm": self.first_norm,
                "abs_norm": self.abs_norm,
                "signal_ratio": self.signal_ratio,
                "source": "AUTOTRAINER (ICSE'21); TheDeepChecker (TOSEM'22); Glorot & Bengio "
                "(AISTATS 2010) for the forward view",
            },
        }
        parts = []
        if backward:
            probe = _grad_probes(trace)[-1]
            grads = _kernel_grads(probe)
            last = grads[-1][1]
            vanished = [
                layer for layer, g in grads if last > 0 and g / last < self.first_last_ratio
            ]
            evidence.update(
                gradient_first_last_ratio=[None if math.isnan(r) else r for r in back_ratios],
                grad_norms_last_probe=dict(grads),
                vanished_layers=vanished,
                no_gradient_probes=sum(silent),
                gradient_probes_flagged=f"{sum(back_flags)}/{len(back_flags)}",
            )
            if sum(silent) * 2 >= len(silent):
                parts.append(
                    f"no gradient reaches the network (every layer's gradient norm below "
                    f"{fmt(self.abs_norm)} at {sum(silent)}/{len(silent)} probes)"
                )
            else:
                finite_ratios = [r for r in back_ratios if r == r]
                parts.append(
                    f"first/last layer gradient-norm ratio "
                    f"{fmt(finite_ratios[-1] if finite_ratios else math.nan)} (< "
                    f"{fmt(self.first_last_ratio)}) at {sum(back_flags)}/{len(back_flags)} "
                    f"probes; {len(vanished)} of {len(grads)} layers barely learn"
                )
        if forward:
            ends = next(
                _signal_ends(p) for p in reversed(trace.probes) if _signal_ends(p) is not None
            )
            evidence.update(
                signal_first_last_ratio=fwd_ratios,
                signal_first=dict([ends[:2]]),
                signal_last=dict([ends[2:]]),
                signal_probes_flagged=f"{sum(fwd_flags)}/{len(fwd_flags)}",
            )
            parts.append(
                f"the input signal fades with depth: responses differ between images by "
                f"{fmt(ends[1])} at {ends[0]} but {fmt(ends[3])} at {ends[2]} (ratio "
                f"{fmt(fwd_ratios[-1])} < {fmt(self.signal_ratio)})"
            )
        flags = back_flags if backward else fwd_flags
        share = sum(flags) / len(flags)
        severity = "critical" if flags[-1] else "warning"
        summary = "Vanishing gradients: " + "; ".join(parts) + "."
        fixes = _activation_fixes(trace, "vanishing gradients come from small derivatives")
        if from_pipeline(trace):
            depth = config_value(trace, "model", "depth", 0)
            if depth:
                fixes.append(Fix("model.depth=0", "the family's reference depth trains reliably"))
        confidence = 0.6 + 0.35 * share + (0.05 if backward and forward else 0.0)
        return [self.finding(severity, confidence, summary, evidence, fixes)]


@register
class ExplodingGradients(Detector):
    """Gradients grow towards the input (or beyond any sane scale), so steps overshoot.

    AUTOTRAINER: ||g_first|| / ||g_last|| > 70; TheDeepChecker: any gradient norm > 1e6.
    """

    id = "exploding_gradients"
    area = "architecture"
    description = "gradients grow with depth until steps overshoot"
    requires = ("gradients",)
    consequence_of = ("unnormalized_inputs",)

    def __init__(
        self,
        *,
        first_last_ratio: float = T.EXPLODING_FIRST_LAST_RATIO,
        max_norm: float = T.EXPLODING_GRAD_NORM,
        persistence: float = T.PERSISTENT_PROBE_FRACTION,
    ) -> None:
        self.first_last_ratio = positive("first_last_ratio", first_last_ratio)
        self.max_norm = positive("max_norm", max_norm)
        self.persistence = fraction("persistence", persistence)
        if self.first_last_ratio <= 1:
            raise ValueError(
                f"first_last_ratio must be > 1 (first layer's gradient larger than the last's), "
                f"got {first_last_ratio!r}"
            )

    def check(self, trace: Trace) -> list[Finding]:
        probes = _grad_probes(trace)
        if not probes:
            return []
        flags, ratios, maxima = [], [], []
        for probe in probes:
            grads = _kernel_grads(probe)
            first, last = grads[0][1], grads[-1][1]
            # a zero last-layer gradient is no signal (dead network), not an explosion
            ratio = first / last if last > 0 and first > 0 else math.nan
            biggest = max(g for _, g in grads)
            ratios.append(ratio)
            maxima.append(biggest)
            flags.append(bool(ratio > self.first_last_ratio or biggest > self.max_norm))
        if not persistent(flags, self.persistence):
            return []
        huge = any(m > self.max_norm for m in maxima)
        severity = "critical" if huge else "warning"
        summary = (
            f"Gradients explode: largest layer gradient norm {fmt(max(maxima))}, first/last "
            f"layer ratio {fmt(ratios[-1])} (> {fmt(self.first_last_ratio)}) at "
            f"{sum(flags)}/{len(flags)} probes."
        )
        evidence = {
            "first_last_ratio": [None if math.isnan(r) else r for r in ratios],
            "max_grad_norm": maxima,
            "grad_norms_last_probe": dict(_kernel_grads(probes[-1])),
            "thresholds": {
                "first_last_ratio": self.first_last_ratio,
                "max_norm": self.max_norm,
                "source": "AUTOTRAINER (ICSE'21); TheDeepChecker (TOSEM'22)",
            },
        }
        fixes = [
            Fix(
                "clip gradients: optimizer clipnorm=1.0",
                "bounds every step whatever the gradient scale",
            )
        ]
        fixes += _activation_fixes(
            trace, "normalised activations keep gradient scale constant", relu=False
        )
        fixes.append(
            make_fix(
                trace,
                "model.init=he_normal",
                "initialise conv/dense kernels with he_normal",
                "He initialisation keeps activation variance constant through ReLU layers",
            )
        )
        return [
            self.finding(severity, 0.55 + 0.4 * sum(flags) / len(flags), summary, evidence, fixes)
        ]


@register
class DeadReLU(Detector):
    """ReLU units that output 0 for every probe example pass no gradient and never recover.

    A layer is dying when more than 50% of its units are dead (TheDeepChecker): ``info`` while the
    network as a whole keeps most units; ``warning`` once half of all ReLU units are dead; when 70%
    are (DeepDiagnosis's bar), or one whole layer is, the network is broken: ``critical``.
    """

    id = "dead_relu"
    area = "architecture"
    description = "ReLU units stuck at zero for every input"
    requires = ("activations",)
    consequence_of = (
        "lr_too_high",
        "diverged",
        "unnormalized_inputs",
        "over_regularization",
        "output_activation",
    )
    capacity_symptom = True

    def __init__(
        self,
        *,
        layer_fraction: float = T.DEAD_LAYER_FRACTION,
        network_fraction: float = T.DEAD_NETWORK_FRACTION,
        critical_fraction: float = T.DEAD_CRITICAL_FRACTION,
    ) -> None:
        self.layer_fraction = fraction("layer_fraction", layer_fraction)
        self.network_fraction = fraction("network_fraction", network_fraction)
        self.critical_fraction = fraction("critical_fraction", critical_fraction)
        ordered(
            "network_fraction",
            self.network_fraction,
            "critical_fraction",
            self.critical_fraction + 1e-12,
        )

    def check(self, trace: Trace) -> list[Finding]:
        probe = _last_with(trace, "activations")
        if probe is None:
            return []
        relu = [a for a in probe.activations if a.dead_fraction is not None]
        if not relu:
            return []
        dying = {a.layer: a.dead_fraction for a in relu if a.dead_fraction >= self.layer_fraction}
        if not dying:
            return []
        units = sum(a.units for a in relu)
        overall = sum(a.dead_fraction * a.units for a in relu) / max(units, 1)
        fully = [a.layer for a in relu if a.dead_fraction >= 1.0]
        worst = max(dying.values())
        if overall >= self.critical_fraction or fully:
            severity = "critical"  # most of the network, or a whole layer, passes nothing
        elif overall >= self.network_fraction:
            severity = "warning"
        else:
            severity = "info"  # one layer thinned out; the network as a whole still learns
        summary = (
            f"{len(dying)} of {len(relu)} ReLU layers are dying (worst {worst:.0%} of units "
            f"output 0 for every probe image; {overall:.0%} of all ReLU units dead)."
        )
        evidence = {
            "dead_fraction_by_layer": {a.layer: a.dead_fraction for a in relu},
            "dying_layers": dying,
            "fully_dead_layers": fully,
            "overall_dead_fraction": overall,
            "probe_epoch": probe.epoch,
            "thresholds": {
                "layer_fraction": self.layer_fraction,
                "network_fraction": self.network_fraction,
                "critical_fraction": self.critical_fraction,
                "source": "TheDeepChecker (TOSEM'22) >50% of units; DeepDiagnosis (ICSE'22) >=70%",
            },
        }
        fixes = [
            make_fix(
                trace,
                "model.activation=leaky_relu",
                "use LeakyReLU / GELU instead of ReLU",
                "a non-zero slope for negative inputs lets dead units receive gradient again",
            )
        ]
        lr = trace.context.get("lr") or config_value(trace, "optim", "lr")
        if lr:
            fixes.append(
                make_fix(
                    trace,
                    f"optim.lr={fmt(float(lr) / 10)}",
                    f"lower the learning rate to {fmt(float(lr) / 10)}",
                    "large steps push ReLU biases negative, killing units for good",
                )
            )
        return [self.finding(severity, 0.6 + 0.35 * worst, summary, evidence, fixes)]


@register
class SaturatedActivations(Detector):
    """Sigmoid/tanh units driven into their flat tails, where the derivative is ~0.

    DeepDiagnosis: a layer is saturated when more than 50% of its pre-activations lie beyond ±5.
    """

    id = "saturated_activations"
    area = "architecture"
    description = "sigmoid/tanh units stuck in their flat tails"
    requires = ("activations",)
    capacity_symptom = True

    def __init__(self, *, layer_fraction: float = T.SATURATED_LAYER_FRACTION) -> None:
        self.layer_fraction = fraction("layer_fraction", layer_fraction)

    def check(self, trace: Trace) -> list[Finding]:
        probe = _last_with(trace, "activations")
        if probe is None:
            return []
        bounded = [a for a in probe.activations if a.saturated_fraction is not None]
        saturated = {
            a.layer: a.saturated_fraction
            for a in bounded
            if a.saturated_fraction > self.layer_fraction
        }
        if not saturated:
            return []
        worst = max(saturated.values())
        severity = "critical" if len(saturated) * 2 > len(bounded) else "warning"
        summary = (
            f"{len(saturated)} of {len(bounded)} sigmoid/tanh layers are saturated (worst: "
            f"{worst:.0%} of values beyond |pre-activation| {T.SATURATION_PREACT_BOUND:g})."
        )
        evidence = {
            "saturated_fraction_by_layer": {a.layer: a.saturated_fraction for a in bounded},
            "saturated_layers": saturated,
            "probe_epoch": probe.epoch,
            "thresholds": {
                "layer_fraction": self.layer_fraction,
                "preactivation_bound": T.SATURATION_PREACT_BOUND,
                "source": "DeepDiagnosis (ICSE'22)",
            },
        }
        fixes = _activation_fixes(trace, "saturated units pass almost no gradient")
        return [self.finding(severity, 0.6 + 0.35 * worst, summary, evidence, fixes)]


@register
class FrozenLayers(Detector):
    """Weights that never change: layers set ``trainable=False``, or trainable variables that
    receive gradient yet never move (the optimizer skips them).

    A deliberately frozen pretrained backbone is fine while accuracy improves, so alone this is
    ``info``; it becomes a ``warning`` when training stalls, when most parameters are frozen, or
    in our pipeline (which trains from scratch, where a frozen layer is random and useless).
    """

    id = "frozen_layers"
    area = "architecture"
    description = "layers whose weights never change"
    requires_any = ("context.frozen_layers", "weight_updates")
    # BatchNorm on single-image batches normalises every feature to its beta: the gradients of
    # everything before it are exactly zero, so nothing updates.
    consequence_of = ("batch_size_extreme",)

    def __init__(
        self,
        *,
        plateau_window: int = T.PLATEAU_WINDOW,
        plateau_decrease: float = T.PLATEAU_MIN_DECREASE,
        frozen_share: float = T.FROZEN_MAJORITY,
    ) -> None:
        self.plateau_window = at_least("plateau_window", plateau_window, 2)
        self.plateau_decrease = fraction("plateau_decrease", plateau_decrease)
        self.frozen_share = fraction("frozen_share", frozen_share)

    def check(self, trace: Trace) -> list[Finding]:
        declared = {
            str(item["layer"]): int(item.get("params", 0))
            for item in trace.context.get("frozen_layers") or []
        }
        # trainable variables whose update was exactly zero at every trained probe although they
        # received gradient (zero gradient is a dead/saturated path, reported by those detectors)
        moved: dict[str, list[float]] = {}
        grads: dict[str, list[float]] = {}
        sizes: dict[str, int] = {}
        for probe in trace.probes:
            if not probe.finite:
                continue
            for w in probe.weights:
                if w.grad_norm is not None:
                    grads.setdefault(w.name, []).append(w.grad_norm)
                if probe.epoch > 0 and w.moved is not None:
                    moved.setdefault(w.name, []).append(w.moved)
                    sizes[w.name] = w.size
        stuck = sorted(
            name
            for name, values in moved.items()
            if all(v == 0.0 for v in values)
            and not (grads.get(name) and all(g == 0.0 for g in grads[name]))
        )
        if not declared and not stuck:
            return []
        frozen_params = sum(declared.values()) + sum(sizes[n] for n in stuck)
        trainable = trace.context.get("trainable_params")
        total = (trainable or sum(sizes.values()) or 0) + sum(declared.values())
        share = frozen_params / total if total else math.nan
        loss = S.finite(trace.series("loss"))
        window = min(self.plateau_window, len(loss))
        stalled = window >= 2 and S.relative_decrease(loss, window) < self.plateau_decrease
        severity = (
            "warning"
            if stalled or from_pipeline(trace) or (share == share and share >= self.frozen_share)
            else "info"
        )
        parts = []
        if declared:
            parts.append(f"{len(declared)} layer(s) set trainable=False")
        if stuck:
            parts.append(f"{len(stuck)} trainable variable(s) never updated")
        summary = (
            f"Frozen weights: {' and '.join(parts)} "
            f"({frozen_params} parameters"
            + (f", {share:.0%} of the model" if share == share else "")
            + ")"
            + ("; training has stalled." if stalled else ".")
        )
        evidence = {
            "frozen_layers": declared,
            "never_updated_variables": stuck,
            "frozen_params": frozen_params,
            "frozen_share": None if share != share else share,
            "training_stalled": bool(stalled),
        }
        names = ", ".join(list(declared)[:4] + stuck[:4])
        fixes = [
            Fix(
                f"set trainable=True on {names} and recompile",
                "frozen randomly initialised layers only add noise; frozen pretrained layers "
                "cap accuracy once the head has converged",
            )
        ]
        if stuck:
            fixes.append(
                Fix(
                    "check that these variables are connected to the loss",
                    "a variable with exactly zero update receives no gradient (or the "
                    "optimizer skips it)",
                )
            )
        confidence = 0.8 if severity == "warning" else 0.5
        return [self.finding(severity, confidence, summary, evidence, fixes)]


@register
class BadInitialLoss(Detector):
    """The loss before any training is far from ln(C), the loss of a uniform guess.

    Karpathy's recipe ("verify loss @ init") and TheDeepChecker: a freshly initialised classifier
    should predict ~uniformly. Much higher means confidently wrong outputs at step 0 (badly scaled
    last layer or inputs); much lower means the labels are predictable without learning.
    """

    id = "bad_initial_loss"
    area = "architecture"
    description = "loss at step 0 far from ln(num_classes)"
    requires = ("initial_loss",)
    consequence_of = (
        "unnormalized_inputs",
        "missing_softmax",
        "exploding_gradients",
        "output_activation",
        "loss_label_mismatch",
        "double_softmax",
    )

    def __init__(
        self,
        *,
        rel_deviation: float = T.INITIAL_LOSS_REL_DEVIATION,
        warn_deviation: float = T.INITIAL_LOSS_WARN_DEVIATION,
    ) -> None:
        self.rel_deviation = positive("rel_deviation", rel_deviation)
        self.warn_deviation = positive("warn_deviation", warn_deviation)
        ordered("rel_deviation", self.rel_deviation, "warn_deviation", self.warn_deviation)

    def check(self, trace: Trace) -> list[Finding]:
        loss = trace.initial_loss
        classes = trace.num_classes()
        name = str(trace.context.get("loss") or "crossentropy").lower()
        if loss is None or not math.isfinite(loss) or not classes or classes < 2:
            return []
        if "crossentropy" not in name.replace("_", "").replace(" ", ""):
            return []  # the ln(C) reference only holds for cross-entropy
        expected = math.log(classes)
        deviation = (loss - expected) / expected
        if abs(deviation) <= self.rel_deviation:
            return []
        high = deviation > 0
        summary = (
            f"Loss before training is {loss:.3g}, {abs(deviation):.0%} "
            f"{'above' if high else 'below'} ln({classes}) = {expected:.3f} expected from a "
            f"freshly initialised classifier."
        )
        evidence = {
            "initial_loss": loss,
            "expected": expected,
            "relative_deviation": deviation,
            "thresholds": {
                "rel_deviation": self.rel_deviation,
                "warn_deviation": self.warn_deviation,
                "source": "Karpathy, A Recipe for Training Neural Networks (2019); TheDeepChecker",
            },
        }
        if high:
            fixes = [
                Fix(
                    "initialise the last Dense layer with small weights and zero bias",
                    "logits near 0 at step 0 give the uniform prediction and loss ln(C); large "
                    "logits start confidently wrong and waste the first epochs undoing it",
                ),
                make_fix(
                    trace,
                    "model.init=he_normal",
                    "use he_normal / glorot_uniform initialisers",
                    "variance-preserving initialisers keep logits at unit scale",
                ),
            ]
        else:
            fixes = [
                Fix(
                    "check the labels and the loss",
                    "a loss below chance before any step means the labels are predictable "
                    "from initial outputs (leaked labels, constant labels, or a wrong loss)",
                )
            ]
        severity = "warning" if abs(deviation) > self.warn_deviation else "info"
        confidence = 0.6 + 0.3 * min(1.0, abs(deviation) / (4 * self.warn_deviation))
        return [self.finding(severity, confidence, summary, evidence, fixes)]


@register
class Underfitting(Detector):
    """Training loss has flattened far above what the model could reach.

    Defined relative to the run itself, not absolute accuracy: the loss stopped decreasing
    (TheDeepChecker: < 5% drop over a 5-observation window; here the recent half of the run,
    3 to 5 epochs) while training accuracy gains < 0.01 per epoch (AUTOTRAINER's slow-progress
    rule; without it an annealing LR schedule, which flattens the loss by design, looks flat)
    AND less than half of the reachable decrease (initial loss -> label-smoothing floor) happened.
    A short healthy run is still decreasing, a converged one has used most of the range; neither
    fires.
    """

    id = "underfitting"
    area = "architecture"
    description = "training loss flat far above what the model could reach"
    requires = ("loss",)
    consequence_of = (
        "vanishing_gradients",
        "exploding_gradients",
        "dead_relu",
        "saturated_activations",
        "double_softmax",
        "missing_softmax",
        "lr_too_low",
        "lr_too_high",
        "diverged",
        "unnormalized_inputs",
        "nonfinite_inputs",
        "frozen_layers",
        "batch_size_extreme",
        "prediction_collapse",
        "label_noise",
        "missing_nonlinearity",
        "over_regularization",
        "loss_label_mismatch",
        "output_activation",
        "unshuffled_data",
    )

    def __init__(
        self,
        *,
        window: int = T.PLATEAU_WINDOW,
        min_decrease: float = T.PLATEAU_MIN_DECREASE,
        max_progress: float = T.UNDERFIT_MAX_PROGRESS,
        min_epochs: int = T.MIN_EPOCHS_FOR_TREND,
        max_acc_gain: float = T.PLATEAU_MAX_ACC_GAIN,
    ) -> None:
        self.window = at_least("window", window, 2)
        self.min_decrease = fraction("min_decrease", min_decrease)
        self.max_acc_gain = fraction("max_acc_gain", max_acc_gain)
        self.max_progress = fraction("max_progress", max_progress)
        self.min_epochs = at_least("min_epochs", min_epochs, 2)

    def check(self, trace: Trace) -> list[Finding]:
        loss = trace.series("loss")
        if loss.size < self.min_epochs or not np.all(np.isfinite(loss)):
            return []
        # the recent half of the run (3 to `window` epochs): a short run's first epochs always
        # fall steeply and would hide a plateau reached since
        window = min(self.window, max(self.min_epochs, loss.size // 2))
        decrease = S.relative_decrease(loss, window)
        if not decrease < self.min_decrease:
            return []
        acc = trace.series("accuracy")
        acc_gain, acc_noise = None, 0.0
        if acc.size >= window and np.all(np.isfinite(acc[-window:])):
            acc_gain = float(np.max(np.diff(acc[-window:])))
            examples = int(trace.context.get("num_train") or 0)
            acc_noise = T.ACC_GAIN_NOISE_Z * T.accuracy_change_noise(float(acc[-1]), examples)
            if not acc_gain < max(self.max_acc_gain, acc_noise):
                return []  # still learning: the flat loss is the schedule annealing
        classes = trace.num_classes()
        start = trace.start_loss
        if start is None or not math.isfinite(start):
            start = math.log(classes) if classes else float(loss[0])
        smoothing = float(
            trace.context.get("label_smoothing")
            or config_value(trace, "optim", "label_smoothing")
            or 0.0
        )
        floor = S.loss_floor(classes, smoothing) if classes else 0.0
        progress = S.loss_progress(start, float(np.min(loss)), floor)
        if not progress < self.max_progress:
            return []
        acc_text = f", train accuracy {acc[-1]:.1%}" if acc.size and math.isfinite(acc[-1]) else ""
        summary = (
            f"Training loss has plateaued at {loss[-1]:.3g} ({decrease:.1%} drop over the last "
            f"{window} epochs) after realising only {max(progress, 0):.0%} of the reachable "
            f"decrease{acc_text}."
        )
        evidence = {
            "train_loss": loss.tolist(),
            "window_decrease": decrease,
            "max_epoch_accuracy_gain": acc_gain,
            "progress": progress,
            "start_loss": start,
            "loss_floor": floor,
            "thresholds": {
                "window": window,
                "min_decrease": self.min_decrease,
                "max_progress": self.max_progress,
                "max_acc_gain": self.max_acc_gain,
                "acc_gain_noise": acc_noise,
                "source": "TheDeepChecker loss-not-decreasing check (5% over 5 observations); "
                "AUTOTRAINER slow-progress check (max epoch accuracy gain < 0.01, or under "
                f"{T.ACC_GAIN_NOISE_Z:g} standard errors of an accuracy change on the "
                "training set's size when that is larger)",
            },
        }
        width = config_value(trace, "model", "width")
        fixes = [
            make_fix(
                trace,
                f"model.width={fmt(float(width) * 2)}" if width else None,
                "add capacity: more filters per conv layer",
                "a model that cannot fit its own training set needs more capacity, not more epochs",
            ),
            make_fix(
                trace,
                "model.dropout=0.0" if config_value(trace, "model", "dropout") else None,
                "reduce regularisation (dropout, weight decay) until training loss falls",
                "regularisation trades training fit for generalisation; here there is no fit "
                "to trade",
            ),
        ]
        return [self.finding("warning", 0.5, summary, evidence, fixes)]


@register
class MissingNonlinearity(Detector):
    """No activation function between the weight layers: the network is (nearly) a linear model.

    A composition of linear maps is one linear map (Goodfellow, Bengio & Courville, Deep
    Learning, 2016, sec. 6.1: a linear model cannot even learn XOR), so stacking Conv2D/Dense
    layers without activations adds parameters but no expressiveness; max pooling, the only
    nonlinearity such stacks often keep, picks a maximum but cannot bend a decision boundary
    within a region. Whole network without any hidden activation: ``warning``. A Sequential
    model where only some consecutive weight layers lack one: ``info`` (wasted layers).
    """

    id = "missing_nonlinearity"
    area = "architecture"
    description = "no nonlinearity between weight layers: a linear model"
    requires = ("context.layers",)

    def check(self, trace: Trace) -> list[Finding]:
        layers = list(trace.context.get("layers") or [])
        weights = [i for i, r in enumerate(layers) if r.get("kind") == "weight"]
        if len(weights) < 2:
            return []
        hidden = layers[: weights[-1]]
        activations = sorted(
            {r["activation"] for r in hidden if r.get("activation") and r["activation"] != "linear"}
        )
        # consecutive weight layers with neither an activation nor max pooling between them --
        # judged only in a plain chain: in a graph (residual adds, concatenations) the layer
        # order is not the data flow (a shortcut 1x1 conv follows the block it bypasses)
        chain = not any(r.get("kind") == "merge" for r in layers)
        linear_pairs = []
        for a, b in zip(weights, weights[1:], strict=False):
            if not chain:
                break
            between = layers[a:b]  # layer a's own activation counts, layer b's does not
            bent = any(
                (r.get("activation") and r["activation"] != "linear") or r["kind"] == "max_pool"
                for r in between
            )
            if not bent:
                linear_pairs.append([layers[a]["name"], layers[b]["name"]])
        pooling = any(r["kind"] == "max_pool" for r in hidden)
        if activations and not linear_pairs:
            return []
        evidence = {
            "weight_layers": [layers[i]["name"] for i in weights],
            "hidden_activations": activations,
            "max_pooling": pooling,
            "linear_pairs": linear_pairs,
            "thresholds": {
                "source": "a composition of linear maps is linear (Goodfellow et al., Deep "
                "Learning, sec. 6.1)",
            },
        }
        if not activations:
            summary = (
                f"No activation function between the model's {len(weights)} weight layers"
                + (" (max pooling is its only nonlinearity)" if pooling else "")
                + ": it is close to a linear model, which cannot separate CIFAR-10's classes."
            )
            fixes = [
                make_fix(
                    trace,
                    "model.activation=relu",
                    "add activation='relu' to every Conv2D and hidden Dense layer",
                    "the nonlinearity between layers is what lets depth add expressiveness",
                )
            ]
            return [self.finding("warning", 0.85, summary, evidence, fixes)]
        pairs = ", ".join(f"{a} -> {b}" for a, b in linear_pairs[:3])
        summary = (
            f"{len(linear_pairs)} pair(s) of consecutive weight layers have no activation "
            f"between them ({pairs}): each pair computes one linear map."
        )
        fixes = [
            Fix(
                f"add activation='relu' to {linear_pairs[0][0]}",
                "without it the two layers collapse into one linear layer",
            )
        ]
        return [self.finding("info", 0.6, summary, evidence, fixes)]
