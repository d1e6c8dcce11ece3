"""LR range test: the suggestion on hand-made curves, and the test on a real (tiny) Keras model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import keras
import numpy as np
import pytest

from cnn_doctor.investigate.lr_find import (
    lr_find,
    ramp_beta,
    smooth_losses,
    suggest_lr,
    zero_phase_smooth,
)


def _valley(lrs: np.ndarray) -> np.ndarray:
    """Flat, then a descent steepest at lr = 1e-2, then an explosion past 1."""
    x = np.log10(lrs)
    return 2.3 - 1.5 / (1 + np.exp(-(x + 2) * 3)) + np.where(x > 0, 5 * x**2, 0)


def test_suggestion_is_the_steepest_descent_of_the_curve() -> None:
    lrs = np.geomspace(1e-6, 10, 200)
    suggested = suggest_lr(lrs, _valley(lrs), "steepest")
    assert suggested == pytest.approx(1e-2, rel=0.15)


def test_min_over_ten_is_a_tenth_of_the_minimum() -> None:
    lrs = np.geomspace(1e-6, 10, 200)
    losses = _valley(lrs)
    assert suggest_lr(lrs, losses, "min/10") == pytest.approx(lrs[np.argmin(losses)] / 10)


def test_suggestion_with_non_finite_values() -> None:
    lrs = np.geomspace(1e-6, 10, 200)
    losses = _valley(lrs)
    losses[50] = np.nan
    losses[120] = np.inf
    losses[-5:] = np.nan
    suggested = suggest_lr(lrs, losses, "steepest")
    assert suggested is not None and math.isfinite(suggested)
    assert suggested == pytest.approx(1e-2, rel=0.15)  # dropping points must not shift the LRs


def test_suggestion_with_too_few_points_is_none() -> None:
    assert suggest_lr([1e-3, 1e-2], [1.0, 0.5]) is None
    assert suggest_lr([1e-3, 1e-2, 1e-1], [np.nan, np.nan, 1.0]) is None


def test_suggestion_rejects_unknown_method_and_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        suggest_lr([1, 2, 3], [1, 2, 3], "valley")
    with pytest.raises(ValueError, match="differ in length"):
        suggest_lr([1, 2, 3], [1, 2])


def test_smoothing_is_bias_corrected() -> None:
    smoothed = smooth_losses([2.0, 2.0, 2.0])
    assert smoothed == pytest.approx([2.0, 2.0, 2.0])  # no drag towards zero at the start


def test_steepest_is_searched_below_the_minimum_only() -> None:
    """Past the valley a blowing-up loss bounces; its steep falling stretches are not advice."""
    lrs = np.geomspace(1e-6, 10, 100)
    x = np.log10(lrs)
    losses = 2.3 - 0.2 / (1 + np.exp(-(x + 2.5) * 3))  # a gentle descent around 3e-3
    blowup = x > -1.5
    losses[blowup] += 4 * (x[blowup] + 1.5) ** 2 * (1 + np.sin(np.arange(blowup.sum()) * 2))
    suggested = suggest_lr(lrs, losses, "steepest")
    assert suggested < lrs[np.argmin(losses)]
    assert suggested == pytest.approx(3e-3, rel=0.5)


def test_zero_phase_smoothing_does_not_shift_the_valley() -> None:
    """A one-sided EMA at fastai's beta drags the minimum ~half a 100-step ramp to the right."""
    lrs = np.geomspace(1e-5, 10, 100)
    raw = (np.log10(lrs) + 2) ** 2 + 2.0  # minimum at lr = 1e-2 (index 50)
    lagging = smooth_losses(raw.tolist(), 0.98)
    centred = zero_phase_smooth(raw.tolist(), ramp_beta(100))
    assert abs(int(np.argmin(centred)) - 50) <= 1
    assert int(np.argmin(lagging)) - 50 >= 10
    assert ramp_beta(100) == pytest.approx(0.8) and ramp_beta(20) == pytest.approx(0.5)


