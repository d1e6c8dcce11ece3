"""The repair loop with the real trainer on tiny synthetic data (a few short Keras fits)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnn_doctor.config import load_config
from cnn_doctor.diagnose.findings import Finding, Fix
from cnn_doctor.repair import fix
from cnn_doctor.repair.budget import RunEstimate
from cnn_doctor.repair.results import DiagnosisRun


def _planted_diagnosis(config, model_builder=None) -> DiagnosisRun:
    """A real short training run (the baseline's first seed) with the planted finding."""
    from cnn_doctor.train import train

    result = train(config, quiet=True)
    findings = []
    if config.optim.lr < 1e-3:
        findings.append(
            Finding(
                "lr_too_low",
                "hyperparameters",
                "critical",
                0.9,
                "planted",
                fixes=(Fix("optim.lr=0.2", "the recipe's rate"),),
            )
        )
    value = result.summary["best_val_accuracy"]
    return DiagnosisRun(value, findings, str(result.run_dir), result.summary["wall_seconds"])


@pytest.mark.slow
def test_real_runs_cure_a_frozen_learning_rate(tiny_cifar_dir: Path, tmp_path: Path) -> None:
    config = load_config(
        None,
        [
            f"data.data_dir={tiny_cifar_dir}",
            "data.val_size=50",
            "model.width=0.125",
            "optim.batch_size=16",
            "optim.epochs=3",
            "optim.lr=1e-5",
        ],
    )
    result = fix(
        config,
        budget="30m",
        subset=0,
        out_dir=tmp_path,
        diagnose_fn=_planted_diagnosis,
        max_rounds=1,
        estimate=RunEstimate(5.0, "not measured: the CLI test measures the probe"),
    )
    (step,) = result.steps
    assert step.change == "optim.lr=0.2" and step.seeds == 2
    assert step.before == pytest.approx(0.10, abs=0.05)  # chance: the rate learns nothing
    assert step.gain > 2 * step.stderr
    assert result.stop_reason.startswith("round limit")
    trials = list((result.folder / "round01" / "trials").iterdir())
    assert len(trials) == 3  # baseline seed 2 + the candidate's 2 seeds; seed 1 is the diagnosis
    assert all((t / "metrics.jsonl").is_file() for t in trials)
    assert (result.folder / "repair_curves.png").is_file()
    assert "optim.lr=0.2" in (result.folder / "fixed.toml").read_text()
