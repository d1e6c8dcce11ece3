"""One-factor-at-a-time ablation: which knob of *this* recipe moves validation accuracy?

From a base config, each variant changes exactly one factor, grouped by the three areas the product
diagnoses — architecture, hyperparameters, data — and every variant (and the unchanged baseline)
runs with several seeds. The effect of a factor is the difference of mean validation accuracy to the
baseline; it only counts as real when it is larger than seed noise, estimated from the spread of the
seeds pooled over all variants (two seeds per variant give a poor spread on their own, ~40 pairs
give a usable one).

The variants are plain data (``Variant.overrides`` = dotted config keys → values), so the study
layer can enqueue them as Optuna trials and any worker, on any machine, can run any of them.
Nothing here imports keras.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cnn_doctor.config import AUGMENTATIONS, NORMALIZATIONS, Config, ConfigError, OptimConfig
from cnn_doctor.investigate.space import apply_params
from cnn_doctor.schedules import lr_at_epoch

AREAS = ("architecture", "hyperparameters", "data")
BASELINE = "baseline"
NOISE_FACTOR = 2.0  # an effect is "real" when |effect| > 2 standard errors of the difference

# Depth is counted in family-specific units; ResNets only exist for depth = 6n + 2.
_DEPTH_STEP = {"resnet": 6}
# Switching optimizer family without switching LR only re-tests the LR: use each one's usual LR.
_OPTIMIZER_SWAP = {
    "sgd": ("adam", 1e-3),
    "adam": ("sgd", 0.1),
    "adamw": ("sgd", 0.1),
    "rmsprop": ("sgd", 0.1),
}


@dataclass(frozen=True)
class Budget:
    """How much compute an ablation spends: data, epochs, seeds, and how many alternatives."""

    name: str
    subset: int  # training images (0 = all)
    val_size: int
    epochs: int | None  # None = the base config's
    seeds: int
    tta: bool
    all_alternatives: bool  # False: one alternative per factor (the most informative one)
    width_scale: float = 1.0  # x0.5 halves every layer's channels: ~4x fewer FLOPs
    description: str = ""

    def apply(self, base: Config) -> Config:
        """The base config, shrunk to this budget (the baseline every variant is compared to)."""
        params: dict[str, Any] = {"data.subset": self.subset, "data.val_size": self.val_size}
        params["run.tta"] = self.tta
        # factors are ranked on validation accuracy; scoring the 10k test images is wasted time
        params["run.evaluate_test"] = self.subset == 0
        if self.epochs is not None:
            params["optim.epochs"] = self.epochs
        if self.width_scale != 1.0:
            params["model.width"] = round(base.model.width * self.width_scale, 6)
        return apply_params(base, params)


BUDGETS: dict[str, Budget] = {
    # ~20 variants x 2 seeds = ~40 runs in <= 30 min on the 2-core CPU, so <= ~40 s a run.
    # Measured end to end on an idle machine: 12 min 23 s for the default recipe at width 0.5
    # (40 runs); the 0.625 default since then costs ~1.5x per step, so expect ~18 min.
    # The proxy trains for only ~60 SGD steps (5000 / 256 x 3), so it ranks factors by how fast
    # they learn early; on the default recipe LR x10 and batch 128 came out on top here.
    # Measured (CPU-seconds, load-robust) for the default `fast` net: 1000 training images cost
    # ~9 CPU-s at width 0.5 but ~2-3 at width 0.25, so the screen runs a half-width proxy of the
    # base; 5000 images x 3 epochs (+ 1k validation; the test set is skipped) is ~35 s a run
    # uncontended, versus ~2 min for the full-width net at 4 epochs.
    "small": Budget(
        "small",
        subset=5000,
        val_size=1000,
        epochs=3,
        seeds=2,
        tta=False,
        all_alternatives=False,
        width_scale=0.5,
        description="half-width proxy, 5000 images, 3 epochs, 2 seeds, one alternative per "
        "factor (12-18 min on 2 CPU cores). A short-training screen: settings that learn "
        "fast early (higher LR, smaller batches) are favoured; confirm winners with --budget full",
    ),
    "full": Budget(
        "full",
        subset=0,
        val_size=5000,
        epochs=None,
        seeds=3,
        tta=True,
        all_alternatives=True,
        description="all images, the base's epochs, 3 seeds, every alternative",
    ),
}


def get_budget(name: str) -> Budget:
    """The named budget, or a ``ConfigError`` listing the valid names."""
    if name not in BUDGETS:
        raise ConfigError(f"unknown budget {name!r}; choose one of: {', '.join(BUDGETS)}")
    return BUDGETS[name]


@dataclass(frozen=True)
class Variant:
    """One change to the base config. ``name`` is unique and safe in a directory name."""

    name: str
    area: str  # one of AREAS, or "baseline"
    factor: str  # e.g. "width", "lr", "augment:flip"
    change: str  # human-readable, e.g. "0.5 -> 0.25"
    overrides: dict[str, Any] = field(default_factory=dict)

    def to_attrs(self) -> dict[str, Any]:
        return {
            "variant": self.name,
            "area": self.area,
            "factor": self.factor,
            "change": self.change,
            "overrides": dict(self.overrides),
        }


@dataclass(frozen=True)
class PlannedRun:
    """A variant with a seed: one trial of the ablation study."""

    variant: Variant
    seed: int

    def to_attrs(self) -> dict[str, Any]:
        return {**self.variant.to_attrs(), "seed": self.seed}


def reference_depth(arch: str) -> int | None:
    """The family's depth when ``model.depth = 0``, read from its module (imports keras)."""
    try:
        module = importlib.import_module(f"cnn_doctor.models.{arch}")
    except ImportError:
        return None
    value = getattr(module, "REFERENCE_DEPTH", None)
    return int(value) if value is not None else None


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ",".join(map(str, value)) + "]" if value else "[]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _variant(area: str, factor: str, key: str, old: Any, new: Any, extra=None, tag=None) -> Variant:
    overrides = {key: new, **(extra or {})}
    change = f"{_fmt(old)} -> {_fmt(new)}"
    if extra:
        change += " (" + ", ".join(f"{k.split('.')[1]}={_fmt(v)}" for k, v in extra.items()) + ")"
    name = f"{factor.replace(':', '-')}={tag if tag is not None else _fmt(new)}"
    safe = "".join(c if c.isalnum() or c in "-_=.," else "_" for c in name)
    return Variant(safe, area, factor, change, overrides)


