"""The real ``train`` path on tiny data: it learns, it records, it resumes exactly."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from cnn_doctor.config import load_config
from cnn_doctor.data.cifar10 import write_dataset
from cnn_doctor.train import fit_arrays, predict_proba, read_metrics, train

TINY_NET = ["model.width=0.125", "optim.batch_size=32", "run.tta=false"]


def tiny_config(data_dir: Path, out_dir: Path, *overrides: str):
    return load_config(
        None,
        [
            f"data.data_dir={data_dir}",
            f"run.out_dir={out_dir}",
            "data.val_size=20",
            *TINY_NET,
            *overrides,
        ],
    )


@pytest.fixture(scope="module")
def random_label_dir(tmp_path_factory) -> Path:
    """256 noise images with *random* labels (+ val/test): the only way to fit them is to
    memorize, which is exactly what the overfit check asks of the training path."""
    rng = np.random.default_rng(0)
    n_train = 256 + 20
    x = rng.integers(0, 256, size=(n_train + 20, 32, 32, 3), dtype=np.uint8)
    y = np.arange(n_train + 20) % 10
    rng.shuffle(y)
    root = tmp_path_factory.mktemp("random_labels")
    names = [f"class{i}" for i in range(10)]
    write_dataset(root, x[:n_train], y[:n_train], x[n_train:], y[n_train:], names)
    return root


def test_tiny_net_memorizes_256_images_through_the_real_train_path(random_label_dir, tmp_path):
    config = tiny_config(
        random_label_dir,
        tmp_path,
        "data.augment=[]",
        "optim.epochs=15",
        "optim.lr=0.05",
        "optim.label_smoothing=0",
        "model.width=0.25",
        "model.weight_decay=0",
        "optim.schedule=constant",
    )
    result = train(config, quiet=True)
    assert len(result.data.x_train) == 256
    assert result.history[-1]["accuracy"] >= 0.9


def test_run_directory_is_complete(tiny_cifar_dir, tmp_path):
    result = train(tiny_config(tiny_cifar_dir, tmp_path, "optim.epochs=2"), quiet=True)
    names = {p.name for p in result.run_dir.iterdir()}
    assert {"config.toml", "metrics.jsonl", "summary.json", "model.keras", "curves.png"} <= names
    lines = read_metrics(result.run_dir)
    assert [line["epoch"] for line in lines] == [1, 2]
    assert set(lines[0]) >= {
        "epoch",
        "lr",
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "seconds",
    }
    summary = json.loads((result.run_dir / "summary.json").read_text())
    for key in (
        "test_accuracy",
        "best_val_accuracy",
        "wall_seconds",
        "images_per_second",
        "backend",
        "versions",
    ):
        assert summary[key] is not None, key
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    assert summary["backend"] == keras.backend.backend()


class _StopAfter(keras.callbacks.Callback):
    """Simulates Ctrl-C once ``epochs`` epochs have been recorded."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = epochs

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epochs:
            raise KeyboardInterrupt


def test_interrupted_run_keeps_completed_epochs_and_resumes_to_the_same_result(
    tiny_cifar_dir, tmp_path
):
    # BatchNorm, dropout and random augmentation all on: every random stream must continue.
    overrides = ("optim.epochs=4", "model.dropout=0.3", "data.augment=[crop,flip,cutout]")
    straight = train(tiny_config(tiny_cifar_dir, tmp_path / "a", *overrides), quiet=True)

    config = tiny_config(tiny_cifar_dir, tmp_path / "b", *overrides)
    with pytest.raises(KeyboardInterrupt):
        train(config, callbacks=[_StopAfter(2)], quiet=True)
    (run_dir,) = (tmp_path / "b").iterdir()
    assert [m["epoch"] for m in read_metrics(run_dir)] == [1, 2]
    assert json.loads((run_dir / "state.json").read_text())["epochs_done"] == 2

    keras.utils.set_random_seed(12345)  # a new process's generators start anywhere
    resumed = train(resume=run_dir, quiet=True)
    assert [m["epoch"] for m in read_metrics(run_dir)] == [1, 2, 3, 4]
    assert resumed.run_dir == run_dir
    got = [m["loss"] for m in resumed.history]
    want = [m["loss"] for m in straight.history]
    np.testing.assert_allclose(got, want, rtol=1e-4)


def test_fit_arrays_trains_and_predicts_probabilities(tiny_cifar):
    config = load_config(None, [*TINY_NET, "optim.epochs=3"])
    outcome = fit_arrays(config, tiny_cifar.x_train, tiny_cifar.y_train)
    probs = predict_proba(outcome.model, outcome.pipeline, tiny_cifar.x_test, tta=True)
    assert probs.shape == (len(tiny_cifar.x_test), 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert (probs.argmax(1) == tiny_cifar.y_test).mean() > 0.5


def test_tta_views_are_the_image_its_mirror_and_one_pixel_shifts():
    from cnn_doctor.train import tta_views

    x = np.arange(2 * 32 * 32 * 3, dtype=np.uint8).reshape(2, 32, 32, 3)
    views = tta_views(x)
    assert len(views) == 6
    np.testing.assert_array_equal(views[0], x)
    np.testing.assert_array_equal(views[3], x[:, :, ::-1])
    np.testing.assert_array_equal(views[1][:, 1:, 1:], x[:, :-1, :-1])  # shifted down-right
    np.testing.assert_array_equal(views[2][:, :-1, :-1], x[:, 1:, 1:])
