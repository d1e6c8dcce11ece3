"""Turn the raw dataset into what a run trains on: validation split, subset, label noise, stats.

Order matters and is fixed: the validation split is taken first (so ``subset`` and
``label_noise`` never change which images validate, and a clean validation set can reveal planted
noise), then the training subset, then label noise on the training labels only. Each step draws
from its own seeded stream, so changing one knob does not reshuffle the others.

Normalisation statistics come from the post-split training images only: the validation and test
sets must not leak into anything the model is fitted with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cnn_doctor.config import NORMALIZATIONS, ConfigError, DataConfig
from cnn_doctor.data.cifar10 import Cifar10, load_cifar10

# Independent random streams per step (mixed with the run seed).
_STREAM_VAL, _STREAM_SUBSET, _STREAM_NOISE = 1, 2, 3


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, stream])


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Normalizer:
    """Maps raw pixels (uint8, or float32 in 0–255 after augmentation) to network input.

    ``mean``/``std`` are per-channel, in pixel units (0–255). Saved in the run directory via
    ``to_dict`` so evaluation/prediction later applies exactly the training-time transform.
    """

    mode: str
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        if self.mode not in NORMALIZATIONS:
            raise ConfigError(
                f"data.normalize={self.mode!r} is not valid; choose one of: "
                f"{', '.join(NORMALIZATIONS)}"
            )
        mean = tuple(float(v) for v in np.ravel(self.mean))
        std = tuple(float(v) for v in np.ravel(self.std))
        if len(mean) != len(std) or any(not np.isfinite(s) or s <= 0 for s in std):
            raise ValueError(f"Normalizer: bad statistics mean={mean} std={std}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @classmethod
    def fit(cls, mode: str, x: np.ndarray) -> Normalizer:
        """A ``mode`` normaliser with the per-channel statistics of ``x`` (N,H,W,C)."""
        mean, std = channel_stats(x)
        return cls(mode, tuple(mean), tuple(std))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """A new float32 array; the input is never modified."""
        out = np.array(x, dtype=np.float32, copy=True)
        if self.mode == "standardize":
            out -= np.asarray(self.mean, dtype=np.float32)
            out *= np.asarray([1.0 / s for s in self.std], dtype=np.float32)
        elif self.mode == "scale":
            out *= np.float32(1.0 / 255.0)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Normalizer:
        return cls(str(raw["mode"]), tuple(raw["mean"]), tuple(raw["std"]))


MIN_STD = 1.0  # one grey level: keeps a constant channel from dividing by ~0


def channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (pixel units) of an NHWC batch; ``std`` floored at ``MIN_STD``.

    For uint8 (the normal case) it counts one 256-bin histogram per channel, chunk by chunk:
    exact, and bounded memory (a float64 copy of the 45,000-image train set would be 1.1 GB).
    About 0.5 s for the full training set. Other dtypes are summed in float64 chunks.
    """
    x = np.asarray(x)
    channels = x.shape[-1]
    if x.size == 0:
        raise ValueError("cannot compute normalisation statistics of an empty training set")
    flat = x.reshape(-1, channels)
    step = 1 << 18  # pixels per chunk
    if x.dtype == np.uint8:
        hist = np.zeros(256 * channels, dtype=np.int64)
        offsets = np.arange(channels, dtype=np.int32) * 256  # channel c -> bins 256c..256c+255
        for start in range(0, len(flat), step):
            chunk = flat[start : start + step].astype(np.int32)
            chunk += offsets
            hist += np.bincount(chunk.ravel(), minlength=256 * channels)
        counts = hist.reshape(channels, 256).astype(np.float64)
        values = np.arange(256, dtype=np.float64)
        n = counts.sum(axis=1)
        mean = counts @ values / n
        var = (counts * (values[None, :] - mean[:, None]) ** 2).sum(axis=1) / n
    else:
        total = np.zeros(channels)
        total_sq = np.zeros(channels)
        for start in range(0, len(flat), step):
            chunk = flat[start : start + step].astype(np.float64)
            total += chunk.sum(axis=0)
            total_sq += np.einsum("ij,ij->j", chunk, chunk)
        mean = total / len(flat)
        var = np.maximum(total_sq / len(flat) - mean**2, 0.0)
    return mean, np.maximum(np.sqrt(var), MIN_STD)


# --------------------------------------------------------------------------------------------
# Splits and noise
# --------------------------------------------------------------------------------------------


