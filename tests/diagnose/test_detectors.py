"""Tier 1: every detector finds its planted fault, stays silent on a healthy run, and ranks the
root cause above the symptoms it explains. Pure traces, no keras: milliseconds."""

from __future__ import annotations

import math

import pytest
from diagnose_traces import (
    FAULTS,
    HEALTHY_WEIGHTS,
    KERNELS,
    fault,
    healthy_trace,
    memorizing_curves,
    no_batch_norm_small_batch,
)

from cnn_doctor.diagnose import DETECTORS, diagnose_trace
from cnn_doctor.diagnose.detectors import get_detector
from cnn_doctor.diagnose.trace import Trace

KERNEL_NAMES = [name for name, _ in KERNELS]


def test_every_registered_detector_has_a_planted_fault():
    planted = {expected for _, expected, _ in FAULTS.values()}
    assert planted == set(DETECTORS)


def test_the_issue_lists_ids_are_all_registered():
    required = {
        "vanishing_gradients",
        "exploding_gradients",
        "dead_relu",
        "saturated_activations",
        "lr_too_high",
        "lr_too_low",
        "diverged",
        "overfitting",
        "underfitting",
        "unnormalized_inputs",
        "missing_augmentation",
        "double_softmax",
        "bad_initial_loss",
        "prediction_collapse",
        "label_noise",
        "frozen_layers",
        "batch_size_extreme",
    }
    assert required <= set(DETECTORS)


def test_healthy_run_has_no_findings_and_nothing_skipped():
    diagnosis = diagnose_trace(healthy_trace())
    assert diagnosis.findings == []
    assert diagnosis.skipped == {}


def test_small_batch_without_batchnorm_is_not_a_problem():
    assert diagnose_trace(no_batch_norm_small_batch()).findings == []


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_planted_fault_is_found_first_and_only_with_its_consequences(name):
    _, expected, allowed = FAULTS[name]
    diagnosis = diagnose_trace(fault(name))
    ids = diagnosis.ids()
    assert expected in ids, f"{name}: expected {expected}, got {ids}"
    assert ids[0] == expected, f"{name}: {expected} should rank first, got {ids}"
    assert set(ids) <= {expected} | allowed, f"{name}: unexpected findings {ids}"


def test_symptoms_rank_below_their_root_cause():
    trace = fault("vanishing")
    for row in trace.history:  # make it also look like a plateau (loss and accuracy flat)
        row["loss"] = 2.2
        row["accuracy"] = 0.12
    diagnosis = diagnose_trace(trace)
    assert diagnosis.ids()[0] == "vanishing_gradients"
    under = next(f for f in diagnosis.findings if f.id == "underfitting")
    assert under.evidence["likely_consequence_of"] == ["vanishing_gradients"]
    assert under.severity != "critical"


def _at_chance(trace: Trace) -> Trace:
    for row in trace.history:
        row["accuracy"] = row["val_accuracy"] = 0.1
    return trace


@pytest.mark.parametrize(
    "name, detector", [("dead_relu", "dead_relu"), ("saturated", "saturated_activations")]
)
def test_capacity_symptoms_are_info_in_a_run_that_learns(name, detector):
    (learning,) = [f for f in diagnose_trace(fault(name)).findings if f.id == detector]
    assert learning.severity == "info"
    assert learning.evidence["capped_because"].startswith("Learning")
    (stuck,) = [f for f in diagnose_trace(_at_chance(fault(name))).findings if f.id == detector]
    assert stuck.severity in ("warning", "critical")
    assert "capped_because" not in stuck.evidence


def test_class_ordered_batches_explain_tiny_updates():
    trace = fault("lr_too_low")  # tiny steps, loss flat ...
    ordered = fault("class_ordered_batches")  # ... and batches that come one class at a time
    for row, sorted_row in zip(trace.history, ordered.history, strict=True):
        row.update(accuracy=sorted_row["accuracy"], val_accuracy=sorted_row["val_accuracy"])
    for probe, sorted_probe in zip(trace.probes, ordered.probes, strict=True):
        probe.output = sorted_probe.output
    diagnosis = diagnose_trace(trace)
    assert diagnosis.ids()[0] == "unshuffled_data"
    (low,) = [f for f in diagnosis.findings if f.id == "lr_too_low"]
    assert low.evidence["likely_consequence_of"] == ["unshuffled_data"]


def _huge_loss_run(initial: float, loss: list[float]) -> Trace:
    trace = healthy_trace()
    trace.probes[0].loss = initial
    for row, value in zip(trace.history, loss, strict=True):
        row["loss"] = row["val_loss"] = value
    return trace


