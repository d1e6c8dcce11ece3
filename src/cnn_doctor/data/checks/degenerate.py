"""Degenerate images: blank (black, white, constant) or pure noise — records that carry no picture.

Such records come from failed decodes, placeholder files, broken crops, or a corrupted copy; they
teach the network nothing and pull its statistics. Each has a cheap, unambiguous signature:

- **black / white**: ≥ 98% of channel values at ≤ 10 (≥ 245) of 255. The most extreme real images
  in this CIFAR-10 copy reach 86% black / 96% white (a small object on a white background), so
  98% leaves a margin and still catches a blank with a few stray pixels.
- **constant**: pixel standard deviation < 4 grey levels. Real CIFAR-10 images here start at 9.6
  (0.01th percentile 11.9).
- **noise**: lag-1 autocorrelation of the grey image < 0.25. Natural images are spatially smooth
  (median 0.86 here, minimum 0.45 over 60,000); i.i.d. noise, with or without JPEG, scores ≈ 0.
  (cleanvision's "low information"/"dark"/"light" issue types are the model for these checks;
  the thresholds are ours, measured on this data.)
"""

from __future__ import annotations

import numpy as np

from cnn_doctor.data.checks.base import (
    DataCheckInput,
    IssueManager,
    check_fraction,
    check_positive,
    register,
)
from cnn_doctor.data.checks.features import stats_for
from cnn_doctor.diagnose.findings import Finding, Fix

SATURATED_FRACTION = 0.98
MIN_STD = 4.0
MIN_NEIGHBOUR_CORR = 0.25
CRITICAL_FRACTION = 0.05  # a twentieth of a split blank: a broken file or pipeline, not strays
TOP_EVIDENCE = 50


def _reasons(
    data: DataCheckInput,
    saturated: float = SATURATED_FRACTION,
    min_std: float = MIN_STD,
    min_corr: float = MIN_NEIGHBOUR_CORR,
) -> np.ndarray:
    """Per global row: '' (fine), 'black', 'white', 'constant' or 'noise'."""
    s = stats_for(data)
    reason = np.full(len(s.std), "", dtype=object)
    noise = (s.std >= min_std) & (s.neighbour_corr < min_corr)
    reason[noise] = "noise"
    reason[s.std < min_std] = "constant"
    reason[s.light_fraction >= saturated] = "white"
    reason[s.dark_fraction >= saturated] = "black"
    return reason


def degenerate_mask(data: DataCheckInput) -> np.ndarray:
    """Global rows that the default thresholds call degenerate (used to exclude them elsewhere)."""
    return data.memo("degenerate_mask", lambda: _reasons(data) != "")


@register
class DegenerateImages(IssueManager):
    """Blank (black / white / constant) and pure-noise images."""

    name = "degenerate_images"
    order = 40
    description = "blank (black, white, constant) or pure-noise images"

    def __init__(
        self,
        *,
        saturated_fraction: float = SATURATED_FRACTION,
        min_std: float = MIN_STD,
        min_neighbour_corr: float = MIN_NEIGHBOUR_CORR,
        critical_fraction: float = CRITICAL_FRACTION,
    ) -> None:
        self.saturated_fraction = check_fraction("saturated_fraction", saturated_fraction)
        self.min_std = check_positive("min_std", min_std)
        self.min_neighbour_corr = check_fraction("min_neighbour_corr", min_neighbour_corr, low=-1)
        self.critical_fraction = check_fraction("critical_fraction", critical_fraction)

    def find_issues(self, data: DataCheckInput) -> list[Finding]:
        reason = _reasons(data, self.saturated_fraction, self.min_std, self.min_neighbour_corr)
        flagged = np.flatnonzero(reason != "")
        if len(flagged) == 0:
            return []
        s = stats_for(data)
        # worst first: blanks by how flat they are, then noise by how uncorrelated
        is_noise = reason[flagged] == "noise"
        key = np.where(is_noise, 1e3 + s.neighbour_corr[flagged], s.std[flagged])
        flagged = flagged[np.argsort(key, kind="stable")]
        items = data.global_items(flagged)
        counts = {
            r: int((reason[flagged] == r).sum()) for r in ("black", "white", "constant", "noise")
        }
        counts = {r: c for r, c in counts.items() if c}
        n_total = data.n_train + data.n_test
        share = len(flagged) / max(n_total, 1)
        worst = [
            {
                "item": list(item),
                "reason": str(reason[row]),
                "std": round(float(s.std[row]), 2),
                "neighbour_corr": round(float(s.neighbour_corr[row]), 3),
                "black_fraction": round(float(s.dark_fraction[row]), 3),
                "white_fraction": round(float(s.light_fraction[row]), 3),
            }
            for row, item in zip(flagged[:TOP_EVIDENCE], items[:TOP_EVIDENCE], strict=True)
        ]
        per_split = {
            split: sum(1 for item in items if item[0] == split) for split in ("train", "test")
        }
        what = ", ".join(f"{c} {r}" for r, c in counts.items())
        return [
            Finding(
                id=self.name,
                area="data",
                severity="critical" if share >= self.critical_fraction else "warning",
                confidence=0.95,
                summary=(
                    f"{len(flagged)} images carry no picture ({what}); "
                    f"{per_split['train']} in train, {per_split['test']} in test."
                ),
                evidence={
                    "count": len(flagged),
                    "by_reason": counts,
                    "per_split": per_split,
                    "share_of_images": round(share, 5),
                    "thresholds": {
                        "black_or_white_if_saturated_fraction_at_least": self.saturated_fraction,
                        "constant_if_std_below": self.min_std,
                        "noise_if_neighbour_corr_below": self.min_neighbour_corr,
                        "critical_if_share_at_least": self.critical_fraction,
                    },
                    "worst": worst,
                },
                fixes=(
                    Fix(
                        "cnn-doctor data-check --export-clean clean/ ; then data.data_dir=clean",
                        "removes them; if many, check the decode/convert step that produced them",
                    ),
                ),
                items=tuple(items),
            )
        ]
