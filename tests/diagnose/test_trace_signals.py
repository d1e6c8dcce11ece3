"""Trace JSON round trip and the pure signal definitions (what a dead unit, a saturated value, a
softmax output *is*)."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest
from diagnose_traces import FAULTS, fault, healthy_trace

from cnn_doctor.diagnose import signals as S
from cnn_doctor.diagnose import thresholds as T
from cnn_doctor.diagnose.findings import findings_from_json, findings_to_json
from cnn_doctor.diagnose.trace import Trace


@pytest.mark.parametrize("name", ["healthy", *sorted(FAULTS)])
def test_trace_json_round_trip(name, tmp_path):
    trace = healthy_trace() if name == "healthy" else fault(name)
    path = trace.save(tmp_path)
    text = path.read_text()
    json.loads(text)  # standard JSON: NaN is written as the string "NaN"
    assert "NaN," not in text.replace('"NaN"', "")
    again = Trace.load(tmp_path)
    assert again.to_dict() == trace.to_dict()


def test_nan_loss_survives_the_round_trip(tmp_path):
    trace = fault("diverged")
    again = Trace.load(trace.save(tmp_path / "t.json"))
    assert math.isnan(again.series("loss")[-1])
    assert again.probes[-1].finite is False


def test_newer_trace_version_is_refused():
    with pytest.raises(ValueError, match="upgrade"):
        Trace.from_dict({"version": 99})


def test_findings_json_round_trip(tmp_path):
    from cnn_doctor.diagnose import diagnose_trace

    diagnosis = diagnose_trace(fault("lr_too_high"))
    findings_to_json(diagnosis.findings, tmp_path / "d.json", skipped=diagnosis.skipped)
    assert findings_from_json(tmp_path / "d.json") == diagnosis.findings


def test_importing_the_diagnosis_core_does_not_import_keras():
    import subprocess

    code = (
        "import sys, cnn_doctor, cnn_doctor.config, cnn_doctor.diagnose;"
        "from cnn_doctor.diagnose import diagnose_trace, Trace;"
        "assert 'keras' not in sys.modules, 'keras imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- signal definitions ------------------------------------------------------------------------
def test_dead_fraction_counts_channels_dead_everywhere():
    x = np.ones((4, 5, 5, 3))
    x[..., 1] = -1.0  # channel 1 never positive: dead
    x[0, 0, 0, 2] = 0.5
    x[..., 2] = np.where(x[..., 2] == 0.5, 0.5, 0.0)  # channel 2 positive once: alive
    assert S.dead_fraction(x) == pytest.approx(1 / 3)
    assert S.dead_fraction(np.moveaxis(x, -1, 1), channel_axis=1) == pytest.approx(1 / 3)


def test_saturation_uses_the_preactivation_bound():
    bound = 5.0
    pre = np.array([-6.0, -4.0, 0.0, 4.0, 6.0])
    assert S.saturated_fraction("sigmoid", 1 / (1 + np.exp(-pre)), bound) == pytest.approx(0.4)
    assert S.saturated_fraction("tanh", np.tanh(pre), bound) == pytest.approx(0.4)
    with pytest.raises(ValueError):
        S.saturated_fraction("relu", pre)


def test_probability_rows_are_recognised_and_logits_are_not():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(32, 10)).astype(np.float32)
    assert not S.is_probability_rows(logits)
    assert S.is_probability_rows(S.softmax(logits).astype(np.float32))
    assert not S.is_probability_rows(np.full((4, 10), 0.2))  # in [0, 1] but rows sum to 2


def _round_to_bfloat16(x: np.ndarray) -> np.ndarray:
    """Round float32 values to the nearest bfloat16 (keep the top 16 bits, round half to even)."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return rounded.astype(np.uint32).view(np.float32)


