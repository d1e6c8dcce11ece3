"""``run.precision``: what ``auto`` resolves to, and that a bfloat16 model really is one."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from cnn_doctor import precision
from cnn_doctor.config import ConfigError, load_config
from cnn_doctor.precision import cpu_has_native_bfloat16, dtype_policy, resolve_precision
from cnn_doctor.train import build_compiled_model, fit_arrays, with_resolved_precision

FLAGS_WITH_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
FLAGS_WITHOUT = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni\n"


@pytest.mark.parametrize(
    ("cpuinfo", "expected"),
    [(FLAGS_WITH_BF16, True), (FLAGS_WITHOUT, False), ("flags : amx_bf16 amx_tile\n", True)],
)
def test_native_bfloat16_is_read_from_the_cpu_flags(tmp_path: Path, cpuinfo, expected):
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    assert cpu_has_native_bfloat16(path) is expected


def test_missing_cpuinfo_means_no_bfloat16(tmp_path: Path):
    assert cpu_has_native_bfloat16(tmp_path / "absent") is False


@pytest.mark.parametrize("cpu_bf16", [True, False])
def test_auto_follows_the_cpu_on_torch_without_a_gpu(monkeypatch, cpu_bf16):
    monkeypatch.setattr(precision, "_cuda_bfloat16", lambda: None)
    monkeypatch.setattr(precision, "cpu_has_native_bfloat16", lambda: cpu_bf16)
    expected = "mixed_bfloat16" if cpu_bf16 else "float32"
    assert resolve_precision("auto", "torch") == expected


def test_auto_is_float32_off_torch_and_an_explicit_choice_is_kept(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_native_bfloat16", lambda: True)
    assert resolve_precision("auto", "jax") == "float32"
    assert resolve_precision("auto", "tensorflow") == "float32"
    assert resolve_precision("float32", "torch") == "float32"
    assert resolve_precision("mixed_bfloat16", "torch") == "mixed_bfloat16"


def test_bad_precision_is_a_config_error():
    with pytest.raises(ConfigError, match="run.precision"):
        load_config(None, ["run.precision=float16"])


def test_resolved_config_records_a_concrete_policy():
    config = with_resolved_precision(load_config(None, []))
    assert config.run.precision in ("float32", "mixed_bfloat16")


def test_dtype_policy_restores_the_global_policy():
    before = keras.config.dtype_policy().name
    with dtype_policy("mixed_bfloat16"):
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == before


def test_bfloat16_model_computes_in_bfloat16_and_emits_float32_logits():
    config = load_config(
        None, ["model.width=0.125", "run.precision=mixed_bfloat16", "model.final_activation=none"]
    )
    model = build_compiled_model(config, 10, steps_per_epoch=1, input_shape=(3, 32, 32))
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs and all(layer.compute_dtype == "bfloat16" for layer in convs)
    assert all(layer.variable_dtype == "float32" for layer in convs)  # float32 master weights
    out = model.predict(np.zeros((2, 3, 32, 32), "float32"), verbose=0)
    assert str(out.dtype) == "float32"
    assert keras.config.dtype_policy().name == "float32"  # the user's global policy untouched


def test_auto_builds_a_users_own_model_in_the_users_policy(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_native_bfloat16", lambda: True)
    monkeypatch.setattr(precision, "_cuda_bfloat16", lambda: None)
    assert resolve_precision("auto", "torch", user_model=True) == "float32"
    with dtype_policy("mixed_bfloat16"):
        assert resolve_precision("auto", "torch", user_model=True) == "mixed_bfloat16"
    with dtype_policy("bfloat16"):  # a policy the config cannot name: float32, never a crash
        assert resolve_precision("auto", "torch", user_model=True) == "float32"


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_both_precisions_learn_the_tiny_task(tiny_cifar, policy):
    config = load_config(
        None,
        [
            "model.width=0.125",
            "optim.batch_size=32",
            "optim.epochs=4",
            "data.augment=[]",
            f"run.precision={policy}",
        ],
    )
    outcome = fit_arrays(config, tiny_cifar.x_train, tiny_cifar.y_train)
    assert outcome.history[-1]["accuracy"] >= 0.6  # 10 classes: chance is 0.1
