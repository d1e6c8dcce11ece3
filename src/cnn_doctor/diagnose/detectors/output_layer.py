"""Detectors for the end of the network: what the output layer emits, what the loss does with it,
what the labels are, and what the logged "accuracy" really measures.

Each reads two kinds of evidence a user's own script also shows: the model's structure (the
activation chain after the last weight layer, recorded by the Doctor) and numbers on the probe
batch (the compiled loss against the two cross-entropy readings of the same outputs, see
``OutputStat``). Numbers decide where names cannot: a custom loss function is judged by what it
computes, not by what it is called.
"""

from __future__ import annotations

import math
from typing import Any

from cnn_doctor.diagnose import thresholds as T
from cnn_doctor.diagnose.detectors.base import Detector, make_fix, register
from cnn_doctor.diagnose.findings import Finding, Fix
from cnn_doctor.diagnose.trace import OutputStat, Probe, Trace

_SPARSE_LOSSES = ("sparse_categorical", "sparsecategorical")
_BINARY_LOSSES = ("binary_crossentropy", "binarycrossentropy", "binary_focal", "binaryfocal")
_REGRESSION_LOSSES = (
    "mean_squared",
    "meansquared",
    "mse",
    "mean_absolute",
    "meanabsolute",
    "mae",
    "huber",
    "log_cosh",
    "logcosh",
)


def _output_probe(trace: Trace) -> Probe | None:
    """The latest probe with finite outputs (the output layer does not change during training)."""
    probes = [p for p in trace.probes if p.output is not None and p.output.finite]
    return probes[-1] if probes else None


def _loss_name(trace: Trace) -> str:
    return str(trace.context.get("loss") or "").lower().replace(" ", "_")


def _head(trace: Trace) -> str:
    """The last weight layer, as the user named it (for fixes written against their code)."""
    layers = trace.context.get("layers") or []
    for record in reversed(layers):
        if record.get("kind") == "weight":
            return f"{record['class']} '{record['name']}'"
    return "the output layer"


def _matches(value: float | None, reference: float | None, out: OutputStat) -> bool:
    if (
        value is None
        or reference is None
        or not (math.isfinite(value) and math.isfinite(reference))
    ):
        return False
    tolerance = T.probability_row_tolerance(out.dtype)
    return abs(value - reference) <= tolerance * max(1.0, abs(reference))


def loss_reading(out: OutputStat | None) -> str | None:
    """'probabilities' or 'logits': how the compiled loss treated these outputs, when its value
    equals exactly one of the two cross-entropy readings; None when neither or both match."""
    if out is None or out.compiled_loss is None:
        return None
    as_probs = _matches(out.compiled_loss, out.ce_as_probabilities, out)
    as_logits = _matches(out.compiled_loss, out.ce_as_logits, out)
    if as_probs == as_logits:
        return None
    return "probabilities" if as_probs else "logits"


def softmax_of_probabilities_bound(classes: int) -> float:
    """The largest probability a softmax of inputs in [0, 1] can give: e / (e + C - 1)."""
    return math.e / (math.e + classes - 1)


