"""Label issues: k-fold out-of-fold probabilities, then confident learning, ranked."""

from __future__ import annotations

import os

import numpy as np
import pytest

from cnn_doctor.data.checks import (
    DataCheckInput,
    get_check,
    label_search_config,
    out_of_fold_probs,
    run_data_check_suite,
    search_label_probs,
)
from cnn_doctor.data.cifar10 import synthetic_cifar10


def centroid_fit_predict(x_train, y_train, x_held):
    """A stand-in model: nearest class-mean colour (the synthetic classes differ by colour)."""
    f_train = x_train.reshape(len(x_train), -1, 3).mean(axis=1)
    f_held = x_held.reshape(len(x_held), -1, 3).mean(axis=1)
    centres = np.stack([f_train[y_train == c].mean(axis=0) for c in range(10)])
    d = ((f_held[:, None, :] - centres[None]) ** 2).sum(axis=-1)
    logits = -d / 200.0
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def _noisy(n: int = 300, flips: int = 12):
    data = synthetic_cifar10(n, 20, seed=4)
    y = data.y_train.copy()
    rng = np.random.default_rng(0)
    flipped = rng.choice(n, flips, replace=False)
    y[flipped] = (y[flipped] + rng.integers(1, 10, flips)) % 10
    return data, y, set(flipped.tolist())


def test_out_of_fold_probs_never_predict_an_image_its_model_saw() -> None:
    seen_together = []

    def recorder(x_train, y_train, x_held):
        seen_together.append(({x.tobytes() for x in x_train}, {x.tobytes() for x in x_held}))
        return np.full((len(x_held), 10), 0.1)

    data, y, _ = _noisy(100)
    probs = out_of_fold_probs(data.x_train, y, recorder, folds=4)
    assert probs.shape == (100, 10) and len(seen_together) == 4
    assert all(not (train & held) for train, held in seen_together)


def test_out_of_fold_probs_validate_their_inputs() -> None:
    data, y, _ = _noisy(100)
    with pytest.raises(ValueError, match="folds"):
        out_of_fold_probs(data.x_train, y, centroid_fit_predict, folds=1)
    with pytest.raises(ValueError, match="shape"):
        out_of_fold_probs(data.x_train, y, lambda a, b, c: np.ones((len(c), 3)), folds=2)


def test_flipped_labels_are_found_and_ranked_by_self_confidence() -> None:
    data, y, flipped = _noisy()
    check_input = DataCheckInput(data.x_train, y, class_names=data.class_names)
    check_input = search_label_probs(check_input, centroid_fit_predict, folds=3)
    (finding,) = get_check("label_issues").find_issues(check_input)
    found = {index for _, index in finding.items}
    assert len(found & flipped) / len(flipped) >= 0.9
    assert len(found & flipped) / len(found) >= 0.9
    confidences = [w["self_confidence"] for w in finding.evidence["worst"]]
    assert confidences == sorted(confidences)
    assert finding.evidence["model"]["folds"] == 3
    assert finding.severity == "warning" and "Unreliable" not in finding.summary


def test_a_label_subset_reports_record_indices_of_the_subset() -> None:
    data, y, flipped = _noisy(400, 16)
    check_input = DataCheckInput(data.x_train, y, train_index=np.arange(400) + 7)
    check_input = search_label_probs(check_input, centroid_fit_predict, subset=200, folds=2)
    assert len(check_input.label_rows) == 200
    result = run_data_check_suite(check_input, ["label_issues"])
    (finding,) = result.findings
    rows = {index - 7 for _, index in finding.items}
    assert rows <= set(check_input.label_rows.tolist())
    assert finding.evidence["searched"] == 200


