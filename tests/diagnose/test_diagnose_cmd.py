"""``cnn-doctor diagnose``: an instrumented pipeline run, a user's model builder, and a finished
run diagnosed after the fact, on the tiny synthetic CIFAR layout (``tiny_cifar_dir``)."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

import cnn_doctor.cli.diagnose_cmd  # noqa: F401  (registers the command)
from cnn_doctor.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()


def small(tmp_path, tiny_cifar_dir, *extra):
    sets = [
        f"run.out_dir={tmp_path / 'runs'}",
        "data.val_size=40",
        "data.subset=120",
        "optim.epochs=2",
        "model.width=0.125",
        "optim.batch_size=20",
        *extra,
    ]
    args = ["diagnose", "--data-dir", str(tiny_cifar_dir), "--quiet"]
    for item in sets:
        args += ["--set", item]
    return args


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory, tiny_cifar_dir):
    tmp = tmp_path_factory.mktemp("diag")
    result = runner.invoke(app, [*small(tmp, tiny_cifar_dir), "--json", str(tmp / "f.json")])
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp / "runs").iterdir()
    return result, run_dir, tmp


def test_pipeline_run_writes_trace_diagnosis_and_report(pipeline_run):
    result, run_dir, tmp = pipeline_run
    assert {"trace.json", "diagnosis.json", "report.html", "model.keras"} <= {
        p.name for p in run_dir.iterdir()
    }
    payload = json.loads((tmp / "f.json").read_text())
    assert payload == json.loads((run_dir / "diagnosis.json").read_text())
    for finding in payload["findings"]:
        assert set(finding) >= {
            "id",
            "area",
            "severity",
            "confidence",
            "summary",
            "evidence",
            "fixes",
        }
    trace = json.loads((run_dir / "trace.json").read_text())
    assert trace["context"]["source"] == "pipeline"
    grad_norms = [w["grad_norm"] for p in trace["probes"] for w in p["weights"]]
    assert grad_norms and all(g is not None and g > 0 for g in grad_norms)
    assert "Diagnosis" in (run_dir / "report.html").read_text()


def test_instrumented_run_measures_in_float32_unless_the_user_sets_precision(
    pipeline_run, tiny_cifar_dir, tmp_path
):
    _, run_dir, _ = pipeline_run
    assert 'precision = "float32"' in (run_dir / "config.toml").read_text()
    args = small(tmp_path, tiny_cifar_dir, "run.precision=mixed_bfloat16")
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (user_run,) = (tmp_path / "runs").iterdir()
    assert 'precision = "mixed_bfloat16"' in (user_run / "config.toml").read_text()
    trace = json.loads((user_run / "trace.json").read_text())
    dtypes = {a["dtype"] for a in trace["probes"][-1]["activations"]}
    assert dtypes == {"bfloat16"}  # the trace says what the activations were computed in


def test_run_dir_is_rediagnosed_from_its_trace(pipeline_run):
    _, run_dir, _ = pipeline_run
    before = json.loads((run_dir / "diagnosis.json").read_text())
    result = runner.invoke(app, ["diagnose", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert json.loads((run_dir / "diagnosis.json").read_text()) == before


def test_run_without_trace_is_probed_after_the_fact(pipeline_run, tmp_path):
    _, run_dir, _ = pipeline_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "trace.json").unlink()
    result = runner.invoke(app, ["diagnose", str(copy)])
    assert result.exit_code == 0, result.output
    trace = json.loads((copy / "trace.json").read_text())
    assert len(trace["probes"]) == 1 and trace["probes"][0]["epoch"] == 2
    assert trace["probes"][0]["weights"][0]["grad_norm"] is not None


def test_user_model_builder_is_diagnosed(tiny_cifar_dir, tmp_path):
    args = small(tmp_path, tiny_cifar_dir) + ["--model", "diagnose_builders:softmax_cnn"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    findings = json.loads((run_dir / "diagnosis.json").read_text())["findings"]
    assert findings[0]["id"] == "double_softmax"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["diagnose", "--model", "nocolon"], "package.module:function"),
        (["diagnose", "--model", "no_such_module_xyz:build"], "cannot import"),
        (["diagnose", "--model", "json:no_such_function"], "no function"),
        (["diagnose", "/no/such/run"], "not a directory"),
        (["diagnose", "--set", "optim.lr=fast"], "not a number"),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(args, message, tmp_path):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_run_dir_with_other_options_is_refused(pipeline_run):
    _, run_dir, _ = pipeline_run
    result = runner.invoke(app, ["diagnose", str(run_dir), "--set", "optim.lr=0.1"])
    assert result.exit_code == 2


def test_default_diagnosis_is_a_short_run_and_flags_raise_the_budget():
    from cnn_doctor.config import load_config
    from cnn_doctor.diagnose.pipeline import short_run_overrides

    full = load_config(None)  # 45k images, the whole recipe, TTA on the test set
    short = load_config(None, short_run_overrides(full))
    assert (short.data.subset, short.data.val_size, short.optim.epochs) == (5000, 1000, 6)
    assert not short.run.tta and not short.run.evaluate_test
    assert short.model == full.model  # the network under diagnosis is left alone
    # never more than the config asks for; 0 keeps the config's data / epochs
    tiny = load_config(None, ["data.subset=300", "data.val_size=100", "optim.epochs=2"])
    kept = load_config(None, short_run_overrides(tiny))
    assert (kept.data.subset, kept.data.val_size, kept.optim.epochs) == (300, 100, 2)
    whole = load_config(None, short_run_overrides(full, subset=0, epochs=0))
    assert (whole.data.subset, whole.data.val_size) == (0, 5000)
    assert whole.optim.epochs == full.optim.epochs
    # a full run's time budget would stretch the short run to the full run's wall time
    timed = load_config(None, ["run.time_budget=10m"])
    assert load_config(None, short_run_overrides(timed)).run.time_budget in ("", "0")


def test_subset_and_epochs_flags_set_the_short_run(tiny_cifar_dir, tmp_path):
    args = [
        "diagnose",
        "--data-dir",
        str(tiny_cifar_dir),
        "--quiet",
        "--subset",
        "100",
        "--epochs",
        "2",
        "--set",
        f"run.out_dir={tmp_path / 'runs'}",
        "--set",
        "model.width=0.125",
        "--set",
        "data.val_size=40",  # the user's own --set wins over the short-run default (1000)
        "--set",
        "optim.batch_size=20",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    saved = (run_dir / "config.toml").read_text()
    assert "subset = 100" in saved and "val_size = 40" in saved and "epochs = 2" in saved
    assert "evaluate_test = false" in saved
