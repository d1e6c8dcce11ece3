"""Finding pairs of images that show the same picture: exact (hash) and near (search + verify).

Near-duplicate search is two-stage, because one measure cannot be both fast over 60,000² pairs and
precise:

1. **Candidates** — every image's ``k`` nearest neighbours by cosine similarity of a 66-number,
   shift/brightness/JPEG-tolerant spectrum embedding (``features.spectrum_embedding``), one dense
   block matrix product at a time (torch: ``mm`` + ``topk`` on all cores).
2. **Verification** — a candidate pair is kept only if the two grey images still match *pixel by
   pixel* after the best shift of up to ±2 px: normalized cross-correlation (NCC, invariant to
   brightness gain and offset) of the overlap ≥ ``min_ncc``, *and* NCC of their high-pass (detail)
   images ≥ ``min_detail_ncc``. The second measure is what keeps smooth look-alikes out (two
   horizons or two blurry skies correlate at 0.93+ on grey level alone, but their details do not).
   The alignment is estimated per pair by phase correlation, so each pair costs two FFTs and two
   NCCs rather than 25 shifted comparisons.

Thresholds were set by looking at this CIFAR-10 copy (see the constants): real near-duplicates in
CIFAR-10 are common (Barz & Denzler, "Do we train on test data? Purging CIFAR of near-duplicates",
J. Imaging 2020: 3.3% of CIFAR-10 test images have a near-duplicate in train).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft
from scipy.ndimage import gaussian_filter
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# Candidate stage. k: every planted copy in the calibration (400, four kinds) was rank 1 or 2.
NEIGHBOURS = 5
# Below this spectrum cosine no planted copy was seen (min 0.83 with JPEG q30 + ±30 brightness),
# and pixel verification would reject the pair anyway; it only saves verification work.
MIN_CANDIDATE_COSINE = 0.80
# Verification. Planted copies (±2 px, JPEG q≥30, brightness ×0.7–1.3 ±30, combined): grey NCC
# ≥ 0.948, detail NCC ≥ 0.84. Real CIFAR-10 pairs passing 0.93 / 0.66 were, on inspection of
# the 42 lowest by each measure, re-crops/re-colourings of one photo; among the 42 lowest with
# detail NCC in 0.60–0.66 about a third were look-alikes (two ships on a sea horizon, fur).
MIN_NCC = 0.93
MIN_DETAIL_NCC = 0.66
MAX_SHIFT = 2  # pixels searched in each direction
DETAIL_SIGMA = 1.5  # high-pass = image − Gaussian(σ) blur
BLOCK = 512  # query rows per similarity block (512 × 60,000 float32 = 123 MB)
PAIR_CHUNK = 8192


@dataclass(frozen=True)
class NearPairs:
    """Verified near-duplicate pairs over global rows (train rows first, then test); a < b."""

    a: np.ndarray
    b: np.ndarray
    ncc: np.ndarray
    detail_ncc: np.ndarray
    cosine: np.ndarray
    candidates: int  # candidate pairs examined (for the evidence)


def _exact_neighbours(emb: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every row's ``k`` most similar rows by brute force (one block of rows at a time)."""
    import torch

    table = torch.from_numpy(emb)
    qa, qb, qc = [], [], []
    for start in range(0, len(emb), BLOCK):
        sims = table[start : start + BLOCK] @ table.T
        local = torch.arange(sims.shape[0])
        sims[local, local + start] = -2.0  # not its own neighbour
        vals, idx = torch.topk(sims, k, dim=1)
        qa.append(np.repeat(np.arange(start, start + len(vals)), k))
        qb.append(idx.numpy().reshape(-1))
        qc.append(vals.numpy().reshape(-1))
    return np.concatenate(qa), np.concatenate(qb), np.concatenate(qc)


