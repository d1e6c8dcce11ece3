"""Pure numpy functions that turn arrays (activations, outputs, inputs, curves) into trace signals.

Kept free of keras so each definition can be tested on hand-made arrays and read on its own:
what *is* a dead unit, a saturated value, a softmax output, a plateau.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from cnn_doctor.diagnose import thresholds as T
from cnn_doctor.diagnose.trace import ActivationStat, InputStat, OutputStat

RELU_LIKE = frozenset({"relu", "relu6"})  # exactly zero gradient for negative inputs: can die
SATURATING = frozenset({"sigmoid", "tanh"})  # bounded, gradient -> 0 at both ends
IGNORED_ACTIVATIONS = frozenset({"linear", "softmax", "log_softmax", ""})


def norm(array: np.ndarray) -> float:
    """Euclidean norm in float64 (float32 overflows for exploding weights before we can see it)."""
    return float(np.linalg.norm(np.asarray(array, dtype=np.float64).ravel()))


def labels_to_int(y: np.ndarray) -> np.ndarray:
    """Class indices from sparse (N,), (N, 1) or one-hot / soft (N, C) labels."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=1).astype(np.int64)
    return y.reshape(-1).astype(np.int64)


def is_probability_rows(outputs: np.ndarray, tol: float = T.PROBABILITY_ROW_TOLERANCE) -> bool:
    """Every row in [0, 1] and summing to 1 within ``tol``: the model already applies softmax."""
    out = np.asarray(outputs, dtype=np.float64)
    if out.ndim != 2 or out.shape[1] < 2 or not np.all(np.isfinite(out)):
        return False
    sums = out.sum(axis=1)
    return bool(out.min() >= -tol and out.max() <= 1 + tol and np.all(np.abs(sums - 1) <= tol))


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def label_issue_fraction(probs: np.ndarray, labels: np.ndarray) -> float:
    """Share of examples confident learning would flag as possibly mislabelled.

    Northcutt et al.: class j's threshold t_j is the mean predicted p_j over examples *labelled*
    j (the model's self-confidence for j); an example labelled i is a candidate when some other
    class j != i has p_j >= t_j (taking the most likely such j). In-sample probabilities make this
    an underestimate once the network memorises the noise, so it is evidence, not a verdict.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n, c = probs.shape
    if n == 0:
        return 0.0
    thresholds = np.full(c, np.inf)
    for j in range(c):
        mask = labels == j
        if mask.any():
            thresholds[j] = probs[mask, j].mean()
    above = probs >= thresholds[None, :]
    above[np.arange(n), np.clip(labels, 0, c - 1)] = False
    return float(above.any(axis=1).mean())


def smoothed_targets(labels: np.ndarray, num_classes: int, smoothing: float = 0.0) -> np.ndarray:
    """One-hot targets with Keras's label smoothing: y * (1 - eps) + eps / C."""
    y = np.eye(num_classes)[labels_to_int(labels)]
    return y * (1.0 - smoothing) + smoothing / num_classes


def cross_entropy_readings(
    outputs: np.ndarray, labels: np.ndarray, smoothing: float = 0.0
) -> tuple[float, float]:
    """Mean categorical cross-entropy of ``outputs`` read the two ways a loss can read them.

    As probabilities the way Keras's ``from_logits=False`` does (each row divided by its sum,
    then clipped to [eps, 1 - eps], eps = 1e-7, Keras's ``backend.epsilon()``), and as logits
    (log-softmax first). A softmax output gives the same number both ways only by accident.
    """
    out = np.asarray(outputs, dtype=np.float64)
    targets = smoothed_targets(labels, out.shape[1], smoothing)
    eps = 1e-7
    with np.errstate(divide="ignore", invalid="ignore"):
        probs = np.clip(out / out.sum(axis=1, keepdims=True), eps, 1.0 - eps)
        as_probs = float(np.mean(-(targets * np.log(probs)).sum(axis=1)))
    z = out - out.max(axis=1, keepdims=True)
    log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    as_logits = float(np.mean(-(targets * log_softmax).sum(axis=1)))
    return as_probs, as_logits


