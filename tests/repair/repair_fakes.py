"""Fake trainer and diagnosis with ``train``'s and ``instrumented_diagnosis``'s signatures.

The accuracy a fake run reports is a deterministic function of the config and seed, so tests
can plant a fault, a cure, a change that only adds noise, and a change that crashes:

* ``optim.lr > 1``: the planted fault, -0.40 (``optim.lr=0.1`` cures it);
* ``model.activation=sigmoid`` with ``model.depth >= 8``: a second fault no finding names, -0.30;
* ``model.dropout > 0``: no effect on the mean, +-0.01 extra seed noise;
* ``model.init=zeros``: the run crashes.

Seed noise: +-0.004. Every call is logged in ``CALLS`` (run names) so tests can check that
nothing is trained twice.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnn_doctor.config import Config
from cnn_doctor.diagnose.findings import Finding, Fix
from cnn_doctor.repair.results import DiagnosisRun

CALLS: list[str] = []
DIAGNOSES: list[dict[str, Any]] = []
INTERRUPT = {"after": -1}  # raise KeyboardInterrupt on the call with this index (-1: never)
SECONDS = {"run": 0.01}  # the wall time each fake run reports (the budget books it)


@dataclass
class FakeResult:
    run_dir: Path
    summary: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)


def softmax_builder(input_shape, num_classes):  # pragma: no cover - never called by the fakes
    """Stands for a user's network that ends in softmax (``fake_train`` reads the attribute)."""
    raise AssertionError("the fake trainer never builds a model")


softmax_builder.softmax_output = True  # type: ignore[attr-defined]


def fake_accuracy(config: Config, model_builder: Any = None) -> float:
    acc = 0.70
    if getattr(model_builder, "softmax_output", False) and config.optim.from_logits:
        acc -= 0.30  # softmax read as logits: the user's code, cured by from_logits=false
    if config.optim.lr > 1.0:
        acc -= 0.40
    if config.model.activation == "sigmoid" and config.model.depth >= 8:
        acc -= 0.30
    sign = 1 if config.run.seed % 2 else -1
    acc += 0.004 * sign
    if config.model.dropout > 0:
        acc += 0.01 * sign
    return round(acc, 6)


def fake_train(
    config: Config, *, callbacks=(), quiet: bool = True, model_builder: Any = None, **_: Any
) -> FakeResult:
    """Write a minimal run directory (metrics + summary) and return its numbers."""
    index = len(CALLS)
    CALLS.append(config.run.name)
    if INTERRUPT["after"] == index:
        INTERRUPT["after"] = -1
        raise KeyboardInterrupt
    if config.model.init == "zeros":
        raise RuntimeError("simulated crash: all-zero kernels")
    out = Path(config.run.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run_dir = out / f"{time.strftime('%Y%m%d-%H%M%S')}-{config.run.name}-{index}"
    run_dir.mkdir()
    config.save(run_dir / "config.toml")
    final = fake_accuracy(config, model_builder)
    history = []
    for epoch in range(config.optim.epochs):
        val = final * (epoch + 1) / config.optim.epochs
        history.append({"epoch": epoch + 1, "loss": 2.0 - val, "val_accuracy": val})
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history))
    summary = {
        "best_val_accuracy": final,
        "final_val_accuracy": final,
        "wall_seconds": SECONDS["run"],
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return FakeResult(run_dir, summary, history)


PLANTED_FIXES = (
    Fix("optim.lr=0.1", "the cure"),
    Fix("model.dropout=0.3", "only adds noise"),
    Fix("model.init=zeros", "crashes"),
    Fix("clip gradients: optimizer clipnorm=1.0", "words, not a config change"),
    Fix("optim.epochs=2", "changes the budget"),
)


def fake_diagnose(config: Config, model_builder: Any = None) -> DiagnosisRun:
    """Names the LR fault (with the planted fixes) and a softmax read as logits."""
    result = fake_train(config, model_builder=model_builder)
    DIAGNOSES.append(config.to_dict())
    findings = []
    if config.optim.lr > 1.0:
        findings.append(
            Finding(
                "lr_too_high",
                "hyperparameters",
                "critical",
                0.9,
                f"lr {config.optim.lr} is too high.",
                fixes=PLANTED_FIXES,
            )
        )
    if getattr(model_builder, "softmax_output", False) and config.optim.from_logits:
        findings.append(
            Finding(
                "double_softmax",
                "architecture",
                "critical",
                0.9,
                "softmax output read as logits.",
                fixes=(
                    Fix("model.final_activation=none", "output logits"),
                    Fix("optim.from_logits=false", "or let the loss read probabilities"),
                ),
            )
        )
    value = result.summary["best_val_accuracy"]
    return DiagnosisRun(value, findings, str(result.run_dir), SECONDS["run"])


def reset() -> None:
    CALLS.clear()
    DIAGNOSES.clear()
    INTERRUPT["after"] = -1
    SECONDS["run"] = 0.01
