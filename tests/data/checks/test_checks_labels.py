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
