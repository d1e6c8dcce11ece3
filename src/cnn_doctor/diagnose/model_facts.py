"""What a Keras model's structure says, read once at train begin, as plain data for the trace.

Detectors never see the model, only the trace, so the facts a structural check needs are copied
here into JSON-friendly values: the activation chain after the last weight layer (what the
output really is), the activations between weight layers (is there any nonlinearity?), dropout
rates and kernel regularisers (how hard the model is regularised), the metric objects Keras
actually resolved (``metrics=["accuracy"]`` becomes one of three classes, chosen from shapes),
and the probe labels' encoding.

Uses keras (layer classes), so it is imported only by the ``Doctor``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import keras
import numpy as np

# Layer kinds that pass values through unchanged as far as "is there a nonlinearity between two
# weight layers" is concerned: reshaping, regularisation at inference, affine normalisation.
_PASS_THROUGH = (
    "Dropout",
    "SpatialDropout",
    "GaussianDropout",
    "GaussianNoise",
    "AlphaDropout",
    "Flatten",
    "Reshape",
    "Permute",
    "InputLayer",
    "ZeroPadding",
    "Cropping",
)


def leaf_layers(model: keras.Model) -> list[Any]:
    """The model's innermost layers in build order (nested Sequential/functional blocks opened,
    in place: ``Sequential([base, Softmax()])`` lists base's layers, then the Softmax)."""
    leaves: list[Any] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            leaves.extend(leaf_layers(layer))
        else:
            leaves.append(layer)
    return leaves


def has_kernel(layer: Any) -> bool:
    """A conv/dense-like layer (frozen or not): it holds a weight matrix or filter bank."""
    return any(len(w.shape) >= 2 for w in getattr(layer, "weights", []))


def activation_name(layer: Any) -> str | None:
    """The activation function a layer applies last, by name, or None."""
    if isinstance(layer, keras.layers.ReLU):
        plain = not layer.negative_slope and not layer.threshold
        if plain:
            return "relu" if layer.max_value is None else "relu6"
        return "leaky_relu"
    if isinstance(layer, keras.layers.LeakyReLU):
        return "leaky_relu"
    if isinstance(layer, keras.layers.ELU):
        return "elu"
    if isinstance(layer, keras.layers.PReLU):
        return "prelu"
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    fn = getattr(layer, "activation", None)
    if fn is None or not callable(fn):
        return None
    return str(getattr(fn, "__name__", type(fn).__name__)).lower()


def _kind(layer: Any) -> str:
    name = type(layer).__name__
    if has_kernel(layer):
        return "weight"
    if "MaxPool" in name:
        return "max_pool"
    if any(base.__name__ == "Merge" for base in type(layer).__mro__):
        return "merge"  # Add, Concatenate, ...: the model is a graph, not a chain
    if activation_name(layer) is not None:
        return "activation"
    if any(name.startswith(p) for p in _PASS_THROUGH) or "Normalization" in name:
        return "pass"
    return "other"


def _regularizer_factors(layer: Any) -> dict[str, float]:
    """l1/l2 factors of a layer's kernel regulariser (what the penalty multiplies)."""
    reg = getattr(layer, "kernel_regularizer", None)
    if reg is None:
        return {}
    try:
        config = reg.get_config()
    except (AttributeError, NotImplementedError):
        return {"custom": 1.0}
    return {k: float(v) for k, v in config.items() if k in ("l1", "l2") and v}


def _dropout_rate(layer: Any) -> float | None:
    name = type(layer).__name__
    if "Dropout" in name and hasattr(layer, "rate"):
        return float(layer.rate)
    return None


def layer_summary(model: keras.Model) -> list[dict[str, Any]]:
    """One record per leaf layer, in order: name, class, kind, activation, dropout, regulariser."""
    records = []
    for layer in leaf_layers(model):
        record: dict[str, Any] = {
            "name": layer.name,
            "class": type(layer).__name__,
            "kind": _kind(layer),
        }
        act = activation_name(layer)
        if act is not None:
            record["activation"] = act
        rate = _dropout_rate(layer)
        if rate is not None:
            record["dropout"] = rate
        reg = _regularizer_factors(layer)
        if reg:
            record["regularizer"] = reg
        records.append(record)
    return records


