"""Class balance of train, validation and test, and whether train and test agree.

Thresholds: cleanlab Datalab flags class imbalance when the rarest class is below ``0.1 / K`` of
the data (its ``threshold=0.1``); that catches only severe cases, so we also grade the max/min
count ratio ρ used by Buda, Maki & Mazurowski ("A systematic study of the class imbalance problem
in convolutional neural networks", Neural Networks 2018), who found the accuracy loss on CIFAR-10
grows with ρ and with the number of minority classes: ρ ≥ 1.5 is reported (info), ρ ≥ 3 is a
warning, ρ ≥ 10, an empty class, or cleanlab's rule is critical. A train/test class-distribution
difference (total variation ≥ 0.05) means the test figure weighs classes differently from
training — a prior shift, also reported here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnn_doctor.data.checks.base import (
    DataCheckInput,
    IssueManager,
    check_fraction,
    check_positive,
    register,
)
from cnn_doctor.diagnose.findings import Finding, Fix

INFO_RATIO = 1.5
WARNING_RATIO = 3.0
CRITICAL_RATIO = 10.0
CLEANLAB_RARE = 0.1  # rarest class below 0.1/K of the split (cleanlab's default)
MAX_TV = 0.05  # total-variation distance between train and test class distributions

_RANK = {"info": 0, "warning": 1, "critical": 2}


def _grade(counts: np.ndarray, info: float, warning: float, critical: float) -> tuple[str, float]:
    total = counts.sum()
    lo, hi = counts.min(), counts.max()
    ratio = float("inf") if lo == 0 else float(hi / lo)
    rare = total > 0 and lo / total < CLEANLAB_RARE / len(counts)
    if lo == 0 or ratio >= critical or rare:
        return "critical", ratio
    if ratio >= warning:
        return "warning", ratio
    if ratio >= info:
        return "info", ratio
    return "", ratio


@register
class ClassImbalance(IssueManager):
    """Unequal class counts within a split, or different class mixes in train and test."""

    name = "class_imbalance"
    order = 30
    description = "unequal class counts in train / validation / test, or train–test prior shift"

    def __init__(
        self,
        *,
        info_ratio: float = INFO_RATIO,
        warning_ratio: float = WARNING_RATIO,
        critical_ratio: float = CRITICAL_RATIO,
        max_total_variation: float = MAX_TV,
    ) -> None:
        self.info_ratio = check_positive("info_ratio", info_ratio)
        self.warning_ratio = check_positive("warning_ratio", warning_ratio)
        self.critical_ratio = check_positive("critical_ratio", critical_ratio)
        if not 1 <= self.info_ratio <= self.warning_ratio <= self.critical_ratio:
            raise ValueError("need 1 <= info_ratio <= warning_ratio <= critical_ratio")
        self.max_tv = check_fraction("max_total_variation", max_total_variation)

    def missing(self, data: DataCheckInput) -> str | None:
        if data.num_classes < 2:
            return "fewer than two classes"
        return None

    def split_labels(self, data: DataCheckInput) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Labels and rows (of their array) per split; validation is carved from train."""
        rows = np.arange(data.n_train)
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if data.val_rows is not None and len(data.val_rows):
            val = np.asarray(data.val_rows, dtype=np.int64)
            train_rows = np.setdiff1d(rows, val)
            out["train"] = (data.y_train[train_rows], train_rows)
            out["val"] = (data.y_train[val], val)
        else:
            out["train"] = (data.y_train, rows)
        if data.y_test is not None and len(data.y_test):
            out["test"] = (data.y_test, np.arange(len(data.y_test)))
        return out

    def find_issues(self, data: DataCheckInput) -> list[Finding]:
        k = data.num_classes
        per_split: dict[str, Any] = {}
        worst_severity = ""
        items: list[tuple[str, int]] = []
        problems = []
        dists = {}
        for split, (labels, rows) in self.split_labels(data).items():
            counts = np.bincount(labels, minlength=k)[:k]
            dists[split] = counts / max(counts.sum(), 1)
            severity, ratio = _grade(
                counts, self.info_ratio, self.warning_ratio, self.critical_ratio
            )
            per_split[split] = {
                "counts": {data.class_names[c]: int(counts[c]) for c in range(k)},
                "max_min_ratio": None if not np.isfinite(ratio) else round(ratio, 3),
            }
            if not severity:
                continue
            minority = np.flatnonzero(counts * self.info_ratio <= counts.mean())
            names = [data.class_names[c] for c in minority]
            problems.append(
                f"{split}: max/min = {'∞' if not np.isfinite(ratio) else f'{ratio:.1f}'}"
                f" (fewest: {', '.join(names[:4])})"
            )
            if _RANK[severity] > _RANK.get(worst_severity, -1):
                worst_severity = severity
            record_split = "test" if split == "test" else "train"
            sel = rows[np.isin(labels, minority)]
            items.extend(data.items(record_split, sel))
        tv = None
        if "test" in dists and "train" in dists:
            tv = float(0.5 * np.abs(dists["train"] - dists["test"]).sum())
            if tv >= self.max_tv:
                problems.append(f"train and test class mixes differ (total variation {tv:.3f})")
                if not worst_severity or worst_severity == "info":
                    worst_severity = "warning"
        if not problems:
            return []
        return [
            Finding(
                id=self.name,
                area="data",
                severity=worst_severity,  # type: ignore[arg-type]
                confidence=0.9,
                summary="Classes are unbalanced — " + "; ".join(problems) + ".",
                evidence={
                    "per_split": per_split,
                    "train_test_total_variation": None if tv is None else round(tv, 4),
                    "thresholds": {
                        "info_ratio": self.info_ratio,
                        "warning_ratio": self.warning_ratio,
                        "critical_ratio": self.critical_ratio,
                        "cleanlab_rare_class_below_fraction_of_uniform": CLEANLAB_RARE,
                        "max_total_variation": self.max_tv,
                    },
                    "item_rule": "records of classes with count <= mean class count / info_ratio",
                },
                fixes=(
                    Fix(
                        "oversample the minority classes (or weight the loss by 1/frequency)",
                        "Buda et al. 2018: oversampling to balance recovered most of the loss "
                        "on CIFAR-10",
                    ),
                ),
                items=tuple(items),
            )
        ]