def output_stats(
    outputs: np.ndarray,
    labels: np.ndarray | None = None,
    dtype: str = "float32",
    *,
    compiled_loss: float | None = None,
    label_smoothing: float = 0.0,
) -> OutputStat:
    """Summarise the model's outputs on the probe batch (see ``OutputStat``); ``dtype`` is what
    the output layer computed in, which sets how closely a softmax row can sum to 1;
    ``compiled_loss`` is the model's own loss on these outputs, compared with the two
    cross-entropy readings (``label_smoothing`` as compiled)."""
    out = np.asarray(outputs, dtype=np.float64)
    if out.ndim != 2:
        out = out.reshape(out.shape[0], -1)
    n, c = out.shape
    finite = bool(np.all(np.isfinite(out)))
    safe = np.where(np.isfinite(out), out, 0.0)
    sums = safe.sum(axis=1)
    predicted = np.argmax(safe, axis=1) if c > 1 else np.zeros(n, dtype=np.int64)
    row_tolerance = T.probability_row_tolerance(dtype)
    stat = OutputStat(
        num_classes=int(c),
        examples=int(n),
        finite=finite,
        min=float(np.min(out)) if finite else float(np.nanmin(safe)),
        max=float(np.max(out)) if finite else float(np.nanmax(safe)),
        row_sum_min=float(sums.min()),
        row_sum_max=float(sums.max()),
        is_probability=is_probability_rows(out, row_tolerance),
        predicted_counts=np.bincount(predicted, minlength=c).astype(int).tolist(),
        dtype=str(dtype),
        row_tolerance=row_tolerance,
    )
    if compiled_loss is not None:
        stat.compiled_loss = float(compiled_loss)
    if finite and c > 1:
        # the model's predictive distribution: its own rows (renormalised, as 16-bit rows may
        # miss 1 by their roundoff) when it ends in a softmax, else the softmax of its logits
        probs = out / sums[:, None] if stat.is_probability else softmax(out)
        stat.mean_confidence = float(probs.max(axis=1).mean())
        if stat.is_probability:
            stat.max_probability = float(probs.max())
        if labels is not None:
            y = labels_to_int(labels)
            if y.shape[0] == n and y.min() >= 0 and y.max() < c:
                stat.label_counts = np.bincount(y, minlength=c).astype(int).tolist()
                stat.accuracy = float(np.mean(predicted == y))
                stat.label_issue_fraction = label_issue_fraction(probs, y)
                as_probs, as_logits = cross_entropy_readings(out, labels, label_smoothing)
                stat.ce_as_probabilities = as_probs if math.isfinite(as_probs) else None
                stat.ce_as_logits = as_logits
    return stat


def input_stats(x: np.ndarray, *, channel_axis: int = -1, where: str = "model input") -> InputStat:
    """Per-channel mean/std/min/max of a batch of images (channels on ``channel_axis``)."""
    arr = np.asarray(x)
    dtype = str(arr.dtype)
    arr = arr.astype(np.float64)
    if arr.ndim < 2:
        arr = arr.reshape(-1, 1)
    arr = np.moveaxis(arr, channel_axis, -1).reshape(-1, arr.shape[channel_axis])
    ok = np.isfinite(arr)
    finite = bool(np.all(ok))
    arr = np.where(ok, arr, np.nan)
    with warnings.catch_warnings():  # an all-NaN channel: its statistics are NaN, on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        return InputStat(
            mean=np.nanmean(arr, axis=0).tolist(),
            std=np.nanstd(arr, axis=0).tolist(),
            min=np.nanmin(arr, axis=0).tolist(),
            max=np.nanmax(arr, axis=0).tolist(),
            finite=finite,
            examples=int(np.asarray(x).shape[0]) if np.asarray(x).ndim else 1,
            dtype=dtype,
            where=where,
            nonfinite_fraction=float(1.0 - ok.mean()) if ok.size else 0.0,
        )


def activation_kind(name: str) -> str:
    """'relu' (can die), 'saturating' (sigmoid/tanh), 'ignored' (linear/softmax) or 'other'."""
    name = (name or "").lower()
    if name in RELU_LIKE:
        return "relu"
    if name in SATURATING:
        return "saturating"
    if name in IGNORED_ACTIVATIONS:
        return "ignored"
    return "other"


def saturated_fraction(
    name: str, values: np.ndarray, bound: float = T.SATURATION_PREACT_BOUND
) -> float:
    """Share of sigmoid/tanh *outputs* whose pre-activation lay beyond ``±bound``.

    Computed from outputs (the only tensor a fused ``Conv2D(activation=...)`` exposes) by
    comparing with the activation's value at the bound, which is the same test as inverting it.
    """
    v = np.asarray(values)
    if name == "sigmoid":
        hi = 1.0 / (1.0 + math.exp(-bound))
        lo = 1.0 - hi
        return float(np.mean((v >= hi) | (v <= lo)))
    if name == "tanh":
        return float(np.mean(np.abs(v) >= math.tanh(bound)))
    raise ValueError(f"saturation is defined for sigmoid and tanh, not {name!r}")


