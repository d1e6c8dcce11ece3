"""Seeded, vectorised batch augmentations in raw pixel units (float32 NHWC, 0–255).

Why numpy and whole batches: augmentation runs every training step on the CPU, next to a model
that is often small; a per-image Python loop would make the data pipeline the bottleneck (and the
doctor would then diagnose the wrong thing). Every op works on the whole batch with per-image
random parameters via index arithmetic, fancy indexing or masks.

Why raw pixel units: ops like colour jitter and the 0–255 clip are defined on pixels; the
``Normalizer`` runs *after* augmentation, so it sees exactly what the network sees.

The translation-type ops (crop, flip, translate) are each an integer index map, so ``Augmenter``
composes their maps and gathers pixels once (about 2 ms for crop+flip on 512 images). Ops are
applied in the canonical order of ``config.AUGMENTATIONS`` (geometry, then colour, then cutout)
no matter how the user listed them, and each op consumes the shared generator in the same way
as its standalone function, so ``Augmenter(["crop", "flip"])`` equals
``random_flip(random_crop(x, p, rng), rng)`` for the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cnn_doctor.config import AUGMENTATIONS, ConfigError, DataConfig

__all__ = [
    "Augmenter",
    "random_crop",
    "random_flip",
    "random_translate",
    "random_rotate",
    "rotate",
    "random_color_jitter",
    "random_cutout",
]


def _as_batch(x: np.ndarray) -> np.ndarray:
    """A C-contiguous float32 NHWC view or copy of ``x`` (callers never write into it)."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"expected an NHWC batch (4 dimensions), got shape {x.shape}")
    return np.ascontiguousarray(x, dtype=np.float32)


# --------------------------------------------------------------------------------------------
# Integer index maps (crop / flip / translate)
# --------------------------------------------------------------------------------------------


@dataclass
class _IndexMap:
    """Output pixel (n, i, j) reads input pixel (n, rows[n, i], cols[n, j]); pixels whose row or
    column is invalid (outside the image) become 0. Separable, so it stays (N,H) + (N,W)."""

    rows: np.ndarray  # (N, H) int64, always in range
    cols: np.ndarray  # (N, W) int64, always in range
    row_ok: np.ndarray | None = None  # (N, H) bool; None = all valid
    col_ok: np.ndarray | None = None  # (N, W) bool

    def then(self, op: _IndexMap) -> _IndexMap:
        """The map of "apply self, then op" (op reads self's output)."""
        rows = np.take_along_axis(self.rows, op.rows, axis=1)
        cols = np.take_along_axis(self.cols, op.cols, axis=1)
        row_ok = _and(_take(self.row_ok, op.rows), op.row_ok)
        col_ok = _and(_take(self.col_ok, op.cols), op.col_ok)
        return _IndexMap(rows, cols, row_ok, col_ok)

    def apply(self, x: np.ndarray) -> np.ndarray:
        n, h, w, c = x.shape
        base = (np.arange(n) * h)[:, None] + self.rows  # (N, H) row index into (N*H)
        flat = base[:, :, None] * w + self.cols[:, None, :]  # (N, H, W) pixel index
        out = np.take(x.reshape(-1, c), flat, axis=0)  # one gather: ~1.5 ms for 512 images
        if self.row_ok is not None or self.col_ok is not None:
            row_ok = self.row_ok if self.row_ok is not None else np.ones((n, h), bool)
            col_ok = self.col_ok if self.col_ok is not None else np.ones((n, w), bool)
            out[~(row_ok[:, :, None] & col_ok[:, None, :])] = 0.0
        return out


def _take(ok: np.ndarray | None, index: np.ndarray) -> np.ndarray | None:
    return None if ok is None else np.take_along_axis(ok, index, axis=1)


def _and(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def _reflect(index: np.ndarray, size: int) -> np.ndarray:
    """numpy ``mode="reflect"`` indices (edge pixel not repeated), valid for any offset."""
    if size == 1:
        return np.zeros_like(index)
    period = 2 * (size - 1)
    index = np.abs(index) % period
    return np.where(index >= size, period - index, index)


def _crop_map(shape: tuple[int, ...], padding: int, rng: np.random.Generator) -> _IndexMap:
    n, h, w = shape[:3]
    offsets = rng.integers(0, 2 * padding + 1, size=(n, 2))
    rows = _reflect(offsets[:, :1] - padding + np.arange(h), h)
    cols = _reflect(offsets[:, 1:] - padding + np.arange(w), w)
    return _IndexMap(rows, cols)


def _flip_map(shape: tuple[int, ...], rng: np.random.Generator, p: float) -> _IndexMap:
    n, h, w = shape[:3]
    flipped = rng.random(n) < p
    cols = np.where(flipped[:, None], np.arange(w)[::-1], np.arange(w))
    return _IndexMap(np.broadcast_to(np.arange(h), (n, h)).copy(), cols)


def _translate_map(shape: tuple[int, ...], max_shift: int, rng: np.random.Generator) -> _IndexMap:
    n, h, w = shape[:3]
    shift = rng.integers(-max_shift, max_shift + 1, size=(n, 2))
    rows = np.arange(h) - shift[:, :1]  # content moves down/right by +shift
    cols = np.arange(w) - shift[:, 1:]
    row_ok = (rows >= 0) & (rows < h)
    col_ok = (cols >= 0) & (cols < w)
    return _IndexMap(np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1), row_ok, col_ok)


