"""Each augmentation does what it says, vectorised over the batch, and is reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_doctor.config import ConfigError, DataConfig
from cnn_doctor.data.augment import (
    Augmenter,
    random_color_jitter,
    random_crop,
    random_cutout,
    random_flip,
    random_rotate,
    random_translate,
    rotate,
)


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    """Asymmetric random images, strictly positive so zero fill is detectable."""
    rng = np.random.default_rng(0)
    return rng.integers(1, 256, (16, 32, 32, 3)).astype(np.float32)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(image)
    h, w = image.shape[:2]
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def test_crop(batch: np.ndarray) -> None:
    assert np.array_equal(random_crop(batch, 0, rng()), batch)
    out = random_crop(batch, 4, rng())
    assert out.shape == batch.shape and out.dtype == np.float32
    padded = np.pad(batch, ((0, 0), (4, 4), (4, 4), (0, 0)), mode="reflect")
    offsets = set()
    for n in range(len(batch)):  # each output is some 32x32 window of the reflect-padded image
        hits = [
            (dy, dx)
            for dy in range(9)
            for dx in range(9)
            if np.array_equal(out[n], padded[n, dy : dy + 32, dx : dx + 32])
        ]
        assert hits
        offsets.add(hits[0])
    assert len(offsets) > 1


def test_flip(batch: np.ndarray) -> None:
    out = random_flip(batch, rng())
    mirrored = [np.array_equal(o, x[:, ::-1]) for o, x in zip(out, batch, strict=True)]
    same = [np.array_equal(o, x) for o, x in zip(out, batch, strict=True)]
    assert all(
        m != s for m, s in zip(mirrored, same, strict=True)
    )  # exactly one of the two, per image
    assert any(mirrored) and any(same)
    assert np.array_equal(random_flip(batch, rng(), p=1.0), batch[:, :, ::-1])


def test_translate(batch: np.ndarray) -> None:
    assert np.array_equal(random_translate(batch, 0, rng()), batch)
    out = random_translate(batch, 3, rng())
    moved = 0
    for o, x in zip(out, batch, strict=True):
        hits = [
            (dy, dx)
            for dy in range(-3, 4)
            for dx in range(-3, 4)
            if np.array_equal(o, _shift(x, dy, dx))
        ]
        assert hits
        moved += hits[0] != (0, 0)
    assert moved > 0


def test_rotate(batch: np.ndarray) -> None:
    assert np.array_equal(rotate(batch, 0.0), batch)
    assert np.array_equal(random_rotate(batch, 0, rng()), batch)
    assert np.allclose(rotate(batch, 90.0), np.rot90(batch, 1, axes=(1, 2)), atol=1e-3)
    out = random_rotate(batch, 30, rng())
    assert out.shape == batch.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 255
    assert np.all(np.abs(out - batch).reshape(len(batch), -1).max(axis=1) > 1)  # every image


def test_color_jitter(batch: np.ndarray) -> None:
    assert np.array_equal(random_color_jitter(batch, 0, rng()), batch)
    out = random_color_jitter(batch, 0.5, rng())
    assert out.min() >= 0 and out.max() <= 255
    assert not np.allclose(out.mean(axis=(1, 2)), batch.mean(axis=(1, 2)), atol=1)
    grey = np.repeat(batch[..., :1], 3, axis=-1)  # grey stays grey: saturation adds no colour
    jittered = random_color_jitter(grey, 0.5, rng())
    assert np.allclose(jittered[..., 0], jittered[..., 2], atol=1e-3)


def test_cutout(batch: np.ndarray) -> None:
    assert np.array_equal(random_cutout(batch, 0, rng()), batch)
    out = random_cutout(batch, 8, rng())
    for o in out:
        zero = np.all(o == 0, axis=-1)
        assert zero.sum() == 64
        rows, cols = np.flatnonzero(zero.any(1)), np.flatnonzero(zero.any(0))
        assert len(rows) == len(cols) == 8 and np.ptp(rows) == np.ptp(cols) == 7
    assert np.all(random_cutout(batch, 40, rng()) == 0)  # larger than the image: all of it


def test_augmenter_reproducible_and_pure(batch: np.ndarray) -> None:
    cfg = DataConfig(augment=["cutout", "rotate", "crop", "color_jitter", "flip", "translate"])
    before = batch.copy()
    a, b = Augmenter(cfg, 1), Augmenter(cfg, 1)
    assert a.ops == ("crop", "flip", "translate", "rotate", "color_jitter", "cutout")
    first, second = a(batch), a(batch)
    assert np.array_equal(first, b(batch)) and np.array_equal(second, b(batch))
    assert not np.array_equal(first, second)  # the stream moves on
    assert not np.array_equal(first, Augmenter(cfg, 2)(batch))
    assert np.array_equal(batch, before)
    assert first.dtype == np.float32 and first.shape == batch.shape


def test_augmenter_matches_standalone_ops_and_order(batch: np.ndarray) -> None:
    cfg = DataConfig(augment=["flip", "crop", "translate"], crop_padding=4, translate=2)
    stream = rng(5)
    expected = random_translate(random_flip(random_crop(batch, 4, stream), stream), 2, stream)
    assert np.array_equal(Augmenter(cfg, 5)(batch), expected)  # fused gather == step by step
    state = Augmenter(cfg, 5)
    saved = state.get_state()
    out = state(batch)
    state.set_state(saved)
    assert np.array_equal(state(batch), out)


def test_augmenter_edges(batch: np.ndarray) -> None:
    none = Augmenter(DataConfig(augment=[]), 0)
    assert not none.enabled
    out = none(batch)
    assert np.array_equal(out, batch) and out is not batch
    uint8 = Augmenter(DataConfig(), 0)(batch.astype(np.uint8))
    assert uint8.dtype == np.float32
    assert Augmenter(DataConfig(), 0)(batch[:0]).shape == (0, 32, 32, 3)
    with pytest.raises(ConfigError, match="mixup"):
        Augmenter(DataConfig(augment=["mixup"]), 0)