def _allocate(counts: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Split ``n`` over classes in proportion to ``counts`` (largest remainder, seeded ties)."""
    total = int(counts.sum())
    quota = counts * (n / total)
    take = np.floor(quota).astype(np.int64)
    remainder = n - int(take.sum())
    if remainder:
        frac = quota - take
        frac[take >= counts] = -1.0  # a full class cannot take more
        # Sort by fraction (desc), random tie-break so no class is systematically favoured.
        order = np.lexsort((rng.random(len(counts)), -frac))
        take[order[:remainder]] += 1
    return take


def stratified_split(y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hold out ``n`` indices of ``y`` with class proportions preserved.

    Returns ``(kept_idx, held_idx)``, both sorted ascending (so the kept data keeps file order,
    which makes indices easy to trace back), disjoint, covering ``range(len(y))``.
    """
    y = np.asarray(y)
    total = len(y)
    if not 0 <= n <= total:
        raise ValueError(f"cannot hold out {n} of {total} samples")
    if n == 0:
        return np.arange(total, dtype=np.int64), np.empty(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    take = _allocate(counts, n, rng)
    # Rank each sample within its class by a random key; the lowest `take[c]` ranks are held.
    keys = rng.random(total)
    order = np.lexsort((keys, inverse))  # grouped by class, random within class
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(total, dtype=np.int64)
    rank[order] = np.arange(total) - np.repeat(starts, counts)
    held_mask = rank < take[inverse]
    return np.flatnonzero(~held_mask).astype(np.int64), np.flatnonzero(held_mask).astype(np.int64)


def apply_label_noise(
    y: np.ndarray, fraction: float, num_classes: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Flip ``round(fraction·N)`` labels, each to a *different* class chosen uniformly.

    Returns ``(y_new, flipped_idx)`` with ``flipped_idx`` sorted; ``y`` is not modified. Used to
    plant a known fault, so the count is exact and every flip really changes the label.
    """
    y = np.asarray(y, dtype=np.int64)
    if not 0 <= fraction <= 1:
        raise ValueError(f"label noise fraction must be in [0, 1], got {fraction}")
    k = int(round(fraction * len(y)))
    y_new = y.copy()
    if k == 0:
        return y_new, np.empty(0, dtype=np.int64)
    if num_classes < 2:
        raise ValueError("label noise needs at least 2 classes")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must be in 0..{num_classes - 1}")
    rng = np.random.default_rng(seed)
    flipped = np.sort(rng.choice(len(y), size=k, replace=False)).astype(np.int64)
    y_new[flipped] = (y[flipped] + rng.integers(1, num_classes, size=k)) % num_classes
    return y_new, flipped


# --------------------------------------------------------------------------------------------
# The prepared dataset
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class PreparedData:
    """Everything a run trains/evaluates on. Images uint8 NHWC, labels int64.

    ``train_indices[i]`` / ``val_indices[i]`` are the positions of ``x_train[i]`` / ``x_val[i]`` in
    the original training set; ``noisy_indices`` are positions *in x_train* whose label was
    flipped (original label: ``dataset.y_train[train_indices[i]]``).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    normalizer: Normalizer
    class_names: list[str]
    noisy_indices: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    train_indices: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    val_indices: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    source: Path | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]


def _check_request(cfg: DataConfig, n_train: int, num_classes: int) -> None:
    """ConfigErrors for requests the data cannot satisfy, phrased as what to change."""
    present = num_classes
    if cfg.val_size < 0 or cfg.subset < 0:
        raise ConfigError("data.val_size and data.subset must be >= 0")
    if 0 < cfg.val_size < present:
        raise ConfigError(
            f"data.val_size={cfg.val_size} is smaller than the number of classes ({present}); "
            f"use 0 (no validation) or at least {present} so every class is validated"
        )
    if cfg.val_size >= n_train:
        raise ConfigError(
            f"data.val_size={cfg.val_size} leaves no training images (the training set has "
            f"{n_train}); use at most {max(n_train - present, 0)}"
        )
    if 0 < cfg.subset < present:
        raise ConfigError(
            f"data.subset={cfg.subset} is smaller than the number of classes ({present}); "
            f"use 0 (all) or at least {present}"
        )
    if cfg.val_size + cfg.subset > n_train:
        raise ConfigError(
            f"data.val_size ({cfg.val_size}) + data.subset ({cfg.subset}) = "
            f"{cfg.val_size + cfg.subset} exceeds the {n_train} training images; lower "
            f"data.subset to at most {n_train - cfg.val_size} (or 0 for all the rest)"
        )
    if not 0 <= cfg.label_noise < 1:
        raise ConfigError("data.label_noise must be in [0, 1)")
    if cfg.label_noise > 0 and num_classes < 2:
        raise ConfigError("data.label_noise needs at least 2 classes")


def prepare_data(cfg: DataConfig, seed: int, dataset: Cifar10 | None = None) -> PreparedData:
    """Load (from ``cfg.data_dir`` unless ``dataset`` is given), split, subset, add noise, fit the
    normaliser. Deterministic in ``seed``; the returned arrays are fresh writable copies."""
    if dataset is None:
        dataset = load_cifar10(cfg.data_dir or None)
    num_classes = len(dataset.class_names)
    y_all = np.asarray(dataset.y_train, dtype=np.int64)
    _check_request(cfg, len(y_all), num_classes)

    rest, val_idx = stratified_split(y_all, cfg.val_size, _rng(seed, _STREAM_VAL).integers(2**63))
    if cfg.subset:
        _, chosen = stratified_split(
            y_all[rest], cfg.subset, _rng(seed, _STREAM_SUBSET).integers(2**63)
        )
        train_idx = rest[chosen]
    else:
        train_idx = rest

    y_train = y_all[train_idx]
    noisy = np.empty(0, dtype=np.int64)
    if cfg.label_noise > 0:
        y_train, noisy = apply_label_noise(
            y_train, cfg.label_noise, num_classes, _rng(seed, _STREAM_NOISE).integers(2**63)
        )

    x_train = dataset.x_train[train_idx]  # fancy indexing: writable copies
    normalizer = Normalizer.fit(cfg.normalize, x_train)
    return PreparedData(
        x_train=x_train,
        y_train=y_train,
        x_val=dataset.x_train[val_idx],
        y_val=y_all[val_idx],
        x_test=np.array(dataset.x_test, dtype=np.uint8, copy=True),
        y_test=np.array(dataset.y_test, dtype=np.int64, copy=True),
        normalizer=normalizer,
        class_names=list(dataset.class_names),
        noisy_indices=noisy,
        train_indices=train_idx,
        val_indices=val_idx,
        source=dataset.source,
    )