def random_crop(x: np.ndarray, padding: int, rng: np.random.Generator) -> np.ndarray:
    """Reflect-pad by ``padding`` then take a random crop of the original size, per image.

    Done as one gather with reflected indices (no padded copy is materialised).
    """
    x = _as_batch(x)
    if padding <= 0 or len(x) == 0:
        return x.copy()
    return _crop_map(x.shape, padding, rng).apply(x)


def random_flip(x: np.ndarray, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """Mirror each image left-right with probability ``p``."""
    x = _as_batch(x)
    if len(x) == 0:
        return x.copy()
    return _flip_map(x.shape, rng, p).apply(x)


def random_translate(x: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Shift each image by a random integer (dy, dx) in ``[-max_shift, max_shift]``, zero fill."""
    x = _as_batch(x)
    if max_shift <= 0 or len(x) == 0:
        return x.copy()
    return _translate_map(x.shape, max_shift, rng).apply(x)


# --------------------------------------------------------------------------------------------
# Rotation (bilinear, per-image affine grids)
# --------------------------------------------------------------------------------------------


_ROTATE_CHUNK = 64  # images per pass: keeps the ~10 temporaries cache-sized (3x faster at 512)


def rotate(x: np.ndarray, degrees: np.ndarray | float) -> np.ndarray:
    """Rotate each image about its centre by ``degrees[n]`` (counter-clockwise as displayed),
    bilinear sampling, zero outside. Deterministic, so tests can check exact angles.

    Works in chunks of ``_ROTATE_CHUNK`` images: the per-pixel temporaries of a whole 512-image
    batch overflow the CPU caches and make it ~3x slower than the same work done in chunks.
    """
    x = _as_batch(x)
    angles = np.broadcast_to(np.asarray(degrees, dtype=np.float64), (len(x),))
    out = np.empty_like(x)
    for start in range(0, len(x), _ROTATE_CHUNK):
        stop = start + _ROTATE_CHUNK
        out[start:stop] = _rotate_chunk(x[start:stop], angles[start:stop])
    return out


def _rotate_chunk(x: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    n, h, w, c = x.shape
    angles = np.deg2rad(degrees)
    cos = np.cos(angles).astype(np.float32)[:, None, None]
    sin = np.sin(angles).astype(np.float32)[:, None, None]
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    yy = (np.arange(h, dtype=np.float32) - np.float32(cy))[None, :, None]
    xx = (np.arange(w, dtype=np.float32) - np.float32(cx))[None, None, :]
    # Inverse map: the output pixel at (y, x) samples the input at R(-angle) (y, x).
    src_y = cos * yy + sin * xx + np.float32(cy)  # (N, H, W), float32 throughout
    src_x = cos * xx - sin * yy + np.float32(cx)
    fy, fx = np.floor(src_y), np.floor(src_x)
    wy1, wx1 = src_y - fy, src_x - fx  # bilinear weights of the lower/right neighbours
    y0, x0 = fy.astype(np.int32), fx.astype(np.int32)
    y1, x1 = y0 + 1, x0 + 1
    # Fold "neighbour is outside the image" into the weights (zero fill).
    wy0 = (1 - wy1) * ((y0 >= 0) & (y0 < h))
    wy1 *= (y1 >= 0) & (y1 < h)
    wx0 = (1 - wx1) * ((x0 >= 0) & (x0 < w))
    wx1 *= (x1 >= 0) & (x1 < w)
    base = (np.arange(n, dtype=np.int32) * (h * w))[:, None, None]
    r0 = base + np.clip(y0, 0, h - 1) * w
    r1 = base + np.clip(y1, 0, h - 1) * w
    c0, c1 = np.clip(x0, 0, w - 1), np.clip(x1, 0, w - 1)
    # Channel planes (C, N*H*W): gathers and weight products then run over contiguous memory.
    planes = np.ascontiguousarray(np.moveaxis(x, -1, 0)).reshape(c, -1)
    out = np.take(planes, r0 + c0, axis=1)
    out *= wy0 * wx0
    for rows, cols, weight in ((r0, c1, wy0 * wx1), (r1, c0, wy1 * wx0), (r1, c1, wy1 * wx1)):
        corner = np.take(planes, rows + cols, axis=1)
        corner *= weight
        out += corner
    return np.moveaxis(out, 0, -1)


def random_rotate(x: np.ndarray, max_degrees: float, rng: np.random.Generator) -> np.ndarray:
    """Rotate each image by a uniform random angle in ``[-max_degrees, max_degrees]``."""
    x = _as_batch(x)
    if max_degrees <= 0 or len(x) == 0:
        return x.copy()
    return rotate(x, rng.uniform(-max_degrees, max_degrees, size=len(x)))


# --------------------------------------------------------------------------------------------
# Colour and cutout
# --------------------------------------------------------------------------------------------

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def random_color_jitter(x: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Per-image brightness, contrast and saturation factors in ``[1-s, 1+s]``, clipped to 0–255.

    Brightness scales pixels; contrast scales the distance from the image's mean grey; saturation
    scales each pixel's distance from its own grey (luma). All three are linear, so they collapse
    into one 3×3 matrix + offset per image, applied with a single batched matmul.
    """
    x = _as_batch(x)
    if x.shape[-1] != 3:
        raise ValueError(f"colour jitter needs RGB images (3 channels), got {x.shape[-1]}")
    if strength <= 0 or len(x) == 0:
        return x.copy()
    n = len(x)
    factors = rng.uniform(1 - strength, 1 + strength, size=(n, 3)).astype(np.float32)
    bright, contrast, saturation = factors[:, 0], factors[:, 1], factors[:, 2]
    pixels = x.reshape(n, -1, x.shape[-1])
    mean_grey = (pixels @ _LUMA).mean(axis=1) * bright  # of the brightness-scaled image
    # saturation: out_d = s·x_d + (1-s)·luma(x)  ->  S[d, c] = s·δ_dc + (1-s)·L_c
    sat = saturation[:, None, None] * np.eye(3, dtype=np.float32)
    sat += (1 - saturation)[:, None, None] * _LUMA[None, None, :]
    matrix = sat * (contrast * bright)[:, None, None]
    offset = sat.sum(axis=2) * ((1 - contrast) * mean_grey)[:, None]  # S @ ((1-c)·m·1)
    out = pixels @ matrix.transpose(0, 2, 1)
    out += offset[:, None, :]
    np.clip(out, 0.0, 255.0, out=out)
    return out.reshape(x.shape)


def random_cutout(
    x: np.ndarray, size: int, rng: np.random.Generator, fill: float = 0.0
) -> np.ndarray:
    """Set a random ``size``×``size`` square (fully inside the image) of each image to ``fill``."""
    x = _as_batch(x)
    out = x.copy()
    n, h, w, _ = x.shape
    size = min(int(size), h, w)
    if size <= 0 or n == 0:
        return out
    y0 = rng.integers(0, h - size + 1, size=n)[:, None]
    x0 = rng.integers(0, w - size + 1, size=n)[:, None]
    in_rows = (np.arange(h) >= y0) & (np.arange(h) < y0 + size)  # (N, H)
    in_cols = (np.arange(w) >= x0) & (np.arange(w) < x0 + size)  # (N, W)
    out[in_rows[:, :, None] & in_cols[:, None, :]] = fill
    return out


# --------------------------------------------------------------------------------------------
# The pipeline
# --------------------------------------------------------------------------------------------


class Augmenter:
    """The configured augmentations, owning one seeded generator.

    Call it on each float32 NHWC batch (0–255); it returns a new array of the same shape and never
    modifies its input (batches are often views of the dataset). The same seed and the same batch
    sequence give the same outputs; ``get_state``/``set_state`` let a resumed run continue the
    exact random stream.
    """

    def __init__(self, cfg: DataConfig, seed: int) -> None:
        unknown = [name for name in cfg.augment if name not in AUGMENTATIONS]
        if unknown:
            raise ConfigError(
                f"data.augment: unknown augmentation {unknown[0]!r}; choose from: "
                f"{', '.join(AUGMENTATIONS)}"
            )
        self.cfg = cfg
        self.ops: tuple[str, ...] = tuple(name for name in AUGMENTATIONS if name in cfg.augment)
        self.rng = np.random.default_rng(seed)

    @property
    def enabled(self) -> bool:
        return bool(self.ops)

    def __repr__(self) -> str:
        return f"Augmenter({', '.join(self.ops) or 'none'})"

    def get_state(self) -> dict[str, Any]:
        return self.rng.bit_generator.state

    def set_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = _as_batch(x)
        if not self.ops or len(x) == 0:
            return x.copy()
        cfg, rng, ops = self.cfg, self.rng, self.ops

        # crop / flip / translate: compose index maps, gather once.
        index_map: _IndexMap | None = None
        steps = (
            ("crop", cfg.crop_padding > 0, lambda: _crop_map(x.shape, cfg.crop_padding, rng)),
            ("flip", True, lambda: _flip_map(x.shape, rng, 0.5)),
            ("translate", cfg.translate > 0, lambda: _translate_map(x.shape, cfg.translate, rng)),
        )
        for name, active, make in steps:
            if name in ops and active:
                step = make()
                index_map = step if index_map is None else index_map.then(step)
        out = index_map.apply(x) if index_map is not None else x

        if "rotate" in ops and cfg.rotate > 0:
            out = random_rotate(out, cfg.rotate, rng)
        if "color_jitter" in ops and cfg.color_jitter > 0:
            out = random_color_jitter(out, cfg.color_jitter, rng)
        if "cutout" in ops and cfg.cutout > 0:
            out = random_cutout(out, cfg.cutout, rng)
        return out if out is not x else x.copy()
