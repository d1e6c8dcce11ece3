"""``Doctor``: a Keras callback that measures a run and says why it is not improving.

It works inside anyone's ``model.fit`` on any Keras backend. Probing is epoch-level by default:
a fixed probe batch is pushed through the model at train begin and every ``probe_every`` epochs.
At each batch end only the logged running accuracy is read (one float: it tells random batches
from batches served in a fixed order, even without ``probe_data``); per-batch loss logging and
step-level probes are opt-in. Probing never changes training: every variable a probe
touches (weights, BatchNorm statistics, dropout seeds, optimizer slots, the step counter) is
restored afterwards.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np

from cnn_doctor.diagnose import signals as S
from cnn_doctor.diagnose.detectors import Detector, Diagnosis, diagnose_trace
from cnn_doctor.diagnose.findings import Finding
from cnn_doctor.diagnose.grads import (
    apply_update,
    compiled_data_loss,
    preserved_global_rng,
    probe_gradients,
)
from cnn_doctor.diagnose.model_facts import (
    activation_name,
    has_kernel,
    label_facts,
    layer_summary,
    leaf_layers,
    output_chain,
    resolved_metrics,
)
from cnn_doctor.diagnose.trace import Probe, Trace, WeightStat

_ACCURACY_KEYS = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy")
_AUGMENTATION_PREFIXES = ("Random", "AugMix", "RandAugment", "CutMix", "MixUp")


class Doctor(keras.callbacks.Callback):
    """Diagnose why a CNN's accuracy stalls, from inside ``model.fit``.

    Args:
        probe_data: ``(x, y)`` (or just ``x``) in the same form as passed to ``fit``. Gradient,
            update-ratio, activation, input, output and initial-loss signals need it; without it
            only curves and weight movement are measured.
        probe_every: probe after every this many epochs (and always at train begin and end).
        probe_size: at most this many probe examples are used (the first ones) for activation,
            input and output statistics.
        grad_size: gradients and the one-step update ratio use the first this-many probe
            examples: about one training batch, so the probed step resembles a real one (and a
            probe costs about two training steps).
        probe_every_steps: also probe every this many optimizer steps (opt-in; adds a per-batch
            hook, which disables Keras's asynchronous dispatch).
        per_batch: record the running loss after every batch (opt-in, same cost as above).
        batch_accuracy: read the logged running accuracy at each batch end (one float) -- how
            ``unshuffled_data`` sees batches served in a fixed order, and how the batch size is
            inferred, even without ``probe_data``. Any batch hook makes Keras give up its
            asynchronous dispatch on tensorflow/jax accelerators: set False where that matters.
        context: facts the model cannot reveal, merged over what is inferred, e.g.
            ``{"augment": [], "batch_size": 64, "num_train": 45000}``.
        detectors: detector instances to run (default: every registered one).

    Example:
        ```python
        doctor = Doctor(probe_data=(x_train[:256], y_train[:256]))
        model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=20,
                  callbacks=[doctor])
        for f in doctor.findings:
            print(f.id, f.severity, f.summary)
        doctor.report()
        ```
    """

    def __init__(
        self,
        probe_data: Any = None,
        *,
        probe_every: int = 1,
        probe_size: int = 256,
        grad_size: int = 128,
        probe_every_steps: int | None = None,
        per_batch: bool = False,
        batch_accuracy: bool = True,
        context: dict[str, Any] | None = None,
        detectors: list[Detector] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(probe_every, int) or probe_every < 1:
            raise ValueError(f"probe_every must be an integer >= 1 (epochs), got {probe_every!r}")
        if not isinstance(probe_size, int) or probe_size < 1:
            raise ValueError(f"probe_size must be an integer >= 1, got {probe_size!r}")
        if not isinstance(grad_size, int) or grad_size < 1:
            raise ValueError(f"grad_size must be an integer >= 1, got {grad_size!r}")
        if probe_every_steps is not None and (
            not isinstance(probe_every_steps, int) or probe_every_steps < 1
        ):
            raise ValueError(
                f"probe_every_steps must be None or an integer >= 1, got {probe_every_steps!r}"
            )
        self.probe_every = probe_every
        self.probe_size = probe_size
        self.grad_size = grad_size
        self.probe_every_steps = probe_every_steps
        self.per_batch = bool(per_batch)
        self.batch_accuracy = bool(batch_accuracy)
        self.user_context = dict(context or {})
        self.detectors = detectors
        self.probe_x, self.probe_y = self._split_probe(probe_data, probe_size)
        if self.batch_accuracy or self.per_batch or probe_every_steps:
            # An instance attribute, so Keras sees a batch hook only when one is wanted.
            self.on_train_batch_end = self._on_train_batch_end
        self.trace = Trace()
        self.diagnosis: Diagnosis | None = None
        self.probe_seconds = 0.0
        self._reset_state()

    # --- public API ------------------------------------------------------------------------
    @property
    def findings(self) -> list[Finding]:
        """Ranked findings of the run so far (most likely root cause first)."""
        if self.diagnosis is None:
            self.diagnosis = diagnose_trace(self.trace, self.detectors)
        return self.diagnosis.findings

    def diagnose(self) -> Diagnosis:
        """Re-run the detectors on the current trace."""
        self.diagnosis = diagnose_trace(self.trace, self.detectors)
        return self.diagnosis

    def report(self, console: Any = None) -> None:
        """Print the ranked findings table (the same one ``cnn-doctor diagnose`` prints)."""
        from cnn_doctor.diagnose.render import print_diagnosis

        if self.diagnosis is None:
            self.diagnose()
        assert self.diagnosis is not None
        print_diagnosis(self.diagnosis, console=console)

    def save(self, run_dir: str | Path) -> Path:
        """Write trace.json, diagnosis.json, evidence plots and the report section to
        ``run_dir``; returns the path of diagnosis.json."""
        from cnn_doctor.diagnose.report import save_diagnosis

        if self.diagnosis is None:
            self.diagnose()
        assert self.diagnosis is not None
        return save_diagnosis(self.trace, self.diagnosis, Path(run_dir))

    def measure(self, model: keras.Model, *, history: list[dict[str, Any]] | None = None) -> Trace:
        """Probe an already trained ``model`` once, outside ``fit`` (``cnn-doctor diagnose
        RUN_DIR`` on a run trained without the Doctor). ``history`` (per-epoch logs) is kept as
        the trace's curves; the probe is labelled with the last epoch. Signals only a run can
        give (initial loss, weight movement) stay missing."""
        self.set_model(model)
        self._reset_state()
        self.trace = Trace(context=self._infer_context())
        self.trace.history = [_normalise_logs(row) for row in history or []]
        self.trace.notes.append("measured after training: no initial loss or weight movement")
        self.diagnosis = None
        self._probe_model = self._build_probe_model()
        try:
            self._probe()
        finally:
            self._probe_model, self._act_specs, self._has_input_tap = None, [], False
        return self.trace

    # --- keras hooks -----------------------------------------------------------------------
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._reset_state()
        self.trace = Trace(context=self._infer_context())
        self.diagnosis = None
        self.probe_seconds = 0.0
        if self.probe_x is None:
            self.trace.notes.append(
                "no probe_data: gradient, update-ratio, activation, input and output signals "
                "not measured"
            )
        self._probe_model = self._build_probe_model()
        self._probe()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if "metrics" not in self.trace.context:
            self._read_metrics()
        row = _normalise_logs(logs or {}, not_accuracy=self._not_accuracy)
        row["epoch"] = len(self.trace.history) + 1
        lr = self._learning_rate()
        if lr is not None and "lr" not in row:
            row["lr"] = lr
        self.trace.history.append(row)
        if self.batch_accuracy and self._batch_accuracy_key not in self._not_accuracy:
            values = S.batch_values(self._running_accuracy)
            self.trace.batch_accuracy.append([round(float(v), 6) for v in values])
            if not self.trace.context.get("batch_size"):
                size = S.batch_size_from_accuracies(values)
                if size is not None:
                    # fit() never tells a callback its batch size; the logged accuracies do
                    self.trace.context["batch_size"] = size
                    self.trace.context["batch_size_inferred"] = True
        self._running_accuracy = []
        self.diagnosis = None
        if len(self.trace.history) % self.probe_every == 0:
            self._probe_unless_done()

    def _read_metrics(self) -> None:
        """Record the metric classes Keras resolved (built by now) and note which logged
        "accuracy" is not multi-class accuracy, so the trace's accuracy curve never holds it."""
        metrics = resolved_metrics(self.model)
        if metrics is None:
            return
        self.trace.context["metrics"] = metrics
        classes = self.trace.context.get("num_classes") or 0
        self._not_accuracy = {
            m["name"]
            for m in metrics
            if m["name"] in _ACCURACY_KEYS and m["class"] == "BinaryAccuracy" and classes > 1
        }

    def _probe_unless_done(self) -> None:
        """Probe now, unless a step-level probe already measured these very weights."""
        last = self.trace.probes[-1] if self.trace.probes else None
        if last is not None and last.step == self._iterations() and last.step > 0:
            last.epoch = len(self.trace.history)
            return
        self._probe()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        last = self.trace.probes[-1] if self.trace.probes else None
        if self.trace.history and (last is None or last.epoch != len(self.trace.history)):
            self._probe_unless_done()
        self._probe_model, self._act_specs, self._has_input_tap = None, [], False
        self.diagnose()

    def _on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batches_seen += 1
        if logs and self.batch_accuracy:
            key = self._batch_accuracy_key
            if key is None:
                key = self._batch_accuracy_key = next((k for k in _ACCURACY_KEYS if k in logs), "")
            if key:
                self._running_accuracy.append(float(np.asarray(logs[key])))
        if self.per_batch and logs and "loss" in logs:
            self.trace.batch_losses.append(float(np.asarray(logs["loss"])))
        if self.probe_every_steps and self._batches_seen % self.probe_every_steps == 0:
            if keras.backend.backend() == "jax":
                # mid-epoch, jax keeps the state outside the variables; write it back first
                # (the trainer re-reads the variables after a callback synced them)
                self.model.jax_state_sync()
            self._probe()

    # --- probing ---------------------------------------------------------------------------
    def _reset_state(self) -> None:
        self._previous: list[np.ndarray] | None = None
        self._previous_norms: list[float] = []
        self._probe_model: keras.Model | None = None
        self._act_specs: list[tuple[str, str]] = []
        self._has_input_tap = False
        self._warned: set[str] = set()
        self._batches_seen = 0
        self._batch_accuracy_key: str | None = None
        self._running_accuracy: list[float] = []
        self._not_accuracy: set[str] = set()

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.trace.notes.append(message)
            warnings.warn(message, stacklevel=2)

    @staticmethod
    def _split_probe(probe_data: Any, size: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        if probe_data is None:
            return None, None
        if isinstance(probe_data, (tuple, list)):
            if len(probe_data) not in (1, 2):
                raise ValueError("probe_data must be x or (x, y)")
            x = probe_data[0]
            y = probe_data[1] if len(probe_data) == 2 else None
        else:
            x, y = probe_data, None
        x = np.asarray(x)[:size]
        if y is not None:
            y = np.asarray(y)[:size]
            if len(y) != len(x):
                raise ValueError(f"probe_data: {len(x)} inputs but {len(y)} labels")
        if len(x) == 0:
            raise ValueError("probe_data is empty")
        return x, y

    def _iterations(self) -> int:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            return 0
        return int(keras.ops.convert_to_numpy(optimizer.iterations))

    def _learning_rate(self) -> float | None:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            return None
        try:
            return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        except Exception:  # noqa: BLE001 - exotic optimizer without a readable LR
            return None

    def _probe(self) -> None:
        start = time.perf_counter()
        model = self.model
        variables = list(model.trainable_variables)
        current = [keras.ops.convert_to_numpy(v.value) for v in variables]
        probe = Probe(
            epoch=len(self.trace.history), step=self._iterations(), lr=self._learning_rate()
        )
        norms = [S.norm(w) for w in current]
        probe.finite = all(math.isfinite(n) for n in norms)
        for i, (v, w) in enumerate(zip(variables, current, strict=True)):
            stat = WeightStat(
                name=v.path,
                layer=v.path.rsplit("/", 1)[0] if "/" in v.path else v.path,
                shape=[int(d) for d in w.shape],
                weight_norm=norms[i],
            )
            if self._previous is not None and i < len(self._previous):
                prev, prev_norm = self._previous[i], self._previous_norms[i]
                delta = S.norm(w - prev) if prev.shape == w.shape else math.nan
                stat.moved = delta / prev_norm if prev_norm > 0 else delta
            probe.weights.append(stat)
        self._previous, self._previous_norms = current, norms
        if self.probe_x is not None:
            self._probe_with_data(probe, variables, current)
        self.trace.probes.append(probe)
        self.diagnosis = None
        self.probe_seconds += time.perf_counter() - start

    def _probe_with_data(
        self, probe: Probe, variables: list[Any], current: list[np.ndarray]
    ) -> None:
        model = self.model
        x, y = self.probe_x, self.probe_y
        if y is not None and getattr(model, "_compile_loss", None) is not None:
            non_trainable = [
                keras.ops.convert_to_numpy(v.value) for v in model.non_trainable_variables
            ]
            optimizer = getattr(model, "optimizer", None)
            if optimizer is not None and not optimizer.built:
                # tensorflow builds it lazily in the first step; build it now so the slots the
                # probe step creates already exist in the snapshot and are restored with it
                optimizer.build(model.trainable_variables)
            opt_state = (
                [keras.ops.convert_to_numpy(v.value) for v in optimizer.variables]
                if optimizer is not None
                else []
            )
            try:
                with preserved_global_rng():
                    result = probe_gradients(model, x[: self.grad_size], y[: self.grad_size])
                loss = result.data_loss if result.data_loss is not None else result.loss
                probe.loss = float(loss)
                probe.total_loss = float(result.loss)
                probe.finite = probe.finite and math.isfinite(probe.loss)
                for stat, grad in zip(probe.weights, result.grads, strict=True):
                    g = keras.ops.convert_to_numpy(grad)
                    stat.grad_norm = S.norm(g)
                    probe.finite = probe.finite and math.isfinite(stat.grad_norm)
                if optimizer is not None and probe.finite:
                    apply_update(model, result.grads)
                    for stat, v, w in zip(probe.weights, variables, current, strict=True):
                        step = S.norm(keras.ops.convert_to_numpy(v.value) - w)
                        stat.step_ratio = step / stat.weight_norm if stat.weight_norm else None
            except Exception as error:  # noqa: BLE001 - instrumentation must not kill training
                self._warn(
                    "grads",
                    f"cnn-doctor: gradient probe failed on backend "
                    f"{keras.backend.backend()!r} ({type(error).__name__}: {error}); gradient "
                    "and update-ratio signals are missing",
                )
            finally:
                restored = _restore(variables, current)
                restored &= _restore(model.non_trainable_variables, non_trainable)
                if optimizer is not None:
                    restored &= _restore(optimizer.variables, opt_state)
                if not restored:
                    self._warn(
                        "restore",
                        "cnn-doctor: the model's variables changed during a probe and could not "
                        "all be restored; training may differ from an unprobed run",
                    )
        elif y is None:
            self._warn(
                "labels",
                "cnn-doctor: probe_data has no labels; gradient and "
                "label signals are missing (pass probe_data=(x, y))",
            )
        self._probe_forward(probe, x, y)

    def _probe_forward(self, probe: Probe, x: np.ndarray, y: np.ndarray | None) -> None:
        """Inference-mode pass: activation statistics, output statistics, input statistics."""
        channel_axis = self._channel_axis()
        try:
            if self._probe_model is not None:
                tensors = list(self._probe_model(x, training=False))
            else:
                tensors = [self.model(x, training=False)]
            dtypes = [keras.backend.standardize_dtype(t.dtype) for t in tensors]
            outputs = [keras.ops.convert_to_numpy(t) for t in tensors]
        except Exception as error:  # noqa: BLE001
            self._warn(
                "forward",
                f"cnn-doctor: probe forward pass failed ({error}); "
                "activation and output signals are missing",
            )
            return
        final = outputs[-1]
        taps, tap_dtypes = outputs[:-1], dtypes[:-1]
        if self._has_input_tap:
            first_input, taps, tap_dtypes = taps[0], taps[1:], tap_dtypes[1:]
            where = "input of the first weight layer"
        else:
            first_input, where = x, "model input"
        if self.trace.inputs is None and np.asarray(first_input).ndim >= 2:
            self.trace.inputs = S.input_stats(
                first_input,
                channel_axis=channel_axis if np.ndim(first_input) == 4 else -1,
                where=where,
            )
        for (layer, activation), values, dtype in zip(
            self._act_specs, taps, tap_dtypes, strict=True
        ):
            axis = channel_axis if values.ndim == 4 else -1
            probe.activations.append(
                S.activation_stats(layer, activation, values, channel_axis=axis, dtype=dtype)
            )
        if final.ndim == 2:
            compiled = None
            if y is not None:
                compiled = compiled_data_loss(self.model, y, tensors[-1])
            # a softmax computed in bfloat16 sums to 1 only to ~0.4%: judged with its roundoff
            probe.output = S.output_stats(
                final,
                y,
                dtype=dtypes[-1],
                compiled_loss=compiled,
                label_smoothing=float(self.trace.context.get("label_smoothing") or 0.0),
            )
            if not probe.output.finite:
                probe.finite = False

    def _channel_axis(self) -> int:
        """Channel axis of the model's feature maps: what its conv layers were built with (a
        model may be built channels_first while Keras's global setting says channels_last)."""
        for layer in self.model._flatten_layers(include_self=False):
            data_format = getattr(layer, "data_format", None)
            if data_format in ("channels_first", "channels_last"):
                return 1 if data_format == "channels_first" else -1
        return -1 if keras.config.image_data_format() == "channels_last" else 1

    def _build_probe_model(self) -> keras.Model | None:
        """A model sharing the user's layers whose outputs are [first-layer input, activations...,
        final output]; None (with a note) when the model's graph is not accessible."""
        self._act_specs, self._has_input_tap = [], False
        if self.probe_x is None:
            return None
        model = self.model
        try:
            inputs = model.inputs
            final = model.outputs
        except (AttributeError, ValueError):
            inputs = None
        if not inputs or not final or len(final) != 1:
            self.trace.notes.append(
                "model has no single-output functional graph (subclassed?): activation "
                "statistics not measured; input statistics taken at the model input"
            )
            return None
        taps: list[Any] = []
        first = next((layer for layer in model.layers if has_kernel(layer)), None)
        if first is not None:
            try:
                taps.append(first.input)
                self._has_input_tap = True
            except (AttributeError, ValueError):
                pass
        last_layer = model.layers[-1] if model.layers else None
        for layer in model.layers:
            name = activation_name(layer)
            if name is None or S.activation_kind(name) == "ignored" or layer is last_layer:
                continue
            try:
                taps.append(layer.output)
            except (AttributeError, ValueError):
                continue
            self._act_specs.append((layer.name, name))
        try:
            return keras.Model(inputs[0] if len(inputs) == 1 else inputs, taps + list(final))
        except Exception as error:  # noqa: BLE001
            self._act_specs, self._has_input_tap = [], False
            self.trace.notes.append(
                f"could not tap intermediate layers ({error}); activation statistics not measured"
            )
            return None

    # --- context ---------------------------------------------------------------------------
    def _infer_context(self) -> dict[str, Any]:
        model = self.model
        ctx: dict[str, Any] = {"source": "callback", "backend": keras.backend.backend()}
        with contextlib.suppress(AttributeError, ValueError, IndexError, TypeError):
            ctx["num_classes"] = int(model.outputs[0].shape[-1])
        ctx.update(_loss_info(getattr(model, "loss", None)))
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None:
            ctx["optimizer"] = type(optimizer).__name__.lower()
            ctx["lr"] = self._learning_rate()
        params = self.params or {}
        if params.get("epochs"):
            ctx["epochs"] = int(params["epochs"])
        if params.get("steps"):
            ctx["steps_per_epoch"] = int(params["steps"])
        leaves = leaf_layers(model)
        layers = layer_summary(model)
        ctx["layers"] = layers
        ctx["output_chain"] = output_chain(layers)
        ctx.update(label_facts(self.probe_y))
        ctx["has_batchnorm"] = any(
            isinstance(layer, keras.layers.BatchNormalization) for layer in leaves
        )
        frozen = [
            {"layer": layer.name, "params": int(sum(np.prod(w.shape) for w in layer.weights))}
            for layer in leaves
            # data-fitted layers (Normalization, patch whitening: they have ``adapt``) are
            # frozen by design, not by mistake
            if not layer.trainable and layer.weights and not hasattr(layer, "adapt")
        ]
        ctx["frozen_layers"] = frozen
        ctx["trainable_params"] = int(sum(np.prod(v.shape) for v in model.trainable_variables))
        ctx["non_trainable_params"] = int(
            sum(np.prod(v.shape) for v in model.non_trainable_variables)
        )
        augment = [
            type(layer).__name__
            for layer in leaves
            if type(layer).__name__.startswith(_AUGMENTATION_PREFIXES)
        ]
        if augment:
            ctx["augment"] = augment
        ctx.update(self.user_context)
        return ctx


def _restore(variables: list[Any], values: list[np.ndarray]) -> bool:
    """Assign saved values back; False if the variable list changed since they were saved."""
    for variable, value in zip(variables, values, strict=False):
        variable.assign(value)
    return len(variables) == len(values)


def _loss_info(loss: Any) -> dict[str, Any]:
    """Name, from_logits and label_smoothing of the compiled loss, where they can be read."""
    if isinstance(loss, (list, tuple)) and len(loss) == 1:
        loss = loss[0]
    if isinstance(loss, dict) and len(loss) == 1:
        loss = next(iter(loss.values()))
    if loss is None:
        return {}
    if isinstance(loss, str):
        name = loss.lower()
        info: dict[str, Any] = {"loss": name}
        if "crossentropy" in name:
            info["from_logits"] = False  # the string form always uses the default
            info["label_smoothing"] = 0.0
        return info
    if isinstance(loss, keras.losses.Loss):
        config = loss.get_config()
        info = {"loss": str(config.get("name") or type(loss).__name__).lower()}
        if "from_logits" in config:
            info["from_logits"] = bool(config["from_logits"])
        if "label_smoothing" in config:
            info["label_smoothing"] = float(config["label_smoothing"] or 0.0)
        return info
    name = str(getattr(loss, "__name__", type(loss).__name__)).lower()
    info = {"loss": name}
    if "crossentropy" in name and str(getattr(loss, "__module__", "")).startswith("keras"):
        info["from_logits"] = False  # Keras's own loss function, called with its defaults
    # a user's own function: what it does with the outputs is read from numbers on the probe
    # (OutputStat.compiled_loss against the two cross-entropy readings), never from its name
    return info


def _normalise_logs(
    logs: dict[str, Any], *, not_accuracy: set[str] | frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Keras log names -> the trace's (``acc``/``sparse_categorical_accuracy`` -> ``accuracy``).

    A metric named like accuracy that Keras resolved to something else (``not_accuracy``: binary
    accuracy on a multi-class output) is kept as ``reported_<name>``, never as the accuracy
    curve the detectors read. Unrecognised metrics are kept under their own names.
    """
    row: dict[str, Any] = {}
    for key, value in logs.items():
        try:
            number = float(np.asarray(value))
        except (TypeError, ValueError):
            continue
        prefix = "val_" if key.startswith("val_") else ""
        base = key[len(prefix) :]
        if base in not_accuracy:
            row[f"{prefix}reported_{base}"] = number
        elif base in _ACCURACY_KEYS:
            row.setdefault(prefix + "accuracy", number)
        elif base in ("learning_rate", "lr") and not prefix:
            row["lr"] = number
        else:
            row[key] = number
    return row