def dead_fraction(values: np.ndarray, *, channel_axis: int = -1) -> float:
    """Share of units that are <= 0 for every example and position (ReLU passes no gradient).

    A unit is a channel of a conv feature map, or a neuron of a dense layer.
    """
    v = np.asarray(values)
    if v.ndim < 2:
        v = v.reshape(-1, 1)
    v = np.moveaxis(v, channel_axis, -1).reshape(-1, v.shape[channel_axis])
    return float(np.mean(np.max(v, axis=0) <= 0))


def signal_std(values: np.ndarray, *, channel_axis: int = -1) -> float:
    """Mean over units of the std across examples of each unit's spatially averaged response.

    Glorot & Bengio (2010) show the input-dependent part of the signal shrinking layer by layer
    in deep sigmoid/tanh nets; a layer whose units respond identically to every image passes
    nothing on, even where its weights still receive (input-independent) gradient.
    """
    v = np.asarray(values)
    if channel_axis not in (-1, v.ndim - 1):
        v = np.moveaxis(v, channel_axis, -1)
    per_example = v.reshape(v.shape[0], -1, v.shape[-1]).mean(axis=1, dtype=np.float64)
    return float(per_example.std(axis=0).mean())


def activation_stats(
    layer: str,
    activation: str,
    values: np.ndarray,
    *,
    channel_axis: int = -1,
    dtype: str = "float32",
) -> ActivationStat:
    """The ``ActivationStat`` of one layer's output; which fields apply depends on the function.
    ``dtype`` is what the layer computed in (its values arrive here already widened)."""
    v = np.asarray(values, dtype=np.float32)  # float32 is exact enough; float64 doubles the cost
    kind = activation_kind(activation)
    safe = v if np.isfinite(v).all() else np.where(np.isfinite(v), v, np.float32(0))
    stat = ActivationStat(
        layer=layer,
        activation=activation,
        units=int(v.shape[channel_axis]) if v.ndim >= 2 else 1,
        mean=float(safe.mean(dtype=np.float64)) if v.size else 0.0,
        std=float(safe.std(dtype=np.float64)) if v.size else 0.0,
        dtype=str(dtype),
    )
    if v.ndim >= 2 and v.shape[0] > 1:
        stat.signal_std = signal_std(safe, channel_axis=channel_axis)
    if kind == "relu":
        stat.dead_fraction = dead_fraction(safe, channel_axis=channel_axis)
    elif kind == "saturating":
        stat.saturated_fraction = saturated_fraction(activation.lower(), safe)
    return stat


def cross_entropy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean categorical cross-entropy of a probability matrix against integer labels."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    y = labels_to_int(labels)
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def loss_floor(num_classes: int, label_smoothing: float = 0.0) -> float:
    """Lowest reachable cross-entropy: the entropy of the (smoothed) target distribution."""
    eps = float(label_smoothing)
    if eps <= 0 or num_classes < 2:
        return 0.0
    on = 1.0 - eps + eps / num_classes
    off = eps / num_classes
    return float(-(on * math.log(on) + (num_classes - 1) * off * math.log(off)))


# --- curves --------------------------------------------------------------------------------------
def finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    return arr[np.isfinite(arr)]


def relative_decrease(values: Sequence[float] | np.ndarray, window: int) -> float:
    """(first - last) / |first| over the last ``window`` values: TheDeepChecker's progress test."""
    arr = np.asarray(values, dtype=np.float64)[-window:]
    if arr.size < 2 or not np.all(np.isfinite(arr)) or arr[0] == 0:
        return math.nan
    return float((arr[0] - arr[-1]) / abs(arr[0]))


def drop_fraction(values: Sequence[float] | np.ndarray, drop: float) -> float:
    """Share of consecutive-epoch transitions where ``values`` falls by at least ``drop``."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size < 2:
        return 0.0
    diffs = np.diff(arr)
    valid = np.isfinite(diffs)
    if not valid.any():
        return 0.0
    return float(np.mean(diffs[valid] <= -drop))


def generalization_loss(val_loss: Sequence[float] | np.ndarray) -> tuple[float, int]:
    """Prechelt's GL at the last epoch, and the epoch index (0-based) of the best val loss."""
    arr = np.asarray(val_loss, dtype=np.float64)
    if arr.size == 0 or not np.any(np.isfinite(arr)):
        return math.nan, -1
    best = int(np.nanargmin(arr))
    last = arr[-1]
    if not math.isfinite(last) or arr[best] <= 0:
        return math.nan, best
    return float(last / arr[best] - 1.0), best


