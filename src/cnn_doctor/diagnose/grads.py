"""THE one backend-specific module: loss and gradients on a probe batch (torch, tensorflow, jax).

Everything else in ``diagnose`` talks to Keras through its backend-neutral API. Gradients are
taken in training mode (BatchNorm on batch statistics, dropout active), exactly as a real step
sees them; the caller snapshots and restores model state around the call, because a training-mode
forward pass updates BatchNorm's moving statistics and dropout's seed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np


@dataclass
class ProbeGradients:
    """Result of one training-mode pass on the probe batch."""

    loss: float  # total loss the optimizer sees (data loss + regularisation)
    data_loss: float | None  # the compiled loss alone (comparable with ln(C))
    grads: list[Any]  # backend tensors aligned with model.trainable_variables (zeros if unused)
    y_pred: np.ndarray  # training-mode outputs


def compiled_data_loss(model: keras.Model, y: Any, y_pred: Any) -> float | None:
    """The compiled loss without regularisation terms, or None if the model has none."""
    compiled = getattr(model, "_compile_loss", None)  # Keras 3 CompileLoss; private but stable
    if compiled is None:
        return None
    try:
        if isinstance(y, np.ndarray):
            y = keras.ops.convert_to_tensor(y)
        value = compiled(y, y_pred)
    except Exception:  # noqa: BLE001 - a custom loss wrapper we cannot call: signal missing
        return None
    return None if value is None else float(keras.ops.convert_to_numpy(value))


def probe_gradients(model: keras.Model, x: np.ndarray, y: np.ndarray) -> ProbeGradients:
    """Loss and d(loss)/d(trainable weights) on ``(x, y)`` with the model's compiled loss."""
    backend = keras.backend.backend()
    if backend == "torch":
        return _torch(model, x, y)
    if backend == "tensorflow":
        return _tensorflow(model, x, y)
    if backend == "jax":
        return _jax(model, x, y)
    raise NotImplementedError(f"gradient probes are not implemented for backend {backend!r}")


def _call(model: keras.Model, x: Any) -> Any:
    if getattr(model, "_call_has_training_arg", True):
        return model(x, training=True)
    return model(x)


def _torch(model: keras.Model, x: np.ndarray, y: np.ndarray) -> ProbeGradients:
    import torch

    variables = model.trainable_variables
    with torch.enable_grad():
        xt = keras.ops.convert_to_tensor(x)
        yt = keras.ops.convert_to_tensor(y)
        y_pred = _call(model, xt)
        loss = model._compute_loss(x=xt, y=yt, y_pred=y_pred, training=True)
        params = [v.value for v in variables]
        grads = torch.autograd.grad(loss, params, allow_unused=True)
    grads = [
        torch.zeros_like(p) if g is None else g.detach() for p, g in zip(params, grads, strict=True)
    ]
    with torch.no_grad():
        y_pred = y_pred.detach()
        data_loss = compiled_data_loss(model, yt, y_pred)
    return ProbeGradients(
        float(loss.detach().cpu()), data_loss, grads, keras.ops.convert_to_numpy(y_pred)
    )


def _tensorflow(model: keras.Model, x: np.ndarray, y: np.ndarray) -> ProbeGradients:
    import tensorflow as tf

    variables = model.trainable_variables
    xt = tf.convert_to_tensor(x)
    yt = tf.convert_to_tensor(y)
    with tf.GradientTape() as tape:
        y_pred = _call(model, xt)
        loss = model._compute_loss(x=xt, y=yt, y_pred=y_pred, training=True)
    grads = tape.gradient(loss, variables)
    grads = [
        tf.zeros_like(v.value) if g is None else g for v, g in zip(variables, grads, strict=True)
    ]
    return ProbeGradients(
        float(loss.numpy()), compiled_data_loss(model, yt, y_pred), grads, np.asarray(y_pred)
    )


def _jax(model: keras.Model, x: np.ndarray, y: np.ndarray) -> ProbeGradients:
    import jax

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    metrics = [v.value for v in model.metrics_variables]
    optimizer = getattr(model, "optimizer", None)
    optimizer_state = [v.value for v in optimizer.variables] if optimizer is not None else None
    grad_fn = jax.value_and_grad(model.compute_loss_and_updates, has_aux=True)
    (loss, aux), grads = grad_fn(
        trainable,
        non_trainable,
        metrics,
        x,
        y,
        None,
        training=True,
        optimizer_variables=optimizer_state,
    )
    # aux ends with (y_pred, non_trainable_variables, metrics_variables); Keras 3.x versions
    # differ in what precedes them (3.15 puts the unscaled loss first).
    y_pred = aux[-3]
    unscaled = aux[0] if len(aux) > 3 else loss
    return ProbeGradients(
        float(unscaled), compiled_data_loss(model, y, y_pred), list(grads), np.asarray(y_pred)
    )


def apply_update(model: keras.Model, grads: list[Any]) -> None:
    """One real optimizer step with ``grads`` (the caller restores weights and optimizer state)."""
    optimizer = model.optimizer
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        # Under mixed_float16 the real step scales the loss up and ``apply`` divides the
        # gradients by the scale again; the probe's gradients were never scaled, so they go to
        # the inner optimizer directly (else the measured step is ~2**15 too small).
        optimizer = optimizer.inner_optimizer
    if keras.backend.backend() == "torch":
        import torch

        with torch.no_grad():
            optimizer.apply(grads, model.trainable_variables)
    else:
        optimizer.apply(grads, model.trainable_variables)


@contextlib.contextmanager
def preserved_global_rng() -> Iterator[None]:
    """Restore the backend's global RNG after a probe.

    Keras's torch backend draws unseeded dropout masks from torch's *global* generator (not from
    the layer's SeedGenerator variable), so a training-mode probe pass would shift every later
    dropout mask of the real run. TensorFlow and JAX draw from SeedGenerator state, which the
    caller restores with the other variables.
    """
    if keras.backend.backend() != "torch":
        yield
        return
    import torch

    state = torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        torch.set_rng_state(state)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