def test_a_loss_that_started_huge_and_falls_is_not_a_divergence():
    falling = _huge_loss_run(9e3, [5600, 3500, 2900, 2600, 2400, 2200])
    diagnosis = diagnose_trace(falling)
    assert "diverged" not in diagnosis.ids() and diagnosis.verdict.state != "diverged"
    assert diagnosis.ids()[0] == "bad_initial_loss"
    rising = _huge_loss_run(9e3, [5600, 3500, 2900, 2600, 2400, 3100])  # blew up again
    assert "diverged" in diagnose_trace(rising).ids()
    exploded = _huge_loss_run(2.3, [2.0, 1.7, 1.5, 1.4, 1.3, 2e3])  # a normal start
    assert diagnose_trace(exploded).verdict.state == "diverged"


def test_missing_signals_are_skipped_with_a_reason():
    diagnosis = diagnose_trace(Trace(history=[{"loss": 2.0}, {"loss": 1.9}]))
    assert "vanishing_gradients" in diagnosis.skipped
    assert "probe_data" in diagnosis.skipped["vanishing_gradients"]
    assert "validation_data" in diagnosis.skipped["overfitting"]
    assert "diverged" not in diagnosis.skipped  # loss alone is enough to see NaN


def test_a_penalty_that_crushed_the_weights_needs_them_shrunk():
    trace = fault("penalty_crushed_weights")
    (finding,) = [f for f in diagnose_trace(trace).findings if f.id == "over_regularization"]
    assert finding.evidence["views"]["penalty_dominates"]["kernels_shrunk"]
    for p in trace.probes:  # the same penalty share, but the kernels kept their norm
        for w in p.kernels():
            w.weight_norm = HEALTHY_WEIGHTS[KERNEL_NAMES.index(w.layer)]
    assert "over_regularization" not in diagnose_trace(trace).ids()


def test_missing_augmentation_needs_to_know_the_augmentation():
    trace = fault("missing_augmentation")
    del trace.context["augment"]
    diagnosis = diagnose_trace(trace)
    assert "missing_augmentation" in diagnosis.skipped
    assert diagnosis.ids() == ["overfitting"]


def test_augmented_overfitting_run_is_not_missing_augmentation():
    assert diagnose_trace(fault("overfitting")).ids() == ["overfitting"]


def test_memorizing_run_overfits_before_its_validation_loss_turns_up():
    diagnosis = diagnose_trace(memorizing_curves(healthy_trace()))
    assert diagnosis.ids() == ["overfitting"]
    evidence = diagnosis.findings[0].evidence
    assert evidence["rule"] == "validation_accuracy_stalled"
    assert evidence["generalization_loss"] < 0.05  # the loss rule alone would have missed it


def test_training_that_still_transfers_to_validation_is_not_overfitting():
    """Train accuracy ahead of validation, but validation keeps pace: healthy learning. The
    probe's training images are fit ~20 points better than validation: worth an ``info`` note,
    never a warning while validation still climbs."""
    trace = memorizing_curves(healthy_trace())
    for row, val in zip(trace.history, [0.25, 0.35, 0.47, 0.60, 0.69, 0.76], strict=True):
        row["val_accuracy"] = val
    for row, val in zip(trace.history, [2.1, 1.8, 1.5, 1.25, 1.05, 0.9], strict=True):
        row["val_loss"] = val
    findings = diagnose_trace(trace).findings
    assert [(f.id, f.severity, f.evidence["rule"]) for f in findings] == [
        ("overfitting", "info", "probe_generalization_gap")
    ]
    for p in trace.probes[1:]:  # probe in step with validation: nothing at all
        p.output.accuracy = trace.history[p.epoch - 1]["val_accuracy"] + 0.02
    assert diagnose_trace(trace).findings == []


def test_a_wide_gap_is_a_warning_once_validation_stalls():
    trace = fault("wide_gap_still_improving")
    (finding,) = diagnose_trace(trace).findings
    assert finding.severity == "info" and "z =" in finding.summary
    trace = memorizing_curves(trace)  # validation stalls: Chollet's rule, a warning
    assert [(f.id, f.severity) for f in diagnose_trace(trace).findings] == [
        ("overfitting", "warning")
    ]


def test_a_gap_within_sampling_noise_is_not_reported():
    trace = fault("wide_gap_still_improving")
    for p in trace.probes:
        p.output.examples = 20  # 20 probe images: a 20-point gap is < 3 standard errors
    assert diagnose_trace(trace).findings == []