def loss_progress(initial: float, current: float, floor: float) -> float:
    """Share of the achievable loss reduction (initial -> floor) realised at ``current``."""
    span = initial - floor
    if not (math.isfinite(initial) and math.isfinite(current)) or span <= 0:
        return math.nan
    return float((initial - current) / span)


def batch_values(running_means: Sequence[float], max_size: int = 4096) -> np.ndarray:
    """Per-batch accuracies from the running means Keras logs at each batch end (the metric's
    mean over the epoch so far): with ``N_b`` images seen after batch b, batch b had
    ``N_b m_b - N_(b-1) m_(b-1)`` right, an integer. Batches hold B images except one partial
    batch -- last for arrays, *anywhere* when Keras shuffles a ``PyDataset``'s batch order. The
    smallest B (and partial size and position) that makes every count an integer is taken; the
    partial batch is left out. Empty when no B fits (weighted metrics, soft labels, uneven
    batches): the epoch is then not judged, rather than judged on wrong values."""
    m = np.asarray(running_means, dtype=np.float64)
    n = m.size
    if n < 3:
        return np.empty(0)
    index = np.arange(1, n + 1, dtype=np.float64)
    equal = np.diff(index * m, prepend=0.0)  # per-batch values if every batch held B images
    if np.all(np.isclose(equal[:-1], 0.0, atol=0.02) | np.isclose(equal[:-1], 1.0, atol=0.02)):
        return equal[:-1]  # 0/1 batches: batch_size_from_accuracies judges whether B = 1
    previous = np.concatenate([[0.0], m[:-1]])
    for size in range(2, max_size + 1):
        counts = equal * size
        tol = 0.02 + 4e-7 * size * index  # float32 running means, error grows with N_b
        off = np.flatnonzero(np.abs(counts - np.round(counts)) > tol)
        if off.size == 0 or off[0] == n - 1:
            return equal[:-1]
        j = int(off[0])  # first batch that breaks the equal-size reading: the partial one?
        for r in _partial_sizes(m, previous, tol, j, size):
            seen = np.where(index <= j, index * size, (index - 1) * size + r)  # N_b
            right = seen * m - np.concatenate([[0.0], seen[:-1]]) * previous
            if np.all(np.abs(right - np.round(right)) <= tol):
                sizes = np.where(np.arange(n) == j, r, size)
                return np.delete(right / sizes, j)
    return np.empty(0)


def _partial_sizes(
    m: np.ndarray, previous: np.ndarray, tol: np.ndarray, j: int, size: int
) -> np.ndarray:
    """Sizes r of a short batch at position ``j`` that keep the counts of batch j and the two
    after it integral: a cheap filter (O(size)) before the whole epoch is checked per survivor,
    so an epoch no size fits costs milliseconds per size, not a size x batches matrix."""
    local = np.arange(j, min(j + 3, m.size))
    r = np.arange(1, size, dtype=np.float64)[:, None]
    seen = local.astype(np.float64) * size + r  # N after batch local (the short one included)
    before = np.concatenate([np.full((r.size, 1), float(j * size)), seen[:, :-1]], axis=1)
    right = seen * m[local] - before * previous[local]
    ok = np.all(np.abs(right - np.round(right)) <= tol[local], axis=1)
    return r[ok, 0].astype(int)


