"""Train a CIFAR-10 classifier from a ``Config`` and write a complete, resumable run directory.

Two entry points share one fitting core:

- ``train(config)`` — the product's main job: data → model → fit → test figure, with every epoch
  recorded as it completes (``metrics.jsonl`` + an atomic checkpoint), so Ctrl-C or a kill loses
  at most the epoch in flight and ``train(resume=run_dir)`` continues where it stopped.
- ``fit_arrays(config, x, y)`` — the same recipe on arrays the caller already holds (k-fold
  label-issue search, sweeps), with no run directory.

Determinism: shuffling and augmentation draw from generators seeded by ``(run.seed, epoch)``, so
a resumed run sees exactly the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

# isort: off
import cnn_doctor.backend_default  # noqa: F401  (before keras: torch unless chosen)

# isort: on
import keras
import numpy as np

from cnn_doctor.config import Config, ConfigError, config_from_dict
from cnn_doctor.data.augment import Augmenter
from cnn_doctor.data.prepare import Normalizer, PreparedData, prepare_data
from cnn_doctor.models import build_model
from cnn_doctor.optim import build_loss, build_optimizer, uses_decoupled_decay
from cnn_doctor.precision import dtype_policy, resolve_precision
from cnn_doctor.schedules import lr_at_epoch

METRICS_FILE = "metrics.jsonl"
CHECKPOINT_FILE = "checkpoint.keras"
STATE_FILE = "state.json"
SUMMARY_FILE = "summary.json"
CONFIG_FILE = "config.toml"
MODEL_FILE = "model.keras"
NORMALIZER_FILE = "normalizer.json"


# --------------------------------------------------------------------------- input pipeline
@dataclass(frozen=True)
class InputPipeline:
    """Maps raw ``uint8`` NHWC images to what the model eats: normalized float32, in the
    model's data format. Saved with the run so ``diagnose RUN_DIR`` feeds the model correctly."""

    normalizer: Normalizer
    channels_first: bool = False

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = self.normalizer(x)
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2)) if self.channels_first else out

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (3, 32, 32) if self.channels_first else (32, 32, 3)

    def to_dict(self) -> dict[str, Any]:
        return {"normalizer": self.normalizer.to_dict(), "channels_first": self.channels_first}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputPipeline:
        return cls(Normalizer.from_dict(data["normalizer"]), bool(data["channels_first"]))


def _one_hot(y: np.ndarray, num_classes: int) -> np.ndarray:
    return np.eye(num_classes, dtype="float32")[y]


class TrainBatches(keras.utils.PyDataset):
    """Shuffled, augmented, normalized training batches, reproducible per ``(seed, epoch)``.

    The last partial batch is dropped (when there is more than one batch): a tiny final batch
    gives BatchNorm noisy statistics and a differently scaled gradient step.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        num_classes: int,
        config: Config,
        pipeline: InputPipeline,
    ):
        super().__init__()
        self.x, self.y = x, y
        self.num_classes = num_classes
        self.batch_size = min(config.optim.batch_size, len(x))
        self.data_cfg = config.data
        self.seed = config.run.seed
        self.pipeline = pipeline
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        rng = np.random.default_rng([self.seed, epoch, 0])
        self.order = rng.permutation(len(self.x))
        self.augmenter = Augmenter(self.data_cfg, seed=int(rng.integers(2**31)))

    def __len__(self) -> int:
        return max(1, len(self.x) // self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        images = self.x[rows].astype("float32")
        if self.data_cfg.augment:
            images = self.augmenter(images)
        return self.pipeline(images), _one_hot(self.y[rows], self.num_classes)


# --------------------------------------------------------------------------- model & compile
def channels_first_for(backend: str) -> bool:
    """Torch convolutions are NCHW-native; Keras's channels_last on torch transposes around
    every conv. Measured in ``benchmarks/model_speed.py``."""
    return backend == "torch" and os.environ.get("CNN_DOCTOR_CHANNELS_LAST", "") != "1"


@contextlib.contextmanager
def image_data_format(data_format: str) -> Iterator[None]:
    """Build layers in ``data_format`` without leaving Keras's global setting changed: layers
    record their format when constructed, so the caller's own models are unaffected."""
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format(data_format)
    try:
        yield
    finally:
        keras.config.set_image_data_format(previous)


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


def tta_views(x: np.ndarray) -> list[np.ndarray]:
    """The test-time views airbench uses: the image and its mirror, each also shifted one pixel
    up-left and down-right (reflect padding). Cheap (inference only) and worth ~1 point on CIFAR."""
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    shifted = [padded[:, :-2, :-2], padded[:, 2:, 2:]]
    views = [x, *shifted]
    return views + [v[:, :, ::-1, :] for v in views]


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