def test_small_train_val_gap_is_not_overfitting_even_when_validation_stalls():
    trace = memorizing_curves(healthy_trace())
    for row, acc in zip(trace.history, [0.20, 0.35, 0.42, 0.47, 0.50, 0.53], strict=True):
        row["accuracy"] = acc  # +6 points over the window, val +2: stalled, but gap only 5 points
    for p in trace.probes[1:]:
        p.output.accuracy = trace.history[p.epoch - 1]["accuracy"]
    assert "overfitting" not in diagnose_trace(trace).ids()


def test_underfitting_is_relative_not_absolute():
    """A short run at 30% accuracy that is still improving is not underfitting."""
    trace = healthy_trace()
    for row, acc in zip(trace.history, [0.12, 0.16, 0.2, 0.24, 0.27, 0.30], strict=True):
        row["accuracy"] = acc
    assert diagnose_trace(trace).findings == []


def test_a_first_epoch_loss_spike_the_run_recovers_from_is_only_info():
    trace = healthy_trace()
    trace.history[0]["loss"] = 3.9  # above 1.5x the initial 2.35, then falling every epoch
    (finding,) = diagnose_trace(trace).findings
    assert (finding.id, finding.severity) == ("lr_too_high", "info")
    trace.history[3]["loss"] = 1.5  # the loss rises again after the spike: a warning
    assert [(f.id, f.severity) for f in diagnose_trace(trace).findings] == [
        ("lr_too_high", "warning")
    ]


def test_update_ratio_of_zero_initialised_kernels_is_not_a_high_lr():
    """A kernel that never left zero init has a huge |step| / |w| whatever the LR."""
    trace = fault("lr_too_high")
    trace.history = healthy_trace().history  # the curves stay healthy: only the ratio speaks
    for p in trace.probes:
        p.output.accuracy = healthy_trace().probes[p.epoch].output.accuracy
    assert diagnose_trace(trace).ids() == ["lr_too_high"]
    for p in trace.probes:
        for w in p.kernels():
            w.weight_norm = 1e-3
    assert "lr_too_high" not in diagnose_trace(trace).ids()


def test_lr_too_low_ignores_the_schedule_decaying_to_zero():
    trace = healthy_trace()
    for p in trace.probes[-2:]:  # onecycle's tail: tiny LR, tiny steps, loss flattening
        p.lr = 1e-5
        for w in p.weights:
            w.step_ratio = 1e-6
    for row, loss in zip(trace.history, [2.0, 1.5, 1.2, 1.05, 1.02, 1.01], strict=True):
        row["loss"] = loss
    assert "lr_too_low" not in diagnose_trace(trace).ids()


def test_lr_too_low_from_weight_displacement_without_probe_data():
    trace = fault("lr_too_low")
    for p in trace.probes:
        for w in p.weights:
            w.step_ratio = None
            w.grad_norm = None
    finding = next(f for f in diagnose_trace(trace).findings if f.id == "lr_too_low")
    assert "displacement" in finding.evidence["measured_by"]


def test_dead_network_is_not_exploding_or_lr_too_low():
    """All-zero gradients (everything dead) say nothing about explosion or the LR."""
    trace = fault("lr_too_low")
    for p in trace.probes:
        for w in p.weights:
            w.grad_norm = 0.0
            w.step_ratio = 0.0
    ids = diagnose_trace(trace).ids()
    assert "exploding_gradients" not in ids
    assert "lr_too_low" not in ids
    assert "vanishing_gradients" in ids


def test_initial_loss_deviation_below_the_warning_bar_is_info():
    trace = healthy_trace()
    trace.probes[0].loss = math.log(10) * 1.7
    (finding,) = diagnose_trace(trace).findings
    assert (finding.id, finding.severity) == ("bad_initial_loss", "info")


def test_initial_loss_is_only_judged_for_cross_entropy():
    trace = fault("bad_initial_loss")
    trace.context["loss"] = "mean_squared_error"
    assert diagnose_trace(trace).findings == []


def test_prediction_collapse_onto_the_majority_label_is_imbalance_not_collapse():
    trace = fault("collapse")
    trace.probes[-1].output.label_counts = [200, 6, 6, 6, 6, 6, 6, 6, 7, 7]
    assert "prediction_collapse" not in diagnose_trace(trace).ids()


def test_label_noise_needs_a_model_that_learned_something():
    trace = fault("label_noise")
    for row in trace.history:
        row["val_accuracy"] = 0.15
    assert "label_noise" not in diagnose_trace(trace).ids()


