"""Numeric precision of training: resolve ``run.precision`` and build models under that policy.

Why bfloat16 at all: on a CPU whose cores execute bfloat16 dot products natively (x86
``avx512_bf16`` or ``amx_bf16``), oneDNN runs the convolutions of the default net about 1.8x
faster than in float32 — measured side by side on this project's 2-core EPYC (width 0.625,
batch 256: 0.36 vs 0.64 s per step; ``benchmarks/model_speed.py --precision``). Keras's
``mixed_bfloat16`` policy keeps every variable (and so every optimizer update) in float32 and only
computes in bfloat16, which is how airbench and most fast recipes train; BatchNorm statistics are
computed in float32 by Keras itself, and our model heads emit float32 logits.

Why ``auto`` is conservative: a CPU *without* native bfloat16 emulates it, which is slower than
float32. So ``auto`` picks bfloat16 only when the flag is there (or on a CUDA GPU that supports it),
and only on the torch backend, the one this was measured on. A user's own network
(``--model pkg:build``) is built in the user's own Keras policy under ``auto``: it is diagnosed as
they would train it, and their layers may not be written for 16-bit compute.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from cnn_doctor.config import PRECISIONS

FLOAT32 = "float32"
MIXED_BFLOAT16 = "mixed_bfloat16"
#: /proc/cpuinfo flags of x86 cores that execute bfloat16 dot products in hardware.
NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_native_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True when the CPU advertises a native bfloat16 dot-product instruction (Linux only;
    elsewhere the answer is False, which only costs speed)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[-1].split())
            return any(flag in flags for flag in NATIVE_BF16_CPU_FLAGS)
    return False


def _cuda_bfloat16() -> bool | None:
    """None when torch sees no GPU; otherwise whether that GPU supports bfloat16."""
    import torch

    if not torch.cuda.is_available():
        return None
    return bool(torch.cuda.is_bf16_supported())


def resolve_precision(requested: str, backend: str, *, user_model: bool = False) -> str:
    """The concrete Keras dtype policy for ``run.precision`` on this machine and backend
    (``user_model``: the network comes from the user's builder, not our registry)."""
    if requested != "auto":
        return requested
    if user_model:
        import keras

        name = keras.config.dtype_policy().name
        return name if name in PRECISIONS else FLOAT32
    if backend != "torch":
        return FLOAT32
    gpu = _cuda_bfloat16()
    if gpu is not None:
        return MIXED_BFLOAT16 if gpu else FLOAT32
    return MIXED_BFLOAT16 if cpu_has_native_bfloat16() else FLOAT32


@contextlib.contextmanager
def dtype_policy(policy: str) -> Iterator[None]:
    """Build layers under ``policy`` without leaving Keras's global policy changed: a layer keeps
    the policy it was constructed with, so the caller's own models are unaffected."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
