"""The acceptance rule: a change is kept only when seeds say it is better.

The test (kept simple so a reader can redo it by hand): the gain of a candidate is the difference
of mean validation accuracy between the candidate's seeds and the unchanged baseline's seeds. Its
noise is the standard error of that difference,

    SE = s * sqrt(1/n_candidate + 1/n_baseline),

where ``s`` is the seed standard deviation pooled over every arm of the round that has >= 2 seeds
(two seeds per arm give a poor spread on their own; the pool of all arms gives a usable one), and
never below ``MIN_NOISE_SD``. A candidate is accepted when ``gain > NOISE_FACTOR * SE`` (2 SE, the
same bar as ``cnn-doctor ablate``), it ran the required number of seeds, and it has the largest
gain among those that pass. A Welch t-test would be the textbook choice, but with two seeds per
arm it has one degree of freedom and a critical t of 12.7: it would reject every real repair.

Why the floor: a broken run often lands on exactly the same accuracy with every seed (10% at
chance), and a pooled spread of 0 would make any difference, however tiny, "significant". Half a
point is below every repair worth making and above the rounding of a 1000-image validation set.

Pure Python; the pooling itself is ``investigate.ablation.summarize_ablation``'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cnn_doctor.investigate.ablation import BASELINE, NOISE_FACTOR, summarize_ablation

MIN_NOISE_SD = 0.005  # floor on the pooled seed sd (accuracy as a fraction): half a point

Status = Literal["accepted", "rejected", "screened_out", "failed"]


@dataclass(frozen=True)
class Verdict:
    """What the round measured for one candidate, and what was decided."""

    name: str
    status: Status
    n: int = 0  # seeds that finished
    mean: float | None = None
    gain: float | None = None  # mean - baseline mean
    stderr: float | None = None  # SE of the gain (floored pooled sd)
    error: str = ""  # why it failed (status "failed")

    @property
    def passes(self) -> bool:
        """Gain above the noise bar (whatever the status says about seeds)."""
        return (
            self.gain is not None
            and self.stderr is not None
            and self.gain > NOISE_FACTOR * self.stderr
        )

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Judgement:
    baseline_mean: float
    baseline_n: int
    noise_sd: float  # the pooled sd actually used (after the floor)
    verdicts: list[Verdict]  # accepted first, then by gain

    @property
    def accepted(self) -> Verdict | None:
        return next((v for v in self.verdicts if v.status == "accepted"), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline_mean": self.baseline_mean,
            "baseline_n": self.baseline_n,
            "noise_sd": self.noise_sd,
            "noise_factor": NOISE_FACTOR,
            "min_noise_sd": MIN_NOISE_SD,
            "verdicts": [v.to_dict() for v in self.verdicts],
        }


def judge(
    records: Sequence[Mapping[str, Any]],
    *,
    seeds_required: int = 2,
    failures: Mapping[str, str] | None = None,
    min_noise_sd: float = MIN_NOISE_SD,
    sizes: Mapping[str, int] | None = None,
) -> Judgement:
    """Decide a round from its finished runs.

    ``records``: one mapping per finished run with ``variant`` (``"baseline"`` for the unchanged
    config) and ``value`` (validation accuracy). ``failures``: candidate name -> error, for
    candidates none of whose runs finished. A candidate with fewer than ``seeds_required`` finished
    seeds is ``screened_out`` (measured, not eligible). Raises ``ValueError`` without a baseline.
    ``sizes``: candidate name -> how many settings it changes; among the passing candidates whose
    gain is within one standard error of the best, the smallest change is accepted (the
    one-standard-error rule: Breiman et al. 1984; Hastie et al., ESL section 7.10).
    """
    if seeds_required < 2:
        raise ValueError(
            f"seeds_required must be >= 2 (seed noise needs two), got {seeds_required}"
        )
    rows = [
        {**r, "area": r.get("area", ""), "factor": r.get("factor", r["variant"])} for r in records
    ]
    summary = summarize_ablation(rows)
    noise_sd = max(summary.noise_sd, min_noise_sd)
    base_n = summary.baseline_n
    verdicts: list[Verdict] = []
    for row in summary.rows:
        stderr = noise_sd * math.sqrt(1 / row.n + 1 / base_n)
        verdicts.append(Verdict(row.variant, "rejected", row.n, row.mean, row.effect, stderr))
    eligible = [
        v for v in verdicts if v.n >= seeds_required and base_n >= seeds_required and v.passes
    ]
    best = max(eligible, key=lambda v: (v.gain, v.name), default=None)
    if best is not None and sizes:
        close = [v for v in eligible if v.gain >= best.gain - best.stderr]
        best = min(close, key=lambda v: (sizes.get(v.name, 1), -v.gain, v.name))
    failures = dict(failures or {})
    decided = []
    for v in verdicts:
        if best is not None and v.name == best.name:
            status: Status = "accepted"
        elif v.n < seeds_required:
            # some seeds finished, the others crashed: a failure, not "no effect"
            status = "failed" if v.name in failures else "screened_out"
        else:
            status = "rejected"
        error = failures.get(v.name, "")
        decided.append(Verdict(v.name, status, v.n, v.mean, v.gain, v.stderr, error))
    measured = {v.name for v in decided}
    for name, error in failures.items():
        if name not in measured and name != BASELINE:
            decided.append(Verdict(name, "failed", error=error))
    order = {"accepted": 0, "rejected": 1, "screened_out": 2, "failed": 3}
    decided.sort(key=lambda v: (order[v.status], -(v.gain if v.gain is not None else -1e9)))
    return Judgement(summary.baseline_mean, base_n, noise_sd, decided)
