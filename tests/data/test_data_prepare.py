"""Validation split, subset, label noise and normalisation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cnn_doctor.config import ConfigError, DataConfig
from cnn_doctor.data.cifar10 import Cifar10, synthetic_cifar10
from cnn_doctor.data.prepare import (
    Normalizer,
    apply_label_noise,
    channel_stats,
    prepare_data,
    stratified_split,
)


@pytest.fixture(scope="module")
def dataset() -> Cifar10:
    return synthetic_cifar10(300, 30, seed=5)


# --------------------------------------------------------------------------- split / noise


def test_stratified_split_keeps_proportions_and_is_seeded() -> None:
    y = np.repeat(np.arange(5), [40, 80, 120, 160, 200])  # unbalanced, 600 samples
    kept, held = stratified_split(y, 60, seed=1)
    assert len(held) == 60 and len(kept) == 540
    assert np.array_equal(np.sort(np.concatenate([kept, held])), np.arange(600))
    assert np.all(np.diff(kept) > 0) and np.all(np.diff(held) > 0)  # sorted, file order
    assert np.bincount(y[held]).tolist() == [4, 8, 12, 16, 20]
    again = stratified_split(y, 60, seed=1)
    assert np.array_equal(again[1], held)
    assert not np.array_equal(stratified_split(y, 60, seed=2)[1], held)
    # Non-integral quotas: every class within one of its exact share.
    _, held = stratified_split(y, 37, seed=3)
    assert np.all(np.abs(np.bincount(y[held], minlength=5) - 37 * np.bincount(y) / 600) < 1)


def test_stratified_split_edges() -> None:
    y = np.arange(10) % 2
    kept, held = stratified_split(y, 0, seed=0)
    assert len(kept) == 10 and len(held) == 0
    kept, held = stratified_split(y, 10, seed=0)
    assert len(kept) == 0 and len(held) == 10
    with pytest.raises(ValueError):
        stratified_split(y, 11, seed=0)


def test_label_noise_flips_exact_count_to_other_classes() -> None:
    y = np.arange(1000) % 10
    y_new, flipped = apply_label_noise(y, 0.137, 10, seed=4)
    assert len(flipped) == round(0.137 * 1000) == len(np.unique(flipped))
    assert np.all(y_new[flipped] != y[flipped])
    untouched = np.setdiff1d(np.arange(1000), flipped)
    assert np.array_equal(y_new[untouched], y[untouched])
    assert np.array_equal(y, np.arange(1000) % 10)  # input not modified
    assert set(np.unique(y_new[flipped])) == set(range(10))  # uniform over the others
    assert np.array_equal(apply_label_noise(y, 0.137, 10, seed=4)[0], y_new)
    assert len(apply_label_noise(y, 0.0, 10, seed=4)[1]) == 0


# --------------------------------------------------------------------------- normalisation


def test_normalizer_modes() -> None:
    rng = np.random.default_rng(0)
    x = (rng.normal([120, 60, 200], [30, 10, 20], (64, 32, 32, 3))).clip(0, 255).astype(np.uint8)
    original = x.copy()
    standard = Normalizer.fit("standardize", x)
    out = standard(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    assert np.allclose(out.mean(axis=(0, 1, 2)), 0, atol=1e-4)
    assert np.allclose(out.std(axis=(0, 1, 2)), 1, atol=1e-4)
    scaled = Normalizer.fit("scale", x)(x)
    assert scaled.min() >= 0 and scaled.max() <= 1 and np.isclose(scaled.max(), x.max() / 255)
    raw = Normalizer.fit("none", x)(x)
    assert raw.dtype == np.float32 and np.array_equal(raw, x.astype(np.float32))
    assert np.array_equal(x, original)
    floats = x.astype(np.float32)
    assert np.array_equal(standard(floats), out)  # augmented float batches work the same
    assert np.array_equal(floats, x.astype(np.float32))  # and are not modified


def test_normalizer_serialises_and_validates() -> None:
    x = np.random.default_rng(1).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    norm = Normalizer.fit("standardize", x)
    back = Normalizer.from_dict(json.loads(json.dumps(norm.to_dict())))
    assert back == norm and np.array_equal(back(x), norm(x))
    with pytest.raises(ConfigError, match="standardize"):
        Normalizer("zscore")


def test_channel_stats_exact_and_floored() -> None:
    x = np.random.default_rng(2).integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    mean, std = channel_stats(x)
    ref = x.reshape(-1, 3).astype(np.float64)
    assert np.allclose(mean, ref.mean(0)) and np.allclose(std, ref.std(0))
    assert np.allclose(channel_stats(x.astype(np.float32))[1], ref.std(0))
    _, std = channel_stats(np.full((2, 32, 32, 3), 7, np.uint8))
    assert np.all(std == 1.0)  # a constant channel must not divide by zero


# --------------------------------------------------------------------------- prepare_data


def test_prepare_split_subset_noise(dataset: Cifar10) -> None:
    cfg = DataConfig(val_size=50, subset=100, label_noise=0.1)
    data = prepare_data(cfg, seed=7, dataset=dataset)
    assert data.x_train.shape == (100, 32, 32, 3) and data.x_train.dtype == np.uint8
    assert data.x_val.shape == (50, 32, 32, 3) and data.y_val.dtype == np.int64
    assert np.array_equal(data.x_test, dataset.x_test) and data.class_names == dataset.class_names
    # Traceability and no overlap.
    assert np.array_equal(data.x_train, dataset.x_train[data.train_indices])
    assert np.array_equal(data.x_val, dataset.x_train[data.val_indices])
    assert np.array_equal(data.y_val, dataset.y_train[data.val_indices])
    assert len(np.intersect1d(data.train_indices, data.val_indices)) == 0
    # Stratified: the synthetic set is balanced, so are val and the subset.
    assert np.bincount(data.y_val).tolist() == [5] * 10
    assert np.bincount(dataset.y_train[data.train_indices]).tolist() == [10] * 10
    # Label noise on train only, recorded by position in x_train.
    clean = dataset.y_train[data.train_indices]
    assert len(data.noisy_indices) == 10
    assert np.array_equal(np.flatnonzero(data.y_train != clean), data.noisy_indices)
    # Statistics from the post-split training images only.
    assert np.allclose(data.normalizer.mean, channel_stats(data.x_train)[0])
    assert data.x_train.flags.writeable


def test_prepare_is_seeded_and_validation_ignores_subset(dataset: Cifar10) -> None:
    cfg = DataConfig(val_size=30, subset=60)
    a, b = prepare_data(cfg, 3, dataset), prepare_data(cfg, 3, dataset)
    assert np.array_equal(a.train_indices, b.train_indices)
    assert np.array_equal(a.val_indices, b.val_indices)
    assert not np.array_equal(prepare_data(cfg, 4, dataset).val_indices, a.val_indices)
    full = prepare_data(DataConfig(val_size=30), 3, dataset)
    assert np.array_equal(full.val_indices, a.val_indices)
    assert len(full.x_train) == 270


def test_prepare_without_validation_loads_from_data_dir(tiny_cifar_dir: Path) -> None:
    data = prepare_data(DataConfig(data_dir=str(tiny_cifar_dir), val_size=0), seed=0)
    assert data.x_val.shape == (0, 32, 32, 3) and data.y_val.shape == (0,)
    assert len(data.x_train) == 200 and len(data.x_test) == 50
    assert len(data.noisy_indices) == 0


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        (DataConfig(val_size=5), "smaller than the number of classes"),
        (DataConfig(val_size=300), "leaves no training images"),
        (DataConfig(val_size=50, subset=260), "exceeds the 300 training images"),
        (DataConfig(val_size=50, subset=3), "subset=3 is smaller"),
    ],
)
def test_impossible_requests_are_config_errors(
    dataset: Cifar10, cfg: DataConfig, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        prepare_data(cfg, 0, dataset)
