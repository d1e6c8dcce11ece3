"""Hand-built traces: one healthy run, and one planted fault per detector.

Each fault changes only the signals that *define* its symptom (see the detector docstrings), on
top of the same healthy run, so a test that finds it shows the detector reads that symptom and
nothing else. ``FAULTS`` maps a fault name to (builder, expected id, ids allowed alongside it —
documented consequences of the same fault).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np

from cnn_doctor.diagnose.trace import (
    ActivationStat,
    InputStat,
    OutputStat,
    Probe,
    Trace,
    WeightStat,
)

KERNELS = [
    ("conv1", [3, 3, 3, 32]),
    ("conv2", [3, 3, 32, 64]),
    ("dense1", [4096, 128]),
    ("dense2", [128, 10]),
]
HEALTHY_GRADS = [0.5, 0.8, 1.0, 0.4]
HEALTHY_WEIGHTS = [3.0, 6.0, 9.0, 2.0]
EPOCHS = 6
PROBE_N = 256
# The model's layer list as the Doctor records it (model_facts.layer_summary): the seed CNN.
SEED_LAYERS = [
    {"name": "conv1", "class": "Conv2D", "kind": "weight", "activation": "relu"},
    {"name": "pool1", "class": "MaxPooling2D", "kind": "max_pool"},
    {"name": "conv2", "class": "Conv2D", "kind": "weight", "activation": "relu"},
    {"name": "pool2", "class": "MaxPooling2D", "kind": "max_pool"},
    {"name": "flatten", "class": "Flatten", "kind": "pass"},
    {"name": "dense1", "class": "Dense", "kind": "weight", "activation": "relu"},
    {"name": "dropout", "class": "Dropout", "kind": "pass", "dropout": 0.5},
    {"name": "dense2", "class": "Dense", "kind": "weight", "activation": "linear"},
]


def _probe(
    epoch: int,
    *,
    grads=None,
    ratio=1e-3,
    moved=1e-2,
    dead=0.05,
    probe_acc=None,
    predicted=None,
    probability=False,
    lr=0.01,
    signal=None,
) -> Probe:
    grads = grads or HEALTHY_GRADS
    weights = []
    for (layer, shape), g, w in zip(KERNELS, grads, HEALTHY_WEIGHTS, strict=True):
        weights.append(
            WeightStat(
                f"{layer}/kernel",
                layer,
                list(shape),
                w,
                grad_norm=g,
                step_ratio=ratio,
                moved=None if epoch == 0 else moved,
            )
        )
        weights.append(
            WeightStat(
                f"{layer}/bias",
                layer,
                [shape[-1]],
                0.1,
                grad_norm=g / 10,
                step_ratio=ratio,
                moved=None if epoch == 0 else moved,
            )
        )
    signal = signal or [0.5, 0.4, 0.45]
    acts = [
        ActivationStat("act1", "relu", 32, 0.4, 0.6, dead_fraction=dead, signal_std=signal[0]),
        ActivationStat("act2", "relu", 64, 0.3, 0.5, dead_fraction=dead, signal_std=signal[1]),
        ActivationStat("act3", "relu", 128, 0.2, 0.4, dead_fraction=dead, signal_std=signal[2]),
    ]
    if predicted is None:
        predicted = [26, 25, 25, 26, 25, 25, 26, 26, 26, 26]
    out = OutputStat(
        num_classes=10,
        examples=PROBE_N,
        finite=True,
        min=0.0 if probability else -4.0,
        max=0.9 if probability else 6.0,
        row_sum_min=1.0 if probability else -3.0,
        row_sum_max=1.0 if probability else 8.0,
        is_probability=probability,
        predicted_counts=predicted,
        label_counts=[26, 25, 25, 26, 25, 25, 26, 26, 26, 26],
        accuracy=probe_acc if probe_acc is not None else min(0.1 + 0.1 * epoch, 0.9),
        mean_confidence=0.5,
        label_issue_fraction=0.02,
    )
    data_loss = 2.35 if epoch == 0 else 2.0 - 0.15 * epoch
    # the compiled loss reads the outputs the way the context's loss does: logits (healthy) or
    # probabilities (a softmax model with a from_logits=False loss)
    out.ce_as_logits = data_loss if not probability else 2.1
    out.ce_as_probabilities = data_loss if probability else 5.0
    out.compiled_loss = data_loss
    if probability:
        out.max_probability = 0.9
    return Probe(
        epoch=epoch,
        step=79 * epoch,
        loss=data_loss,
        total_loss=data_loss + 0.05,
        lr=lr,
        weights=weights,
        activations=acts,
        output=out,
    )


def healthy_trace() -> Trace:
    """Six epochs of a run that is still learning: losses falling, val close behind train."""
    loss = [2.0, 1.7, 1.45, 1.25, 1.1, 0.98]
    val_loss = [1.9, 1.65, 1.45, 1.3, 1.2, 1.12]
    acc = [0.30, 0.40, 0.48, 0.55, 0.60, 0.64]
    val_acc = [0.32, 0.41, 0.48, 0.53, 0.57, 0.60]
    history = [
        {
            "epoch": i + 1,
            "loss": loss[i],
            "val_loss": val_loss[i],
            "accuracy": acc[i],
            "val_accuracy": val_acc[i],
            "lr": 0.01,
        }
        for i in range(EPOCHS)
    ]
    probes = [
        _probe(e, probe_acc=min(val_acc[e - 1] + 0.03, 1.0) if e else 0.1)
        for e in range(EPOCHS + 1)
    ]
    return Trace(
        context={
            "source": "callback",
            "num_classes": 10,
            "loss": "sparse_categorical_crossentropy",
            "from_logits": True,
            "label_smoothing": 0.0,
            "optimizer": "sgd",
            "lr": 0.01,
            "batch_size": 64,
            "num_train": 5000,
            # the size the chance bands assume (the curves' 2-decimal values would read as 100)
            "num_val": 1000,
            "steps_per_epoch": 79,
            "epochs": EPOCHS,
            "augment": ["crop", "flip"],
            "has_batchnorm": True,
            "frozen_layers": [],
            "trainable_params": 545_098,
            "layers": SEED_LAYERS,
            "output_chain": [],
            "metrics": [{"name": "accuracy", "class": "SparseCategoricalAccuracy"}],
            "label_format": "sparse",
            "label_shape": [],
            "label_min": 0.0,
            "label_max": 9.0,
            "label_distinct": 10,
            "label_integral": True,
        },
        history=history,
        probes=probes,
        inputs=InputStat(
            mean=[0.01, -0.02, 0.0],
            std=[1.0, 0.98, 1.02],
            min=[-2.4, -2.3, -2.5],
            max=[2.6, 2.5, 2.4],
            finite=True,
            examples=PROBE_N,
            where="input of the first weight layer",
        ),
    )


# --- planted faults --------------------------------------------------------------------------
def _set_history(trace: Trace, **series: list[float]) -> None:
    for key, values in series.items():
        for row, value in zip(trace.history, values, strict=True):
            row[key] = value


def vanishing() -> Trace:
    t = healthy_trace()
    _sigmoid_layers(t)
    t.probes = [_probe(p.epoch, grads=[1e-9, 1e-7, 1e-4, 0.3]) for p in t.probes]
    return t


def vanishing_forward() -> Trace:
    """Gradient norms look fine; the input-dependent signal fades 1e5-fold through the net."""
    t = healthy_trace()
    t.probes = [_probe(p.epoch, signal=[0.2, 1e-3, 2e-6]) for p in t.probes]
    return t


def exploding() -> Trace:
    t = healthy_trace()
    t.probes = [_probe(p.epoch, grads=[5e3, 2e2, 10.0, 1.0]) for p in t.probes]
    return t


def dead_relu() -> Trace:
    t = healthy_trace()
    t.probes[-1].activations[1].dead_fraction = 0.8
    t.probes[-1].activations[2].dead_fraction = 0.9
    return t


def _sigmoid_layers(t: Trace) -> None:
    """The seed CNN with sigmoid hidden activations, as the Doctor would record it."""
    t.context["layers"] = [
        {**r, "activation": "sigmoid"} if r.get("activation") == "relu" else r for r in SEED_LAYERS
    ]


def saturated() -> Trace:
    t = healthy_trace()
    _sigmoid_layers(t)
    for p in t.probes:
        p.activations = [
            ActivationStat(f"act{i}", "sigmoid", 32, 0.5, 0.45, saturated_fraction=0.8)
            for i in range(1, 4)
        ]
    return t


def lr_too_high() -> Trace:
    t = healthy_trace()
    _set_history(
        t,
        loss=[2.0, 1.8, 1.9, 2.1, 2.3, 2.6],
        val_loss=[1.9, 1.8, 2.0, 2.2, 2.4, 2.7],
        accuracy=[0.30, 0.35, 0.31, 0.27, 0.22, 0.18],
        val_accuracy=[0.31, 0.34, 0.30, 0.26, 0.2, 0.17],
    )
    for p in t.probes:
        for w in p.weights:
            w.step_ratio = 0.3
        if p.epoch:
            p.output.accuracy = t.history[p.epoch - 1]["val_accuracy"] + 0.02
    return t


def lr_too_low() -> Trace:
    t = healthy_trace()
    _set_history(
        t,
        loss=[2.30, 2.295, 2.29, 2.285, 2.28, 2.275],
        val_loss=[2.30, 2.296, 2.292, 2.288, 2.284, 2.28],
        accuracy=[0.10, 0.11, 0.11, 0.12, 0.12, 0.13],
        val_accuracy=[0.10, 0.11, 0.11, 0.12, 0.12, 0.12],
        lr=[1e-6] * EPOCHS,
    )
    t.context["lr"] = 1e-6
    for p in t.probes:
        p.lr = 1e-6
        for w in p.weights:
            w.step_ratio = 1e-7
            w.moved = None if p.epoch == 0 else 1e-5
        p.output.accuracy = 0.12
    return t


def diverged() -> Trace:
    t = healthy_trace()
    _set_history(
        t,
        loss=[2.0, 1.7, math.nan, math.nan, math.nan, math.nan],
        val_loss=[1.9, 1.65, math.nan, math.nan, math.nan, math.nan],
    )
    for p in t.probes[3:]:
        p.finite = False
        p.loss = math.nan
        p.output = None
        p.activations = []
    return t


def overfitting_curves(t: Trace) -> Trace:
    _set_history(
        t,
        loss=[2.0, 1.5, 1.1, 0.8, 0.55, 0.35],
        val_loss=[1.9, 1.55, 1.45, 1.55, 1.75, 2.0],
        accuracy=[0.30, 0.45, 0.60, 0.72, 0.82, 0.90],
        val_accuracy=[0.32, 0.44, 0.50, 0.51, 0.50, 0.49],
    )
    for p in t.probes[1:]:
        p.output.accuracy = min(0.35 + 0.1 * p.epoch, 0.95)
    return t


def overfitting() -> Trace:
    return overfitting_curves(healthy_trace())


def memorizing_curves(t: Trace) -> Trace:
    """Training accuracy races ahead while validation accuracy stalls; validation loss flat.

    The shape of a real 2000-image run without augmentation: 94% train vs 48% validation accuracy
    with validation loss still within 2% of its best, so Prechelt's GL rule cannot see it.
    """
    _set_history(
        t,
        loss=[2.2, 1.9, 1.6, 1.2, 0.85, 0.6],
        val_loss=[2.1, 1.8, 1.6, 1.5, 1.49, 1.5],
        accuracy=[0.20, 0.35, 0.50, 0.70, 0.84, 0.94],
        val_accuracy=[0.25, 0.35, 0.42, 0.46, 0.47, 0.48],
    )
    for p in t.probes[1:]:
        p.output.accuracy = min(0.25 + 0.12 * p.epoch, 0.95)
    return t


def memorizing_without_augmentation() -> Trace:
    t = memorizing_curves(healthy_trace())
    t.context["augment"] = []
    return t


def missing_augmentation() -> Trace:
    t = overfitting_curves(healthy_trace())
    t.context["augment"] = []
    return t


def underfitting() -> Trace:
    t = healthy_trace()
    _set_history(
        t,
        loss=[2.2, 2.08, 2.04, 2.02, 2.01, 2.0],
        val_loss=[2.2, 2.09, 2.05, 2.03, 2.02, 2.02],
        accuracy=[0.18, 0.22, 0.23, 0.24, 0.24, 0.24],
        val_accuracy=[0.18, 0.22, 0.23, 0.23, 0.24, 0.24],
    )
    for p in t.probes[1:]:
        p.output.accuracy = 0.25
    return t


def unnormalized() -> Trace:
    t = healthy_trace()
    t.inputs = InputStat(
        mean=[125.3, 122.9, 113.8],
        std=[63.0, 62.1, 66.7],
        min=[0.0, 0.0, 0.0],
        max=[255.0, 255.0, 255.0],
        finite=True,
        examples=PROBE_N,
        dtype="uint8",
    )
    return t


def nonfinite_inputs() -> Trace:
    t = healthy_trace()
    t.inputs.finite = False
    t.inputs.nonfinite_fraction = 0.001
    return t


def double_softmax() -> Trace:
    t = healthy_trace()
    t.probes = [_probe(p.epoch, probability=True, probe_acc=p.output.accuracy) for p in t.probes]
    return t


def missing_softmax() -> Trace:
    """Logits read as probabilities: Keras rescales each row by its sum and clips, so the
    compiled loss equals the probabilities reading of the outputs."""
    t = healthy_trace()
    t.context["from_logits"] = False
    for p in t.probes:
        p.output.compiled_loss = p.output.ce_as_probabilities
    return t


def bad_initial_loss() -> Trace:
    t = healthy_trace()
    t.probes[0].loss = 9.0
    return t


def collapse() -> Trace:
    t = healthy_trace()
    t.probes[-1].output.predicted_counts = [250, 1, 1, 1, 0, 1, 0, 1, 1, 0]
    return t


def label_noise() -> Trace:
    t = healthy_trace()
    for p in t.probes[1:]:
        p.output.accuracy = t.history[p.epoch - 1]["val_accuracy"] * 0.7
    return t


def frozen_declared() -> Trace:
    t = underfitting()
    t.context["frozen_layers"] = [
        {"layer": "conv1", "params": 896},
        {"layer": "conv2", "params": 18496},
    ]
    return t


def frozen_never_updated() -> Trace:
    t = healthy_trace()
    for p in t.probes[1:]:
        for w in p.weights:
            if w.layer == "conv2":
                w.moved = 0.0
    return t


def batch_tiny() -> Trace:
    t = healthy_trace()
    t.context["batch_size"] = 2
    t.context["steps_per_epoch"] = 2500
    return t


def batch_huge() -> Trace:
    t = healthy_trace()
    t.context["batch_size"] = 4096
    t.context["steps_per_epoch"] = 2
    return t


def double_softmax_in_model() -> Trace:
    """Dense(10, softmax) followed by Softmax(): rows are probabilities no larger than 0.232."""
    t = healthy_trace()
    t.context.update(from_logits=False, output_chain=["softmax", "softmax"])
    t.probes = [_probe(p.epoch, probability=True, probe_acc=p.output.accuracy) for p in t.probes]
    for p in t.probes:
        p.output.max_probability = 0.21
    return t


def double_softmax_custom_loss() -> Trace:
    """A softmax model and a custom loss (from_logits unknown) whose value on the probe equals
    the cross-entropy of softmax(outputs): the loss applies its own softmax."""
    t = healthy_trace()
    t.context.update(from_logits=None, loss="my_loss", output_chain=["softmax"])
    t.probes = [_probe(p.epoch, probability=True, probe_acc=p.output.accuracy) for p in t.probes]
    for p in t.probes:
        p.output.compiled_loss = p.output.ce_as_logits
    return t


def output_relu() -> Trace:
    t = healthy_trace()
    t.context["output_chain"] = ["relu"]
    return t


def labels_outside_output_range() -> Trace:
    """Labels 0-9 against a sigmoid output under binary cross-entropy."""
    t = healthy_trace()
    t.context.update(loss="binary_crossentropy", from_logits=False, output_chain=["sigmoid"])
    return t


def binary_accuracy_metric() -> Trace:
    t = healthy_trace()
    t.context["metrics"] = [{"name": "binary_accuracy", "class": "BinaryAccuracy"}]
    _set_history(t, binary_accuracy=[0.9, 0.9, 0.91, 0.91, 0.92, 0.92])
    return t


def linear_model() -> Trace:
    t = healthy_trace()
    t.context["layers"] = [{k: v for k, v in r.items() if k != "activation"} for r in SEED_LAYERS]
    return t


def class_ordered_batches() -> Trace:
    """Every epoch ends predicting the last class seen, though the epoch logged 60-70% accuracy
    (batch by batch) and validation stays at chance."""
    t = healthy_trace()
    _set_history(
        t,
        accuracy=[0.55, 0.62, 0.66, 0.68, 0.7, 0.71],
        val_accuracy=[0.1, 0.1, 0.11, 0.1, 0.1, 0.1],
    )
    for p in t.probes[1:]:
        p.output.predicted_counts = [0, 0, 0, 0, 0, 0, 0, 0, 6, 250]
        p.output.accuracy = 0.11
    return t


def sorted_arrays_validation_split() -> Trace:
    """Sorted arrays with validation_split: the probe (the arrays' first images) comes in a
    handful of class runs and validation -- the last, never-trained classes -- scores ~0."""
    t = healthy_trace()
    t.context.update(label_runs=3, label_runs_expected=231.0, label_runs_z=-46.0)
    _set_history(
        t,
        accuracy=[0.3, 0.45, 0.55, 0.62, 0.66, 0.7],
        val_accuracy=[0.0, 0.0, 0.01, 0.0, 0.0, 0.0],
    )
    return t


def class_ordered_generator() -> Trace:
    """A generator serving one class per run of four batches of 50, no probe_data: each class's
    first batch is mostly wrong, the next three mostly right (per-batch accuracy as logged)."""
    t = healthy_trace()
    t.probes = []
    rng = np.random.default_rng(3)
    epoch = [rng.binomial(50, 0.1 if j == 0 else 0.9) / 50 for _ in range(10) for j in range(4)]
    t.batch_accuracy = [list(epoch) for _ in t.history]
    return t


def train_accuracy_below_chance() -> Trace:
    """Class-ordered batches read without probe_data: the logged training accuracy stays
    significantly below chance (the model predicts the classes it just left)."""
    t = healthy_trace()
    t.probes = []
    _set_history(
        t,
        loss=[2.52, 2.49, 2.44, 2.48, 2.46, 2.47],
        val_loss=[2.33, 2.34, 2.34, 2.34, 2.35, 2.34],
        accuracy=[0.02, 0.08, 0.068, 0.06, 0.05, 0.07],
        val_accuracy=[0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
    )
    return t


def validation_inputs_differ() -> Trace:
    """A validation generator that skips the rescaling, no BatchNorm: training learns while the
    validation loss sits at 6x ln(10) from the first epoch on."""
    t = healthy_trace()
    t.context["has_batchnorm"] = False
    _set_history(
        t,
        loss=[2.25, 2.07, 1.96, 1.83, 1.71, 1.62],
        val_loss=[13.6, 13.9, 14.2, 13.6, 13.8, 13.7],
        accuracy=[0.16, 0.23, 0.28, 0.33, 0.37, 0.40],
        val_accuracy=[0.12, 0.13, 0.12, 0.15, 0.14, 0.14],
    )
    for p in t.probes[1:]:
        p.output.accuracy = t.history[p.epoch - 1]["accuracy"]
    return t


def heavy_weight_decay() -> Trace:
    """The penalty is ~70% of the logged loss and the data loss barely moves."""
    t = healthy_trace()
    for p in t.probes:
        p.loss = 2.35 if p.epoch == 0 else 2.3 - 0.02 * p.epoch
        p.total_loss = p.loss + (5.0 if p.epoch else 9.0)
    return t


def labels_unrelated() -> Trace:
    """Images and labels shuffled apart: validation stays at chance while the net slowly
    memorises its training pairs (the probe's training images climb to 25%)."""
    t = healthy_trace()
    _set_history(
        t,
        loss=[2.31, 2.30, 2.29, 2.27, 2.24, 2.20],
        val_loss=[2.30, 2.30, 2.31, 2.31, 2.32, 2.32],
        accuracy=[0.10, 0.11, 0.12, 0.14, 0.16, 0.19],
        val_accuracy=[0.10, 0.11, 0.09, 0.10, 0.11, 0.10],
    )
    for p, acc in zip(t.probes, [0.1, 0.11, 0.12, 0.14, 0.17, 0.21, 0.25], strict=True):
        p.output.accuracy = acc
    return t


def penalty_crushed_weights() -> Trace:
    """L2 so strong that it was 60% of the untrained loss; it then shrank the kernels to under a
    third of their norm, after which its share of the loss looks small (10% -> 5%)."""
    t = healthy_trace()
    for p in t.probes:
        p.loss = 2.35 if p.epoch == 0 else 2.3 - 0.02 * p.epoch
        share = 0.6 if p.epoch == 0 else 0.12 - 0.01 * p.epoch
        p.total_loss = p.loss / (1 - share)
        for w in p.kernels():
            w.weight_norm *= 1 - 0.12 * p.epoch
    return t


def wide_gap_still_improving() -> Trace:
    """Training images are fit 20 points better than validation images, while validation
    accuracy still climbs: the gap of a run without enough regularisation, before it stalls."""
    t = healthy_trace()
    for p in t.probes[3:]:
        p.output.accuracy = t.history[p.epoch - 1]["val_accuracy"] + 0.2
    return t


def no_batch_norm_small_batch() -> Trace:
    """Batch 4 without BatchNorm is fine (Masters & Luschi 2018): must stay silent."""
    t = healthy_trace()
    t.context.update(batch_size=4, has_batchnorm=False, steps_per_epoch=1250)
    return t


Builder = Callable[[], Trace]
# fault name -> (builder, expected id, other ids allowed: consequences of the same fault)
FAULTS: dict[str, tuple[Builder, str, frozenset[str]]] = {
    "vanishing": (vanishing, "vanishing_gradients", frozenset()),
    "vanishing_forward": (vanishing_forward, "vanishing_gradients", frozenset()),
    "exploding": (exploding, "exploding_gradients", frozenset()),
    "dead_relu": (dead_relu, "dead_relu", frozenset()),
    "saturated": (saturated, "saturated_activations", frozenset()),
    "lr_too_high": (lr_too_high, "lr_too_high", frozenset({"underfitting"})),
    "lr_too_low": (lr_too_low, "lr_too_low", frozenset({"underfitting"})),
    "diverged": (diverged, "diverged", frozenset()),
    "overfitting": (overfitting, "overfitting", frozenset()),
    "missing_augmentation": (
        missing_augmentation,
        "missing_augmentation",
        frozenset({"overfitting"}),
    ),
    "memorizing_no_augmentation": (
        memorizing_without_augmentation,
        "missing_augmentation",
        frozenset({"overfitting"}),
    ),
    "underfitting": (underfitting, "underfitting", frozenset()),
    "unnormalized": (unnormalized, "unnormalized_inputs", frozenset()),
    "nonfinite_inputs": (nonfinite_inputs, "nonfinite_inputs", frozenset()),
    "double_softmax": (double_softmax, "double_softmax", frozenset()),
    "missing_softmax": (missing_softmax, "missing_softmax", frozenset()),
    "bad_initial_loss": (bad_initial_loss, "bad_initial_loss", frozenset()),
    "collapse": (collapse, "prediction_collapse", frozenset()),
    "label_noise": (label_noise, "label_noise", frozenset()),
    "frozen_declared": (frozen_declared, "frozen_layers", frozenset({"underfitting"})),
    "frozen_never_updated": (frozen_never_updated, "frozen_layers", frozenset()),
    "batch_tiny": (batch_tiny, "batch_size_extreme", frozenset()),
    "batch_huge": (batch_huge, "batch_size_extreme", frozenset()),
    "double_softmax_in_model": (double_softmax_in_model, "double_softmax", frozenset()),
    "double_softmax_custom_loss": (double_softmax_custom_loss, "double_softmax", frozenset()),
    "output_relu": (output_relu, "output_activation", frozenset()),
    "labels_outside_output_range": (
        labels_outside_output_range,
        "loss_label_mismatch",
        frozenset({"missing_softmax"}),
    ),
    "binary_accuracy_metric": (binary_accuracy_metric, "metric_mismatch", frozenset()),
    "linear_model": (linear_model, "missing_nonlinearity", frozenset()),
    "class_ordered_batches": (
        class_ordered_batches,
        "unshuffled_data",
        frozenset({"prediction_collapse", "overfitting", "underfitting"}),
    ),
    "sorted_arrays_validation_split": (
        sorted_arrays_validation_split,
        "unshuffled_data",
        frozenset({"overfitting"}),
    ),
    "class_ordered_generator": (
        class_ordered_generator,
        "unshuffled_data",
        frozenset({"overfitting", "underfitting"}),
    ),
    "heavy_weight_decay": (heavy_weight_decay, "over_regularization", frozenset({"underfitting"})),
    "validation_inputs_differ": (
        validation_inputs_differ,
        "unnormalized_inputs",
        frozenset({"overfitting"}),
    ),
    "train_accuracy_below_chance": (
        train_accuracy_below_chance,
        "unshuffled_data",
        frozenset({"underfitting"}),
    ),
    "penalty_crushed_weights": (
        penalty_crushed_weights,
        "over_regularization",
        frozenset({"underfitting"}),
    ),
    "labels_unrelated": (labels_unrelated, "label_noise", frozenset({"underfitting"})),
    "wide_gap_still_improving": (wide_gap_still_improving, "overfitting", frozenset()),
}


def fault(name: str) -> Trace:
    return copy.deepcopy(FAULTS[name][0]())