def output_chain(layers: list[dict[str, Any]]) -> list[str]:
    """Activations applied after (and by) the last weight layer, in order; [] means linear.

    ``Dense(10, activation="softmax")`` gives ``["softmax"]``; the same followed by a
    ``Softmax()`` layer gives ``["softmax", "softmax"]``: softmax applied to probabilities.
    """
    chain: list[str] = []
    for record in reversed(layers):
        act = record.get("activation")
        if record["kind"] == "weight":
            if act and act != "linear":
                chain.append(act)
            return list(reversed(chain))
        if act and act != "linear":
            chain.append(act)
    return list(reversed(chain))


def resolved_metrics(model: keras.Model) -> list[dict[str, str]] | None:
    """The metric objects Keras built for ``compile(metrics=...)`` (name and class), or None
    before they are built (Keras resolves ``"accuracy"`` from the first batch's shapes)."""
    compiled = getattr(model, "_compile_metrics", None)
    if compiled is None:
        return []
    if not getattr(compiled, "built", False):
        return None
    found = []
    with contextlib.suppress(AttributeError, TypeError):
        for metric in compiled.metrics:
            found.append({"name": str(metric.name), "class": type(metric).__name__})
    return found


def label_facts(y: np.ndarray | None) -> dict[str, Any]:
    """How the probe labels are encoded: ``sparse`` (class indices), ``one_hot``, or ``soft``
    (rows of probabilities other than one-hot), with their value range."""
    if y is None:
        return {}
    y = np.asarray(y)
    facts: dict[str, Any] = {"label_shape": [int(d) for d in y.shape[1:]]}
    if y.size == 0 or not np.issubdtype(y.dtype, np.number):
        return facts
    facts["label_min"] = float(np.min(y))
    facts["label_max"] = float(np.max(y))
    if y.ndim == 2 and y.shape[1] > 1:
        ones = np.isclose(y, 1.0).sum(axis=1)
        zeros = np.isclose(y, 0.0).sum(axis=1)
        one_hot = bool(np.all(ones == 1) and np.all(ones + zeros == y.shape[1]))
        facts["label_format"] = "one_hot" if one_hot else "soft"
        facts["label_columns"] = int(y.shape[1])
        classes = np.argmax(y, axis=1)
    else:
        facts["label_format"] = "sparse"
        flat = y.reshape(-1)
        facts["label_integral"] = bool(np.all(np.equal(np.mod(flat, 1), 0)))
        facts["label_distinct"] = int(np.unique(flat).size)
        classes = flat if y.ndim <= 1 or y.shape[1:] == (1,) else None
    if classes is not None:
        facts.update(label_order(classes))
    return facts


def label_order(labels: np.ndarray) -> dict[str, Any]:
    """How ordered the labels are, in the order given: the number of runs (maximal blocks of
    one class) against its expectation under a random order -- the k-category Wald-Wolfowitz
    runs test (Mood 1940). Arrays sorted by class have a handful of runs where a shuffled
    array has about ``n (1 - sum p_k^2)``; ``label_runs_z`` is the standardized gap (very
    negative = ordered). Only the order of the labels is read, never the images."""
    labels = np.asarray(labels).reshape(-1)
    n = labels.size
    if n < 2:
        return {}
    runs = int(1 + np.count_nonzero(labels[1:] != labels[:-1]))
    _, counts = np.unique(labels, return_counts=True)
    counts = counts.astype(np.float64)
    s2, s3 = float(np.sum(counts**2)), float(np.sum(counts**3))
    expected = (n * (n + 1) - s2) / n
    variance = (s2 * (s2 + n * (n + 1)) - 2 * n * s3 - n**3) / (n**2 * (n - 1))
    facts: dict[str, Any] = {"label_runs": runs, "label_runs_expected": expected}
    if variance > 0:
        facts["label_runs_z"] = (runs - expected) / variance**0.5
    return facts
