"""``compare``: only differing config keys, figures from summary or metrics, overlaid curves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from investigate_fakes import fake_train

from cnn_doctor.config import Config
from cnn_doctor.investigate.compare import (
    CompareError,
    compare_runs,
    comparison_markdown,
    plot_comparison,
)


def _run(tmp_path: Path, name: str, **optim) -> Path:
    config = Config()
    config.run.out_dir = str(tmp_path)
    config.run.name = name
    for key, value in optim.items():
        setattr(config.optim, key, value)
    return fake_train(config).run_dir


def test_table_shows_only_the_keys_that_differ(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", lr=0.1)
    b = _run(tmp_path, "b", lr=0.01, epochs=2)
    comparison = compare_runs([a, b])
    assert comparison.differing_keys == ["optim.epochs", "optim.lr"]  # run.name is ignored
    rows = comparison.rows()
    assert rows[0]["optim.lr"] == 0.1 and rows[1]["optim.epochs"] == 2
    assert rows[0]["best_val_accuracy"] > rows[1]["best_val_accuracy"]
    text = comparison_markdown(comparison)
    assert "optim.lr" in text and a.name in text
    png = plot_comparison(comparison, tmp_path / "cmp.png")
    assert png.is_file()


def test_interrupted_run_is_compared_from_its_metrics(tmp_path: Path) -> None:
    a = _run(tmp_path, "a")
    expected = json.loads((a / "summary.json").read_text())["best_val_accuracy"]
    (a / "summary.json").unlink()
    with open(a / "metrics.jsonl", "a") as handle:
        handle.write('{"epoch": 4, "val_acc')  # torn last line of a killed run
    row = compare_runs([a]).rows()[0]
    assert row["run"].endswith("(incomplete)")
    assert row["best_val_accuracy"] == pytest.approx(expected)
    assert row["epochs"] == Config().optim.epochs  # counted from metrics.jsonl


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(CompareError, match="not a directory"):
        compare_runs([tmp_path / "missing"])
    with pytest.raises(CompareError, match="not a run directory"):
        compare_runs([tmp_path])
    with pytest.raises(CompareError, match="at least one"):
        compare_runs([])
