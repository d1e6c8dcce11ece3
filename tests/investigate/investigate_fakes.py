"""Fake trainers with ``cnn_doctor.train.train``'s signature: studies run in milliseconds.

Top-level functions in an importable module, so spawned worker processes can unpickle them.
The accuracy a fake run reports is a deterministic function of the config (plus a small seed
effect), which lets tests plant factor effects and check that the analysis finds them.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnn_doctor.config import Config


@dataclass
class FakeResult:
    run_dir: Path
    summary: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)


def fake_accuracy(config: Config) -> float:
    """Planted effects: batchnorm off -0.20, lr x10 -0.10, flip off -0.03; seed noise ±0.002."""
    acc = 0.70
    if not config.model.batchnorm:
        acc -= 0.20
    if config.optim.lr > 1.0:
        acc -= 0.10
    if "flip" not in config.data.augment:
        acc -= 0.03
    acc += 0.002 * (1 if config.run.seed % 2 else -1)
    return acc


def fake_train(config: Config, *, callbacks=(), quiet: bool = True, **_: Any) -> FakeResult:
    """Write a minimal run directory and report a plausible learning curve to the callbacks."""
    delay = float(os.environ.get("CNN_DOCTOR_FAKE_TRAIN_SECONDS", "0"))
    out = Path(config.run.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run_dir = out / f"{time.strftime('%Y%m%d-%H%M%S')}-{config.run.name}"
    run_dir.mkdir()  # trial numbers are unique, so a clash would mean a trial ran twice
    config.save(run_dir / "config.toml")
    final = fake_accuracy(config)
    # Sweeps over optim.lr get a smooth optimum at lr = 0.1 so TPE and the pruner have signal.
    final -= 0.05 * abs(math.log10(config.optim.lr / 0.1))
    history = []
    for epoch in range(config.optim.epochs):
        if delay:
            time.sleep(delay / config.optim.epochs)
        val = final * (epoch + 1) / config.optim.epochs
        record = {
            "epoch": epoch + 1,
            "lr": config.optim.lr,
            "loss": 2.0 - val,
            "accuracy": val,
            "val_loss": 2.1 - val,
            "val_accuracy": val,
            "seconds": 0.01,
        }
        history.append(record)
        with open(run_dir / "metrics.jsonl", "a") as handle:
            handle.write(json.dumps(record) + "\n")
        for callback in callbacks:
            callback.on_epoch_end(epoch, {"val_accuracy": val, "loss": 2.0 - val})
    summary = {
        "test_accuracy": final - 0.01,
        "best_val_accuracy": final,
        "final_val_accuracy": final,
        "epochs": config.optim.epochs,
        "wall_seconds": 0.1,
        "images_per_second": 1000.0,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return FakeResult(run_dir, summary, history)


INTERRUPT_MARKER = {"name": ""}  # set by a test: the run whose name contains it gets Ctrl-C


def interrupting_train(config: Config, **kwargs: Any) -> FakeResult:
    """Like ``fake_train``, but Ctrl-C hits the first run whose name contains the marker."""
    marker = INTERRUPT_MARKER["name"]
    if marker and marker in config.run.name:
        INTERRUPT_MARKER["name"] = ""  # only the first attempt is interrupted
        raise KeyboardInterrupt
    return fake_train(config, **kwargs)


def failing_train(config: Config, **_: Any) -> FakeResult:
    raise RuntimeError("simulated crash in training")