def candidate_pairs(
    embedding: np.ndarray,
    rows: np.ndarray,
    *,
    k: int = NEIGHBOURS,
    min_cosine: float = MIN_CANDIDATE_COSINE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique pairs (global rows a < b, cosine) among ``rows``' top-``k`` neighbour lists.

    Exact search: an inverted-file index (k-means cells, FAISS-style) was tried and saved less
    than half the time on CIFAR-10 (its cells are very unequal) while missing 1–5% of planted
    copies at 3–4 probes; brute force is exact and ~15 s for 60,000 images on 2 cores.
    """
    rows = np.asarray(rows, dtype=np.int64)
    m = len(rows)
    if m < 2:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0, np.float32)
    k = min(k, m - 1)
    emb = np.ascontiguousarray(embedding[rows], dtype=np.float32)
    qa, qb, cos = _exact_neighbours(emb, k)
    keep = cos >= min_cosine
    qa, qb, cos = qa[keep], qb[keep], cos[keep]
    lo, hi = np.minimum(qa, qb), np.maximum(qa, qb)
    key = lo * m + hi
    _, first = np.unique(key, return_index=True)
    return rows[lo[first]], rows[hi[first]], cos[first]


def _overlap(dy: int, dx: int, size: int) -> tuple[slice, slice, slice, slice]:
    return (
        slice(max(dy, 0), size + min(dy, 0)),
        slice(max(dx, 0), size + min(dx, 0)),
        slice(max(-dy, 0), size + min(-dy, 0)),
        slice(max(-dx, 0), size + min(-dx, 0)),
    )


def _ncc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.reshape(len(a), -1)
    b = b.reshape(len(b), -1)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denom = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return np.where(denom > 1e-6, (a * b).sum(axis=1) / np.maximum(denom, 1e-6), 0.0)


def estimate_shifts(
    ga: np.ndarray, gb: np.ndarray, max_shift: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per pair, the integer shift (within ±``max_shift``) that best aligns ``ga`` with ``gb``.

    Phase correlation (Kuglin & Hines 1975): the normalized cross-power spectrum of two shifted
    copies is a pure phase ramp whose inverse FFT peaks at the shift. It costs two FFTs per pair
    instead of 25 NCC evaluations, and it is insensitive to brightness changes. The sign
    convention matches ``_overlap``.
    """
    size = ga.shape[1]
    window = np.outer(np.hanning(size + 2)[1:-1], np.hanning(size + 2)[1:-1]).astype(np.float32)
    fa = sfft.rfft2((ga - ga.mean(axis=(1, 2), keepdims=True)) * window, workers=-1)
    fb = sfft.rfft2((gb - gb.mean(axis=(1, 2), keepdims=True)) * window, workers=-1)
    cross = fa * np.conj(fb)
    cross /= np.abs(cross) + np.float32(1e-3)
    surface = sfft.irfft2(cross, s=ga.shape[1:], workers=-1)
    width = 2 * max_shift + 1
    surface = np.roll(surface, (max_shift, max_shift), axis=(1, 2))[:, :width, :width]
    flat = surface.reshape(len(surface), -1).argmax(axis=1)
    return flat // width - max_shift, flat % width - max_shift


def ncc_at(
    ga: np.ndarray, gb: np.ndarray, dy: np.ndarray, dx: np.ndarray, *, detail: bool = False
) -> np.ndarray:
    """NCC of each pair at its own shift ``(dy, dx)``; of the high-pass images if ``detail``."""
    size = ga.shape[1]
    if detail:
        sigma = (0, DETAIL_SIGMA, DETAIL_SIGMA)
        ga = ga - gaussian_filter(ga, sigma=sigma, mode="nearest")
        gb = gb - gaussian_filter(gb, sigma=sigma, mode="nearest")
    out = np.zeros(len(ga), dtype=np.float32)
    for sy, sx in set(zip(dy.tolist(), dx.tolist(), strict=True)):
        sel = np.flatnonzero((dy == sy) & (dx == sx))
        ya, xa, yb, xb = _overlap(sy, sx, size)
        a, b = ga[sel][:, ya, xa], gb[sel][:, yb, xb]
        if detail:  # drop 2 px of border: the blur's edge handling is not part of the picture
            a, b = a[:, 2:-2, 2:-2], b[:, 2:-2, 2:-2]
        out[sel] = _ncc(a, b)
    return out


def verify_pairs(
    gray_for: Callable[[np.ndarray], np.ndarray],
    a: np.ndarray,
    b: np.ndarray,
    *,
    min_ncc: float = MIN_NCC,
    min_detail_ncc: float = MIN_DETAIL_NCC,
    max_shift: int = MAX_SHIFT,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel-level check of candidate pairs; returns (keep mask, NCC, detail NCC).

    ``gray_for(rows)`` returns the float32 grey images (n, h, w) of those rows.

    Each pair is compared at two alignments — unshifted, and the phase-correlation estimate —
    and the better grey NCC counts. The detail NCC (at that same alignment) is computed only for
    pairs that pass the grey test: most candidates fail it, and the blur is the costly part.
    """
    ncc = np.zeros(len(a), dtype=np.float32)
    det = np.full(len(a), np.nan, dtype=np.float32)
    for start in range(0, len(a), PAIR_CHUNK):
        sl = slice(start, start + PAIR_CHUNK)
        ga, gb = gray_for(a[sl]), gray_for(b[sl])
        zero = np.zeros(len(ga), dtype=np.int64)
        n0 = ncc_at(ga, gb, zero, zero)
        dy, dx = estimate_shifts(ga, gb, max_shift)
        n1 = ncc_at(ga, gb, dy, dx)
        shifted = n1 > n0
        best = np.where(shifted, n1, n0)
        ncc[sl] = best
        passed = np.flatnonzero(best >= min_ncc)
        if len(passed):
            dy, dx = np.where(shifted, dy, 0)[passed], np.where(shifted, dx, 0)[passed]
            det[start + passed] = ncc_at(ga[passed], gb[passed], dy, dx, detail=True)
    keep = (ncc >= min_ncc) & (np.nan_to_num(det, nan=-1.0) >= min_detail_ncc)
    return keep, ncc, det


def find_near_pairs(
    embedding: np.ndarray,
    rows: np.ndarray,
    gray_for: Callable[[np.ndarray], np.ndarray],
    *,
    k: int = NEIGHBOURS,
    min_cosine: float = MIN_CANDIDATE_COSINE,
    min_ncc: float = MIN_NCC,
    min_detail_ncc: float = MIN_DETAIL_NCC,
    max_shift: int = MAX_SHIFT,
) -> NearPairs:
    """Candidates among ``rows`` by embedding, then pixel verification (see module docstring)."""
    a, b, cos = candidate_pairs(embedding, rows, k=k, min_cosine=min_cosine)
    keep, ncc, det = verify_pairs(
        gray_for, a, b, min_ncc=min_ncc, min_detail_ncc=min_detail_ncc, max_shift=max_shift
    )
    return NearPairs(a[keep], b[keep], ncc[keep], det[keep], cos[keep], candidates=len(a))


def connected_groups(a: np.ndarray, b: np.ndarray) -> list[list[int]]:
    """Groups (sorted rows, at least two, listed by their first row) of the records linked by
    the pairs ``(a[i], b[i])``: scipy's connected components over the pair graph.

    Replaced a hand-written union-find: on the planted benchmark's pairs
    (``benchmarks/data_faults.py``: 12 calls, 480 pairs) both give identical groups, in
    milliseconds either way (union-find 1.1 ms, scipy 5.5 ms in all; 2-core CPU shared with
    other jobs), so the library's version is kept for being one less algorithm of our own.
    """
    if not len(a):
        return []
    nodes, index = np.unique(np.concatenate([a, b]), return_inverse=True)
    n = len(nodes)
    ones = np.ones(len(a), dtype=np.int8)
    graph = coo_matrix((ones, (index[: len(a)], index[len(a) :])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    order = np.argsort(labels, kind="stable")  # nodes are sorted, so each group is too
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    return sorted(nodes[g].tolist() for g in np.split(order, cuts) if len(g) > 1)