def predict_proba(
    model: keras.Model,
    pipeline: InputPipeline,
    x: np.ndarray,
    *,
    from_logits: bool = True,
    tta: bool = False,
    batch_size: int = 1000,
) -> np.ndarray:
    """Class probabilities for raw ``uint8`` images; ``tta`` averages over ``tta_views``."""

    def probs(images: np.ndarray) -> np.ndarray:
        out = model.predict(pipeline(images), batch_size=batch_size, verbose=0)
        out = np.asarray(out, dtype="float64")
        if from_logits:
            out = np.exp(out - out.max(axis=1, keepdims=True))
            out /= out.sum(axis=1, keepdims=True)
        return out

    if not tta:
        return probs(x)
    views = tta_views(x)
    return sum(probs(v) for v in views) / len(views)


# --------------------------------------------------------------------------- callbacks
class _EpochClock(keras.callbacks.Callback):
    """Seeds the batch stream for each epoch and times it."""

    def __init__(self, batches: TrainBatches):
        super().__init__()
        self.batches = batches
        self.started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.set_epoch(epoch)
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


class _RunRecorder(keras.callbacks.Callback):
    """Writes each finished epoch to ``metrics.jsonl`` (fsynced), then an atomic checkpoint,
    then ``state.json`` — in that order, so the state never claims an epoch that is not saved."""

    def __init__(self, run_dir: Path, config: Config, clock: _EpochClock):
        super().__init__()
        self.run_dir = run_dir
        self.config = config
        self.clock = clock
        self.history: list[dict[str, float]] = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        record = {
            "epoch": epoch + 1,
            "lr": lr_at_epoch(self.config.optim, epoch + 0.5),
            "loss": _as_float(logs.get("loss")),
            "accuracy": _as_float(logs.get("accuracy")),
            "val_loss": _as_float(logs.get("val_loss")),
            "val_accuracy": _as_float(logs.get("val_accuracy")),
            "seconds": round(self.clock.elapsed(), 3),
        }
        self.history.append(record)
        with open(self.run_dir / METRICS_FILE, "a") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        tmp = self.run_dir / f".{CHECKPOINT_FILE}.tmp.keras"
        self.model.save(tmp)
        os.replace(tmp, self.run_dir / CHECKPOINT_FILE)
        _write_json_atomic(self.run_dir / STATE_FILE, {"epochs_done": epoch + 1})


class _ProgressBar(keras.callbacks.Callback):
    """A rich progress bar over all training steps, with the last epoch's metrics."""

    def __init__(self, progress, total_epochs: int, steps_per_epoch: int, start_epoch: int):
        super().__init__()
        self.progress = progress
        self.steps_per_epoch = steps_per_epoch
        self.task = progress.add_task(
            "training",
            total=total_epochs * steps_per_epoch,
            completed=start_epoch * steps_per_epoch,
            status="",
        )

    def on_train_batch_end(self, batch, logs=None):
        self.progress.advance(self.task)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        status = f"epoch {epoch + 1}: loss {_as_float(logs.get('loss')):.3f}"
        if logs.get("val_accuracy") is not None:
            status += f" val_acc {_as_float(logs.get('val_accuracy')):.3f}"
        self.progress.update(self.task, status=status)


