"""Ablation planning (one factor per variant, three areas) and the analysis (effect vs noise)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnn_doctor.config import AUGMENTATIONS, Config, ConfigError
from cnn_doctor.investigate.ablation import (
    AREAS,
    BASELINE,
    BUDGETS,
    ablation_markdown,
    ablation_plan,
    ablation_variants,
    get_budget,
    plot_ablation,
    summarize_ablation,
    variant_config,
)


def test_small_budget_covers_every_factor_of_the_three_areas() -> None:
    variants = ablation_variants(Config(), "small", depth=2)
    factors = {v.factor for v in variants}
    assert {"width", "depth", "activation", "batchnorm", "dropout", "weight_decay"} <= factors
    assert {"lr", "schedule", "optimizer", "batch_size"} <= factors
    assert {"normalize", "label_smoothing"} | {f"augment:{a}" for a in AUGMENTATIONS} <= factors
    assert {v.area for v in variants} == {BASELINE, *AREAS}
    assert [v.name for v in variants].count(BASELINE) == 1
    # ~20 variants x 2 seeds is what fits the 30-minute budget
    assert 18 <= len(variants) <= 22


def test_full_budget_adds_alternatives() -> None:
    small = ablation_variants(Config(), "small", depth=2)
    full = ablation_variants(Config(), "full", depth=2)
    assert len(full) > len(small)
    assert {v.name for v in small} <= {v.name for v in full}


def test_each_variant_changes_one_factor_and_is_a_valid_config() -> None:
    base = Config()
    for v in ablation_variants(base, "full", depth=2):
        config = variant_config(base, v.overrides, seed=3)
        assert config.run.seed == 3
        changed = {
            f"{s}.{k}"
            for s, section in config.to_dict().items()
            for k, value in section.items()
            if base.to_dict()[s][k] != value
        } - {"run.seed"}
        if v.factor == "optimizer":  # the optimizer switch brings its usual LR along
            assert changed == {"optim.name", "optim.lr"}
        elif v.name == BASELINE:
            assert changed == set()
        else:
            assert len(changed) == 1, (v.name, changed)


def test_lr_variants_are_a_tenth_and_ten_times() -> None:
    variants = {v.name: v for v in ablation_variants(Config(), "small", depth=2)}
    assert variants["lr=x0.1"].overrides["optim.lr"] == pytest.approx(0.02)
    assert variants["lr=x10"].overrides["optim.lr"] == pytest.approx(2.0)


def test_augmentations_toggle_relative_to_the_base() -> None:
    base = Config()  # crop + flip on
    variants = {v.factor: v for v in ablation_variants(base, "small", depth=2)}
    assert variants["augment:flip"].overrides["data.augment"] == ["crop"]
    assert variants["augment:cutout"].overrides["data.augment"] == ["crop", "flip", "cutout"]


def test_schedule_variant_changes_the_lr_curve_within_the_budget() -> None:
    """A 3-epoch screen of an exponential decay held for 10 epochs must not ablate 'constant'
    (identical there) but a schedule whose curve differs."""
    from cnn_doctor.config import load_config
    from cnn_doctor.investigate.ablation import get_budget
    from cnn_doctor.schedules import lr_at_epoch

    seed = get_budget("small").apply(load_config("seed"))
    assert seed.optim.schedule == "exponential" and seed.optim.hold_epochs >= seed.optim.epochs
    for budget in ("small", "full"):
        for v in ablation_variants(seed, budget, depth=2):
            if v.factor != "schedule":
                continue
            new = variant_config(seed, v.overrides, seed=0).optim
            curve = [lr_at_epoch(new, e / 4) for e in range(4 * seed.optim.epochs + 1)]
            assert curve != [lr_at_epoch(seed.optim, e / 4) for e in range(len(curve))], v.name
    (small,) = [v for v in ablation_variants(seed, "small", depth=2) if v.factor == "schedule"]
    assert small.overrides["optim.schedule"] == "onecycle"


def test_depth_is_left_out_when_the_reference_is_unknown() -> None:
    base = Config()
    base.model.arch = "not-a-family"
    factors = {v.factor for v in ablation_variants(base, "small")}
    assert "depth" not in factors


def test_resnet_depth_moves_in_steps_of_six() -> None:
    base = Config()
    base.model.arch = "resnet"
    depths = [
        v.overrides["model.depth"]
        for v in ablation_variants(base, "full", depth=20)
        if v.factor == "depth"
    ]
    assert depths == [14, 26]


def test_plan_interleaves_seeds_and_budget_shrinks_the_base() -> None:
    budget = get_budget("small")
    base = budget.apply(Config())
    assert base.data.subset == 5000 and base.optim.epochs == 3 and base.run.tta is False
    assert base.model.width == Config().model.width / 2  # the half-width proxy
    plan = ablation_plan(base, budget, depth=2)
    n = len(plan) // budget.seeds
    assert len(plan) == n * budget.seeds
    assert {p.seed for p in plan[:n]} == {0} and {p.seed for p in plan[n:]} == {1}
    assert [p.variant for p in plan[:n]] == [p.variant for p in plan[n:]]


def test_unknown_budget_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="small, full"):
        get_budget("huge")
    assert set(BUDGETS) == {"small", "full"}


# --------------------------------------------------------------------------------------------------
# Analysis


def _results(effects: dict[str, float], noise: float = 0.002, seeds: int = 2) -> list[dict]:
    out = []
    for name, effect in {BASELINE: 0.0, **effects}.items():
        for seed in range(seeds):
            out.append(
                {
                    "variant": name,
                    "area": "data",
                    "factor": name,
                    "change": "x",
                    "value": 0.7 + effect + (noise if seed % 2 else -noise),
                }
            )
    return out


def test_planted_effect_is_ranked_first_and_marked_real() -> None:
    summary = summarize_ablation(_results({"big": -0.20, "tiny": 0.001, "mid": 0.05}))
    assert [r.variant for r in summary.rows] == ["big", "mid", "tiny"]
    by_name = {r.variant: r for r in summary.rows}
    assert by_name["big"].significant and by_name["mid"].significant
    assert not by_name["tiny"].significant  # within seed noise
    assert by_name["big"].effect == pytest.approx(-0.20)
    assert summary.noise_sd > 0


def test_summary_needs_a_baseline_and_skips_unfinished_runs() -> None:
    results = _results({"a": 0.1})
    results.append({"variant": "a", "value": None})
    assert summarize_ablation(results).rows[0].n == 2
    with pytest.raises(ValueError, match="baseline"):
        summarize_ablation([r for r in results if r["variant"] != BASELINE])


def test_single_seed_never_claims_significance() -> None:
    summary = summarize_ablation(_results({"a": 0.1}, seeds=1))
    assert not summary.rows[0].significant


def test_markdown_table_and_bar_chart(tmp_path: Path) -> None:
    summary = summarize_ablation(_results({"big": -0.2, "small": 0.001}))
    text = ablation_markdown(summary, "My ablation")
    assert text.startswith("## My ablation")
    assert "| 1 | data | big |" in text and "**yes**" in text
    png = plot_ablation(summary, tmp_path / "a.png")
    assert png.is_file() and png.stat().st_size > 1000
