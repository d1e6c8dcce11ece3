"""The Doctor on the other Keras backends (tensorflow, jax). Keras fixes its backend at import,
so each runs in a subprocess with KERAS_BACKEND set; skipped, saying why, where the backend's
package is not installed."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    from cnn_doctor import Doctor

    assert keras.backend.backend() == sys.argv[1], keras.backend.backend()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 12, 12, 3)).astype("float32")
    y = rng.integers(0, 10, 96)

    def build(final):
        L = keras.layers
        return keras.Sequential([
            keras.Input((12, 12, 3)), L.Conv2D(8, 3, activation="relu"), L.MaxPooling2D(),
            L.Flatten(), L.Dense(16, activation="relu"), L.Dropout(0.5),
            L.Dense(10, activation=final)])

    def run(final, doctor):
        keras.utils.set_random_seed(0)
        model = build(final)
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        model.fit(x, y, validation_data=(x[:32], y[:32]), epochs=2, batch_size=32, verbose=0,
                  callbacks=[doctor] if doctor else [], shuffle=False)
        return model

    doctor = Doctor(probe_data=(x[:32], y[:32]))
    faulty = run("softmax", doctor)
    plain = run("softmax", None)
    same = all(np.array_equal(a, b) for a, b in zip(faulty.get_weights(), plain.get_weights()))

    # The way users write it: one-hot labels, a string loss, a second Softmax layer.
    keras.utils.set_random_seed(0)
    onehot = keras.utils.to_categorical(y, 10)
    model = keras.Sequential([build("softmax"), keras.layers.Softmax()])
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    second = Doctor(probe_data=(x[:32], onehot[:32]))
    model.fit(x, onehot, epochs=2, batch_size=32, verbose=0, callbacks=[second])

    # One sigmoid unit trained with binary cross-entropy on labels 0..9: the loss goes negative.
    keras.utils.set_random_seed(0)
    L = keras.layers
    model = keras.Sequential([keras.Input((12, 12, 3)), L.Flatten(), L.Dense(1, "sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    third = Doctor(probe_data=(x[:32], y[:32]))
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[third])

    # tf.data, as TensorFlow users feed it (tensorflow backend only)
    dataset_ids = None
    if sys.argv[1] == "tensorflow":
        import tensorflow as tf

        keras.utils.set_random_seed(0)
        model = build("softmax")
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        fourth = Doctor(probe_data=(x[:32], y[:32]))
        model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(32), epochs=2, verbose=0,
                  callbacks=[fourth])
        dataset_ids = [f.id for f in fourth.findings]

    print(json.dumps({
        "dataset_ids": dataset_ids,
        "one_hot_string_loss_ids": [f.id for f in second.findings],
        "binary_loss_ids": [f.id for f in third.findings],
        "signals": sorted(doctor.trace.signals()),
        "ids": [f.id for f in doctor.findings],
        "notes": doctor.trace.notes,
        "probing_changed_nothing": same,
    }))
    """
)


@pytest.mark.parametrize(("backend", "module"), [("tensorflow", "tensorflow"), ("jax", "jax")])
def test_doctor_runs_on_backend(backend, module, tmp_path):
    if importlib.util.find_spec(module) is None:
        pytest.skip(
            f"{module} is not installed here, so the Doctor's {backend} gradient path "
            f"(cnn_doctor/diagnose/grads.py) cannot be exercised"
        )
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONWARNINGS="ignore")
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(script), backend], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["notes"] == [], result["notes"]
    for signal in ("gradients", "update_ratios", "activations", "outputs", "initial_loss"):
        assert signal in result["signals"]
    assert result["ids"][0] == "double_softmax", result["ids"]
    assert result["probing_changed_nothing"]
    assert result["one_hot_string_loss_ids"][0] == "double_softmax", result
    assert result["binary_loss_ids"][0] == "loss_label_mismatch", result
    if backend == "tensorflow":
        assert result["dataset_ids"][0] == "double_softmax", result