def test_a_bfloat16_softmax_is_judged_with_the_bfloat16_roundoff():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=0.5, size=(256, 10)).astype(np.float32)  # near-uniform rows
    rows = _round_to_bfloat16(S.softmax(logits).astype(np.float32))
    assert np.abs(rows.sum(axis=1) - 1).max() > 1e-3  # the float32 tolerance rejects them...
    assert not S.output_stats(rows, dtype="float32").is_probability
    stat = S.output_stats(rows, dtype="bfloat16")
    assert stat.is_probability and stat.row_tolerance == pytest.approx(4 * 2**-8)
    # ...while bfloat16 logits, or [0, 1] values that do not sum to 1, are still not softmax
    assert not S.output_stats(_round_to_bfloat16(logits), dtype="bfloat16").is_probability
    assert not S.output_stats(np.full((4, 10), 0.103, np.float32), dtype="bfloat16").is_probability


def test_output_stats_on_probabilities_and_labels():
    probs = np.tile(np.eye(3)[[0, 1, 2, 0]], 1) * 0.9 + 0.1 / 3
    stat = S.output_stats(probs, np.array([0, 1, 2, 1]))
    assert stat.is_probability and stat.predicted_counts == [2, 1, 1]
    assert stat.accuracy == 0.75 and stat.label_counts == [1, 2, 1]


def test_confident_learning_flags_the_confidently_contradicted_label():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.95, 0.05]])
    labels = np.array([0, 0, 1, 1])  # the last one is confidently class 0
    assert S.label_issue_fraction(probs, labels) == pytest.approx(0.25)


def test_loss_floor_is_the_entropy_of_smoothed_targets():
    assert S.loss_floor(10, 0.0) == 0.0
    target = np.full(10, 0.02)
    target[0] = 0.82
    assert S.loss_floor(10, 0.2) == pytest.approx(-(target * np.log(target)).sum())


def test_input_stats_per_channel():
    x = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    x[..., 0] = 255
    stat = S.input_stats(x)
    assert stat.mean == [255.0, 0.0, 0.0] and stat.dtype == "uint8" and stat.finite
    assert S.input_stats(np.full((2, 3), np.nan)).finite is False


def test_curve_helpers():
    assert S.relative_decrease([2.0, 1.9, 1.0], 2) == pytest.approx(1 - 1.0 / 1.9)
    assert S.drop_fraction([0.5, 0.4, 0.45, 0.3], 0.03) == pytest.approx(2 / 3)
    gl, best = S.generalization_loss([1.0, 0.8, 0.9])
    assert best == 1 and gl == pytest.approx(0.125)


def _running_means(per_batch: np.ndarray) -> list[float]:
    """What Keras logs at each batch end: the epoch's float32 running mean."""
    return list(np.float32(np.cumsum(per_batch) / np.arange(1, per_batch.size + 1)))


