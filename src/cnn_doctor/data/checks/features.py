"""Cheap per-image measurements shared by several checks, computed once per input, in chunks.

Everything here is vectorized numpy over chunks of a few thousand images, so the full 60,000-image
dataset never exists as float32 at once (that alone would be 737 MB).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft

from cnn_doctor.data.checks.base import DataCheckInput

CHUNK = 4096
GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601 luma
DARK_LEVEL = 10  # a channel value <= this counts as black (of 255)
LIGHT_LEVEL = 245  # a channel value >= this counts as white


@dataclass(frozen=True)
class PixelStats:
    """Per-image statistics, one row per image (0–255 scale)."""

    std: np.ndarray  # std over all pixels and channels
    mean_rgb: np.ndarray  # (n, 3)
    std_rgb: np.ndarray  # (n, 3)
    dark_fraction: np.ndarray  # fraction of channel values <= DARK_LEVEL
    light_fraction: np.ndarray  # fraction of channel values >= LIGHT_LEVEL
    neighbour_corr: np.ndarray  # lag-1 autocorrelation of the grey image (mean of h and v)
    edge_energy: np.ndarray  # mean |grey gradient| / grey std (texture per unit contrast)
    colourfulness: np.ndarray  # Hasler & Süsstrunk (2003) colourfulness metric

    def features(self) -> np.ndarray:
        """The columns the outlier check compares, as one (n, 12) float64 matrix."""
        return np.column_stack(
            [
                self.mean_rgb,
                self.std_rgb,
                self.dark_fraction,
                self.light_fraction,
                self.neighbour_corr,
                self.edge_energy,
                self.colourfulness,
                self.std,
            ]
        ).astype(np.float64)


def gray(x: np.ndarray) -> np.ndarray:
    """Luma of uint8 NHWC images as float32 (n, h, w)."""
    return x.astype(np.float32) @ GRAY_WEIGHTS


def _chunk_stats(x: np.ndarray) -> dict[str, np.ndarray]:
    n = len(x)
    planes = np.ascontiguousarray(x.transpose(0, 3, 1, 2)).reshape(
        n, 3, -1
    )  # contiguous per channel
    flat = planes.reshape(n, -1)
    f = planes.astype(np.float32)
    mean_rgb = f.mean(axis=2)
    centred = f - mean_rgb[:, :, None]
    var_rgb = (centred * centred).mean(axis=2)
    mean = mean_rgb.mean(axis=1)
    # total variance = mean within-channel variance + variance of the channel means
    std = np.sqrt(var_rgb.mean(axis=1) + ((mean_rgb - mean[:, None]) ** 2).mean(axis=1))
    g = np.tensordot(GRAY_WEIGHTS, f, axes=([0], [1])).reshape(n, x.shape[1], x.shape[2])
    g -= g.mean(axis=(1, 2), keepdims=True)
    var = (g * g).sum(axis=(1, 2))
    h = (g[:, :, 1:] * g[:, :, :-1]).sum(axis=(1, 2))
    v = (g[:, 1:, :] * g[:, :-1, :]).sum(axis=(1, 2))
    corr = np.where(var > 1e-3, 0.5 * (h + v) / np.maximum(var, 1e-3), 1.0)  # flat: "smooth"
    gstd = np.sqrt(var / g[0].size)
    grad = np.abs(np.diff(g, axis=1)).mean(axis=(1, 2))
    grad += np.abs(np.diff(g, axis=2)).mean(axis=(1, 2))
    rg = f[:, 0] - f[:, 1]
    yb = 0.5 * (f[:, 0] + f[:, 1]) - f[:, 2]
    colourful = np.sqrt(rg.var(axis=1) + yb.var(axis=1)) + 0.3 * np.sqrt(
        rg.mean(axis=1) ** 2 + yb.mean(axis=1) ** 2
    )
    return {
        "std": std,
        "mean_rgb": mean_rgb,
        "std_rgb": np.sqrt(var_rgb),
        "dark_fraction": (flat <= DARK_LEVEL).mean(axis=1),
        "light_fraction": (flat >= LIGHT_LEVEL).mean(axis=1),
        "neighbour_corr": corr,
        "edge_energy": grad / np.maximum(gstd, 1.0),
        "colourfulness": colourful,
    }


def pixel_stats(x: np.ndarray) -> PixelStats:
    """``PixelStats`` of uint8 NHWC images (≈0.5 s per 50,000 on one core)."""
    parts = [_chunk_stats(x[s : s + CHUNK]) for s in range(0, len(x), CHUNK)]
    if not parts:
        empty = np.zeros(0, np.float32)
        return PixelStats(empty, np.zeros((0, 3)), np.zeros((0, 3)), *([empty] * 5))
    return PixelStats(**{k: np.concatenate([p[k] for p in parts]) for k in parts[0]})


def stats_for(data: DataCheckInput) -> PixelStats:
    """``PixelStats`` of train rows then test rows (global row order), memoized on ``data``."""

    def compute() -> PixelStats:
        parts = [pixel_stats(data.x_train)]
        if data.n_test:
            parts.append(pixel_stats(data.x_test))  # type: ignore[arg-type]
        if len(parts) == 1:
            return parts[0]
        names = PixelStats.__annotations__
        return PixelStats(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in names})

    return data.memo("pixel_stats", compute)


def channel_stats_for(data: DataCheckInput) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean/std (0–255) of the training images, exactly as the trainer fits them."""
    from cnn_doctor.data.prepare import channel_stats

    return data.memo("channel_stats", lambda: channel_stats(data.x_train))


