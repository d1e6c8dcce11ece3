"""Tier 2: the Doctor inside real (tiny) Keras fits finds planted faults and stays quiet on a
healthy run. The network is the seed CNN written out by hand (Conv-Pool-Conv-Pool-Dense-Dropout-
Dense, at a small width) on 16x16 synthetic images that it learns within a few epochs."""

from __future__ import annotations

import json
import warnings

import keras
import numpy as np
import pytest

from cnn_doctor.diagnose.doctor import Doctor
from cnn_doctor.diagnose.trace import Trace

pytestmark = pytest.mark.slow

SIZE, CLASSES, N_TRAIN, N_VAL, PROBE = 16, 10, 256, 64, 64
EPOCHS = 3


def images(n: int, seed: int, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Each class is a fixed coarse colour pattern; samples add pixel noise (standardised-ish)."""
    templates = np.random.default_rng(123).normal(size=(CLASSES, SIZE // 4, SIZE // 4, 3))
    templates = np.repeat(np.repeat(templates, 4, axis=1), 4, axis=2)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    x = templates[y] + noise * rng.normal(size=(n, SIZE, SIZE, 3))
    return (x / np.sqrt(1 + noise**2)).astype("float32"), y


def seed_cnn(activation: str = "relu", final: str | None = None) -> keras.Model:
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 3)),
            layers.Conv2D(8, 3, padding="same", activation=activation),
            layers.MaxPooling2D(),
            layers.Conv2D(16, 3, padding="same", activation=activation),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(32, activation=activation),
            layers.Dropout(0.5),
            layers.Dense(CLASSES, activation=final),
        ]
    )


def sigmoid_stack(depth: int = 8) -> keras.Model:
    layers = keras.layers
    return keras.Sequential(
        [keras.Input((SIZE, SIZE, 3)), layers.AveragePooling2D(2)]
        + [layers.Conv2D(8, 3, padding="same", activation="sigmoid") for _ in range(depth)]
        + [layers.GlobalAveragePooling2D(), layers.Dense(CLASSES)]
    )


def fit(
    build,
    *,
    optimizer=None,
    from_logits=True,
    scale=1.0,
    shift=0.0,
    epochs=EPOCHS,
    doctor=True,
    **doctor_kwargs,
):
    keras.utils.set_random_seed(0)
    model = build()
    x, y = images(N_TRAIN, 0)
    xv, yv = images(N_VAL, 1)
    x, xv = x * scale + shift, xv * scale + shift
    model.compile(
        optimizer or keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
        metrics=["accuracy"],
    )
    callbacks = [Doctor(probe_data=(x[:PROBE], y[:PROBE]), **doctor_kwargs)] if doctor else []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy overflow in the huge-LR run
        model.fit(
            x,
            y,
            validation_data=(xv, yv),
            epochs=epochs,
            batch_size=32,
            verbose=0,
            callbacks=callbacks,
            shuffle=True,
        )
    return callbacks[0] if doctor else model


@pytest.fixture(scope="module")
def healthy():
    return fit(seed_cnn)


def _serious(doctor):
    return [f.id for f in doctor.findings if f.severity in ("critical", "warning")]


def test_healthy_fit_has_no_warning(healthy):
    assert _serious(healthy) == [], [f.summary for f in healthy.findings]
    history = healthy.trace.series("accuracy")
    assert history[-1] > history[0] + 0.1, "the healthy run must actually learn"


def test_healthy_trace_holds_every_signal(healthy):
    signals = healthy.trace.signals()
    for name in (
        "loss",
        "val_loss",
        "accuracy",
        "val_accuracy",
        "gradients",
        "update_ratios",
        "weight_updates",
        "activations",
        "outputs",
        "probe_labels",
        "initial_loss",
        "inputs",
    ):
        assert name in signals
    assert [p.epoch for p in healthy.trace.probes] == list(range(EPOCHS + 1))
    assert healthy.trace.inputs.where == "input of the first weight layer"
    assert healthy.trace.context["from_logits"] is True
    assert healthy.trace.context["num_classes"] == CLASSES


def test_save_writes_trace_diagnosis_plots_and_report(healthy, tmp_path):
    path = healthy.save(tmp_path)
    payload = json.loads(path.read_text())
    assert set(payload) >= {"findings", "skipped"}
    assert Trace.load(tmp_path).to_dict() == healthy.trace.to_dict()
    assert (tmp_path / "report.html").read_text().count("<h2>Diagnosis</h2>") == 1
    assert {p.name for p in (tmp_path / "diagnosis_plots").glob("*.png")} >= {
        "curves.png",
        "gradients.png",
        "update_ratios.png",
        "activations.png",
    }


def test_report_prints_the_table(healthy):
    from rich.console import Console

    console = Console(record=True, width=100)
    healthy.report(console=console)
    text = console.export_text()
    assert "No problems found" in text or "Diagnosis" in text


def test_sigmoid_stack_vanishes():
    doctor = fit(sigmoid_stack, optimizer=keras.optimizers.SGD(0.01), epochs=2)
    ids = [f.id for f in doctor.findings]
    assert ids[0] in ("vanishing_gradients", "saturated_activations"), ids


def test_huge_learning_rate_diverges():
    doctor = fit(seed_cnn, optimizer=keras.optimizers.SGD(50.0), epochs=2)
    top = {f.id for f in doctor.findings[:2]}
    assert top & {"diverged", "lr_too_high"}, [f.id for f in doctor.findings]


def test_softmax_with_from_logits_is_double_softmax():
    doctor = fit(lambda: seed_cnn(final="softmax"), from_logits=True, epochs=2)
    assert doctor.findings[0].id == "double_softmax"


def test_raw_pixels_are_unnormalized_inputs():
    doctor = fit(seed_cnn, scale=64.0, shift=120.0, epochs=2)
    assert doctor.findings[0].id == "unnormalized_inputs"


def test_probing_does_not_change_training():
    """Probes run training-mode passes and an optimizer step; all of it must be undone."""
    with_doctor = fit(seed_cnn, epochs=1).model
    without = fit(seed_cnn, epochs=1, doctor=False)
    for a, b in zip(with_doctor.get_weights(), without.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_doctor_state_resets_between_fits():
    doctor = Doctor(probe_data=images(32, 5))
    model = seed_cnn()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = images(64, 0)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[doctor])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[doctor])
    assert len(doctor.trace.history) == 1
    assert [p.epoch for p in doctor.trace.probes] == [0, 1]


def test_without_probe_data_curves_are_still_diagnosed():
    doctor = Doctor()
    model = seed_cnn()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = images(64, 0)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[doctor])
    assert "vanishing_gradients" in doctor.diagnosis.skipped
    assert "weight_updates" in doctor.trace.signals()
    assert any("probe_data" in note for note in doctor.trace.notes)


def test_batch_hooks_can_be_turned_off():
    """Keras keeps async dispatch only if no callback overrides a batch hook: the default reads
    one float per batch (the running accuracy); batch_accuracy=False installs no hook at all."""
    quiet = Doctor(batch_accuracy=False)
    assert "on_train_batch_end" not in vars(quiet)
    assert type(quiet).on_train_batch_end is keras.callbacks.Callback.on_train_batch_end
    assert "on_train_batch_end" in vars(Doctor())
    doctor = Doctor(probe_data=images(32, 5), per_batch=True, probe_every_steps=2)
    model = seed_cnn()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = images(64, 0)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[doctor])
    assert len(doctor.trace.batch_losses) == 4
    assert [p.step for p in doctor.trace.probes] == [0, 2, 4]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"probe_every": 0}, "probe_every"),
        ({"probe_size": 0}, "probe_size"),
        ({"probe_every_steps": -2}, "probe_every_steps"),
        ({"probe_data": (np.zeros((4, 2)), np.zeros(3))}, "labels"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Doctor(**kwargs)


def _tiny_fit(model, doctor, *, epochs=1, x=None, y=None):
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    if x is None:
        x, y = images(64, 0)
    model.fit(x, y, epochs=epochs, verbose=0, callbacks=[doctor])
    return doctor


def test_frozen_layers_are_read_from_the_model_but_data_fitted_ones_are_not():
    layers = keras.layers
    norm = layers.Normalization()
    norm.adapt(images(32, 3)[0])
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 3)),
            norm,
            layers.Conv2D(8, 3, activation="relu", name="frozen_conv"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(CLASSES),
        ]
    )
    model.get_layer("frozen_conv").trainable = False
    doctor = _tiny_fit(model, Doctor(probe_data=images(32, 5)))
    frozen = doctor.trace.context["frozen_layers"]
    assert [item["layer"] for item in frozen] == ["frozen_conv"]
    assert "frozen_layers" in [f.id for f in doctor.findings]


def test_channels_first_models_get_per_channel_statistics():
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((3, SIZE, SIZE)),
            layers.Conv2D(8, 3, activation="relu", data_format="channels_first"),
            layers.GlobalAveragePooling2D(data_format="channels_first"),
            layers.Dense(CLASSES),
        ]
    )
    x, y = images(64, 0)
    x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    doctor = _tiny_fit(model, Doctor(probe_data=(x[:32], y[:32])), x=x, y=y)
    assert len(doctor.trace.inputs.mean) == 3
    assert doctor.trace.probes[-1].activations[0].units == 8


def test_measure_probes_a_trained_model_once():
    model = seed_cnn()
    _tiny_fit(model, Doctor())
    x, y = images(32, 5)
    history = [{"loss": 2.2, "accuracy": 0.2}, {"loss": 2.0, "accuracy": 0.3}]
    trace = Doctor(probe_data=(x, y)).measure(model, history=history)
    assert [p.epoch for p in trace.probes] == [2]
    assert trace.series("loss").tolist() == [2.2, 2.0]
    assert "gradients" in trace.signals() and "initial_loss" not in trace.signals()
