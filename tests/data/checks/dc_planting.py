"""Helpers that build tiny planted datasets for the data-check tests (numpy only, milliseconds).

``natural_images`` are smoothed random colour fields: spatially correlated like photographs (so
they are not "noise"), each one different (so they are not duplicates), and cheap.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter


def natural_images(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    field = gaussian_filter(rng.normal(size=(n, 32, 32, 3)), sigma=(0, 2.0, 2.0, 0))
    field -= field.mean(axis=(1, 2, 3), keepdims=True)
    field /= field.std(axis=(1, 2, 3), keepdims=True)
    image = field * rng.uniform(35, 55, (n, 1, 1, 1)) + rng.uniform(90, 160, (n, 1, 1, 1))
    return np.clip(image, 0, 255).round().astype(np.uint8)


def balanced_labels(n: int, classes: int = 10, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.arange(n) % classes).astype(np.int64)


def shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    padded = np.pad(image, ((2, 2), (2, 2), (0, 0)), mode="edge")
    return padded[2 + dy : 34 + dy, 2 + dx : 34 + dx]


def jpeg(image: np.ndarray, quality: int = 60) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return np.array(Image.open(buffer))


def brighten(image: np.ndarray, gain: float = 1.2, offset: float = 10.0) -> np.ndarray:
    return np.clip(image.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)
