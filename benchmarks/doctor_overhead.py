"""Monitoring overhead of the ``Doctor`` callback: step-time ratio of ``model.fit`` with / without.

Target: ratio <= 1.10 with the default (epoch-level) monitoring. Same model, same data, same
seed, run side by side in one process; the order alternates each repetition so drift in machine
load hits both arms alike; the first fit of each arm is a discarded warm-up. The figure is the
median over repetitions of (time with Doctor) / (time without), per optimizer step, with the
probe cost (``Doctor.probe_seconds``) reported separately.

    KERAS_BACKEND=torch python benchmarks/doctor_overhead.py            # default workload
    python benchmarks/doctor_overhead.py --images 2048 --repeats 3      # quicker
    python benchmarks/doctor_overhead.py --per-batch                    # opt-in per-batch cost

The default workload is the seed CNN (Conv32-Pool-Conv64-Pool-Dense128-Dropout-Dense10) on
32x32x3 random images, 10k images per epoch, batch 128, probe batch 256, probing every epoch.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "torch")


def seed_cnn(keras, size: int):
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((size, size, 3)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10),
        ]
    )


def timed_fit(keras, np, args, x, y, xv, yv, with_doctor: bool) -> tuple[float, int, float]:
    """(seconds, optimizer steps, seconds spent probing) of one fit from the same seed."""
    from cnn_doctor import Doctor

    keras.utils.set_random_seed(0)
    model = seed_cnn(keras, args.size)
    model.compile(
        keras.optimizers.SGD(0.01, momentum=0.9),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    callbacks = []
    doctor = None
    if with_doctor:
        doctor = Doctor(
            probe_data=(x[: args.probe_size], y[: args.probe_size]), per_batch=args.per_batch
        )
        callbacks.append(doctor)
    start = time.perf_counter()
    model.fit(
        x,
        y,
        validation_data=(xv, yv),
        epochs=args.epochs,
        batch_size=args.batch,
        verbose=0,
        callbacks=callbacks,
    )
    seconds = time.perf_counter() - start
    steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    return seconds, steps, doctor.probe_seconds if doctor else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--val", type=int, default=1000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--probe-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("--per-batch", action="store_true", help="measure opt-in batch logging")
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    if keras.backend.backend() == "torch" and args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.images, args.size, args.size, 3)).astype("float32")
    y = rng.integers(0, 10, args.images)
    xv = rng.normal(size=(args.val, args.size, args.size, 3)).astype("float32")
    yv = rng.integers(0, 10, args.val)

    threads = ""
    if keras.backend.backend() == "torch":
        import torch

        threads = f", torch threads {torch.get_num_threads()}"
    print(
        f"backend {keras.backend.backend()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs{threads}, python {sys.version.split()[0]}, keras "
        f"{keras.__version__}"
    )
    print(
        f"workload: {args.images} images {args.size}x{args.size}, {args.epochs} epochs, batch "
        f"{args.batch}, probe {args.probe_size}, per_batch={args.per_batch}"
    )

    for arm in (False, True):  # warm-up: first-call costs (allocation, kernels) are not overhead
        timed_fit(keras, np, args, x[:512], y[:512], xv[:64], yv[:64], arm)

    ratios, probe_shares = [], []
    for rep in range(args.repeats):
        order = (True, False) if rep % 2 else (False, True)
        result = {}
        for arm in order:
            result[arm] = timed_fit(keras, np, args, x, y, xv, yv, arm)
        (t_on, steps_on, probe), (t_off, steps_off, _) = result[True], result[False]
        ratio = (t_on / steps_on) / (t_off / steps_off)
        ratios.append(ratio)
        probe_shares.append(probe / t_on)
        print(
            f"  rep {rep + 1}: without {t_off / steps_off * 1e3:7.1f} ms/step, with "
            f"{t_on / steps_on * 1e3:7.1f} ms/step, ratio {ratio:.3f}, probes {probe:.2f} s "
            f"({probe / t_on:.1%} of the run)"
        )
    median = statistics.median(ratios)
    print(
        f"step-time ratio with/without Doctor: median {median:.3f} (min {min(ratios):.3f}, "
        f"max {max(ratios):.3f}, {args.repeats} reps); probing "
        f"{statistics.median(probe_shares):.1%} of run time; target <= 1.10: "
        f"{'met' if median <= 1.10 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