def batch_size_from_accuracies(values: np.ndarray, max_size: int = 4096) -> int | None:
    """The batch size implied by per-batch accuracies (each is k / B for an integer k): the
    smallest B for which nearly all are within float32 rounding of a multiple of 1/B. None when
    no B fits (weighted metrics, soft labels, uneven batches) -- the caller then skips."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or np.any(values < -0.01) or np.any(values > 1.01):
        return None
    if np.all(np.isclose(values, 0.0, atol=0.02) | np.isclose(values, 1.0, atol=0.02)):
        # Every batch all right or all wrong: one image per batch -- or batches that happen to
        # be. A random batch of B >= 2 images at accuracy p is mixed with probability at least
        # 1 - p^2 - (1 - p)^2; when that many batches should have been mixed and none was, B = 1.
        p = float(np.mean(values > 0.5))
        expected_mixed = values.size * (1.0 - p**2 - (1.0 - p) ** 2)
        return 1 if expected_mixed >= T.SINGLE_IMAGE_MIXED_EXPECTED else None
    if values.size < T.BATCH_DISPERSION_MIN_BATCHES:
        return None  # a handful of values fit many denominators by chance
    for size in range(2, max_size + 1):
        counts = values * size
        # float32 running means lose ~1e-7 relative, amplified by the batch index
        tol = max(0.02, 4e-7 * size * values.size)
        if tol >= 0.25:
            return None
        if np.mean(np.abs(counts - np.round(counts)) <= tol) >= T.BATCH_SIZE_FIT_SHARE:
            return size
    return None


def sample_count_from_accuracies(values: Sequence[float] | np.ndarray) -> int | None:
    """How many images an accuracy was averaged over, from the values alone: each is k / n, so
    the smallest n that makes every value in (0, 1) a multiple of 1/n (see ``COUNT_FIT_*`` in
    ``thresholds``). None with too few distinct values, or none fits (weighted metrics)."""
    v = np.asarray([x for x in values if x == x], dtype=np.float64)
    interior = np.unique(v[(v > 0.0) & (v < 1.0)])
    if interior.size < T.COUNT_FIT_MIN_VALUES:
        return None
    n = np.arange(2, T.COUNT_FIT_MAX_N + 1, dtype=np.float64)[:, None]
    off = np.abs(interior[None, :] * n - np.round(interior[None, :] * n)) / n
    fits = np.flatnonzero(np.all(off <= T.COUNT_FIT_TOLERANCE, axis=1))
    return int(n[fits[0], 0]) if fits.size else None


def batch_residuals(
    values: np.ndarray, size: int, *, half_window: int = T.BATCH_DISPERSION_HALF_WINDOW
) -> tuple[np.ndarray, np.ndarray]:
    """Each batch's accuracy minus the mean of its ``half_window`` neighbours each side (which
    follows the learning trend), and that residual's variance if batches were random samples:
    binomial, p (1 - p) / B, times (1 + 1 / (2h)) for the neighbours' own noise."""
    h = half_window
    kernel = np.ones(2 * h + 1)
    kernel[h] = 0.0
    neighbours = np.convolve(values, kernel, mode="valid") / (2 * h)
    centre = values[h : values.size - h]
    local = np.clip((neighbours * 2 * h + centre) / (2 * h + 1), 0.5 / size, 1 - 0.5 / size)
    return centre - neighbours, local * (1 - local) / size * (1 + 1 / (2 * h))


def batch_accuracy_dispersion(values: Sequence[float]) -> dict[str, float] | None:
    """How much more the per-batch training accuracy varies than random batches allow.

    Each batch of a shuffled epoch is a random sample: its accuracy is a binomial proportion
    around the model's current accuracy. The dispersion index is the mean squared residual
    (``batch_residuals``) over its binomial expectation: ~1 for random batches, far above when
    batches differ systematically -- e.g. one class per run of batches, where the model is right
    on a class's later batches and wrong on its first. ``z`` standardises the excess with the
    index's null spread, ~1.4 sqrt(2 / m) over m batches (simulated; neighbouring residuals are
    correlated).
    """
    values = np.asarray(values, dtype=np.float64)
    size = batch_size_from_accuracies(values)
    if size is None or values.size < T.BATCH_DISPERSION_MIN_BATCHES:
        return None
    residuals, expected = batch_residuals(values, size)
    dispersion = float(np.mean(residuals**2 / expected))
    spread = T.BATCH_DISPERSION_NULL_SPREAD * math.sqrt(2.0 / residuals.size)
    return {
        "batches": int(residuals.size),
        "batch_size": size,
        "dispersion": dispersion,
        "z": (dispersion - 1.0) / spread,
    }


def epoch_to_epoch_correlation(first: Sequence[float], second: Sequence[float]) -> float | None:
    """Pearson correlation of two epochs' batch-accuracy residuals, position by position: ~0
    when every epoch reshuffles, positive when batch k holds the same kind of images every
    epoch (data served in a fixed order). Returned as a z-score, r sqrt(m)."""
    a, b = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    m = min(a.size, b.size)
    size_a, size_b = batch_size_from_accuracies(a[:m]), batch_size_from_accuracies(b[:m])
    if m < T.BATCH_DISPERSION_MIN_BATCHES or size_a is None or size_b is None:
        return None
    ra, _ = batch_residuals(a[:m], size_a)
    rb, _ = batch_residuals(b[:m], size_b)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1] * math.sqrt(ra.size))