def _as_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _write_json_atomic(path: Path, payload: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    os.replace(tmp, path)


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
    clock = _EpochClock(batches)
    validation = None
    if x_val is not None and y_val is not None and len(x_val):
        validation = (pipeline(x_val), _one_hot(y_val, num_classes))
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


def new_run_dir(config: Config) -> Path:
    """``<out_dir>/<YYYYmmdd-HHMMSS>-<name>``; a numeric suffix avoids collisions."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = config.run.name or config.model.arch
    base = Path(config.run.out_dir) / f"{stamp}-{name}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    candidate.mkdir(parents=True)
    return candidate


def load_run_config(run_dir: Path) -> Config:
    from cnn_doctor.config import tomllib

    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a run directory (no {CONFIG_FILE})")
    return config_from_dict(tomllib.loads(path.read_text()))


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def train(
    config: Config | None = None,
    *,
    resume: Path | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    model_builder: Callable[..., keras.Model] | None = None,
    console=None,
    quiet: bool = False,
) -> RunResult:
    """Run ``config`` end to end (or continue the run in ``resume``) and return its results.

    ``model_builder(input_shape=..., num_classes=...)`` replaces the registry model (a user's own
    network, trained with our data and optimizer). Exceptions from callbacks (e.g. a sweep's
    pruning signal) propagate after the completed epochs are saved.
    """
    if resume is not None:
        run_dir = Path(resume)
        config = load_run_config(run_dir)
        state = (
            json.loads((run_dir / STATE_FILE).read_text())
            if (run_dir / STATE_FILE).is_file()
            else {"epochs_done": 0}
        )
        start_epoch = int(state["epochs_done"])
        kept = read_metrics(run_dir)[:start_epoch]  # drop an epoch recorded but not checkpointed
        (run_dir / METRICS_FILE).write_text("".join(json.dumps(r) + "\n" for r in kept))
    else:
        if config is None:
            raise ValueError("train() needs a config or a run directory to resume")
        config = with_resolved_precision(config, user_model=model_builder is not None)
        run_dir = new_run_dir(config)
        config.save(run_dir / CONFIG_FILE)
        start_epoch, kept = 0, []

    session_started = time.perf_counter()
    seed_everything(config.run.seed)
    data = prepare_data(config.data, config.run.seed)
    num_classes = len(data.class_names)
    pipeline = InputPipeline(data.normalizer, channels_first_for(keras.backend.backend()))
    _write_json_atomic(run_dir / NORMALIZER_FILE, pipeline.to_dict())
    batches = TrainBatches(data.x_train, data.y_train, num_classes, config, pipeline)

    if start_epoch > 0 and (run_dir / CHECKPOINT_FILE).is_file():
        import cnn_doctor.optim  # noqa: F401  (registers the schedule for deserialization)

        model = keras.models.load_model(run_dir / CHECKPOINT_FILE)
    else:
        start_epoch = 0
        model = build_compiled_model(
            config, num_classes, len(batches), model_builder, pipeline.input_shape
        )
        adapt_data_dependent_layers(model, pipeline, data.x_train)

    clock = _EpochClock(batches)
    recorder = _RunRecorder(run_dir, config, clock)
    recorder.history = list(kept)
    validation = None
    if len(data.x_val):
        validation = (pipeline(data.x_val), _one_hot(data.y_val, num_classes))

    all_callbacks: list[keras.callbacks.Callback] = [clock, recorder, *callbacks]
    started = time.perf_counter()
    if start_epoch < config.optim.epochs:
        _fit_with_progress(
            model, batches, config, validation, all_callbacks, start_epoch, console, quiet
        )
    fit_seconds = time.perf_counter() - started

    test_accuracy = None
    if config.run.evaluate_test and len(data.y_test):
        probs = predict_proba(
            model, pipeline, data.x_test, from_logits=_outputs_logits(config), tta=config.run.tta
        )
        test_accuracy = float((probs.argmax(axis=1) == data.y_test).mean())
    model.save(run_dir / MODEL_FILE)
    history = recorder.history
    prior_seconds = sum(h["seconds"] for h in kept)
    wall_seconds = prior_seconds + time.perf_counter() - session_started
    summary = _summary(
        config, history, test_accuracy, fit_seconds, wall_seconds, len(data.x_train), start_epoch
    )
    _write_json_atomic(run_dir / SUMMARY_FILE, summary)
    from cnn_doctor.report.curves import plot_curves

    plot_curves(history, run_dir / "curves.png")
    return RunResult(run_dir, summary, history, model, pipeline, data)


def _outputs_logits(config: Config) -> bool:
    """Whether the model's raw output needs a softmax to become probabilities."""
    return config.model.final_activation == "none"


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
        fit([_ProgressBar(progress, config.optim.epochs, len(batches), start_epoch)])


def _summary(
    config, history, test_accuracy, fit_seconds, wall_seconds, n_train, start_epoch
) -> dict[str, Any]:
    val = [h["val_accuracy"] for h in history if h.get("val_accuracy") is not None]
    trained_epochs = max(len(history) - start_epoch, 0)
    train_seconds = sum(h["seconds"] for h in history[start_epoch:]) or fit_seconds
    return {
        "test_accuracy": test_accuracy,
        "best_val_accuracy": max(val) if val else None,
        "final_val_accuracy": val[-1] if val else None,
        "epochs": len(history),
        "wall_seconds": round(wall_seconds, 2),
        "images_per_second": round(n_train * trained_epochs / train_seconds, 1)
        if trained_epochs
        else None,
        "tta": config.run.tta,
        "precision": config.run.precision,
        "backend": keras.backend.backend(),
        "versions": _versions(),
    }


def _versions() -> dict[str, str]:
    from importlib import metadata

    versions = {"python": platform.python_version(), "keras": keras.__version__}
    for package in ("numpy", "torch", "tensorflow", "jax", "cnn-doctor"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return versions