@pytest.mark.parametrize(("size", "batches"), [(32, 25), (50, 40), (128, 390)])
def test_batch_dispersion_of_random_batches_is_near_one(size, batches):
    """The null behind thresholds.BATCH_DISPERSION_*: shuffled batches while the model learns
    fast (10% -> 60% within the epoch) give an index with mean ~1, spread ~1.4 sqrt(2/m), and
    never reach the flag."""
    rng = np.random.default_rng(size)
    p = np.linspace(0.1, 0.6, batches)
    found = []
    for _ in range(200):
        values = S.batch_values(_running_means(rng.binomial(size, p) / size))
        stats = S.batch_accuracy_dispersion(values)
        assert stats is not None and stats["batch_size"] in (size, size // 2, size // 4)
        found.append(stats)
    index = np.array([f["dispersion"] for f in found])
    assert abs(index.mean() - 1) < 0.1
    assert index.std() < 1.4 * np.sqrt(2 / (batches - 4)) * 1.3
    flagged = [
        f
        for f in found
        if f["dispersion"] >= T.BATCH_DISPERSION_MIN and f["z"] >= T.BATCH_DISPERSION_Z
    ]
    assert not flagged


def test_batches_in_class_order_are_overdispersed():
    """One class per run of four batches: wrong on each class's first batch, right after."""
    rng = np.random.default_rng(0)
    per_batch = np.array(
        [rng.binomial(50, 0.1 if j == 0 else 0.95) / 50 for _ in range(10) for j in range(4)]
        + [0.5]
    )
    stats = S.batch_accuracy_dispersion(S.batch_values(_running_means(per_batch)))
    assert stats["batch_size"] == 50
    assert stats["dispersion"] > 10 and stats["z"] > T.BATCH_DISPERSION_Z


def test_weighted_or_soft_accuracies_fit_no_batch_size():
    rng = np.random.default_rng(1)
    values = rng.uniform(0.2, 0.8, 60)  # not multiples of any 1/B
    assert S.batch_size_from_accuracies(values) is None
    assert S.batch_accuracy_dispersion(values) is None


def test_single_image_batches_are_inferred_only_when_plausible():
    rng = np.random.default_rng(2)
    assert S.batch_size_from_accuracies(rng.binomial(1, 0.3, 400).astype(float)) == 1
    # a model at 9% accuracy: random pairs would have been mixed ~300 times in 2000 batches
    assert S.batch_size_from_accuracies(rng.binomial(1, 0.09, 2000).astype(float)) == 1
    # a few mostly-right 0/1 batches (e.g. class-sorted blocks) could be unmixed by chance
    mostly_right = np.ones(100)
    mostly_right[::40] = 0.0
    assert S.batch_size_from_accuracies(mostly_right) is None
    assert S.batch_size_from_accuracies(rng.binomial(1, 0.3, 15).astype(float)) is None


def test_a_partial_batch_anywhere_in_the_epoch_is_found_and_left_out():
    """Keras shuffles a PyDataset's batch order, so the one short batch can come mid-epoch."""
    rng = np.random.default_rng(4)
    sizes = [64] * 32
    sizes[10] = 16
    correct = [rng.binomial(s, 0.4) for s in sizes]
    running = np.float32(np.cumsum(correct) / np.cumsum(sizes))
    values = S.batch_values(list(running))
    expected = [c / s for i, (c, s) in enumerate(zip(correct, sizes, strict=True)) if i != 10]
    np.testing.assert_allclose(values, expected, atol=1e-4)
    assert S.batch_size_from_accuracies(values) == 64


def test_uneven_batches_give_no_values_rather_than_wrong_ones():
    rng = np.random.default_rng(5)
    sizes = rng.integers(20, 90, 40)
    correct = [rng.binomial(s, 0.5) for s in sizes]
    running = np.float32(np.cumsum(correct) / np.cumsum(sizes))
    assert S.batch_values(list(running)).size == 0


@pytest.mark.parametrize("n", [200, 500, 1000, 10_000])
def test_the_validation_size_is_read_from_the_accuracies_it_produced(n):
    rng = np.random.default_rng(n)
    hits = rng.integers(1, n, size=5)
    logged = (hits / n).astype(np.float32).astype(float)  # what Keras logs
    count = S.sample_count_from_accuracies(logged)
    assert count is not None and n % count == 0  # n, or a divisor when every k shares it
    assert count == n or np.all(hits % (n // count) == 0)


def test_too_few_or_unfit_accuracies_give_no_validation_size():
    assert S.sample_count_from_accuracies([0.1, 0.12, 0.13]) is None  # three values fit many n
    rng = np.random.default_rng(0)
    weighted = rng.uniform(0.1, 0.9, size=6)  # weighted or soft metrics: no common 1/n
    assert S.sample_count_from_accuracies(weighted) is None


def test_the_diagnosis_uses_the_inferred_validation_size():
    from cnn_doctor.diagnose import diagnose_trace

    trace = healthy_trace()
    trace.context.pop("num_val", None)
    for row, hits in zip(trace.history, [23, 25, 24, 27, 26, 28], strict=True):
        row["accuracy"] = row["val_accuracy"] = hits / 250  # 10-11%: at chance on 250 images
    verdict = diagnose_trace(trace).verdict
    assert verdict.state == "not learning" and verdict.evidence["examples"] == 250
