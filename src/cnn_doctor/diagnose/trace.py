"""``Trace``: everything measured during one training run, as plain data saved to ``trace.json``.

The trace is the only thing detectors see, so ``cnn-doctor diagnose RUN_DIR`` and the HTML report
can re-diagnose a run after the fact, and tests can hand-build a trace that plants one fault.
Everything here is JSON-friendly (lists, floats, strings); non-finite floats are written as the
strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` so the file stays standard JSON (a NaN loss is
evidence, not something to lose).

No keras here: building and reading traces must work before a backend is chosen.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

TRACE_VERSION = 1
TRACE_FILE = "trace.json"

# Per-epoch keys a trace understands (Keras log names are normalised to these by the Doctor).
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr")

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _encode(value: Any) -> Any:
    """JSON-safe copy: numpy scalars/arrays to Python, non-finite floats to marker strings."""
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, np.ndarray):
        return _encode(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, str) and value in _NONFINITE:
        return _NONFINITE[value]
    return value


@dataclass
class WeightStat:
    """One trainable variable at one probe.

    ``step_ratio`` is ||update|| / ||weight|| of one optimizer step computed on the probe batch with
    the optimizer's real state (the quantity TheDeepChecker bounds to [1e-4, 1e-1]); ``moved`` is
    how far the variable actually travelled since the previous probe, relative to its norm then
    (exactly 0.0 means it never changed: frozen).
    """

    name: str
    layer: str
    shape: list[int]
    weight_norm: float
    grad_norm: float | None = None
    step_ratio: float | None = None
    moved: float | None = None

    @property
    def is_kernel(self) -> bool:
        """Kernels (ndim >= 2) carry a layer's computation; biases and BN scales do not."""
        return len(self.shape) >= 2

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1


@dataclass
class ActivationStat:
    """Statistics of one activation layer's output on the probe batch (inference mode).

    ``dead_fraction`` (ReLU-like only): share of units (channels for conv maps) that are <= 0 for
    every probe example and position -- such a unit passes no gradient. ``saturated_fraction``
    (sigmoid/tanh only): share of values whose pre-activation lies beyond the saturation bound.
    ``signal_std`` (all): how much the layer's response differs between probe images; when it
    shrinks by orders of magnitude with depth the input no longer reaches the output.
    """

    layer: str
    activation: str
    units: int
    mean: float
    std: float
    dead_fraction: float | None = None
    saturated_fraction: float | None = None
    # mean over units of the std *across probe images* of the unit's (spatially averaged)
    # response: how much the layer's output depends on the input at all
    signal_std: float | None = None
    dtype: str = "float32"  # what the layer computed in: 16-bit rounding floors signal_std


@dataclass
class OutputStat:
    """The model's outputs on the probe batch (inference mode), and what they say."""

    num_classes: int
    examples: int
    finite: bool
    min: float
    max: float
    row_sum_min: float
    row_sum_max: float
    is_probability: bool  # every row in [0, 1] summing to 1: the model ends in a softmax
    predicted_counts: list[int]  # argmax histogram
    label_counts: list[int] | None = None  # probe label histogram, when labels were given
    accuracy: float | None = None  # agreement of argmax with the probe labels
    mean_confidence: float | None = None  # mean max-probability (softmax applied if needed)
    label_issue_fraction: float | None = None  # confident-learning candidates among the probe
    dtype: str = "float32"  # what the output layer computed in (16-bit outputs round row sums)
    row_tolerance: float | None = None  # the row-sum tolerance ``is_probability`` was judged with
    # The model's own compiled loss (no regularisation) on these inference-mode outputs, and the
    # cross-entropy the same outputs give when read as probabilities (Keras's from_logits=False
    # reading: rows rescaled to sum 1, clipped) or as logits (softmax first). Which of the two the
    # compiled loss equals says what the loss does with the outputs, whatever its name.
    compiled_loss: float | None = None
    ce_as_probabilities: float | None = None
    ce_as_logits: float | None = None
    max_probability: float | None = None  # largest row maximum, when rows are probabilities


@dataclass
class InputStat:
    """Per-channel statistics of the probe images *as the first weight layer sees them*."""

    mean: list[float]
    std: list[float]
    min: list[float]
    max: list[float]
    finite: bool
    examples: int
    dtype: str = "float32"
    where: str = "model input"
    nonfinite_fraction: float = 0.0  # share of values that are NaN/inf


@dataclass
class Probe:
    """Everything measured at one probe point (``epoch`` = epochs completed, 0 = before training).

    ``loss`` is the data loss (no regularisation terms) on the probe batch in training mode, from
    the same pass as the gradients; at epoch 0 it is the initial loss.
    """

    epoch: int
    step: int
    loss: float | None = None
    total_loss: float | None = None  # loss + regularisation terms: what Keras logs as "loss"
    lr: float | None = None  # the optimizer's learning rate at this point
    finite: bool = True
    weights: list[WeightStat] = field(default_factory=list)
    activations: list[ActivationStat] = field(default_factory=list)
    output: OutputStat | None = None

    def kernels(self) -> list[WeightStat]:
        return [w for w in self.weights if w.is_kernel]


