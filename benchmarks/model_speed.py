"""Training throughput of the model families on this CPU: channels_last vs channels_first, or
(``--precision``) float32 vs mixed bfloat16.

Why: the default recipe has to fit a CPU budget, so the choice of net, width, data format and
precision is decided by measured images/second, not by FLOP counts alone. Keras's torch backend
runs convs in NCHW, so a channels_last model pays transposes around every conv; and a CPU with
native bfloat16 (``avx512_bf16``/AMX) runs bfloat16 convs far faster than float32 ones.

Each (model, variant) pair is built once, compiled like the trainer does (Nesterov SGD, sparse CE
from logits) and warmed up with one ``fit`` step; then rounds alternate between the two variants so
that load from other users of the machine hits both alike. The best round is reported (on a shared
machine the fastest round is the least disturbed one), with the median next to it as a noise gauge,
and images per CPU-second of this process, which other users' load disturbs far less than wall time
(times the core count it estimates the uncontended rate; OpenMP spin-waits make it a lower bound).

Usage:
    python benchmarks/model_speed.py                 # all models, 3 steps x 3 rounds each
    python benchmarks/model_speed.py --models fast-0.5 --steps 5 --rounds 3
    python benchmarks/model_speed.py --jit           # also time jit_compile=True (torch.compile)
    python benchmarks/model_speed.py --precision --models fast-0.625   # float32 vs bfloat16
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from cnn_doctor.config import ModelConfig  # noqa: E402
from cnn_doctor.models import build_model  # noqa: E402
from cnn_doctor.precision import dtype_policy  # noqa: E402

#: name -> config; the seed CNN and ResNet-20 in their published form (ReLU, width 1).
MODELS: dict[str, ModelConfig] = {
    "fast-0.5": ModelConfig(arch="fast", width=0.5),
    "fast-0.625": ModelConfig(arch="fast", width=0.625),
    "fast-1.0": ModelConfig(arch="fast", width=1.0),
    "fast-0.5-relu": ModelConfig(arch="fast", width=0.5, activation="relu"),
    "seed_cnn": ModelConfig(
        arch="seed_cnn", width=1.0, activation="relu", batchnorm=False, dropout=0.5
    ),
    "resnet20": ModelConfig(arch="resnet", width=1.0, depth=20, activation="relu"),
}
#: variant -> (data format, Keras dtype policy); a run compares one pair of these.
VARIANTS: dict[str, tuple[str, str]] = {
    "CL": ("channels_last", "float32"),
    "CF": ("channels_first", "float32"),
    "bf16": ("channels_first", "mixed_bfloat16"),
}
EPOCH_IMAGES = 45_000  # CIFAR-10 train split after the default 5k validation hold-out


def compiled_model(cfg: ModelConfig, variant: str, jit: bool) -> keras.Model:
    data_format, policy = VARIANTS[variant]
    keras.config.set_image_data_format(data_format)
    shape = (3, 32, 32) if data_format == "channels_first" else (32, 32, 3)
    with dtype_policy(policy):
        model = build_model(cfg, shape, num_classes=10)
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit,
    )
    return model


def fit_seconds(
    model: keras.Model, x: np.ndarray, y: np.ndarray, batch: int
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one ``fit`` over ``x``."""
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(
    cfg: ModelConfig, variants: tuple[str, str], batch: int, steps: int, rounds: int, jit: bool
) -> tuple[int, dict[str, list[float]], dict[str, float]]:
    """(params, {variant: sorted wall images/s}, {variant: best images per CPU-second})."""
    rng = np.random.default_rng(0)
    x_cl = rng.normal(size=(batch * steps, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, size=batch * steps)
    x_cf = np.ascontiguousarray(x_cl.transpose(0, 3, 1, 2))
    inputs = {v: x_cf if VARIANTS[v][0] == "channels_first" else x_cl for v in variants}
    models = {v: compiled_model(cfg, v, jit) for v in variants}
    keras.config.set_image_data_format("channels_last")
    for v in variants:  # warm-up: builds the train function (and compiles it under jit)
        fit_seconds(models[v], inputs[v][:batch], y[:batch], batch)
    rates: dict[str, list[float]] = {v: [] for v in variants}
    per_cpu: dict[str, float] = dict.fromkeys(variants, 0.0)
    for _ in range(rounds):
        for v in variants:
            wall, cpu = fit_seconds(models[v], inputs[v], y, batch)
            rates[v].append(batch * steps / wall)
            per_cpu[v] = max(per_cpu[v], batch * steps / cpu)
    params = models[variants[0]].count_params()
    return params, {v: sorted(r) for v, r in rates.items()}, per_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3, help="fit steps per timed round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per format")
    parser.add_argument("--jit", action="store_true", help="also time jit_compile=True")
    parser.add_argument(
        "--precision", action="store_true", help="float32 vs mixed bfloat16 (channels_first)"
    )
    args = parser.parse_args()
    first, second = ("CF", "bf16") if args.precision else ("CL", "CF")

    import torch

    print(
        f"keras {keras.__version__} ({keras.backend.backend()}), torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, load avg {os.getloadavg()[0]:.1f}; "
        f"batch {args.batch}, {args.steps} steps x {args.rounds} rounds, best round (median)"
    )
    header = f"{'model':<15}{'jit':<4}{'params':>10}  {f'img/s {first} best (med)':>22}"
    print(
        header
        + f"  {f'img/s {second} best (med)':>22}{f'{second}/{first}':>9}{'s/epoch':>9}"
        + f"{f'img/CPU-s {first}, {second}':>22}"
    )
    for name in args.models:
        for jit in (False, True) if args.jit else (False,):
            params, rate, per_cpu = measure(
                MODELS[name], (first, second), args.batch, args.steps, args.rounds, jit
            )
            a, b = rate[first], rate[second]
            cells = [f"{r[-1]:.0f} ({statistics.median(r):.0f})" for r in (a, b)]
            print(
                f"{name:<15}{'yes' if jit else 'no':<4}{params:>10,}"
                f"  {cells[0]:>22}  {cells[1]:>22}"
                f"{b[-1] / a[-1]:>9.2f}{EPOCH_IMAGES / max(a[-1], b[-1]):>9.0f}"
                f"{per_cpu[first]:>14.0f},{per_cpu[second]:>7.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
