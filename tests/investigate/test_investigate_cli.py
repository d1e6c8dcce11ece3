"""The four commands through Typer: clear one-line errors, outputs written, resume by rerun."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest
from investigate_fakes import fake_train
from typer.testing import CliRunner

import cnn_doctor.cli.investigate_cmd  # noqa: F401  (registers lr-find/ablate/sweep/compare)
from cnn_doctor.cli.app import app
from cnn_doctor.config import Config
from cnn_doctor.investigate import ablation
from cnn_doctor.investigate import study as st

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def _one_line_error(result, text: str) -> None:
    assert result.exit_code == 2, result.output
    assert text in result.output
    assert "Traceback" not in result.output


@pytest.fixture
def space_file(tmp_path: Path) -> Path:
    path = tmp_path / "space.toml"
    path.write_text("[optim.lr]\nlow = 1e-3\nhigh = 1.0\nlog = true\n")
    return path


@pytest.fixture
def fake_trainer(monkeypatch: pytest.MonkeyPatch):
    """Studies started from the CLI train with the fake (in-process worker).

    Optuna's per-trial ``gc.collect()`` (kept for real networks) costs ~1 s with torch loaded.
    """
    monkeypatch.setattr(st, "_default_train", lambda: fake_train)
    monkeypatch.setattr(gc, "collect", lambda *args: 0)


def test_unreachable_storage_is_one_line_without_the_password(
    space_file: Path, tmp_path: Path
) -> None:
    result = _invoke(
        "sweep",
        "--space",
        str(space_file),
        "--out",
        str(tmp_path),
        "--storage",
        "postgresql://me:secret@127.0.0.1:1/nowhere",
    )
    _one_line_error(result, "cannot open study storage")
    assert "secret" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sweep"], "needs --space"),
        (["sweep", "--join"], "needs --storage"),
        (["sweep", "--space", "missing.toml"], "does not exist"),
        (["ablate", "--budget", "huge"], "unknown budget"),
        (["lr-find", "--method", "valley"], "choose one of"),
        (["lr-find", "--start-lr", "1", "--end-lr", "0.1"], "--start-lr"),
        (["compare", "no/such/run"], "not a directory"),
    ],
)
def test_bad_input_fails_with_one_line(args: list[str], message: str) -> None:
    _one_line_error(_invoke(*args), message)


def test_sweep_space_mistake_names_the_table(tmp_path: Path) -> None:
    bad = tmp_path / "space.toml"
    bad.write_text("[optim.lr]\nlow = 1.0\nhigh = 0.1\n")
    _one_line_error(_invoke("sweep", "--space", str(bad)), "[optim.lr]")


def test_ablate_dry_run_lists_variants_by_area() -> None:
    result = _invoke("ablate", "--dry-run")
    assert result.exit_code == 0, result.output
    for text in ("architecture", "hyperparameters", "data", "batchnorm", "x 2 seeds"):
        assert text in result.output


def test_ablate_runs_writes_the_ranked_table_and_resumes(
    tmp_path: Path, fake_trainer, monkeypatch: pytest.MonkeyPatch
) -> None:
    full_plan = ablation.ablation_plan
    keep = {"baseline", "batchnorm", "augment:flip"}
    monkeypatch.setattr(
        ablation,
        "ablation_plan",
        lambda *a, **k: [p for p in full_plan(*a, **k) if p.variant.factor in keep],
    )
    args = ("ablate", "--budget", "small", "--out", str(tmp_path), "--study-name", "abl")
    result = _invoke(*args)
    assert result.exit_code == 0, result.output
    table = (tmp_path / "abl" / "ablation.md").read_text()
    assert "| 1 | architecture | batchnorm |" in table
    assert (tmp_path / "abl" / "ablation.png").is_file()
    assert (tmp_path / "abl" / "report.html").is_file()
    assert len(list((tmp_path / "abl" / "trials").iterdir())) == 6
    again = _invoke(*args)  # the same command again: nothing is redone
    assert again.exit_code == 0 and "resuming study" in again.output
    assert len(list((tmp_path / "abl" / "trials").iterdir())) == 6


def test_sweep_with_the_fake_trainer_writes_best_config(
    tmp_path: Path, space_file: Path, fake_trainer
) -> None:
    base = tmp_path / "base.toml"
    base.write_text("[optim]\nepochs = 2\n")
    result = _invoke(
        "sweep",
        "--base",
        str(base),
        "--space",
        str(space_file),
        "--trials",
        "3",
        "--pruner",
        "none",
        "--seed",
        "0",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    (study_dir,) = [d for d in tmp_path.iterdir() if d.name.startswith("sweep-base-")]
    assert (study_dir / "best.toml").is_file() and (study_dir / "sweep.md").is_file()
    assert json.loads((study_dir / "study.json").read_text())["storage"].startswith("sqlite:")


def test_compare_prints_differences_and_writes_files(tmp_path: Path) -> None:
    dirs = []
    for name, lr in (("a", 0.1), ("b", 0.01)):
        config = Config()
        config.run.out_dir, config.run.name, config.optim.lr = str(tmp_path), name, lr
        dirs.append(str(fake_train(config).run_dir))
    md = tmp_path / "cmp.md"
    result = _invoke("compare", *dirs, "--out", str(tmp_path / "cmp.png"), "--markdown", str(md))
    assert result.exit_code == 0, result.output
    assert "optim.lr" in result.output and "optim.lr" in md.read_text()
    assert (tmp_path / "cmp.png").is_file()


@pytest.mark.slow
def test_real_lr_find_and_sweep_on_tiny_data(
    tiny_cifar_dir: Path, tmp_path: Path, space_file: Path
) -> None:
    """End to end with the real trainer: data -> model -> lr-find / one sweep trial."""
    tiny = [
        "--set",
        "data.val_size=50",
        "--set",
        "model.width=0.25",
        "--set",
        "optim.batch_size=32",
        "--set",
        "optim.epochs=1",
        "--data-dir",
        str(tiny_cifar_dir),
    ]
    out_json = tmp_path / "lr.json"
    result = _invoke(
        "lr-find", *tiny, "--steps", "8", "--json", str(out_json), "--out", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(out_json.read_text())
    assert {"suggested_lr", "method", "lrs", "losses", "plot"} <= set(payload)
    assert len(payload["lrs"]) == 8 and Path(payload["plot"]).is_file()

    result = _invoke(
        "sweep",
        *tiny,
        "--space",
        str(space_file),
        "--trials",
        "1",
        "--out",
        str(tmp_path),
        "--study-name",
        "real",
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "real" / "trials").iterdir()
    for name in ("config.toml", "metrics.jsonl", "summary.json", "curves.png"):
        assert (run_dir / name).is_file(), name