def record_hashes(x: np.ndarray) -> np.ndarray:
    """A 128-bit BLAKE2b digest per image (as an (n,) array of 16-byte strings).

    Exact-duplicate detection compares digests, not pixels: 60,000 hashes take ~0.2 s and a sort.
    """
    flat = np.ascontiguousarray(x).reshape(len(x), -1)
    return np.array(
        [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat], dtype="S16"
    )


def hashes_for(data: DataCheckInput) -> np.ndarray:
    def compute() -> np.ndarray:
        parts = [record_hashes(data.x_train)]
        if data.n_test:
            parts.append(record_hashes(data.x_test))  # type: ignore[arg-type]
        return np.concatenate(parts)

    return data.memo("hashes", compute)


# ----------------------------------------------------------------------------- near-dup embedding
FFT_BAND = 6  # keep spatial frequencies 0..5 cycles per image in each direction


def gray_table_for(data: DataCheckInput) -> np.ndarray:
    """Grey images of train rows then test rows, float16 (n, h, w): 2 bytes a pixel, enough
    precision (1/8 grey level) for correlation, and computed once for all pair comparisons."""

    def compute() -> np.ndarray:
        parts = [data.x_train] + ([data.x_test] if data.n_test else [])  # type: ignore[list-item]
        out = np.empty((data.n_train + data.n_test, *data.x_train.shape[1:3]), dtype=np.float16)
        offset = 0
        for part in parts:
            for s in range(0, len(part), CHUNK):
                chunk = part[s : s + CHUNK]
                out[offset : offset + len(chunk)] = gray(chunk)
                offset += len(chunk)
        return out

    return data.memo("gray_table", compute)


def spectrum_embedding(x: np.ndarray, band: int = FFT_BAND) -> np.ndarray:
    """Shift-tolerant unit vectors: log-magnitudes of the low-frequency, Hann-windowed spectrum.

    Why this representation: the Fourier *magnitude* does not change when an image is translated
    (the shift only moves the phase), the Hann window removes the border that a 1–2 px shift
    drags in, the image mean is removed (brightness offsets vanish) and the vector is normalized
    (contrast/brightness gain vanishes), and keeping only 6×11 low frequencies ignores what JPEG
    re-encoding changes. On this CIFAR-10 copy, 400 planted copies (±2 px shifts, JPEG q30–90,
    brightness ×0.7–1.3 ±30, and all combined) had their original as nearest or second-nearest
    neighbour among 60,000 images, where an 8×8 thumbnail missed 3% of shifted copies at rank 5.
    """
    return spectrum_from_gray(x, band, is_gray=False)


def spectrum_from_gray(
    g_all: np.ndarray, band: int = FFT_BAND, *, is_gray: bool = True
) -> np.ndarray:
    """``spectrum_embedding`` of grey images (n, h, w) (or of uint8 NHWC with ``is_gray=False``)."""
    n, h, w = g_all.shape[0], g_all.shape[1], g_all.shape[2]
    window = np.outer(np.hanning(h + 2)[1:-1], np.hanning(w + 2)[1:-1]).astype(np.float32)
    out = np.empty((n, band * (2 * band - 1)), dtype=np.float32)
    for s in range(0, n, CHUNK):
        chunk = g_all[s : s + CHUNK]
        g = chunk.astype(np.float32) if is_gray else gray(chunk)
        g -= g.mean(axis=(1, 2), keepdims=True)
        spec = np.abs(sfft.rfft2(g * window, workers=-1))
        low = np.concatenate([spec[:, :band, :band], spec[:, -(band - 1) :, :band]], axis=1)
        f = np.log1p(low).reshape(len(g), -1)
        f -= f.mean(axis=1, keepdims=True)
        f /= np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-6)
        out[s : s + len(g)] = f
    return out
