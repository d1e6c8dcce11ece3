"""Exact duplicates, near-duplicates (within a split) and train/test leakage (across splits).

What counts as an item:

- ``exact_duplicates`` / ``near_duplicates``: every member of a duplicate group except one
  representative (the lowest record index) — the records you could delete and lose nothing.
  The evidence holds the groups, so nothing is hidden.
- ``train_test_leakage``: the *test* records that have an exact or near copy in train; their train
  partners are in the evidence (``pairs``). A leaked test image measures memory, not
  generalization (Barz & Denzler 2020 found 3.3% of CIFAR-10's test images so affected).

Degenerate images (constant, black, white, noise) are left out of the near-duplicate search: the
brightness normalization that makes near-duplicate matching robust would amplify their noise,
and they are reported once, by ``degenerate_images``. Exact copies of them are still exact
duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cnn_doctor.data.checks import matching
from cnn_doctor.data.checks.base import (
    DataCheckInput,
    IssueManager,
    check_fraction,
    check_positive,
    register,
)
from cnn_doctor.data.checks.degenerate import degenerate_mask
from cnn_doctor.data.checks.features import gray_table_for, hashes_for, spectrum_from_gray
from cnn_doctor.diagnose.findings import Finding, Fix

MAX_EVIDENCE_GROUPS = 200  # groups listed in the evidence for within-split duplicates
# A within-split duplicate share above this is a warning: each copy is an extra, correlated
# gradient step on the same picture; below it, info (a few copies do not move accuracy).
DUPLICATE_WARNING_FRACTION = 0.01
# Leakage above this share of the test set is critical: test accuracy is then inflated by up to
# that many points (ciFAIR-10 lowered published CIFAR-10 accuracies by ~1 point at 3.3%).
LEAKAGE_CRITICAL_FRACTION = 0.03

_CLEAN_FIX = Fix(
    "cnn-doctor data-check --export-clean clean/ ; then data.data_dir=clean",
    "writes a copy without the flagged records (removal list alongside) and trains on it",
)


@dataclass(frozen=True)
class DuplicateGraph:
    """All duplicate relations over global rows (train rows first, then test rows)."""

    exact_a: np.ndarray
    exact_b: np.ndarray
    near: matching.NearPairs | None  # None when near-duplicate search was not run
    searched_rows: int


def _exact_pairs(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every row paired with the first row (lowest global row) of its identical-hash group."""
    order = np.argsort(hashes, kind="stable")
    sorted_h = hashes[order]
    starts = np.concatenate(([True], sorted_h[1:] != sorted_h[:-1]))
    group_first = order[np.flatnonzero(starts)[np.cumsum(starts) - 1]]
    dup = group_first != order
    return group_first[dup], order[dup]


def duplicate_graph(
    data: DataCheckInput, settings: tuple[Any, ...] | None = None
) -> DuplicateGraph:
    """Exact pairs (hash) and verified near pairs, memoized per threshold ``settings``."""
    near_settings = settings or ()

    def compute() -> DuplicateGraph:
        ea, eb = _exact_pairs(hashes_for(data))
        if not near_settings:
            return DuplicateGraph(ea, eb, None, 0)
        k, min_cos, min_ncc, min_detail, max_shift = near_settings
        rows = np.flatnonzero(~degenerate_mask(data))

        table = gray_table_for(data)
        emb = data.memo("spectrum_embedding", lambda: spectrum_from_gray(table))
        near = matching.find_near_pairs(
            emb,
            rows,
            lambda r: table[r].astype(np.float32),
            k=k,
            min_cosine=min_cos,
            min_ncc=min_ncc,
            min_detail_ncc=min_detail,
            max_shift=max_shift,
        )
        return DuplicateGraph(ea, eb, near, len(rows))

    return data.memo(("duplicate_graph", near_settings), compute)