@pytest.mark.slow
def test_our_trainer_provides_the_out_of_fold_probabilities() -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    from cnn_doctor.data.checks import trainer_fit_predict

    data = synthetic_cifar10(80, 10, seed=1)
    config = label_search_config(
        None, ("optim.epochs=1", "optim.batch_size=20", "model.width=0.125")
    )
    assert config.model.arch == "fast"
    probs = out_of_fold_probs(data.x_train, data.y_train, trainer_fit_predict(config, 10), folds=2)
    assert probs.shape == (80, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_a_weak_model_downgrades_the_finding_and_says_why() -> None:
    rng = np.random.default_rng(0)
    y = np.arange(400) % 10
    probs = rng.dirichlet(np.ones(10), size=400)  # a model at chance
    data = DataCheckInput(synthetic_cifar10(400, 10).x_train, y, pred_probs=probs)
    findings = get_check("label_issues").find_issues(data)
    for finding in findings:
        assert finding.severity == "info" and finding.confidence <= 0.2
        assert "Unreliable" in finding.summary


def _confused_probs(labels: np.ndarray, rng: np.random.Generator, error: float) -> np.ndarray:
    """A model that confuses each class with its neighbour (cat<->dog style) a share ``error``
    of the time, confidently: the kind of mistake confident learning counts as a label error.
    As with real models, a confused image keeps some probability on its true class, while a
    flipped label (a class unrelated to the image) gets almost none."""
    n = len(labels)
    predicted = labels.copy()
    wrong = rng.random(n) < error
    predicted[wrong] = (labels[wrong] + 1) % 10
    probs = rng.dirichlet(np.full(10, 0.5), n) * 0.1
    probs[np.arange(n), predicted] += rng.uniform(0.5, 0.9, n)
    probs[wrong, labels[wrong]] += rng.uniform(0.1, 0.3, int(wrong.sum()))
    return probs / probs.sum(axis=1, keepdims=True)


def _calibration_input(flip_share: float, seed: int = 0) -> tuple[DataCheckInput, set[int]]:
    rng = np.random.default_rng(seed)
    n, n_ref = 4000, 2000
    true = np.repeat(np.arange(10), n // 10)
    given = true.copy()
    flipped = rng.choice(n, int(flip_share * n), replace=False)
    given[flipped] = (true[flipped] + rng.integers(2, 9, len(flipped))) % 10
    ref_labels = np.repeat(np.arange(10), n_ref // 10)
    data = DataCheckInput(
        np.zeros((n, 2, 2, 3), np.uint8),
        given,
        pred_probs=_confused_probs(true, rng, 0.2),  # the model predicts the *true* class
        reference_probs=_confused_probs(ref_labels, rng, 0.2),
        reference_labels=ref_labels,
    )
    return data, set(flipped.tolist())


def test_flag_count_is_calibrated_on_trusted_labels() -> None:
    """A model wrong on 20% of clean images inflates confident learning's count; the reference
    flag rate takes that back out, so the kept set is mostly the planted flips."""
    data, flipped = _calibration_input(0.05)
    uncalibrated = DataCheckInput(data.x_train, data.y_train, pred_probs=data.pred_probs)
    (raw,) = get_check("label_issues").find_issues(uncalibrated)
    (finding,) = get_check("label_issues").find_issues(data)
    found = {index for _, index in finding.items}
    raw_found = {index for _, index in raw.items}
    precision, raw_precision = (
        len(found & flipped) / len(found),
        len(raw_found & flipped) / len(raw_found),
    )
    assert raw_precision < 0.6  # the fault being calibrated away is real in this setup
    assert precision >= 1.5 * raw_precision  # the model's own confusions are mostly dropped
    assert len(found & flipped) / len(flipped) >= 0.6  # ... without losing the planted flips
    calibration = finding.evidence["calibration"]
    assert calibration["reference_flag_rate"] > 0.05
    assert calibration["kept"] == len(found) < calibration["flagged_before_calibration"]
    assert 0.02 <= calibration["estimated_wrong_share"] <= 0.12  # 5% planted
    assert "calibrated on 2000 trusted test labels" in finding.summary


def test_clean_labels_with_a_confused_model_raise_no_label_finding() -> None:
    data, _ = _calibration_input(0.0, seed=1)
    findings = get_check("label_issues").find_issues(data)
    assert findings == [] or findings[0].evidence["calibration"]["estimated_wrong_share"] < 0.01


def test_search_predicts_the_reference_with_one_fold_model_each() -> None:
    data, y, _ = _noisy(200, 8)
    test = synthetic_cifar10(200, 60, seed=5)
    check_input = DataCheckInput(
        data.x_train, y, class_names=data.class_names, x_test=test.x_test, y_test=test.y_test
    )
    searched = search_label_probs(check_input, centroid_fit_predict, folds=3)
    assert searched.reference_probs.shape == (60, 10)
    assert np.array_equal(searched.reference_labels, test.y_test)
    assert np.allclose(searched.reference_probs.sum(axis=1), 1.0)
    assert searched.label_note["reference"].startswith("60 test images")
    no_ref = search_label_probs(check_input, centroid_fit_predict, folds=3, reference=False)
    assert no_ref.reference_probs is None
