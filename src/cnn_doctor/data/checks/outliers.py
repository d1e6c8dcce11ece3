"""Outlier images: far from every other image in a space of cheap pixel statistics.

Method (cleanlab Datalab's ``outlier`` issue manager, on our features): each image's average
distance to its ``k`` nearest neighbours, in a 12-number space of robustly scaled pixel statistics
(per-channel mean and spread, black/white fractions, smoothness, edge density, colourfulness);
an image is an outlier when that distance lies beyond an interquartile fence. cleanlab's default
fence is Q3 + 1.7·IQR (its threshold 0.37037); on this CIFAR-10 copy that flags 3.6% of images,
too many to look at, so we use Tukey's "far out" fence Q3 + 3·IQR (Tukey 1977), which flags
~1.1% — saturated colours, silhouettes on white, near-empty frames.

These are *unusual*, not wrong: severity is ``info``. Look at the grid; remove only what is junk.
Degenerate images are left out (they are reported by ``degenerate_images``).
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from cnn_doctor.data.checks.base import DataCheckInput, IssueManager, check_positive, register
from cnn_doctor.data.checks.degenerate import degenerate_mask
from cnn_doctor.data.checks.features import stats_for
from cnn_doctor.diagnose.findings import Finding, Fix

NEIGHBOURS = 10  # cleanlab's default k for feature-based outlier scores
IQR_FENCE = 3.0  # Tukey's outer fence
REFERENCE_SIZE = 10_000  # neighbours are searched among this many images (a random sample)
FEATURE_NAMES = (
    "mean_r",
    "mean_g",
    "mean_b",
    "std_r",
    "std_g",
    "std_b",
    "black_fraction",
    "white_fraction",
    "neighbour_corr",
    "edge_energy",
    "colourfulness",
    "std",
)
TOP_EVIDENCE = 50


@register
class OutlierImages(IssueManager):
    """Images far from all others in pixel-statistics space (kNN distance, IQR fence)."""

    name = "outlier_images"
    order = 80
    description = "images far from all others in pixel statistics (kNN distance beyond Q3+3·IQR)"

    def __init__(
        self,
        *,
        neighbours: int = NEIGHBOURS,
        iqr_fence: float = IQR_FENCE,
        reference_size: int = REFERENCE_SIZE,
        seed: int = 0,
    ) -> None:
        if int(neighbours) < 1:
            raise ValueError(f"neighbours={neighbours} must be >= 1")
        self.neighbours = int(neighbours)
        self.iqr_fence = check_positive("iqr_fence", iqr_fence)
        if int(reference_size) < 2:
            raise ValueError(f"reference_size={reference_size} must be >= 2")
        self.reference_size = int(reference_size)
        self.seed = int(seed)

    def missing(self, data: DataCheckInput) -> str | None:
        if data.n_train + data.n_test < 4 * (self.neighbours + 1):
            return f"needs at least {4 * (self.neighbours + 1)} images for a neighbour density"
        return None

    def scores(self, data: DataCheckInput) -> tuple[np.ndarray, np.ndarray]:
        """(global rows considered, average kNN distance of each) — larger is more unusual."""
        rows = np.flatnonzero(~degenerate_mask(data))
        features = stats_for(data).features()[rows]
        median = np.median(features, axis=0)
        q1, q3 = np.percentile(features, [25, 75], axis=0)
        scale = np.maximum(q3 - q1, 1e-6 + 1e-3 * np.abs(median))
        z = (features - median) / scale
        rng = np.random.default_rng(self.seed)
        n_ref = min(len(rows), self.reference_size)
        ref = np.sort(rng.choice(len(rows), n_ref, replace=False))
        k = min(self.neighbours, n_ref - 1)
        search = NearestNeighbors(n_neighbors=k + 1).fit(z[ref])
        dist, idx = search.kneighbors(z)
        in_ref = np.zeros(len(rows), dtype=bool)
        in_ref[ref] = True
        # a reference image finds itself first: drop that column; others drop their (k+1)-th
        own = in_ref & (ref[idx[:, 0]] == np.arange(len(rows)))
        avg = np.where(own, dist[:, 1:].mean(axis=1), dist[:, :k].mean(axis=1))
        return rows, avg

    def find_issues(self, data: DataCheckInput) -> list[Finding]:
        rows, avg = self.scores(data)
        q1, q3 = np.percentile(avg, [25, 75])
        fence = float(q3 + self.iqr_fence * (q3 - q1))
        flagged = np.flatnonzero(avg > fence)
        if len(flagged) == 0:
            return []
        flagged = flagged[np.argsort(-avg[flagged], kind="stable")]
        items = data.global_items(rows[flagged])
        features = stats_for(data).features()
        worst = []
        for f, item in zip(flagged[:TOP_EVIDENCE], items[:TOP_EVIDENCE], strict=True):
            values = features[rows[f]]
            worst.append(
                {
                    "item": list(item),
                    "score": round(float(avg[f]), 3),
                    **{n: round(float(v), 3) for n, v in zip(FEATURE_NAMES, values, strict=True)},
                }
            )
        share = len(flagged) / len(rows)
        return [
            Finding(
                id=self.name,
                area="data",
                severity="info",
                confidence=0.5,
                summary=(
                    f"{len(flagged)} images ({share:.1%}) are far from all others in pixel "
                    "statistics (unusual colour, exposure or texture); look before removing."
                ),
                evidence={
                    "count": len(flagged),
                    "share": round(share, 5),
                    "score": f"mean distance to {self.neighbours} nearest neighbours "
                    "(robust-scaled pixel statistics)",
                    "fence": round(fence, 4),
                    "fence_rule": f"Q3 + {self.iqr_fence}·IQR of the scores (Tukey outer fence; "
                    "cleanlab's default is Q3 + 1.7·IQR)",
                    "features": list(FEATURE_NAMES),
                    "worst": worst,
                },
                fixes=(
                    Fix(
                        "look at the outlier grid in report.html",
                        "unusual images are often valid and informative; remove only junk",
                    ),
                ),
                items=tuple(items),
            )
        ]