def _changes_lr_curve(optim: OptimConfig, schedule: str) -> bool:
    """Whether switching to ``schedule`` changes the LR curve within ``optim.epochs``.

    An exponential decay held for 10 epochs *is* a constant LR in a 3-epoch screen: ablating one
    for the other spends two runs measuring seed noise.
    """
    if schedule == optim.schedule:
        return False
    other = dataclasses.replace(optim, schedule=schedule)
    points = [optim.epochs * i / 64 for i in range(65)]
    return any(
        not math.isclose(lr_at_epoch(optim, e), lr_at_epoch(other, e), rel_tol=1e-9, abs_tol=0.0)
        for e in points
    )


def ablation_variants(
    base: Config,
    budget: Budget | str = "small",
    *,
    depth: int | None = None,
) -> list[Variant]:
    """The baseline plus one-factor-at-a-time variants of ``base``, grouped by area.

    ``depth`` is the family's reference depth (looked up when ``None``); the depth factor is left
    out when it cannot be known. Every variant is validated against the config rules, so an
    ablation never enqueues a run that would fail on its config.
    """
    budget = get_budget(budget) if isinstance(budget, str) else budget
    full = budget.all_alternatives
    m, o, d = base.model, base.optim, base.data
    out: list[Variant] = [Variant(BASELINE, BASELINE, BASELINE, "base config")]
    arch = "architecture"

    # ---- architecture
    widths = [0.5, 2.0] if full else [0.5]  # x0.5 first: cheaper, and still shows sensitivity
    for mult in widths:
        out.append(
            _variant(
                arch, "width", "model.width", m.width, round(m.width * mult, 6), tag=f"x{mult:g}"
            )
        )
    ref = m.depth or (depth if depth is not None else reference_depth(m.arch))
    if ref:
        step = _DEPTH_STEP.get(m.arch, 1)
        for new in [ref - step, ref + step] if full else [ref - step]:
            if new >= 1:
                out.append(_variant(arch, "depth", "model.depth", ref, new))
    activations = ["relu", "elu", "tanh"] if full else ["relu"]
    activations = [a for a in activations if a != m.activation] or ["gelu"]
    for act in activations:
        out.append(_variant(arch, "activation", "model.activation", m.activation, act))
    out.append(_variant(arch, "batchnorm", "model.batchnorm", m.batchnorm, not m.batchnorm))
    for rate in [0.0] if m.dropout > 0 else ([0.2, 0.5] if full else [0.2]):
        out.append(_variant(arch, "dropout", "model.dropout", m.dropout, rate))
    decays = ([0.0, m.weight_decay * 10] if full else [0.0]) if m.weight_decay > 0 else [5e-4]
    for wd in decays:
        out.append(_variant(arch, "weight_decay", "model.weight_decay", m.weight_decay, wd))

    # ---- hyperparameters
    hyp = "hyperparameters"
    for mult in (0.1, 10.0):
        out.append(_variant(hyp, "lr", "optim.lr", o.lr, o.lr * mult, tag=f"x{mult:g}"))
    candidates = ("constant", "cosine", "onecycle", "exponential")
    schedules = [s for s in candidates if _changes_lr_curve(o, s)]
    for schedule in schedules if full else schedules[:1]:
        out.append(_variant(hyp, "schedule", "optim.schedule", o.schedule, schedule))
    other, lr = _OPTIMIZER_SWAP[o.name]
    out.append(_variant(hyp, "optimizer", "optim.name", o.name, other, extra={"optim.lr": lr}))
    batches = [0.5, 2.0] if full else [0.5]
    for mult in batches:
        new = max(1, int(round(o.batch_size * mult)))
        if new != o.batch_size:
            out.append(_variant(hyp, "batch_size", "optim.batch_size", o.batch_size, new))

    # ---- data
    norms = [n for n in NORMALIZATIONS if n != d.normalize]
    for norm in norms if full else norms[:1]:
        out.append(_variant("data", "normalize", "data.normalize", d.normalize, norm))
    for aug in AUGMENTATIONS:
        on = aug in d.augment
        new_list = [a for a in d.augment if a != aug] if on else [*d.augment, aug]
        out.append(
            _variant(
                "data",
                f"augment:{aug}",
                "data.augment",
                d.augment,
                new_list,
                tag="off" if on else "on",
            )
        )
    smoothing = 0.0 if o.label_smoothing > 0 else 0.1
    out.append(
        _variant("data", "label_smoothing", "optim.label_smoothing", o.label_smoothing, smoothing)
    )

    for variant in out:
        try:
            apply_params(base, variant.overrides)
        except ConfigError as error:  # pragma: no cover - a bug in the table above
            raise ConfigError(f"ablation variant {variant.name}: {error}") from None
    names = [v.name for v in out]
    assert len(names) == len(set(names)), f"duplicate variant names: {names}"
    return out