def _groups_within(
    data: DataCheckInput, a: np.ndarray, b: np.ndarray, split: str
) -> list[list[int]]:
    """Connected groups (sorted global rows) of pairs whose two ends are both in ``split``."""
    is_test_a, _ = data.split_of(a)
    is_test_b, _ = data.split_of(b)
    want = split == "test"
    sel = (is_test_a == want) & (is_test_b == want)
    return matching.connected_groups(a[sel], b[sel])


def _describe_groups(data: DataCheckInput, groups: list[list[int]]) -> list[list[list[Any]]]:
    return [[list(item) for item in data.global_items(np.array(g))] for g in groups]


class _NearSettings:
    """Near-duplicate thresholds shared by ``near_duplicates`` and ``train_test_leakage``."""

    def __init__(
        self,
        *,
        neighbours: int = matching.NEIGHBOURS,
        min_cosine: float = matching.MIN_CANDIDATE_COSINE,
        min_ncc: float = matching.MIN_NCC,
        min_detail_ncc: float = matching.MIN_DETAIL_NCC,
        max_shift: int = matching.MAX_SHIFT,
    ) -> None:
        if int(neighbours) < 1:
            raise ValueError(f"neighbours={neighbours} must be >= 1")
        if not 0 <= int(max_shift) <= 8:
            raise ValueError(f"max_shift={max_shift} must be in [0, 8] pixels")
        self.settings = (
            int(neighbours),
            check_fraction("min_cosine", min_cosine, low=-1.0),
            check_fraction("min_ncc", min_ncc, low=-1.0),
            check_fraction("min_detail_ncc", min_detail_ncc, low=-1.0),
            int(max_shift),
        )

    def thresholds(self) -> dict[str, Any]:
        names = ("neighbours", "min_cosine", "min_ncc", "min_detail_ncc", "max_shift")
        return dict(zip(names, self.settings, strict=True))


@register
class ExactDuplicates(IssueManager):
    """Byte-identical images within the train split or within the test split."""

    name = "exact_duplicates"
    order = 50
    description = "byte-identical images within a split (128-bit BLAKE2b hash of the pixels)"

    def __init__(self, *, warning_fraction: float = DUPLICATE_WARNING_FRACTION) -> None:
        self.warning_fraction = check_fraction("warning_fraction", warning_fraction)

    def find_issues(self, data: DataCheckInput) -> list[Finding]:
        graph = duplicate_graph(data)
        findings = []
        items: list[tuple[str, int]] = []
        groups_out: list[list[list[Any]]] = []
        per_split: dict[str, int] = {}
        for split in ("train", "test"):
            groups = _groups_within(data, graph.exact_a, graph.exact_b, split)
            extra = [row for g in groups for row in g[1:]]
            per_split[split] = len(extra)
            items.extend(data.global_items(np.array(extra, dtype=np.int64)))
            groups_out.extend(_describe_groups(data, groups))
        if not items:
            return []
        n_total = data.n_train + data.n_test
        share = len(items) / max(n_total, 1)
        findings.append(
            Finding(
                id=self.name,
                area="data",
                severity="warning" if share >= self.warning_fraction else "info",
                confidence=1.0,
                summary=(
                    f"{len(items)} images are byte-identical copies of another image in the same "
                    f"split ({per_split['train']} in train, {per_split['test']} in test) "
                    f"in {len(groups_out)} groups."
                ),
                evidence={
                    "copies": len(items),
                    "copies_per_split": per_split,
                    "groups": len(groups_out),
                    "share_of_images": round(share, 5),
                    "warning_if_share_at_least": self.warning_fraction,
                    "method": "BLAKE2b-128 of the raw pixel bytes",
                    "duplicate_groups": groups_out[:MAX_EVIDENCE_GROUPS],
                    "item_rule": "all members of a group except the lowest record index",
                },
                fixes=(_CLEAN_FIX,),
                items=tuple(items),
            )
        )
        return findings