@register
class DoubleSoftmax(Detector):
    """Softmax applied twice, in any of its forms.

    (1) The model ends in a softmax but the loss applies its own (``from_logits=True``, or a
    custom loss whose value on the probe equals the cross-entropy of softmax(outputs)); (2) a
    softmax applied to probabilities inside the model (``Dense(10, activation="softmax")``
    followed by ``Softmax()``). Either way each row is a softmax of values in [0, 1]: no class
    can get more than e / (e + C - 1) (0.23 for C = 10), the loss cannot fall below
    ln(1 + (C - 1) / e) (1.46) and gradients are tiny.
    """

    id = "double_softmax"
    area = "architecture"
    description = "softmax applied twice (in the model, or by the model and the loss)"
    requires_any = ("outputs", "context.output_chain", "context.from_logits")

    def check(self, trace: Trace) -> list[Finding]:
        chain = list(trace.context.get("output_chain") or [])
        probe = _output_probe(trace)
        out = probe.output if probe is not None else None
        classes = trace.num_classes() or (out.num_classes if out else 0)
        forms: dict[str, Any] = {}
        trailing = 0
        for name in reversed(chain):
            if name != "softmax":
                break
            trailing += 1
        if trailing >= 2:
            forms["softmax_in_model_twice"] = {"output_chain": chain}
        if out is not None and out.is_probability:
            if trace.context.get("from_logits"):
                forms["loss_from_logits"] = {"from_logits": True}
            elif loss_reading(out) == "logits":
                forms["loss_applies_softmax"] = {
                    "compiled_loss": out.compiled_loss,
                    "cross_entropy_reading_outputs_as_logits": out.ce_as_logits,
                    "cross_entropy_reading_outputs_as_probabilities": out.ce_as_probabilities,
                }
        if not forms:
            return []
        bound = softmax_of_probabilities_bound(classes) if classes else None
        evidence: dict[str, Any] = {
            "forms": forms,
            "output_chain": chain,
            "loss": trace.context.get("loss"),
            "largest_probability_on_probe": out.max_probability if out else None,
            "thresholds": {
                "softmax_of_probabilities_max": bound,
                "loss_match_tolerance": T.probability_row_tolerance(out.dtype if out else None),
                "source": "exact: softmax of inputs in [0, 1] is at most e / (e + C - 1)",
            },
        }
        if out is not None:
            evidence.update(row_sum_min=out.row_sum_min, row_sum_max=out.row_sum_max)
        head = _head(trace)
        if "softmax_in_model_twice" in forms:
            summary = (
                f"Softmax is applied twice inside the model (output chain {' -> '.join(chain)}): "
                "the second squashes probabilities towards uniform"
            )
            fixes = [
                Fix(
                    f"remove the extra Softmax after {head}",
                    "one softmax turns logits into probabilities; a second one flattens them "
                    "(no class can exceed e / (e + C - 1))",
                )
            ]
        else:
            how = (
                "from_logits=True"
                if "loss_from_logits" in forms
                else "its value on the probe equals the cross-entropy of softmax(outputs)"
            )
            summary = (
                "The model ends in a softmax (rows sum to 1) but the loss applies softmax again "
                f"({how})"
            )
            fixes = [
                make_fix(
                    trace,
                    "model.final_activation=none",
                    f"remove the softmax from {head} (no activation: it outputs logits)",
                    "the loss then applies the one softmax itself, numerically stably",
                ),
                make_fix(
                    trace,
                    "optim.from_logits=false",
                    "or keep the softmax and use a loss that reads probabilities "
                    "(from_logits=False, Keras's default)",
                    "then the loss reads the softmax output as the probabilities it is",
                ),
            ]
        if "softmax_in_model_twice" not in forms and bound is not None:
            summary += (
                f", so the loss sees at most {bound:.0%} for any class (a softmax of values in "
                "[0, 1] cannot exceed e / (e + C - 1)) and its gradients stay tiny"
            )
        elif out is not None and out.max_probability is not None and bound is not None:
            summary += f"; the most confident probe prediction is {out.max_probability:.3f}"
            if out.max_probability <= bound:
                summary += f" (<= {bound:.3f}, the ceiling of a softmax of probabilities)"
        return [self.finding("critical", 0.95, summary + ".", evidence, fixes)]