def ablation_plan(
    base: Config, budget: Budget | str = "small", *, depth: int | None = None
) -> list[PlannedRun]:
    """Every (variant, seed) run, seeds interleaved so a partial study already covers all variants.

    Seeds are ``base.run.seed + i``: the same seeds for every variant, so seed effects cancel in the
    comparison with the baseline.
    """
    budget = get_budget(budget) if isinstance(budget, str) else budget
    variants = ablation_variants(base, budget, depth=depth)
    return [PlannedRun(v, base.run.seed + i) for i in range(budget.seeds) for v in variants]


def variant_config(base: Config, overrides: Mapping[str, Any], seed: int) -> Config:
    """The config one ablation trial trains: the (budgeted) base, the variant's change, the seed."""
    return apply_params(base, {**overrides, "run.seed": seed})


# --------------------------------------------------------------------------------------------------
# Analysis


@dataclass(frozen=True)
class FactorEffect:
    """One row of the ranked ablation table."""

    variant: str
    area: str
    factor: str
    change: str
    n: int
    mean: float
    spread: float  # sample std over seeds (0 with one seed)
    effect: float  # mean - baseline mean
    stderr: float  # standard error of the difference, from the pooled seed noise
    significant: bool  # |effect| > NOISE_FACTOR * stderr

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class AblationSummary:
    baseline_mean: float
    baseline_spread: float
    baseline_n: int
    noise_sd: float  # pooled within-variant seed std
    rows: list[FactorEffect]  # ranked by |effect|, largest first

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline_mean": self.baseline_mean,
            "baseline_spread": self.baseline_spread,
            "baseline_n": self.baseline_n,
            "noise_sd": self.noise_sd,
            "noise_factor": NOISE_FACTOR,
            "rows": [r.to_dict() for r in self.rows],
        }


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, sd


