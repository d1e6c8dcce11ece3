"""``cnn-doctor data-check`` end to end on a tiny planted folder: table, JSON, report, export."""

from __future__ import annotations

import json

from dc_planting import balanced_labels, jpeg, natural_images
from typer.testing import CliRunner

import cnn_doctor.cli.data_check_cmd  # noqa: F401  (registers the command)
from cnn_doctor.cli.app import app
from cnn_doctor.data.cifar10 import load_cifar10, write_dataset

runner = CliRunner()


def _planted_dir(tmp_path):
    x, xt = natural_images(120, 1), natural_images(30, 2)
    x[50] = x[7]
    x[60] = 255
    xt[4] = jpeg(x[20], 60)
    write_dataset(
        tmp_path / "data",
        x,
        balanced_labels(120),
        xt,
        balanced_labels(30),
        [f"c{i}" for i in range(10)],
    )
    return tmp_path / "data"


def test_data_check_writes_items_report_grids_and_a_clean_copy(tmp_path) -> None:
    data_dir = _planted_dir(tmp_path)
    out, json_path, clean = tmp_path / "out", tmp_path / "f.json", tmp_path / "clean"
    result = runner.invoke(
        app,
        [
            "data-check",
            "--data-dir",
            str(data_dir),
            "--out",
            str(out),
            "--json",
            str(json_path),
            "--export-clean",
            str(clean),
            "--set",
            "data.val_size=20",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "exact_duplicates" in result.output and "skipped label_issues" in result.output
    payload = json.loads(json_path.read_text())
    items = {f["id"]: f["items"] for f in payload["findings"]}
    assert items["exact_duplicates"] == [["train", 50]]
    assert items["degenerate_images"] == [["train", 60]]
    assert items["train_test_leakage"] == [["test", 4]]
    assert all(f["area"] == "data" for f in payload["findings"])
    assert {s["check"] for s in payload["skipped"]} == {"label_issues"}
    assert payload["dataset"]["validation_images"] == 20
    assert json.loads((out / "data_check.json").read_text()) == payload
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64") >= 3
    assert (out / "data_check" / "train_test_leakage.png").is_file()
    assert len(load_cifar10(clean, download=False).x_train) == 117


def test_unknown_check_is_a_one_line_error(tmp_path) -> None:
    data_dir = _planted_dir(tmp_path)
    result = runner.invoke(
        app,
        [
            "data-check",
            "--data-dir",
            str(data_dir),
            "--check",
            "dupes",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2
    assert "exact_duplicates" in result.output  # lists the valid names


def test_missing_data_dir_is_a_user_error(tmp_path) -> None:
    result = runner.invoke(
        app, ["data-check", "--data-dir", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "Traceback" not in result.output
