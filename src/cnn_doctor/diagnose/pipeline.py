"""Glue between our own training pipeline (``cnn_doctor.train``) and the Doctor.

- ``pipeline_context``: what the config says about a run, in the trace's context vocabulary, so
  fixes can be config overrides (``optim.lr=0.02``) and detectors know the augmentation.
- ``instrumented_train``: ``train(config)`` with a Doctor attached, diagnosis saved in the run.
- ``trace_from_run_dir``: a trace for ``cnn-doctor diagnose RUN_DIR`` -- the saved one if the run
  was instrumented, else its curves plus one probe of the saved model.

Imports keras (through ``cnn_doctor.train``) only inside the functions that need it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cnn_doctor.config import Config
from cnn_doctor.diagnose.trace import TRACE_FILE, Trace

if TYPE_CHECKING:
    from cnn_doctor.data.prepare import PreparedData
    from cnn_doctor.diagnose.doctor import Doctor

PROBE_SIZE = 256
# What `cnn-doctor diagnose` trains by default: a few minutes on 2 CPU cores, yet enough epochs
# for every curve rule (they start at epoch 3 and look at up to 5 epochs; thresholds.py) and the
# same data scale as the fault suite that measures the detectors (benchmarks/faults/, 2000
# images there; more here, since a user's run is not a planted caricature). The network and the
# recipe are left alone: capacity and LR are what is being diagnosed.
SHORT_SUBSET = 5000
SHORT_VAL_SIZE = 1000
SHORT_EPOCHS = 6
# An instrumented run computes in float32 unless the user sets run.precision: the published
# thresholds were measured in float32, and bfloat16 keeps 8 significant bits, so a layer's
# response varying between images by less than ~0.4% rounds away (measured: the fault suite's deep
# sigmoid stack has a last/first signal ratio of ~1e-7 in float32 but ~2e-3 in bfloat16, where
# rounding noise sets the floor, above the 1e-3 rule). Costs ~1.5x per step on a bf16 CPU.
DIAGNOSIS_PRECISION = "float32"
_PROBE_STREAM = 11  # own random stream for choosing probe images (see data/prepare.py streams)


def pipeline_context(
    config: Config, *, num_train: int | None = None, num_val: int | None = None
) -> dict[str, Any]:
    """Facts the config states about a run (merged over what the Doctor infers from the model).

    The batch is the one fit() really uses: never more than the training images (a 512 batch
    on a 300-image subset is one 300-image step, not an "extreme" batch)."""
    batch = config.optim.batch_size
    if num_train:
        batch = min(batch, num_train)
    return {
        "source": "pipeline",
        "config": config.to_dict(),
        "augment": list(config.data.augment),
        "batch_size": batch,
        "num_train": num_train,
        "num_val": num_val,
        "label_smoothing": config.optim.label_smoothing,
        "lr": config.optim.lr,  # the configured (peak) rate, which is what a fix overrides
        "optimizer": config.optim.name,
        "epochs": config.optim.epochs,
    }


def probe_batch(
    data: PreparedData,
    pipeline: Callable[[np.ndarray], np.ndarray],
    *,
    size: int = PROBE_SIZE,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random sample of *training* images as the model sees them, one-hot labels (the
    pipeline's loss is categorical). Training images on purpose: the label-noise check compares
    the model's agreement with these labels against its validation accuracy."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, _PROBE_STREAM])
    rows = np.sort(rng.permutation(len(data.x_train))[: min(size, len(data.x_train))])
    num_classes = len(data.class_names)
    x = pipeline(data.x_train[rows])
    y = np.eye(num_classes, dtype="float32")[data.y_train[rows]]
    return x, y


def short_run_overrides(
    config: Config, *, subset: int = SHORT_SUBSET, epochs: int = SHORT_EPOCHS
) -> list[str]:
    """``--set`` overrides that shrink ``config`` to a short diagnostic run.

    ``subset``/``epochs`` of 0 keep the config's data/epochs; neither is ever raised above what
    the config asks. The test set and test-time augmentation are skipped: a diagnosis reads the
    training and validation curves. A ``run.time_budget`` is dropped: it would stretch the
    short run's epochs to fill the full run's wall time.
    """
    out: list[str] = []
    if subset:
        current = config.data.subset
        out.append(f"data.subset={min(current, subset) if current else subset}")
        out.append(f"data.val_size={min(config.data.val_size, SHORT_VAL_SIZE)}")
    if epochs:
        out.append(f"optim.epochs={min(config.optim.epochs, epochs)}")
    if config.run.time_budget:
        out.append("run.time_budget=0")
    return [*out, "run.tta=false", "run.evaluate_test=false"]


def instrumented_train(
    config: Config,
    *,
    model_builder: Callable[..., Any] | None = None,
    probe_size: int = PROBE_SIZE,
    console: Any = None,
    quiet: bool = False,
    json_path: Path | None = None,
) -> tuple[Any, Doctor]:
    """Train ``config`` (or the user's ``model_builder``) with a Doctor attached; the trace,
    diagnosis, plots and report section are saved in the run directory.

    Returns ``(RunResult, Doctor)``. ``run.precision="auto"`` becomes ``DIAGNOSIS_PRECISION``.
    """
    from dataclasses import replace

    import keras

    from cnn_doctor.data.prepare import prepare_data
    from cnn_doctor.diagnose.doctor import Doctor
    from cnn_doctor.diagnose.report import save_diagnosis
    from cnn_doctor.train import InputPipeline, channels_first_for, train

    if config.run.precision == "auto":
        config = replace(config, run=replace(config.run, precision=DIAGNOSIS_PRECISION))
    data = prepare_data(config.data, config.run.seed)
    pipeline = InputPipeline(data.normalizer, channels_first_for(keras.backend.backend()))
    doctor = Doctor(
        probe_data=probe_batch(data, pipeline, size=probe_size, seed=config.run.seed),
        context=pipeline_context(config, num_train=len(data.x_train), num_val=len(data.x_val)),
    )
    result = train(
        config,
        callbacks=[doctor],
        model_builder=model_builder,
        console=console,
        quiet=quiet,
        data=data,
    )
    save_diagnosis(doctor.trace, doctor.diagnose(), result.run_dir, json_path=json_path)
    return result, doctor


def trace_from_run_dir(run_dir: Path, *, probe: bool = True, probe_size: int = PROBE_SIZE) -> Trace:
    """The trace of a finished run: ``trace.json`` if it was instrumented; otherwise the curves
    from ``metrics.jsonl`` plus (``probe=True``) one probe of the saved model on the run's data."""
    run_dir = Path(run_dir)
    if (run_dir / TRACE_FILE).is_file():
        return Trace.load(run_dir)
    from cnn_doctor.train import load_run_config, read_metrics

    config = load_run_config(run_dir)
    history = read_metrics(run_dir)
    model_path = next(
        (
            run_dir / name
            for name in ("model.keras", "checkpoint.keras")
            if (run_dir / name).is_file()
        ),
        None,
    )
    notes = []
    if probe and model_path is not None:
        try:
            return _probe_saved_model(run_dir, model_path, config, history, probe_size)
        except Exception as error:  # noqa: BLE001 - fall back to the curves, and say why
            notes.append(f"could not probe the saved model ({type(error).__name__}: {error})")
    elif probe:
        notes.append("no saved model in the run directory: only the curves were diagnosed")
    from cnn_doctor.diagnose.doctor import _normalise_logs

    return Trace(
        context=pipeline_context(config),
        history=[_normalise_logs(row) for row in history],
        notes=notes,
    )


def _probe_saved_model(
    run_dir: Path,
    model_path: Path,
    config: Config,
    history: list[dict[str, Any]],
    probe_size: int,
) -> Trace:
    import json

    import keras

    import cnn_doctor.models  # noqa: F401  (registers custom layers for deserialisation)
    import cnn_doctor.optim  # noqa: F401  (registers the LR schedule)
    from cnn_doctor.data.prepare import prepare_data
    from cnn_doctor.diagnose.doctor import Doctor
    from cnn_doctor.train import NORMALIZER_FILE, InputPipeline, channels_first_for

    data = prepare_data(config.data, config.run.seed)
    normalizer_file = run_dir / NORMALIZER_FILE
    if normalizer_file.is_file():
        pipeline = InputPipeline.from_dict(json.loads(normalizer_file.read_text()))
    else:
        pipeline = InputPipeline(data.normalizer, channels_first_for(keras.backend.backend()))
    model = keras.models.load_model(model_path)
    doctor = Doctor(
        probe_data=probe_batch(data, pipeline, size=probe_size, seed=config.run.seed),
        context=pipeline_context(config, num_train=len(data.x_train), num_val=len(data.x_val)),
    )
    return doctor.measure(model, history=history)
