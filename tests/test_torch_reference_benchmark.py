"""The pure-torch reference of ``benchmarks/torch_reference.py`` is the default recipe: same weight
count as the Keras ``fast`` net, the same function given the same weights, the same first
optimizer step and the same LR curve. Tiny width, CPU only, a few seconds.

``benchmarks/`` is not a package, so the script is loaded from its path.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import torch

from cnn_doctor.batches import one_hot
from cnn_doctor.config import OptimConfig
from cnn_doctor.schedules import lr_table

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "torch_reference.py"
WIDTH = 0.125  # 8/32/32 channels: the real layout, a fraction of the cost


def _load():
    spec = importlib.util.spec_from_file_location("torch_reference", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


ref = _load()


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a shared 2-core machine, OpenMP barriers between two threads stall
    for whole scheduler slices (a tiny step measured 1.3 s with 2 threads, 0.05 s with 1)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3, 32, 32)).astype("float32")
    return x, rng.integers(0, 10, size=16)


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch):
    """The product's compiled default model at ``WIDTH`` (channels_first, as the trainer builds
    it on torch) and the torch net holding the same initial weights."""
    monkeypatch.delenv("CNN_DOCTOR_CHANNELS_LAST", raising=False)
    # Not keras.utils.set_random_seed: it imports tensorflow when installed (~10 s); the checks
    # compare both sides from the same weights, so any draw serves.
    random.seed(0)
    torch.manual_seed(0)
    config = ref.default_config(WIDTH, 16)
    model = ref.keras_model(config, steps_per_epoch=10)
    net = ref.FastNet(width=WIDTH)
    ref.copy_keras_weights(net, model)
    return config, model, net


def test_weight_count_matches_keras_fast(compiled):
    _, model, net = compiled
    trainable, total = ref.weight_counts(net)
    assert (trainable, total) == ref.keras_weight_counts(model)
    assert total > trainable  # whitening kernel and BN statistics are counted as frozen


def test_same_weights_give_the_same_logits(compiled, batch):
    _, model, net = compiled
    x, _ = batch
    expected = keras.ops.convert_to_numpy(model(x, training=True))
    got = net.train()(torch.from_numpy(x)).detach().numpy()
    assert got.shape == (16, 10)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_first_step_matches_keras_fit_step(compiled, batch):
    """Loss (smoothed CE + L2 in the loss) and the Nesterov update agree with Keras's own step."""
    config, model, net = compiled
    x, y = batch
    o = config.optim
    recipe = ref.TorchRecipe(net, ref.onecycle(o.lr, o.epochs * 10), l2=config.model.weight_decay)
    keras_loss = model.train_on_batch(x, one_hot(y, 10), return_dict=True)["loss"]
    torch_loss = float(recipe.step(torch.from_numpy(x), torch.from_numpy(y)))
    assert torch_loss == pytest.approx(float(keras_loss), rel=1e-5)
    updated = ref.FastNet(width=WIDTH)
    ref.copy_keras_weights(updated, model)
    for ours, theirs in zip(net.kernels(), updated.kernels(), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(net.groups[0].norms[0].bias, updated.groups[0].norms[0].bias)


def test_one_step_lowers_the_loss(batch):
    torch.manual_seed(0)
    x, y = (torch.from_numpy(a) for a in batch)
    net = ref.FastNet(width=WIDTH)
    ref.fit_whitening(net, x)
    recipe = ref.TorchRecipe(net, [0.05])
    with torch.no_grad():
        before = float(recipe.loss(net.train()(x), y))
    recipe.step(x, y)
    with torch.no_grad():
        after = float(recipe.loss(net(x), y))
    assert after < before


@pytest.mark.parametrize("warmup", [0.0, 1.5])
def test_schedule_follows_the_projects_curve(warmup):
    cfg = OptimConfig(epochs=4, warmup_epochs=warmup, min_lr=0.01)
    steps_per_epoch = 7
    ours = ref.onecycle(cfg.lr, cfg.epochs * steps_per_epoch, warmup * steps_per_epoch, 0.01)
    np.testing.assert_allclose(ours, lr_table(cfg, steps_per_epoch), rtol=1e-6)


def test_torch_augment_flips_and_standardizes():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(64, 32, 32, 3), dtype=np.uint8)
    augment = ref.TorchAugment(images, padding=0, seed=0)
    out = augment(torch.arange(64))
    assert out.shape == (64, 3, 32, 32)
    plain = (torch.from_numpy(images).permute(0, 3, 1, 2).float() - augment.mean) * augment.inv_std
    same = torch.isclose(out, plain).flatten(1).all(dim=1)
    mirrored = torch.isclose(out, plain.flip(3)).flatten(1).all(dim=1)
    assert bool((same | mirrored).all()) and same.any() and mirrored.any()
    assert abs(float(plain.mean())) < 1e-3 and abs(float(plain.std()) - 1) < 1e-3