def test_labels_unrelated_to_images_need_memorisation_above_chance():
    trace = fault("labels_unrelated")
    (finding,) = [f for f in diagnose_trace(trace).findings if f.id == "label_noise"]
    assert finding.severity == "critical"
    assert finding.evidence["reading"] == "labels_unrelated_to_images"
    for p in trace.probes:
        p.output.accuracy = 0.11  # nothing memorised either: a run stuck at chance, not this
    assert "label_noise" not in diagnose_trace(trace).ids()


def test_validation_below_chance_is_not_unrelated_labels():
    """Sorted arrays + validation_split score ~0 on validation: unseen classes, not bad labels."""
    trace = fault("labels_unrelated")
    for row in trace.history:
        row["val_accuracy"] = 0.0
    assert "label_noise" not in diagnose_trace(trace).ids()


def test_a_batchnorm_net_can_score_badly_on_validation_without_other_inputs():
    """BatchNorm's inference statistics (e.g. at batch size 1) give the same curves."""
    trace = fault("validation_inputs_differ")
    trace.context["has_batchnorm"] = True
    assert "unnormalized_inputs" not in diagnose_trace(trace).ids()


def test_training_accuracy_at_chance_is_not_unshuffled_data():
    trace = fault("train_accuracy_below_chance")
    for row in trace.history:
        row["accuracy"] = 0.095  # at chance: a run that learns nothing, not class-ordered data
    assert "unshuffled_data" not in diagnose_trace(trace).ids()


def test_label_noise_estimate_inverts_the_flip_model():
    trace = healthy_trace()
    eta, a_val = 0.3, trace.history[-1]["val_accuracy"]
    trace.probes[-1].output.accuracy = a_val - eta * (a_val - (1 - a_val) / 9)
    finding = next(f for f in diagnose_trace(trace).findings if f.id == "label_noise")
    assert finding.evidence["estimated_noise_rate"] == pytest.approx(eta, abs=1e-9)


def test_scaled_0_1_inputs_are_normalised_enough():
    trace = healthy_trace()
    trace.inputs.mean = [0.49, 0.48, 0.45]
    trace.inputs.std = [0.25, 0.24, 0.26]
    assert diagnose_trace(trace).findings == []


def test_inputs_divided_by_255_twice_are_flagged():
    trace = healthy_trace()
    trace.inputs.mean = [0.0019, 0.0019, 0.0018]
    trace.inputs.std = [0.001, 0.001, 0.001]
    assert diagnose_trace(trace).ids() == ["unnormalized_inputs"]


def test_one_unscaled_channel_is_flagged():
    trace = healthy_trace()
    trace.inputs.std = [1.0, 1.0, 0.05]
    finding = diagnose_trace(trace).findings[0]
    assert "channels_differ" in finding.evidence["problems"]


def test_oscillation_needs_more_than_one_noisy_drop():
    trace = healthy_trace()
    for row, acc in zip(trace.history, [0.30, 0.40, 0.36, 0.45, 0.5, 0.55], strict=True):
        row["accuracy"] = acc
    assert "lr_too_high" not in diagnose_trace(trace).ids()


def test_thresholds_change_the_call():
    trace = fault("dead_relu")
    assert get_detector("dead_relu").check(trace)
    assert get_detector("dead_relu", layer_fraction=0.95).check(trace) == []


def test_pipeline_fixes_are_config_overrides():
    trace = fault("unnormalized")
    trace.context["source"] = "pipeline"
    (finding,) = diagnose_trace(trace).findings
    assert finding.fixes[0].change == "data.normalize=standardize"
    user = diagnose_trace(fault("unnormalized")).findings[0]
    assert "Rescaling" in user.fixes[0].change


def test_rendered_table_ranks_findings_and_lists_fixes_and_skips():
    from rich.console import Console

    from cnn_doctor.diagnose.render import print_diagnosis

    trace = fault("lr_too_high")
    trace.context.pop("augment")
    console = Console(record=True, width=120)
    print_diagnosis(diagnose_trace(trace), console=console)
    text = console.export_text()
    assert text.index("lr_too_high") < text.index("underfitting")
    assert "What to change" in text and "set the learning rate to 0.001" in text
    assert "missing_augmentation: needs context.augment" in text


def test_weights_without_gradient_are_dead_not_frozen():
    trace = fault("frozen_never_updated")
    for p in trace.probes:
        for w in p.weights:
            if w.layer == "conv2":
                w.grad_norm = 0.0
    assert "frozen_layers" not in diagnose_trace(trace).ids()


