"""PatchWhitening: fitted filters decorrelate 2x2 patches in both data formats and survive save."""

from __future__ import annotations

import keras
import numpy as np

from cnn_doctor.models.whitening import PatchWhitening


def correlated_images(n: int = 300) -> np.ndarray:
    """Smooth, strongly channel- and neighbour-correlated images (like natural ones)."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(n, 16, 16, 1)).repeat(2, axis=1).repeat(2, axis=2)
    return (base * np.array([1.0, 0.9, 0.8]) + 0.1 * rng.normal(size=(n, 32, 32, 3))).astype(
        "float32"
    )


def output_covariance(layer: PatchWhitening, x: np.ndarray, channels_first: bool) -> np.ndarray:
    out = np.asarray(layer(x))
    if channels_first:
        out = out.transpose(0, 2, 3, 1)
    features = out.reshape(-1, out.shape[-1])[:, : out.shape[-1] // 2]
    return np.cov(features.T)


def test_adapted_filters_whiten_patches_in_both_formats():
    x = correlated_images()
    covariances = []
    for channels_first in (False, True):
        images = x.transpose(0, 3, 1, 2) if channels_first else x
        layer = PatchWhitening(data_format="channels_first" if channels_first else "channels_last")
        layer.build(images.shape)
        before = output_covariance(layer, images, channels_first)
        layer.adapt(images)
        after = output_covariance(layer, images, channels_first)
        off_diagonal = np.abs(after - np.diag(np.diag(after))).max()
        assert off_diagonal < 0.05
        assert np.abs(before - np.diag(np.diag(before))).max() > 0.5  # it was correlated
        covariances.append(after)
    np.testing.assert_allclose(covariances[0], covariances[1], atol=1e-4)


def test_whitening_is_frozen_and_round_trips_through_save(tmp_path):
    x = correlated_images(50)
    inputs = keras.Input((32, 32, 3))
    layer = PatchWhitening(data_format="channels_last")
    model = keras.Model(inputs, layer(inputs))
    layer.adapt(x)
    assert not layer.trainable_weights
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(loaded(x[:4])), np.asarray(model(x[:4])), atol=1e-5)
