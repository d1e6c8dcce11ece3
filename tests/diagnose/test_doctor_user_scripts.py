"""Tier 2: the Doctor inside tiny fits written the way users write them -- string losses,
one-hot labels, custom losses, generators, ``PyDataset``s, ``validation_split`` -- finds each
planted fault of issue 10 and stays quiet on the healthy version of the same script."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
from test_doctor_fit import CLASSES, SIZE, images, seed_cnn

from cnn_doctor.diagnose.doctor import Doctor

pytestmark = pytest.mark.slow
L = keras.layers
N, NV, PROBE = 320, 64, 64


def _data(one_hot: bool = False):
    x, y = images(N, 0)
    xv, yv = images(NV, 1)
    if one_hot:
        return x, keras.utils.to_categorical(y, CLASSES), xv, keras.utils.to_categorical(yv)
    return x, y, xv, yv


def run(
    model,
    loss,
    *,
    one_hot=False,
    metrics=("accuracy",),
    optimizer=None,
    epochs=3,
    x=None,
    y=None,
    shuffle=True,
    probe=True,
    validation_split=None,
):
    keras.utils.set_random_seed(0)
    if x is None:
        x, y, xv, yv = _data(one_hot)
    else:
        xv = yv = None
    model.compile(optimizer or keras.optimizers.Adam(3e-3), loss, metrics=list(metrics))
    doctor = Doctor(probe_data=(x[:PROBE], y[:PROBE])) if probe else Doctor()
    kwargs = {"validation_split": validation_split} if validation_split else {}
    if xv is not None and not validation_split:
        kwargs["validation_data"] = (xv, yv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(
            x,
            y,
            epochs=epochs,
            batch_size=32,
            verbose=0,
            shuffle=shuffle,
            callbacks=[doctor],
            **kwargs,
        )
    return doctor


def serious(doctor):
    return [f.id for f in doctor.findings if f.severity in ("critical", "warning")]


def top(doctor):
    return doctor.findings[0].id if doctor.findings else None


def head(*body, inputs=(SIZE, SIZE, 3)):
    return keras.Sequential([keras.Input(inputs), *body])


def convs(activation="relu"):
    return [
        L.Conv2D(8, 3, padding="same", activation=activation),
        L.MaxPooling2D(),
        L.Conv2D(16, 3, padding="same", activation=activation),
        L.MaxPooling2D(),
        L.Flatten(),
        L.Dense(32, activation=activation),
    ]


# --- healthy versions of the scripts users write ----------------------------------------------
def test_one_hot_labels_and_a_string_loss_are_healthy():
    doctor = run(
        head(*convs(), L.Dense(CLASSES, activation="softmax")),
        "categorical_crossentropy",
        one_hot=True,
    )
    assert serious(doctor) == [], [f.summary for f in doctor.findings]
    ctx = doctor.trace.context
    assert ctx["label_format"] == "one_hot" and ctx["from_logits"] is False
    assert ctx["output_chain"] == ["softmax"]
    assert ctx["metrics"] == [{"name": "accuracy", "class": "CategoricalAccuracy"}]
    assert doctor.diagnosis.verdict.state in ("learning", "learning slowly")


def test_integer_labels_with_a_sparse_string_loss_and_validation_split_are_healthy():
    x, y = images(N, 0)
    doctor = run(
        head(*convs(), L.Dense(CLASSES, activation="softmax")),
        "sparse_categorical_crossentropy",
        x=x,
        y=y,
        validation_split=0.2,
    )
    assert serious(doctor) == [], [f.summary for f in doctor.findings]
    assert doctor.trace.has_series("val_accuracy")


# --- planted faults -----------------------------------------------------------------------------
def test_softmax_layer_after_a_softmax_output_is_double_softmax():
    doctor = run(
        head(*convs(), L.Dense(CLASSES, activation="softmax"), L.Softmax()),
        "categorical_crossentropy",
        one_hot=True,
    )
    assert top(doctor) == "double_softmax", [f.id for f in doctor.findings]
    assert "softmax_in_model_twice" in doctor.findings[0].evidence["forms"]
    assert doctor.findings[0].evidence["largest_probability_on_probe"] <= 0.2321


def test_custom_loss_that_applies_softmax_to_softmax_outputs_is_double_softmax():
    def my_loss(y_true, y_pred):  # a user's own loss: reads its input as logits
        return keras.ops.categorical_crossentropy(y_true, y_pred, from_logits=True)

    doctor = run(head(*convs(), L.Dense(CLASSES, activation="softmax")), my_loss, one_hot=True)
    assert "from_logits" not in doctor.trace.context  # nothing read from the function's name
    assert top(doctor) == "double_softmax", [f.id for f in doctor.findings]
    assert "loss_applies_softmax" in doctor.findings[0].evidence["forms"]


def test_relu_on_the_logits_layer_is_output_activation():
    doctor = run(
        head(*convs(), L.Dense(CLASSES, activation="relu")),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    assert "output_activation" in serious(doctor)
    assert doctor.findings[0].id == "output_activation", [f.id for f in doctor.findings]


def test_convs_without_activations_are_missing_nonlinearity():
    doctor = run(
        head(*convs(activation=None), L.Dense(CLASSES, activation="softmax")),
        "sparse_categorical_crossentropy",
    )
    assert "missing_nonlinearity" in serious(doctor), [f.id for f in doctor.findings]


def test_binary_accuracy_on_ten_classes_is_metric_mismatch_and_not_the_accuracy_curve():
    doctor = run(
        head(*convs(), L.Dense(CLASSES, activation="softmax")),
        "categorical_crossentropy",
        one_hot=True,
        metrics=("binary_accuracy",),
    )
    assert "metric_mismatch" in serious(doctor)
    assert not doctor.trace.has_series("accuracy")  # binary accuracy is never read as accuracy


def test_one_linear_unit_regressing_the_class_index_is_loss_label_mismatch():
    doctor = run(head(*convs(), L.Dense(1)), "mse")
    assert top(doctor) == "loss_label_mismatch", [f.id for f in doctor.findings]
    assert "one_output_for_many_classes" in doctor.findings[0].evidence["problems"]


def test_class_sorted_arrays_without_shuffling_are_unshuffled_data():
    x, y = images(N, 0)
    order = np.argsort(y, kind="stable")
    doctor = run(
        head(*convs(), L.Dense(CLASSES, activation="softmax")),
        "sparse_categorical_crossentropy",
        x=x[order],
        y=y[order],
        shuffle=False,
        epochs=4,
        validation_split=0.2,
    )
    assert top(doctor) == "unshuffled_data", [(f.id, f.summary) for f in doctor.findings]


def test_class_sorted_generator_without_probe_data_is_unshuffled_data():
    """A PyDataset that serves one class after another, fitted without probe_data: the
    per-batch training accuracy Keras logs is far more variable than random batches allow, at
    the same positions every epoch."""
    x, y = images(N, 0)
    order = np.argsort(y, kind="stable")
    batch = 8

    class Sorted(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()

        def __len__(self):
            return N // batch

        def __getitem__(self, i):
            rows = order[i * batch : (i + 1) * batch]
            return x[rows], y[rows]

    keras.utils.set_random_seed(0)
    model = head(*convs(), L.Dense(CLASSES, activation="softmax"))
    model.compile(
        keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    doctor = Doctor()
    model.fit(Sorted(), epochs=3, verbose=0, callbacks=[doctor])
    found = {f.id: f for f in doctor.findings}
    assert found["unshuffled_data"].severity == "warning", [
        (f.id, f.summary) for f in found.values()
    ]
    assert top(doctor) == "unshuffled_data"


def test_a_shuffled_pydataset_with_a_short_batch_is_not_unshuffled():
    """Keras shuffles a PyDataset's batch order, so its short batch lands mid-epoch: healthy."""
    x, y = images(N, 0)
    batch = 12  # N = 320: 26 full batches and one of 8

    class Shuffled(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.order = np.random.default_rng(0).permutation(N)

        def __len__(self):
            return -(-N // batch)

        def __getitem__(self, i):
            rows = self.order[i * batch : (i + 1) * batch]
            return x[rows], y[rows]

        def on_epoch_end(self):
            self.order = np.random.default_rng(len(self.order)).permutation(N)

    keras.utils.set_random_seed(0)
    model = head(*convs(), L.Dense(CLASSES, activation="softmax"))
    model.compile(
        keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    doctor = Doctor()
    model.fit(Shuffled(), epochs=3, verbose=0, callbacks=[doctor])
    assert "unshuffled_data" not in {f.id for f in doctor.findings}
    assert doctor.trace.context.get("batch_size") == batch


def test_sorted_arrays_fitted_with_shuffling_are_only_info():
    """Sorted arrays that fit() shuffles (no validation_split) are harmless: info, not a warning."""
    x, y = images(N, 0)
    order = np.argsort(y, kind="stable")
    doctor = run(
        head(*convs(), L.Dense(CLASSES, activation="softmax")),
        "sparse_categorical_crossentropy",
        x=x[order],
        y=y[order],
        epochs=2,
    )
    found = {f.id: f.severity for f in doctor.findings}
    assert found.get("unshuffled_data") == "info", found


def test_huge_weight_decay_is_over_regularization_ranked_above_its_consequences():
    reg = keras.regularizers.L2(1.0)
    model = head(
        L.Conv2D(8, 3, padding="same", activation="relu", kernel_regularizer=reg),
        L.MaxPooling2D(),
        L.Conv2D(16, 3, padding="same", activation="relu", kernel_regularizer=reg),
        L.GlobalAveragePooling2D(),
        L.Dense(CLASSES, kernel_regularizer=reg),
    )
    doctor = run(model, keras.losses.SparseCategoricalCrossentropy(from_logits=True), epochs=4)
    assert top(doctor) == "over_regularization", [(f.id, f.summary) for f in doctor.findings]
    for f in doctor.findings[1:]:
        if f.id in ("prediction_collapse", "dead_relu", "underfitting"):
            assert "over_regularization" in f.evidence["likely_consequence_of"]


def test_generator_without_probe_data_says_what_was_not_measured():
    x, y = images(N, 0)

    def batches():
        while True:
            for i in range(0, N, 32):
                yield x[i : i + 32], y[i : i + 32]

    model = seed_cnn()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    doctor = Doctor()
    model.fit(
        batches(), steps_per_epoch=N // 32, epochs=2, verbose=0, callbacks=[doctor], shuffle=False
    )
    assert any("probe_data" in note for note in doctor.trace.notes)
    assert "weight_updates" in doctor.trace.signals()
    assert doctor.diagnosis.verdict is not None


def test_mixed_float16_update_ratios_match_float32():
    """Loss scaling must not leak into the measured step (it would read ~2**15 too small)."""
    ratios = {}
    for policy in ("float32", "mixed_float16"):
        keras.config.set_dtype_policy(policy)
        try:
            doctor = run(
                seed_cnn(),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                epochs=1,
                optimizer=keras.optimizers.SGD(0.01),
            )
        finally:
            keras.config.set_dtype_policy("float32")
        kernels = [w.step_ratio for w in doctor.trace.probes[0].kernels()]
        ratios[policy] = float(np.median(kernels))
    assert ratios["mixed_float16"] == pytest.approx(ratios["float32"], rel=0.2), ratios
