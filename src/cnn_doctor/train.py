"""Train a CIFAR-10 classifier from a ``Config`` and write a complete, resumable run directory.

Two entry points share one fitting core:

- ``train(config)`` — the product's main job: data → model → fit → test figure, with every epoch
  recorded as it completes (``metrics.jsonl`` + an atomic checkpoint), so Ctrl-C or a kill loses
  at most the epoch in flight and ``train(resume=run_dir)`` continues where it stopped.
- ``fit_arrays(config, x, y)`` — the same recipe on arrays the caller already holds (k-fold
  label-issue search, sweeps), with no run directory.

Determinism: shuffling and augmentation draw from generators seeded by ``(run.seed, epoch)``, so
a resumed run sees exactly the batches the uninterrupted run would have seen; the model's own
random streams (dropout) are saved with each checkpoint and restored on resume (``runs.py``).

The run directory's life (create, lock, atomic writes, state, resume) lives in ``runs.py``;
predictions, the test figure and the summary in ``evaluate.py``; the input pipeline and the
training batches in ``batches.py``. Their public names are re-exported here because callers have
always imported them from ``cnn_doctor.train``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# isort: off
import cnn_doctor.backend_default  # noqa: F401  (before keras: torch unless chosen)

# isort: on
import keras
import numpy as np

from cnn_doctor.batches import (
    InputPipeline,
    TrainBatches,
    channels_first_for,
    image_data_format,
    one_hot,
)
from cnn_doctor.config import Config
from cnn_doctor.data.prepare import Normalizer, PreparedData, prepare_data
from cnn_doctor.evaluate import predict_proba, run_summary, test_accuracy, tta_views
from cnn_doctor.fit_callbacks import (
    EpochClock,
    ProgressBar,
    RestoreRandomState,
    RunRecorder,
)
from cnn_doctor.models import build_model
from cnn_doctor.optim import build_loss, build_optimizer, uses_decoupled_decay
from cnn_doctor.precision import dtype_policy, resolve_precision
from cnn_doctor.runs import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    METRICS_FILE,
    MODEL_FILE,
    NORMALIZER_FILE,
    STATE_FILE,
    SUMMARY_FILE,
    RunDir,
    RunError,
    load_run_config,
    read_metrics,
)

__all__ = [  # the names other modules import from here (some re-exported from runs/evaluate)
    "CHECKPOINT_FILE",
    "CONFIG_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "NORMALIZER_FILE",
    "STATE_FILE",
    "SUMMARY_FILE",
    "FitOutcome",
    "InputPipeline",
    "RunResult",
    "build_compiled_model",
    "channels_first_for",
    "fit_arrays",
    "load_run_config",
    "predict_proba",
    "read_metrics",
    "seed_everything",
    "train",
    "tta_views",
    "with_resolved_precision",
]


# --------------------------------------------------------------------------- model & compile
def build_compiled_model(
    config: Config,
    num_classes: int,
    steps_per_epoch: int,
    model_builder: Callable[..., keras.Model] | None = None,
    input_shape: tuple[int, int, int] = (32, 32, 3),
) -> keras.Model:
    """Model from the registry (or the user's builder), compiled with our optimizer and loss."""
    model_cfg = config.model
    if uses_decoupled_decay(config) and model_cfg.weight_decay:
        model_cfg = replace(model_cfg, weight_decay=0.0)  # AdamW applies it, decoupled
    data_format = "channels_first" if input_shape[0] == 3 else "channels_last"
    precision = resolve_precision(
        config.run.precision, keras.backend.backend(), user_model=model_builder is not None
    )
    with image_data_format(data_format), dtype_policy(precision):
        if model_builder is None:
            model = build_model(model_cfg, input_shape=input_shape, num_classes=num_classes)
        else:
            model = model_builder(input_shape=input_shape, num_classes=num_classes)
    model.compile(
        optimizer=build_optimizer(config, steps_per_epoch),
        loss=build_loss(config),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    return model


ADAPT_SAMPLE = 5000  # images used to fit data-dependent layers (patch covariance converges fast)


def adapt_data_dependent_layers(model: keras.Model, pipeline: InputPipeline, x: np.ndarray) -> None:
    """Fit layers that are initialized from the data (``PatchWhitening``) on un-augmented
    training images, as the model will see them."""
    from cnn_doctor.models.whitening import PatchWhitening

    layers = [layer for layer in model.layers if isinstance(layer, PatchWhitening)]
    if layers:
        rows = np.random.default_rng(0).permutation(len(x))[:ADAPT_SAMPLE]
        sample = pipeline(x[np.sort(rows)])
        for layer in layers:
            layer.adapt(sample)


# --------------------------------------------------------------------------- public API
@dataclass
class FitOutcome:
    model: keras.Model
    pipeline: InputPipeline
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass
class RunResult:
    run_dir: Path
    summary: dict[str, Any]
    history: list[dict[str, Any]]
    model: keras.Model | None = None
    pipeline: InputPipeline | None = None
    data: PreparedData | None = None


def seed_everything(seed: int) -> None:
    keras.utils.set_random_seed(seed)


def with_resolved_precision(config: Config, *, user_model: bool = False) -> Config:
    """``config`` with ``run.precision="auto"`` replaced by what this machine will use, so the
    saved config says how the run was computed (and a resume on other hardware repeats it)."""
    precision = resolve_precision(
        config.run.precision, keras.backend.backend(), user_model=user_model
    )
    return replace(config, run=replace(config.run, precision=precision))


def fit_arrays(
    config: Config,
    x: np.ndarray,
    y: np.ndarray,
    *,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    num_classes: int | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> FitOutcome:
    """Train ``config``'s recipe on raw ``uint8`` NHWC arrays held by the caller (no run dir).

    Normalization statistics come from ``x``, as they would in ``train``.
    """
    config = with_resolved_precision(config)
    seed_everything(config.run.seed)
    num_classes = num_classes or int(max(y.max(), -1 if y_val is None else y_val.max())) + 1
    pipeline = InputPipeline(
        Normalizer.fit(config.data.normalize, x), channels_first_for(keras.backend.backend())
    )
    batches = TrainBatches(x, y, num_classes, config, pipeline)
    model = build_compiled_model(
        config, num_classes, len(batches), input_shape=pipeline.input_shape
    )
    adapt_data_dependent_layers(model, pipeline, x)
    clock = EpochClock(batches)
    validation = None
    if x_val is not None and y_val is not None and len(x_val):
        validation = (pipeline(x_val), one_hot(y_val, num_classes))
    history = model.fit(
        batches,
        epochs=config.optim.epochs,
        validation_data=validation,
        shuffle=False,
        callbacks=[clock, *callbacks],
        verbose=0,
    )
    per_epoch = [
        {key: float(values[i]) for key, values in history.history.items()}
        for i in range(len(history.epoch))
    ]
    return FitOutcome(model, pipeline, per_epoch)


def train(
    config: Config | None = None,
    *,
    resume: Path | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    model_builder: Callable[..., keras.Model] | None = None,
    console=None,
    quiet: bool = False,
    data: PreparedData | None = None,
) -> RunResult:
    """Run ``config`` end to end (or continue the run in ``resume``) and return its results.

    ``model_builder(input_shape=..., num_classes=...)`` replaces the registry model (a user's own
    network, trained with our data and optimizer). ``data`` is ``prepare_data(config.data,
    config.run.seed)`` when the caller already holds it (the diagnosis does, for its probe batch),
    so it is not prepared twice. Exceptions from callbacks (e.g. a sweep's pruning signal)
    propagate after the completed epochs are saved.

    Everything that can fail on the user's input (config, data, model builder) runs *before* the
    run directory is created, so a failed start leaves no folder behind. The directory is locked
    while training; ``RunError`` says why a directory cannot be created, written or resumed.
    """
    session_started = time.perf_counter()
    if resume is not None:
        run = RunDir.open(resume)
        with run.lock():
            config = run.config()
            state = run.read_state()
            kept = read_metrics(run.path)[: state.epochs_done]
            if len(kept) < state.epochs_done:
                raise RunError(
                    f"{run.path / METRICS_FILE} holds {len(kept)} of the {state.epochs_done} "
                    f"epochs {STATE_FILE} records; the run's history is damaged. Start a new run"
                )
            data, pipeline, batches = _prepare(config, data)
            if state.epochs_done:
                model = run.load_checkpoint(state)
                if state.rng is not None:
                    callbacks = [RestoreRandomState(state.rng), *callbacks]
            else:  # killed during the first epoch: nothing to continue from
                model = _new_model(config, data, pipeline, batches, model_builder)
            run.rewrite_metrics(kept)  # drop an epoch recorded but not checkpointed
            job = _Job(config, model, data, pipeline, batches, callbacks, kept)
            return _fit_and_finish(run, job, console, quiet, session_started)

    if config is None:
        raise ValueError("train() needs a config or a run directory to resume")
    config = with_resolved_precision(config, user_model=model_builder is not None)
    data, pipeline, batches = _prepare(config, data)
    # --- time budget (calibrate.py measures, budget.py plans): with run.time_budget, fix
    # optim.epochs (and so the LR schedule's length) before the real model is built; without,
    # add a callback that prints the projected wall time after the first steps.
    from cnn_doctor.calibrate import budget_hook

    budget = budget_hook(
        config,
        build=lambda cfg: _new_model(cfg, data, pipeline, batches, model_builder),
        data=data,
        pipeline=pipeline,
        batches=batches,
        started=session_started,
        console=console,
        quiet=quiet,
    )
    config, callbacks = budget.config, [*callbacks, *budget.callbacks]
    # --- end of the time-budget hook
    model = _new_model(config, data, pipeline, batches, model_builder)
    job = _Job(config, model, data, pipeline, batches, callbacks)
    run = RunDir.create(config)
    with run.lock():
        result = _fit_and_finish(run, job, console, quiet, session_started)
        if budget.record(result.summary, result.history):  # planned vs actual time
            run.write_json(SUMMARY_FILE, result.summary)
        return result


def _prepare(
    config: Config, data: PreparedData | None
) -> tuple[PreparedData, InputPipeline, TrainBatches]:
    """Seed, then the data as the model will see it (validates the data files)."""
    seed_everything(config.run.seed)
    if data is None:
        data = prepare_data(config.data, config.run.seed)
    pipeline = InputPipeline(data.normalizer, channels_first_for(keras.backend.backend()))
    batches = TrainBatches(data.x_train, data.y_train, len(data.class_names), config, pipeline)
    return data, pipeline, batches


def _new_model(
    config: Config,
    data: PreparedData,
    pipeline: InputPipeline,
    batches: TrainBatches,
    model_builder: Callable[..., keras.Model] | None,
) -> keras.Model:
    """A fresh compiled model, its data-dependent layers fitted (validates the model config)."""
    model = build_compiled_model(
        config, len(data.class_names), len(batches), model_builder, pipeline.input_shape
    )
    adapt_data_dependent_layers(model, pipeline, data.x_train)
    return model


@dataclass
class _Job:
    """One fitting session, fully prepared (and so validated) before its run folder is used."""

    config: Config
    model: keras.Model
    data: PreparedData
    pipeline: InputPipeline
    batches: TrainBatches
    callbacks: Sequence[keras.callbacks.Callback]
    kept: list[dict[str, Any]] = field(default_factory=list)  # epochs done before this session


def _fit_and_finish(
    run: RunDir, job: _Job, console, quiet: bool, session_started: float
) -> RunResult:
    """Fit from ``len(job.kept)`` epochs on, then the test figure, final model, summary and
    curves."""
    from cnn_doctor.report.curves import plot_curves

    config, model, data, pipeline, batches = (
        job.config,
        job.model,
        job.data,
        job.pipeline,
        job.batches,
    )
    kept, callbacks = job.kept, job.callbacks
    run.write_json(NORMALIZER_FILE, pipeline.to_dict())
    clock = EpochClock(batches)
    recorder = RunRecorder(run, config, clock)
    recorder.history = list(kept)
    validation = None
    if len(data.x_val):
        validation = (pipeline(data.x_val), one_hot(data.y_val, len(data.class_names)))

    start_epoch = len(kept)
    if start_epoch < config.optim.epochs:
        all_callbacks: list[keras.callbacks.Callback] = [clock, recorder, *callbacks]
        _fit_with_progress(
            model, batches, config, validation, all_callbacks, start_epoch, console, quiet
        )

    test_acc = test_accuracy(model, pipeline, config, data.x_test, data.y_test)
    run.save_model(model, MODEL_FILE)
    history = recorder.history
    wall_seconds = sum(h["seconds"] for h in kept) + time.perf_counter() - session_started
    summary = run_summary(config, history, test_acc, wall_seconds, len(data.x_train))
    run.write_json(SUMMARY_FILE, summary)
    plot_curves(history, run.path / "curves.png")
    return RunResult(run.path, summary, history, model, pipeline, data)


def _fit_with_progress(model, batches, config, validation, callbacks, start_epoch, console, quiet):
    def fit(extra):
        model.fit(
            batches,
            epochs=config.optim.epochs,
            initial_epoch=start_epoch,
            validation_data=validation,
            validation_batch_size=1000,
            shuffle=False,  # TrainBatches shuffles, seeded per epoch; Keras's would not resume
            callbacks=[*callbacks, *extra],
            verbose=0,
        )

    if quiet:
        fit([])
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=False,
    ) as progress:
        fit([ProgressBar(progress, config.optim.epochs, len(batches), start_epoch)])