def test_underfitting_ignores_a_loss_flattened_by_annealing_while_accuracy_climbs():
    # measured shape of a healthy short onecycle run on real CIFAR-10 (2000 images, 6 epochs):
    # the reported loss (with its L2 term) falls < 5% over the last 3 epochs as the LR anneals,
    # while train accuracy still gains ~4-5 points an epoch
    trace = healthy_trace()
    loss = [2.558, 2.373, 2.232, 2.139, 2.09, 2.038]
    acc = [0.183, 0.31, 0.363, 0.409, 0.454, 0.504]
    for row, value, accuracy in zip(trace.history, loss, acc, strict=True):
        row["loss"], row["accuracy"] = value, accuracy
    assert "underfitting" not in diagnose_trace(trace).ids()
    for row in trace.history[-3:]:  # the same run with accuracy stalled is a plateau
        row["accuracy"] = 0.41
    assert "underfitting" in diagnose_trace(trace).ids()


def test_underfitting_counts_an_accuracy_gain_within_sampling_noise_as_no_progress():
    # the fault suite's tiny-capacity run: a flat loss while train accuracy wobbles by up to +0.02
    # an epoch on 2000 images -- under 2 standard errors (0.024 at p = 0.17), so no progress
    trace = healthy_trace()
    loss = [2.331, 2.313, 2.302, 2.294, 2.288, 2.285]
    acc = [0.125, 0.154, 0.151, 0.1745, 0.166, 0.178]
    for row, value, accuracy in zip(trace.history, loss, acc, strict=True):
        row["loss"], row["accuracy"] = value, accuracy
    trace.context["num_train"] = 2000
    found = {f.id: f for f in diagnose_trace(trace).findings}
    assert "underfitting" in found
    noise = found["underfitting"].evidence["thresholds"]["acc_gain_noise"]
    assert noise == pytest.approx(2 * math.sqrt(2 * 0.178 * 0.822 / 2000))
    # the same +0.02 gains measured on 45k images are real progress: the 0.01 rule decides
    trace.context["num_train"] = 45000
    assert "underfitting" not in diagnose_trace(trace).ids()


def test_vanishing_forward_view_ignores_activations_rounded_to_bfloat16():
    trace = fault("vanishing_forward")
    assert "vanishing_gradients" in diagnose_trace(trace).ids()
    for probe in trace.probes:
        for stat in probe.activations:
            stat.dtype = "bfloat16"  # 8 significant bits cannot show a 1e-3 ratio
    assert "vanishing_gradients" not in diagnose_trace(trace).ids()
    for probe in trace.probes:
        for stat in probe.activations:
            stat.dtype = "float16"  # 11 bits can
    assert "vanishing_gradients" in diagnose_trace(trace).ids()


def test_a_residual_shortcut_conv_is_not_a_linear_pair():
    """In a graph the layer order is not the data flow: a 1x1 shortcut conv listed right after
    the block's last conv is not fed by it."""
    t = healthy_trace()
    t.context["layers"] = [
        {"name": "conv_a", "kind": "weight", "activation": "relu"},
        {"name": "conv_b", "kind": "weight"},
        {"name": "shortcut", "kind": "weight"},
        {"name": "add", "kind": "merge"},
        {"name": "relu", "kind": "activation", "activation": "relu"},
        {"name": "head", "kind": "weight", "activation": "softmax"},
    ]
    assert get_detector("missing_nonlinearity").check(t) == []
    t.context["layers"] = [r for r in t.context["layers"] if r["kind"] != "merge"]
    (finding,) = get_detector("missing_nonlinearity").check(t)
    assert finding.severity == "info" and ["conv_b", "shortcut"] in finding.evidence["linear_pairs"]


def test_a_relu_net_is_not_told_to_use_relu():
    """Fixes apply to the user's network: a ReLU net with vanishing gradients gets other advice."""
    t = fault("vanishing")
    sigmoid_fixes = [f.change for f in get_detector("vanishing_gradients").check(t)[0].fixes]
    assert any("ReLU-family" in c for c in sigmoid_fixes)
    t.context["layers"] = [dict(r) for r in t.context["layers"]]
    for r in t.context["layers"]:
        if r.get("activation") == "sigmoid":
            r["activation"] = "relu"
    relu_fixes = [f.change for f in get_detector("vanishing_gradients").check(t)[0].fixes]
    assert relu_fixes and not any("ReLU-family" in c for c in relu_fixes)


def test_validation_inputs_unlike_training_are_not_read_as_unrelated_labels():
    trace = fault("validation_inputs_differ")
    trace.context.pop("num_val")  # read from the curves: 100 images, chance band up to ~19%
    ids = diagnose_trace(trace).ids()
    assert ids[0] == "unnormalized_inputs" and "label_noise" not in ids