@register
class MissingSoftmax(Detector):
    """The loss expects probabilities (from_logits=False) but the model outputs raw logits.

    Keras then rescales the outputs by their row sum and clips them into (0, 1): negative logits
    become ~0 probabilities and the loss is meaningless (UMLAUT: "no softmax and
    from_logits=False").
    """

    id = "missing_softmax"
    area = "architecture"
    description = "raw logits read as probabilities by the loss"
    requires = ("outputs",)
    consequence_of = ("output_activation", "loss_label_mismatch")

    def check(self, trace: Trace) -> list[Finding]:
        probe = _output_probe(trace)
        if probe is None:
            return []
        out = probe.output
        loss = _loss_name(trace)
        if out.is_probability or out.num_classes < 2:
            return []
        if any(name in loss for name in _BINARY_LOSSES + _REGRESSION_LOSSES):
            return []
        reading = loss_reading(out)
        declared = trace.context.get("from_logits")
        if declared is True or reading == "logits":
            return []
        if declared is None and reading is None:
            return []  # neither the loss's settings nor its value say it reads probabilities
        summary = (
            f"The loss reads outputs as probabilities (from_logits=False) but they are logits: "
            f"values in [{out.min:.3g}, {out.max:.3g}], row sums {out.row_sum_min:.3g} to "
            f"{out.row_sum_max:.3g}."
        )
        evidence = {
            "output_min": out.min,
            "output_max": out.max,
            "row_sum_min": out.row_sum_min,
            "row_sum_max": out.row_sum_max,
            "from_logits": declared,
            "loss_reads_outputs_as": reading,
            "loss": loss or None,
            "thresholds": {"row_tolerance": out.row_tolerance or T.PROBABILITY_ROW_TOLERANCE},
        }
        head = _head(trace)
        fixes = [
            make_fix(
                trace,
                "optim.from_logits=true",
                "compile the loss with from_logits=True",
                "the loss then applies a numerically stable log-softmax to the logits",
            ),
            make_fix(
                trace,
                "model.final_activation=softmax",
                f"or give {head} activation='softmax'",
                "then the outputs are the probabilities the loss expects",
            ),
        ]
        return [self.finding("critical", 0.9, summary, evidence, fixes)]


@register
class OutputActivation(Detector):
    """A non-probability activation on the logits layer (ReLU, tanh, ELU, ...).

    ReLU logits cannot go below 0, so a class can never be ruled out and units that die pin
    their class's score; tanh squeezes logits into [-1, 1], capping the confidence any class can
    reach. At best this slows learning; often it pins the model at chance. The output should
    end in softmax (or sigmoid), or be linear logits for a ``from_logits=True`` loss.
    """

    id = "output_activation"
    area = "architecture"
    description = "a non-probability activation (relu, tanh, ...) on the output layer"
    requires = ("context.output_chain",)

    def check(self, trace: Trace) -> list[Finding]:
        chain = list(trace.context.get("output_chain") or [])
        if not chain or chain[-1] in T.OUTPUT_ACTIVATIONS_OK:
            return []
        if trace.num_classes() is not None and (trace.num_classes() or 0) < 2:
            return []  # a single regression-style output is the loss/label check's business
        last = chain[-1]
        probe = _output_probe(trace)
        evidence: dict[str, Any] = {
            "output_chain": chain,
            "loss": trace.context.get("loss"),
            "from_logits": trace.context.get("from_logits"),
            "thresholds": {
                "allowed": sorted(T.OUTPUT_ACTIVATIONS_OK),
                "source": "UMLAUT (CHI'21): activation before softmax / non-softmax output",
            },
        }
        detail = ""
        if probe is not None:
            out = probe.output
            evidence.update(output_min=out.min, output_max=out.max)
            detail = f" (probe outputs range over [{out.min:.3g}, {out.max:.3g}])"
        summary = (
            f"The output layer applies '{last}'{detail}: logits restricted to its range cannot "
            "express every class preference, so learning stalls or slows."
        )
        head = _head(trace)
        fixes = [
            make_fix(
                trace,
                "model.final_activation=softmax",
                f"give {head} activation='softmax' (not '{last}')",
                "softmax turns unrestricted logits into the class probabilities the loss expects",
            ),
            Fix(
                f"or no activation on {head} and a loss with from_logits=True",
                "the loss then applies the softmax itself, numerically stably",
            ),
        ]
        return [self.finding("warning", 0.85, summary, evidence, fixes)]


