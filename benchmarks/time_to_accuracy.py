"""Default recipe vs the question's own recipe, for the same wall time, on the full data.

Run by hand (not in the test suite); it prints both test accuracies and wall times:

    CNN_DOCTOR_DATA=../shared/data/cifar10-jpeg python benchmarks/time_to_accuracy.py

1. trains the default recipe (``cnn-doctor train`` with no arguments) and notes its wall time T;
2. trains the seed recipe (preset ``seed``: seed_cnn, Adam, its augmentation and schedule) with
   enough epochs to fill T and stops it when T is used up — what its author would have after the
   same wait.

Both sides run at ``run.precision=auto`` (bfloat16 compute where the CPU has native bf16), so the
comparison is between recipes, not number formats.

``--only default|seed`` runs one side; ``--budget SECONDS`` fixes T instead of measuring it, and
``--clock cpu`` counts T in process CPU time instead of wall time (for a shared, loaded machine).
Every run is a normal run directory (config, metrics, summary) under ``runs/benchmarks``.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402

from cnn_doctor.config import load_config  # noqa: E402
from cnn_doctor.train import train  # noqa: E402


class TimeBudget(keras.callbacks.Callback):
    """Stops training at the first epoch end past ``seconds`` of wall time — or of this process's
    CPU time (all threads), which other jobs on a shared machine disturb far less."""

    def __init__(self, seconds: float, clock: str = "wall"):
        super().__init__()
        self.seconds = seconds
        self.clock = time.process_time if clock == "cpu" else time.perf_counter
        self.started = self.clock()

    def on_train_begin(self, logs=None):
        self.started = self.clock()

    def on_epoch_end(self, epoch, logs=None):
        elapsed = self.clock() - self.started
        # stop if the next epoch would overshoot the budget by more than half an epoch
        if elapsed + 0.5 * elapsed / (epoch + 1) > self.seconds:
            self.model.stop_training = True


def run(name: str, overrides: list[str], budget: float | None = None, clock: str = "wall") -> dict:
    config = load_config(
        "seed" if name == "seed" else None,
        [*overrides, "run.out_dir=runs/benchmarks", f"run.name=bench-{name}"],
    )
    callbacks = [TimeBudget(budget, clock)] if budget else []
    cpu_started = time.process_time()
    result = train(config, callbacks=callbacks, quiet=False)
    s = result.summary
    print(
        f"{name:8s} test_acc={s['test_accuracy']:.4f} best_val={s['best_val_accuracy']:.4f} "
        f"epochs={s['epochs']} wall={s['wall_seconds']:.0f}s "
        f"cpu={time.process_time() - cpu_started:.0f}s img/s={s['images_per_second']} "
        f"load1={os.getloadavg()[0]:.1f} run={result.run_dir}",
        flush=True,
    )
    return s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("default", "seed"))
    parser.add_argument("--budget", type=float, help="seconds for the seed recipe")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="what --budget counts: wall time, or CPU time (robust on a shared machine)",
    )
    parser.add_argument("--set", action="append", default=[], help="override for default")
    args = parser.parse_args()
    budget = args.budget
    if args.only in (None, "default"):
        summary = run("default", args.set)
        budget = budget or summary["wall_seconds"]
    if args.only in (None, "seed"):
        if budget is None:
            parser.error("--only seed needs --budget SECONDS")
        # 60 epochs is more than fits: the budget, not the epoch count, ends the run
        run("seed", ["optim.epochs=60"], budget, args.clock)


if __name__ == "__main__":
    main()
