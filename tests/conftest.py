"""Shared tiny fixtures.

``tiny_cifar_dir`` is a real CIFAR-10 *binary* layout on disk (so code under test goes through
the same loader as with the real data) holding 200 train / 50 test synthetic images that a tiny
network learns in seconds: each class has its own colour and texture (see
``cnn_doctor.data.cifar10.synthetic_images``). Session-scoped: written once (~10 ms), read-only
by convention — tests that need to break files should write their own copy.
"""

from __future__ import annotations

import os

# Our pipeline's default backend, pinned before anything imports keras.
os.environ.setdefault("KERAS_BACKEND", "torch")

from collections.abc import Iterator
from pathlib import Path

import pytest

from cnn_doctor.data.cifar10 import Cifar10, load_cifar10, synthetic_cifar10, write_dataset

TINY_TRAIN = 200
TINY_TEST = 50


@pytest.fixture(scope="session")
def tiny_cifar_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder containing ``cifar-10-batches-bin/`` (pass it as ``data.data_dir``)."""
    root = tmp_path_factory.mktemp("tiny_cifar")
    data = synthetic_cifar10(TINY_TRAIN, TINY_TEST, seed=0)
    write_dataset(root, data.x_train, data.y_train, data.x_test, data.y_test, data.class_names)
    return root


@pytest.fixture(scope="session")
def tiny_cifar(tiny_cifar_dir: Path) -> Cifar10:
    """The parsed ``tiny_cifar_dir`` (arrays are read-only: copy before modifying)."""
    return load_cifar10(tiny_cifar_dir, download=False)


@pytest.fixture
def isolated_data_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No ``$CNN_DOCTOR_DATA`` and an empty user cache (HOME -> tmp): nothing is found unless the
    test puts it there, and nothing is written to the real cache. Yields the fake HOME."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.delenv("CNN_DOCTOR_DATA", raising=False)
    monkeypatch.setenv("HOME", str(home))
    yield home