@register
class LossLabelMismatch(Detector):
    """The loss, the output layer and the label encoding disagree.

    Rules, each a contradiction a correct pairing cannot show: one output unit for labels with
    more than two values; labels outside the range the output can produce (labels 0-9 against a
    sigmoid or softmax, with a loss that compares them element by element); a binary
    (multi-label) loss on a single-label multi-class problem; a regression loss on class labels
    (Golik et al., Interspeech 2013: squared error learns classes slower than cross-entropy);
    and a loss value no correct pairing can produce (a negative cross-entropy or squared error).
    """

    id = "loss_label_mismatch"
    area = "architecture"
    description = "loss, output layer and label encoding disagree"
    requires_any = ("context.loss", "loss", "outputs")

    def check(self, trace: Trace) -> list[Finding]:
        ctx = trace.context
        loss = _loss_name(trace)
        classes = trace.num_classes() or 0
        chain = list(ctx.get("output_chain") or [])
        squashed = bool(chain) and chain[-1] in ("softmax", "sigmoid")
        fmt_ = ctx.get("label_format")
        label_max = ctx.get("label_max")
        distinct = ctx.get("label_distinct")
        problems: dict[str, Any] = {}
        critical = False
        if classes == 1 and (
            (distinct is not None and distinct > 2) or (label_max is not None and label_max > 1)
        ):
            problems["one_output_for_many_classes"] = {
                "output_units": 1,
                "distinct_labels_in_probe": distinct,
                "largest_label": label_max,
            }
            critical = True
        elementwise = any(name in loss for name in _BINARY_LOSSES + _REGRESSION_LOSSES)
        if squashed and elementwise and label_max is not None and label_max > 1:
            problems["labels_outside_output_range"] = {
                "largest_label": label_max,
                "output_range": [0, 1],
                "output_activation": chain[-1],
            }
            critical = True
        if any(name in loss for name in _BINARY_LOSSES) and classes > 2 and fmt_ == "one_hot":
            problems["binary_loss_on_single_label_classes"] = {
                "loss": loss,
                "output_units": classes,
                "label_format": fmt_,
            }
        if any(name in loss for name in _REGRESSION_LOSSES) and classes > 2 and fmt_ == "one_hot":
            problems["regression_loss_on_classes"] = {"loss": loss, "output_units": classes}
        negative = self._negative_loss(trace)
        if negative is not None:
            problems["impossible_loss_value"] = negative
            critical = True
        if not problems:
            return []
        parts = {
            "one_output_for_many_classes": "one output unit for labels with "
            f"{distinct or 'more than two'} values",
            "labels_outside_output_range": f"labels up to {fmt_num(label_max)} against a "
            f"{chain[-1] if chain else 'bounded'} output in [0, 1]",
            "binary_loss_on_single_label_classes": f"'{loss}' treats the {classes} classes as "
            "independent yes/no questions although each image has exactly one",
            "regression_loss_on_classes": f"'{loss}' (a regression loss) on {classes} one-hot "
            "classes",
            "impossible_loss_value": "the loss went negative "
            f"({fmt_num((negative or {}).get('min_loss'))}), which no correct loss/label pairing "
            "can produce",
        }
        summary = "Loss, output and labels disagree: " + "; ".join(parts[k] for k in problems)
        evidence = {
            "problems": problems,
            "loss": loss or None,
            "output_units": classes or None,
            "output_chain": chain,
            "label_format": fmt_,
            "label_shape": ctx.get("label_shape"),
            "thresholds": {
                "source": "definitions: a cross-entropy or squared error is >= 0; labels must lie "
                "in the output's range; Golik et al. 2013 for squared error on classes",
            },
        }
        head = _head(trace)
        fixes = [
            Fix(
                f"end the model with Dense({max(classes, 10) if classes > 2 else 10}, "
                "activation='softmax') and compile with loss='sparse_categorical_crossentropy' "
                "for integer labels (or 'categorical_crossentropy' for one-hot labels)",
                "one softmax unit per class and a categorical cross-entropy is the pairing a "
                f"single-label classifier needs (today: {head}, '{loss or 'unknown loss'}', "
                f"{fmt_ or 'unknown'} labels)",
            )
        ]
        severity = "critical" if critical else "warning"
        return [self.finding(severity, 0.9 if critical else 0.7, summary + ".", evidence, fixes)]

    @staticmethod
    def _negative_loss(trace: Trace) -> dict[str, Any] | None:
        """The smallest data-loss value seen, when it is below zero (beyond float roundoff)."""
        values = [
            float(p.output.compiled_loss)
            for p in trace.probes
            if p.output is not None and p.output.compiled_loss is not None
        ]
        values += [float(p.loss) for p in trace.probes if p.loss is not None]
        logged = [v for v in trace.series("loss").tolist() if math.isfinite(v)]
        candidates = [v for v in values + logged if math.isfinite(v)]
        if not candidates or min(candidates) >= -1e-6:
            return None
        return {"min_loss": min(candidates), "logged_losses": logged}


