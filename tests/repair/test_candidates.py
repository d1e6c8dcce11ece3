"""Findings' fixes -> testable candidates or unproven suggestions; the ablation fallback."""

from __future__ import annotations

from cnn_doctor.config import Config, load_config
from cnn_doctor.diagnose.findings import Finding, Fix
from cnn_doctor.repair.candidates import fallback, from_findings, parse_overrides


def _finding(fid: str, *changes: str, severity: str = "critical") -> Finding:
    return Finding(
        fid, "hyperparameters", severity, 0.9, "s.", fixes=tuple(Fix(c, "w") for c in changes)
    )


def test_overrides_are_recognised_by_loading_them_not_by_their_look() -> None:
    config = Config()
    assert parse_overrides("optim.lr=0.02", config) == {"optim.lr": 0.02}
    assert parse_overrides("data.augment=[crop,flip,cutout]", config) == {
        "data.augment": ["crop", "flip", "cutout"]
    }
    assert parse_overrides("optim.name=adam optim.lr=0.001", config) == {
        "optim.name": "adam",
        "optim.lr": 0.001,
    }
    # looks like an override, is not one: unknown key / words with '='
    assert parse_overrides("optim.clipnorm=1.0", config) is None
    assert parse_overrides("clip gradients: optimizer clipnorm=1.0", config) is None
    assert parse_overrides("model.activation=swish", config) is None  # not a valid value


def test_findings_become_candidates_ranked_and_the_rest_suggestions() -> None:
    config = load_config(None, ["optim.lr=500", "model.activation=sigmoid"])
    findings = [
        _finding("saturated_activations", "model.activation=gelu", severity="warning"),
        _finding(
            "diverged", "optim.lr=50", "clip gradients: optimizer clipnorm=1.0", "optim.epochs=3"
        ),
        _finding("noop", "model.batchnorm=true", severity="warning"),  # already so: skipped
        _finding("hint", "model.dropout=0.2", severity="info"),  # a hint: suggestion only
    ]
    proposal = from_findings(findings, config)
    assert [c.change for c in proposal.candidates] == ["optim.lr=50", "model.activation=gelu"]
    assert proposal.candidates[0].finding == "diverged"
    reasons = {s.change: s.reason for s in proposal.suggestions}
    assert "not a config change" in reasons["clip gradients: optimizer clipnorm=1.0"]
    assert "optim.epochs" in reasons["optim.epochs=3"]
    assert "info" in reasons["model.dropout=0.2"]


def test_a_user_model_turns_model_settings_into_code_suggestions() -> None:
    findings = [
        _finding("double_softmax", "model.final_activation=none", "optim.from_logits=false")
    ]
    proposal = from_findings(findings, Config(), user_model=True)
    assert [c.change for c in proposal.candidates] == ["optim.from_logits=false"]
    (suggestion,) = proposal.suggestions
    assert suggestion.change == "model.final_activation=none"
    assert "builder" in suggestion.reason


def test_duplicate_fixes_keep_the_first_finding() -> None:
    findings = [_finding("a", "optim.lr=0.1"), _finding("b", "optim.lr=0.1", severity="warning")]
    (candidate,) = from_findings(findings, Config()).candidates
    assert candidate.finding == "a"


def test_fallback_moves_factors_towards_the_default_recipe_first() -> None:
    config = load_config(None, ["model.activation=sigmoid", "model.depth=12"])
    candidates = fallback(config, Config())
    assert candidates[0].overrides == {"model.activation": "gelu", "model.depth": 0}
    assert candidates[1].change == "model.activation=gelu"
    assert candidates[1].finding == "ablation:activation"
    factors = [c.finding.split(":")[1] for c in candidates]
    assert "batchnorm" in factors and "lr" in factors
    assert len(candidates) <= 8
    assert all("depth" not in c.change for c in candidates[1:])  # one factor at a time
    # already measured changes are not offered again
    again = fallback(config, Config(), exclude=[candidates[1].change])
    assert candidates[1].change not in [c.change for c in again]


def test_fallback_also_moves_all_differing_factors_at_once() -> None:
    config = load_config(None, ["model.activation=sigmoid", "model.batchnorm=false"])
    candidates = fallback(config, Config())
    joint = candidates[0]
    assert joint.finding == "ablation:default_recipe"
    assert joint.overrides == {"model.activation": "gelu", "model.batchnorm": True}
    seed = fallback(load_config("seed", []), Config())[0]  # another network and recipe
    assert seed.finding == "ablation:default_recipe"
    assert seed.overrides["model.arch"] == "fast" and seed.overrides["optim.name"] == "sgd"
    assert not any(k in seed.overrides for k in ("data.subset", "optim.epochs"))
    user = fallback(load_config("seed", []), Config(), user_model=True)[0]
    assert user.finding == "ablation:default_recipe"
    assert not any(k.startswith("model.") for k in user.overrides)
    singles = [c.change for c in candidates[1:3]]
    assert singles == ["model.activation=gelu", "model.batchnorm=true"]


def test_fallback_for_a_user_model_never_touches_model_settings() -> None:
    config = load_config(None, ["optim.lr=1e-5"])
    candidates = fallback(config, Config(), user_model=True)
    assert candidates and all(not k.startswith("model.") for c in candidates for k in c.overrides)
    assert candidates[0].change == "optim.lr=0.2"