def summarize_ablation(results: Iterable[Mapping[str, Any]]) -> AblationSummary:
    """Rank factors by their effect on validation accuracy.

    ``results``: one mapping per finished run with ``variant``, ``area``, ``factor``, ``change`` and
    ``value`` (validation accuracy). Raises ``ValueError`` without a finished baseline run.
    """
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in results:
        if r.get("value") is None or not math.isfinite(float(r["value"])):
            continue
        groups.setdefault(str(r["variant"]), []).append(r)
    if BASELINE not in groups:
        raise ValueError("no finished baseline run: the ablation cannot measure effects yet")
    # Pooled within-group variance: sum of squared deviations / degrees of freedom.
    ss, dof = 0.0, 0
    for rows in groups.values():
        values = [float(r["value"]) for r in rows]
        if len(values) > 1:
            mean = sum(values) / len(values)
            ss += sum((v - mean) ** 2 for v in values)
            dof += len(values) - 1
    noise_sd = math.sqrt(ss / dof) if dof else 0.0
    base_values = [float(r["value"]) for r in groups[BASELINE]]
    base_mean, base_sd = _mean_sd(base_values)
    out: list[FactorEffect] = []
    for name, rows in groups.items():
        if name == BASELINE:
            continue
        values = [float(r["value"]) for r in rows]
        mean, sd = _mean_sd(values)
        effect = mean - base_mean
        stderr = noise_sd * math.sqrt(1 / len(values) + 1 / len(base_values))
        first = rows[0]
        out.append(
            FactorEffect(
                variant=name,
                area=str(first.get("area", "")),
                factor=str(first.get("factor", name)),
                change=str(first.get("change", "")),
                n=len(values),
                mean=mean,
                spread=sd,
                effect=effect,
                stderr=stderr,
                significant=dof > 0 and abs(effect) > NOISE_FACTOR * stderr,
            )
        )
    out.sort(key=lambda r: (-abs(r.effect), r.variant))
    return AblationSummary(base_mean, base_sd, len(base_values), noise_sd, out)


def ablation_markdown(summary: AblationSummary, title: str = "Ablation") -> str:
    """The ranked table as markdown, ready to paste into notes."""
    lines = [
        f"## {title}",
        "",
        f"Baseline validation accuracy: **{summary.baseline_mean:.4f} ± "
        f"{summary.baseline_spread:.4f}** (n={summary.baseline_n}); seed noise (pooled sd) "
        f"{summary.noise_sd:.4f}. An effect is *real* when |effect| > {NOISE_FACTOR:g} × the "
        "standard error of the difference.",
        "",
        "| # | area | factor | change | val acc (mean ± sd) | effect vs base | > noise? | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(summary.rows, start=1):
        lines.append(
            f"| {i} | {r.area} | {r.factor} | {r.change} | {r.mean:.4f} ± {r.spread:.4f} | "
            f"{r.effect:+.4f} ± {r.stderr:.4f} | {'**yes**' if r.significant else 'no'} | {r.n} |"
        )
    return "\n".join(lines) + "\n"


def plot_ablation(summary: AblationSummary, path: Any, title: str = "Ablation") -> Any:
    """Horizontal bars of effect vs baseline with ±2 SE whiskers, grouped (and coloured) by area."""
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Rectangle

    from cnn_doctor.report.curves import new_figure, save_figure

    colors = {"architecture": "#1f77b4", "hyperparameters": "#ff7f0e", "data": "#2ca02c"}
    ordered = []
    for area in AREAS:
        rows = sorted((r for r in summary.rows if r.area == area), key=lambda r: r.effect)
        ordered.extend(rows)
    ordered.extend(r for r in summary.rows if r.area not in AREAS)
    height = max(2.5, 0.32 * len(ordered) + 1.2)
    fig = new_figure(8, height)
    ax = fig.subplots()
    ys = list(range(len(ordered)))
    ax.barh(
        ys,
        [r.effect * 100 for r in ordered],
        xerr=[NOISE_FACTOR * r.stderr * 100 for r in ordered],
        color=[
            to_rgba(colors.get(r.area, "#7f7f7f"), 1.0 if r.significant else 0.4) for r in ordered
        ],
        capsize=2,
    )
    ax.set_yticks(ys)
    ax.set_yticklabels([f"{r.factor}: {r.change}" for r in ordered], fontsize=8)
    ax.axvline(0, color="#333", lw=0.8)
    ax.set_xlabel("effect on validation accuracy vs baseline (percentage points, ±2 SE)")
    handles = [Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
    ax.legend(handles, list(colors), fontsize=8, loc="best")
    ax.set_title(
        f"{title} — baseline {summary.baseline_mean * 100:.1f}% (faded bars: within seed noise)",
        fontsize=10,
    )
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)
