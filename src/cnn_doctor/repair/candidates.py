"""What a repair round may try: the findings' fixes that are config changes, or ablation factors.

A finding's ``Fix.change`` is a config override (``optim.lr=0.02``) when the run came from our
pipeline and plain words otherwise. Which one it is, is decided by trying it: the text must parse
and validate with ``load_config``, and then apply to the current config. Words ("clip gradients")
fail that and become *unproven suggestions*, reported but never claimed as repairs. So do
overrides a seeded A/B cannot measure fairly — ones that change the budget being compared
(training length, data size) — and, for a ``--model`` builder, ``model.*`` settings, which the
user's own code ignores: those are code changes for the user to make.

When nothing testable fires but the run learns far slower than the default recipe on the same
budget, the fallback tries the factors a one-factor ablation ranks (activation, normalization,
BatchNorm, learning rate, optimizer, schedule, augmentation, width): first each setting moved to
the default recipe's value, then the ablation's own alternatives.

Nothing here imports keras.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cnn_doctor.config import Config, ConfigError, load_config, parse_override
from cnn_doctor.diagnose.findings import Finding, rank_findings
from cnn_doctor.investigate.ablation import ablation_variants
from cnn_doctor.investigate.space import apply_params

# Keys whose change alters what is being measured, not the recipe: the A/B holds them fixed.
BUDGET_KEYS = ("data.subset", "data.val_size", "data.data_dir", "optim.epochs")
BUDGET_SECTIONS = ("run",)
# The factors the fallback tries, in this order (the ablation's factor names).
FALLBACK_FACTORS = (
    "activation",
    "batchnorm",
    "normalize",
    "lr",
    "optimizer",
    "schedule",
    "augment",
    "width",
)
# Findings whose fixes are tried; an "info" finding is a hint, and each candidate costs >= 2 runs.
TESTED_SEVERITIES = ("critical", "warning")
MAX_FALLBACK = 8  # candidates in one fallback round (each costs >= 1 short run)


@dataclass(frozen=True)
class Candidate:
    """One change to try. ``name`` is unique in a round and safe in a directory name."""

    name: str
    overrides: dict[str, Any]  # dotted key -> typed value
    change: str  # as a user would type it: "optim.lr=0.02"
    finding: str  # the finding id it answers, or "ablation:<factor>" for the fallback
    why: str = ""
    source: str = "finding"  # "finding" | "ablation"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Candidate:
        return cls(
            **{k: raw[k] for k in ("name", "overrides", "change", "finding", "why", "source")}
        )


@dataclass(frozen=True)
class Suggestion:
    """A fix the loop cannot prove with an A/B, and why not."""

    change: str
    finding: str
    why: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Proposal:
    candidates: list[Candidate] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(map(str, value)) + "]"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def change_text(overrides: Mapping[str, Any]) -> str:
    """``{"optim.lr": 0.02}`` -> ``"optim.lr=0.02"`` (space-separated when several)."""
    return " ".join(f"{k}={_value_text(v)}" for k, v in overrides.items())


def safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_=.," else "_" for c in text)[:80]


def parse_overrides(change: str, config: Config) -> dict[str, Any] | None:
    """The typed overrides ``change`` stands for on ``config``, or ``None`` if it is words.

    ``change`` is one ``section.key=value`` or several separated by spaces. Each must load with
    ``load_config`` (syntax, known key, valid value); the set must then apply to ``config``.
    Raises ``ConfigError`` when the text *is* an override but cannot apply here.
    """
    parts = [change.strip()]
    try:
        load_config(None, parts)
    except ConfigError:
        parts = change.split()
        try:
            if len(parts) < 2:
                return None
            load_config(None, parts)
        except ConfigError:
            return None
    dotted = {}
    for part in parts:
        section, key, value = parse_override(part)
        dotted[f"{section}.{key}"] = value
    new = apply_params(config, dotted)  # ConfigError if it does not fit this config
    return {k: getattr(getattr(new, k.split(".")[0]), k.split(".")[1]) for k in dotted}


def _is_budget_key(dotted: str) -> bool:
    return dotted in BUDGET_KEYS or dotted.split(".")[0] in BUDGET_SECTIONS


def is_noop(config: Config, overrides: Mapping[str, Any]) -> bool:
    return apply_params(config, overrides).to_dict() == config.to_dict()


def from_findings(
    findings: Sequence[Finding], config: Config, *, user_model: bool = False
) -> Proposal:
    """Candidates from the ranked critical/warning findings' fixes (most likely cause first),
    and the rest as suggestions. Duplicate changes keep the first finding that asked for them."""
    out = Proposal()
    seen: set[str] = set()
    for finding in rank_findings(findings):
        if finding.severity not in TESTED_SEVERITIES:
            out.suggestions.extend(
                Suggestion(fix.change, finding.id, fix.why, "an info-level hint: not tested")
                for fix in finding.fixes
            )
            continue
        for fix in finding.fixes:
            try:
                overrides = parse_overrides(fix.change, config)
            except ConfigError as error:
                out.suggestions.append(
                    Suggestion(fix.change, finding.id, fix.why, f"does not apply here: {error}")
                )
                continue
            if overrides is None:
                out.suggestions.append(
                    Suggestion(
                        fix.change,
                        finding.id,
                        fix.why,
                        "not a config change: make it in your code; the A/B cannot apply it",
                    )
                )
                continue
            budget = [k for k in overrides if _is_budget_key(k)]
            if budget:
                out.suggestions.append(
                    Suggestion(
                        fix.change,
                        finding.id,
                        fix.why,
                        f"changes {', '.join(budget)}, which the A/B holds fixed to compare "
                        "like with like",
                    )
                )
                continue
            if user_model and any(k.startswith("model.") for k in overrides):
                out.suggestions.append(
                    Suggestion(
                        fix.change,
                        finding.id,
                        fix.why,
                        "your --model builds the network, so model.* settings do not reach it: "
                        "make the equivalent change in the builder's code",
                    )
                )
                continue
            text = change_text(overrides)
            if text in seen or is_noop(config, overrides):
                continue
            seen.add(text)
            out.candidates.append(
                Candidate(safe_name(text), overrides, text, finding.id, fix.why, "finding")
            )
    return out


def _toward_reference(config: Config, reference: Config) -> Iterable[tuple[str, dict[str, Any]]]:
    """(factor, overrides) moving one factor of ``config`` to the reference recipe's value."""
    m, r = config.model, reference.model
    o, ro = config.optim, reference.optim
    if m.activation != r.activation:
        yield "activation", {"model.activation": r.activation}
    if m.batchnorm != r.batchnorm:
        yield "batchnorm", {"model.batchnorm": r.batchnorm}
    if config.data.normalize != reference.data.normalize:
        yield "normalize", {"data.normalize": reference.data.normalize}
    if o.name == ro.name and not (ro.lr / 3 <= o.lr <= ro.lr * 3):
        yield "lr", {"optim.lr": ro.lr}
    if o.name != ro.name:
        yield "optimizer", {"optim.name": ro.name, "optim.lr": ro.lr}
    if o.schedule != ro.schedule:
        yield "schedule", {"optim.schedule": ro.schedule}
    if sorted(config.data.augment) != sorted(reference.data.augment):
        yield "augment", {"data.augment": list(reference.data.augment)}
    if m.width < r.width:
        yield "width", {"model.width": r.width}