def fmt_num(value: Any) -> str:
    if value is None:
        return "?"
    try:
        return f"{float(value):.3g}"
    except (TypeError, ValueError):
        return str(value)


@register
class MetricMismatch(Detector):
    """The logged "accuracy" is not multi-class accuracy.

    Keras 3 resolves ``metrics=["accuracy"]`` from shapes (one output unit: binary accuracy;
    integer labels: sparse categorical; else categorical), so the string is safe on a 10-unit
    output whatever the loss. Binary accuracy is still what a user gets by asking for
    ``"binary_accuracy"`` / ``BinaryAccuracy()`` on a multi-class output: it scores each of the
    C outputs as a separate yes/no, so predicting "no" everywhere scores (C - 1) / C (90% on
    CIFAR-10) whatever the model learned. Older Keras (2.x) resolved the string from the loss
    and produced exactly this under ``binary_crossentropy``; it is not supported here.
    """

    id = "metric_mismatch"
    area = "hyperparameters"
    description = "the reported accuracy is not multi-class accuracy"
    requires = ("context.metrics",)

    def check(self, trace: Trace) -> list[Finding]:
        classes = trace.num_classes() or 0
        if classes <= 2:
            return []
        binary = [
            m for m in trace.context.get("metrics") or [] if m.get("class") == "BinaryAccuracy"
        ]
        if not binary:
            return []
        names = [m["name"] for m in binary]
        reported = None
        for name in names:
            for key in (f"reported_{name}", name):
                if trace.has_series(key):
                    reported = float(trace.series(key)[-1])
                    break
            if reported is not None:
                break
        probe = _output_probe(trace)
        true_acc = probe.output.accuracy if probe is not None else None
        floor = (classes - 1) / classes
        summary = (
            f"The logged metric '{names[0]}' is binary accuracy on a {classes}-class output: "
            f"predicting 'no' for every class already scores {floor:.0%}"
        )
        if reported is not None:
            summary += f"; it reports {reported:.1%}"
        if true_acc is not None:
            summary += f" while multi-class accuracy on the probe images is {true_acc:.1%}"
        evidence = {
            "metrics": trace.context.get("metrics"),
            "reported_value": reported,
            "multiclass_accuracy_on_probe": true_acc,
            "constant_no_score": floor,
            "thresholds": {
                "source": "Keras 3 compile_utils.get_metric (shape-based resolution); "
                "BinaryAccuracy scores each output unit separately",
            },
        }
        fixes = [
            Fix(
                "compile with metrics=['accuracy'] (Keras 3 picks categorical accuracy from the "
                "shapes) or metrics=['categorical_accuracy']",
                "then the number you watch is the share of images whose top class is right",
            )
        ]
        return [self.finding("warning", 0.9, summary + ".", evidence, fixes)]