@register
class NearDuplicates(IssueManager):
    """Re-encoded, shifted or re-lit copies of the same picture within a split."""

    name = "near_duplicates"
    order = 60
    description = (
        "copies of one picture differing by ±2 px shifts, JPEG, brightness/contrast "
        "(spectrum-embedding search, then pixel NCC verification)"
    )

    def __init__(
        self, *, warning_fraction: float = DUPLICATE_WARNING_FRACTION, **near: Any
    ) -> None:
        self.warning_fraction = check_fraction("warning_fraction", warning_fraction)
        self.near = _NearSettings(**near)

    def find_issues(self, data: DataCheckInput) -> list[Finding]:
        graph = duplicate_graph(data, self.near.settings)
        near = graph.near
        assert near is not None
        ncc_of = {
            (int(a), int(b)): (float(c), float(d))
            for a, b, c, d in zip(near.a, near.b, near.ncc, near.detail_ncc, strict=True)
        }
        exact_items = set()
        for split in ("train", "test"):
            for g in _groups_within(data, graph.exact_a, graph.exact_b, split):
                exact_items.update(g[1:])
        all_a = np.concatenate([graph.exact_a, near.a])
        all_b = np.concatenate([graph.exact_b, near.b])
        items: list[tuple[str, int]] = []
        groups_out = []
        pairs_out = []
        per_split: dict[str, int] = {}
        for split in ("train", "test"):
            count = 0
            for g in _groups_within(data, all_a, all_b, split):
                extra = [row for row in g[1:] if row not in exact_items]
                if not extra:
                    continue
                count += len(extra)
                items.extend(data.global_items(np.array(extra, dtype=np.int64)))
                groups_out.append([list(i) for i in data.global_items(np.array(g))])
                rep = g[0]
                for row in extra:
                    score = ncc_of.get((min(rep, row), max(rep, row)))
                    if score is None:  # linked through another member: best direct pair
                        partners = [p for p in g if (min(p, row), max(p, row)) in ncc_of]
                        partner = partners[0] if partners else rep
                        score = ncc_of.get((min(partner, row), max(partner, row)), (1.0, 1.0))
                    else:
                        partner = rep
                    pairs_out.append(
                        {
                            "item": list(data.global_items(np.array([row]))[0]),
                            "partner": list(data.global_items(np.array([partner]))[0]),
                            "ncc": round(score[0], 4),
                            "detail_ncc": round(score[1], 4),
                        }
                    )
            per_split[split] = count
        if not items:
            return []
        pairs_out.sort(key=lambda p: (-p["ncc"], p["item"]))
        share = len(items) / max(data.n_train + data.n_test, 1)
        return [
            Finding(
                id=self.name,
                area="data",
                severity="warning" if share >= self.warning_fraction else "info",
                confidence=0.9,
                summary=(
                    f"{len(items)} images are near-copies (shifted, re-encoded or re-lit) of "
                    f"another image in the same split ({per_split['train']} in train, "
                    f"{per_split['test']} in test)."
                ),
                evidence={
                    "copies": len(items),
                    "copies_per_split": per_split,
                    "groups": len(groups_out),
                    "share_of_images": round(share, 5),
                    "warning_if_share_at_least": self.warning_fraction,
                    "candidates_verified": near.candidates,
                    "images_searched": graph.searched_rows,
                    "thresholds": self.near.thresholds(),
                    "method": "spectrum-embedding kNN, then grey NCC and detail NCC at the "
                    "phase-correlation alignment",
                    "pairs": pairs_out[:MAX_EVIDENCE_GROUPS],
                    "duplicate_groups": groups_out[:MAX_EVIDENCE_GROUPS],
                    "item_rule": "all members of a group except the lowest record index "
                    "(members already listed as exact duplicates are not repeated)",
                },
                fixes=(_CLEAN_FIX,),
                items=tuple(items),
            )
        ]