@dataclass
class Trace:
    """A run's measurements.

    ``context`` describes the run, not its dynamics; keys the detectors read (all optional):
    ``source`` ("pipeline" | "callback"), ``num_classes``, ``loss`` (name), ``from_logits``,
    ``label_smoothing``, ``optimizer``, ``lr`` (initial), ``batch_size``, ``num_train``,
    ``steps_per_epoch``, ``epochs``, ``augment`` (list of augmentations, [] = none, absent =
    unknown), ``has_batchnorm``, ``frozen_layers`` ([{"layer", "params"}]), ``trainable_params``,
    ``non_trainable_params``, ``config`` (``Config.to_dict()`` from our pipeline).
    ``notes`` say why a signal is missing (e.g. "no probe_data: gradient signals not measured").
    """

    context: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    inputs: InputStat | None = None
    batch_losses: list[float] = field(default_factory=list)
    # Per epoch, each batch's training accuracy (from the running means Keras logs at batch
    # end; the last, maybe partial, batch dropped). Read by the unshuffled-data check.
    batch_accuracy: list[list[float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    version: int = TRACE_VERSION

    # --- reading ---------------------------------------------------------------------------
    def series(self, key: str) -> np.ndarray:
        """Per-epoch values of ``key`` as float64, NaN where an epoch did not log it."""
        return np.array([as_float(row.get(key)) for row in self.history], dtype=np.float64)

    def has_series(self, key: str) -> bool:
        return any(row.get(key) is not None for row in self.history)

    @property
    def epochs(self) -> int:
        return len(self.history)

    @property
    def initial_probe(self) -> Probe | None:
        return self.probes[0] if self.probes and self.probes[0].epoch == 0 else None

    @property
    def initial_loss(self) -> float | None:
        probe = self.initial_probe
        return None if probe is None or probe.loss is None else float(probe.loss)

    @property
    def start_loss(self) -> float | None:
        """The untrained model's loss on the scale of the logged training loss (which includes
        regularisation terms), for comparing curves with where they started."""
        probe = self.initial_probe
        if probe is None:
            return None
        value = probe.total_loss if probe.total_loss is not None else probe.loss
        return None if value is None else float(value)

    def trained_probes(self) -> list[Probe]:
        """Probes taken after at least one epoch of training."""
        return [p for p in self.probes if p.epoch > 0]

    def num_classes(self) -> int | None:
        value = self.context.get("num_classes")
        if value:
            return int(value)
        for probe in self.probes:
            if probe.output is not None:
                return probe.output.num_classes
        return None

    def signals(self) -> set[str]:
        """Names of the signals this trace holds; detectors declare which they ``require``."""
        found = {key for key in HISTORY_KEYS if self.has_series(key)}
        if any(w.grad_norm is not None for p in self.probes for w in p.weights):
            found.add("gradients")
        if any(w.step_ratio is not None for p in self.probes for w in p.weights):
            found.add("update_ratios")
        if any(w.moved is not None for p in self.probes for w in p.weights):
            found.add("weight_updates")
        if any(p.activations for p in self.probes):
            found.add("activations")
        if any(p.output is not None for p in self.probes):
            found.add("outputs")
        if any(p.output is not None and p.output.label_counts is not None for p in self.probes):
            found.add("probe_labels")
        if self.initial_loss is not None:
            found.add("initial_loss")
        if self.inputs is not None:
            found.add("inputs")
        if any(self.batch_accuracy):
            found.add("batch_accuracy")
        if self.probes:
            found.add("probes")
        found.update(f"context.{k}" for k, v in self.context.items() if v is not None)
        return found

    # --- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return _encode(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trace:
        data = _decode(data)
        version = int(data.get("version", TRACE_VERSION))
        if version > TRACE_VERSION:
            raise ValueError(
                f"trace version {version} is newer than this cnn-doctor understands "
                f"({TRACE_VERSION}); upgrade cnn-doctor to read it"
            )
        probes = []
        for raw in data.get("probes", []):
            raw = dict(raw)
            raw["weights"] = [WeightStat(**w) for w in raw.get("weights", [])]
            raw["activations"] = [ActivationStat(**a) for a in raw.get("activations", [])]
            raw["output"] = OutputStat(**raw["output"]) if raw.get("output") else None
            probes.append(Probe(**raw))
        inputs = InputStat(**data["inputs"]) if data.get("inputs") else None
        return cls(
            context=dict(data.get("context", {})),
            history=[dict(row) for row in data.get("history", [])],
            probes=probes,
            inputs=inputs,
            batch_losses=list(data.get("batch_losses", [])),
            batch_accuracy=[list(e) for e in data.get("batch_accuracy", [])],
            notes=list(data.get("notes", [])),
            version=version,
        )

    def save(self, path: Path) -> Path:
        """Write JSON to ``path`` (a file, or a run directory to hold ``trace.json``)."""
        path = Path(path)
        if path.is_dir():
            path = path / TRACE_FILE
        from cnn_doctor.atomic import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=1, allow_nan=False))
        return path

    @classmethod
    def load(cls, path: Path) -> Trace:
        path = Path(path)
        if path.is_dir():
            path = path / TRACE_FILE
        return cls.from_dict(json.loads(path.read_text()))


def as_float(value: Any) -> float:
    """A logged value as float: None -> NaN, marker strings -> their non-finite value."""
    if value is None:
        return math.nan
    if isinstance(value, str):
        return _NONFINITE.get(value, math.nan)
    return float(value)