def _recipe_settings(config: Config, reference: Config, *, user_model: bool) -> dict[str, Any]:
    """Every recipe key (model, optim, data; not budget keys) whose value in ``reference``
    differs from ``config``'s: the overrides that turn one recipe into the other. A user's own
    network keeps its ``model.*`` (their code builds it)."""
    mine, theirs = config.to_dict(), reference.to_dict()
    out: dict[str, Any] = {}
    for section in ("model", "optim", "data"):
        if user_model and section == "model":
            continue
        for key, value in theirs[section].items():
            dotted = f"{section}.{key}"
            if not _is_budget_key(dotted) and mine[section].get(key) != value:
                out[dotted] = value
    return out


def fallback(
    config: Config,
    reference: Config,
    *,
    user_model: bool = False,
    exclude: Iterable[str] = (),
    limit: int = MAX_FALLBACK,
) -> list[Candidate]:
    """One-factor candidates over ``FALLBACK_FACTORS``: towards the reference recipe first, then
    the ablation's alternatives for factors already at the reference value. ``exclude``: change
    texts already measured on this config."""
    seen = set(exclude)
    out: list[Candidate] = []

    def add(factor: str, overrides: dict[str, Any], why: str) -> None:
        if user_model and any(k.startswith("model.") for k in overrides):
            return
        try:
            if is_noop(config, overrides):
                return
        except ConfigError:
            return
        text = change_text(overrides)
        if text in seen:
            return
        seen.add(text)
        out.append(
            Candidate(safe_name(text), dict(overrides), text, f"ablation:{factor}", why, "ablation")
        )

    joint = _recipe_settings(config, reference, user_model=user_model)
    if len(joint) >= 2:
        # Faults that need two changes at once (a deep sigmoid stack needs both a rectifier and
        # BatchNorm) show no gain from either alone; settings tuned together (the recipe's LR
        # for its own network) do not transfer one by one: try the recipe's settings together.
        add("default_recipe", joint, "every setting that differs from the default recipe")
    moved = set()
    for factor, overrides in _toward_reference(config, reference):
        moved.add(factor)
        add(factor, overrides, "the default recipe's setting for this factor")
    # depth=0 would make the ablation import the model family for its reference depth; the
    # fallback never varies depth.
    per_factor: dict[str, int] = {}
    for variant in ablation_variants(config, "small", depth=0):
        factor = variant.factor.split(":")[0]
        if factor not in FALLBACK_FACTORS or factor in moved:
            continue
        # one alternative per factor (the first, most informative one), both directions for LR
        if per_factor.get(factor, 0) >= (2 if factor == "lr" else 1):
            continue
        per_factor[factor] = per_factor.get(factor, 0) + 1
        add(factor, dict(variant.overrides), f"ablation alternative ({variant.change})")
    rank = {f: i for i, f in enumerate(FALLBACK_FACTORS)}
    first = [c for c in out if c.finding == "ablation:default_recipe"]
    first += [c for c in out if c.why.startswith("the default")]
    others = sorted(
        (c for c in out if c not in first),
        key=lambda c: rank[c.finding.split(":")[1]],
    )
    return (first + others)[:limit]