@register
class TrainTestLeakage(IssueManager):
    """Test images whose exact or near copy is in the training set."""

    name = "train_test_leakage"
    order = 70
    description = "test images with an exact or near copy in train (inflates test accuracy)"

    def __init__(
        self, *, critical_fraction: float = LEAKAGE_CRITICAL_FRACTION, **near: Any
    ) -> None:
        self.critical_fraction = check_positive("critical_fraction", critical_fraction)
        self.near = _NearSettings(**near)

    def missing(self, data: DataCheckInput) -> str | None:
        if not data.n_test:
            return "no test split was given (leakage compares train with test)"
        return None

    def find_issues(self, data: DataCheckInput) -> list[Finding]:
        graph = duplicate_graph(data, self.near.settings)
        near = graph.near
        assert near is not None
        rows = [
            (
                graph.exact_a,
                graph.exact_b,
                np.ones(len(graph.exact_a)),
                np.ones(len(graph.exact_a)),
                "exact",
            ),
            (near.a, near.b, near.ncc, near.detail_ncc, "near"),
        ]
        best: dict[int, dict[str, Any]] = {}
        partners_of: dict[int, set[int]] = {}
        for a, b, ncc, det, kind in rows:
            is_test_a, _ = data.split_of(a)
            is_test_b, _ = data.split_of(b)
            cross = is_test_a != is_test_b
            for x, y, c, d in zip(a[cross], b[cross], ncc[cross], det[cross], strict=True):
                test_row, train_row = (int(x), int(y)) if x >= data.n_train else (int(y), int(x))
                partners_of.setdefault(test_row, set()).add(train_row)
                entry = best.get(test_row)
                better = (
                    entry is None
                    or (kind == "exact" and entry["kind"] != "exact")
                    or (entry["kind"] == kind and float(c) > entry["ncc"])
                )
                if better:
                    best[test_row] = {
                        "kind": kind,
                        "ncc": round(float(c), 4),
                        "detail_ncc": round(float(d), 4),
                        "train_row": train_row,
                    }
        if not best:
            return []
        ordered = sorted(best, key=lambda r: (best[r]["kind"] != "exact", -best[r]["ncc"], r))
        items = data.global_items(np.array(ordered, dtype=np.int64))
        pairs = []
        for row, item in zip(ordered, items, strict=True):
            e = best[row]
            partners = data.global_items(np.array(sorted(partners_of[row]), dtype=np.int64))
            pairs.append(
                {
                    "item": list(item),
                    "partner": list(data.global_items(np.array([e["train_row"]]))[0]),
                    "all_train_partners": [p[1] for p in partners],
                    "kind": e["kind"],
                    "ncc": e["ncc"],
                    "detail_ncc": e["detail_ncc"],
                }
            )
        share = len(items) / data.n_test
        exact = sum(1 for p in pairs if p["kind"] == "exact")
        return [
            Finding(
                id=self.name,
                area="data",
                severity="critical" if share >= self.critical_fraction else "warning",
                confidence=0.95,
                summary=(
                    f"{len(items)} test images ({share:.1%} of the test set) have a copy in train "
                    f"({exact} exact, {len(items) - exact} near): test accuracy overstates "
                    "generalization on them."
                ),
                evidence={
                    "leaked_test_images": len(items),
                    "exact": exact,
                    "near": len(items) - exact,
                    "share_of_test": round(share, 5),
                    "critical_if_share_at_least": self.critical_fraction,
                    "thresholds": self.near.thresholds(),
                    "pairs": pairs,  # complete: --export-clean removes the train partners
                    "item_rule": "the test record; its train partners are in pairs",
                },
                fixes=(
                    Fix(
                        "cnn-doctor data-check --export-clean clean/ ; then data.data_dir=clean",
                        "drops the train partners, so the test set stays the one others report on",
                    ),
                ),
                items=tuple(items),
            )
        ]