def test_zero_phase_smoothing_keeps_non_finite_points_in_place() -> None:
    out = zero_phase_smooth([2.0, 2.0, float("nan"), 2.0], 0.8)
    assert out[:2] == pytest.approx([2.0, 2.0]) and math.isnan(out[2])
    assert out[3] == pytest.approx(2.0)


# --------------------------------------------------------------------------------------------------
# On a real model


def _data(n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, n)
    x = rng.normal(size=(n, 8)).astype("float32") + y[:, None].astype("float32")
    return x, y


def _model(learning_rate=0.01, momentum: float = 0.9) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(4)]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def test_weights_optimizer_state_and_lr_are_restored(tmp_path: Path) -> None:
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)  # non-trivial momentum + iterations
    weights = [w.copy() for w in model.get_weights()]
    slots = [np.array(v.numpy()) for v in model.optimizer.variables]
    result = lr_find(model, x, y, num_steps=15, batch_size=32, plot=tmp_path / "lr.png")
    for before, after in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    for before, variable in zip(slots, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(before, np.array(variable.numpy()))
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.01)
    assert result.plot is not None and result.plot.is_file()
    assert len(result.lrs) == len(result.losses) == len(result.raw_losses) <= 15
    assert all(np.diff(result.lrs) > 0)  # strictly increasing ramp


def test_a_schedule_is_put_back_and_training_still_works() -> None:
    x, y = _data()
    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=10, decay_rate=0.9)
    model = _model(learning_rate=schedule)
    lr_find(model, x, y, num_steps=10, batch_size=32)
    assert model.optimizer._learning_rate is schedule
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)  # the optimizer is usable afterwards


def test_unbuilt_optimizer_is_left_pristine() -> None:
    x, y = _data()
    model = _model()
    lr_find(model, x, y, num_steps=10, batch_size=32)
    assert int(model.optimizer.iterations.numpy()) == 0
    for variable in model.optimizer.variables:
        if "momentum" in variable.path:
            assert not np.any(np.array(variable.numpy()))


def test_stops_when_the_loss_diverges_and_weights_survive() -> None:
    x, y = _data()
    model = _model(momentum=0.0)
    weights = [w.copy() for w in model.get_weights()]
    result = lr_find(model, x, y, start_lr=1e-3, end_lr=1e4, num_steps=60, batch_size=32)
    assert len(result.lrs) < 60
    assert "exceeded" in result.stop_reason or "non-finite" in result.stop_reason
    for before, after in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)  # no NaN left behind


def test_json_payload_has_the_documented_keys(tmp_path: Path) -> None:
    x, y = _data()
    result = lr_find(_model(), x, y, num_steps=10, batch_size=32, plot=tmp_path / "p.png")
    path = result.save_json(tmp_path / "out.json")
    payload = json.loads(path.read_text())
    assert {"suggested_lr", "method", "lrs", "losses", "plot"} <= set(payload)
    assert payload["method"] == "steepest"
    assert payload["plot"] == str(tmp_path / "p.png")
    assert len(payload["lrs"]) == len(payload["losses"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start_lr": 0.0}, "start_lr"),
        ({"start_lr": 1.0, "end_lr": 0.1}, "end_lr"),
        ({"num_steps": 2}, "num_steps"),
        ({"batch_size": 0}, "batch_size"),
        ({"beta": 1.0}, "beta"),
        ({"diverge": 1.0}, "diverge"),
        ({"method": "valley"}, "choose one of"),
    ],
)
def test_bad_arguments_are_rejected_before_touching_the_model(kwargs, message) -> None:
    x, y = _data(32)
    with pytest.raises(ValueError, match=message):
        lr_find(_model(), x, y, **kwargs)


def test_uncompiled_model_and_mismatched_data_are_rejected() -> None:
    x, y = _data(32)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    with pytest.raises(ValueError, match="compiled"):
        lr_find(model, x, y)
    with pytest.raises(ValueError, match="differ in length"):
        lr_find(_model(), x, y[:10])
