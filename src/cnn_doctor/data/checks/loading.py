"""Build a ``DataCheckInput`` from a folder in the binary layout (and, optionally, a config).

The strict loader is tried first (it also locates and, when allowed, downloads the data); if it
refuses a damaged folder, the tolerant reader keeps the readable records and lists the others,
because reporting damage is the point of a data check. With a config, the validation rows and
the normalizer are taken from ``prepare_data`` itself, so the check sees exactly what training
would.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cnn_doctor.data.checks.base import DataCheckInput
from cnn_doctor.data.checks.records import (
    TEST_FILES,
    TRAIN_FILES,
    find_layout_dir,
    read_class_names,
    read_split_tolerant,
)
from cnn_doctor.data.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from cnn_doctor.config import Config


def _tolerant(folder: Path) -> dict[str, Any]:
    names = read_class_names(folder)
    train = read_split_tolerant(folder, TRAIN_FILES, "train", len(names))
    test = read_split_tolerant(folder, TEST_FILES, "test", len(names))
    return {
        "x_train": train.x,
        "y_train": train.y,
        "train_index": train.index,
        "x_test": test.x if len(test.x) else None,
        "y_test": test.y if len(test.x) else None,
        "test_index": test.index,
        "class_names": names,
        "unreadable": [*train.unreadable, *test.unreadable],
        "source": str(folder),
    }


def load_check_input(
    data_dir: str | Path | None = None,
    *,
    config: Config | None = None,
    download: bool = True,
) -> tuple[DataCheckInput, list[str]]:
    """The dataset as a ``DataCheckInput``, plus notes on anything that could not be derived."""
    from cnn_doctor.data.cifar10 import load_cifar10

    notes: list[str] = []
    try:
        ds = load_cifar10(data_dir or None, download=download)
        fields: dict[str, Any] = {
            "x_train": ds.x_train,
            "y_train": ds.y_train,
            "x_test": ds.x_test,
            "y_test": ds.y_test,
            "class_names": list(ds.class_names),
            "unreadable": [],
            "source": str(ds.source),
            "train_index": None,
            "test_index": None,
        }
    except DataError as strict_error:
        if not data_dir:
            raise
        try:
            folder = find_layout_dir(data_dir)
        except DataError:
            raise strict_error from None
        fields = _tolerant(folder)
        if len(fields["x_train"]) == 0:
            raise strict_error from None
        notes.append(
            f"the strict loader refused the folder ({strict_error}); read record by record instead"
        )
    data = DataCheckInput(**fields)
    if config is not None:
        data.normalize = config.data.normalize
        data.batchnorm = config.model.batchnorm
        _attach_prepared(data, config, notes)
    return data, notes


def _attach_prepared(data: DataCheckInput, config: Config, notes: list[str]) -> None:
    """Validation rows and the fitted normalizer exactly as ``prepare_data`` makes them."""
    from cnn_doctor.config import ConfigError
    from cnn_doctor.data.cifar10 import Cifar10
    from cnn_doctor.data.prepare import prepare_data

    if data.x_test is None:
        notes.append("no test split: validation rows and normalizer not derived from the config")
        return
    dataset = Cifar10(
        data.x_train,
        data.y_train,
        data.x_test,
        data.y_test,  # type: ignore[arg-type]
        list(data.class_names),
        Path(data.source or "."),
    )
    try:
        prepared = prepare_data(config.data, config.run.seed, dataset=dataset)
    except (ConfigError, ValueError) as error:
        notes.append(f"validation split not derived from the config ({error})")
        return
    data.val_rows = np.asarray(prepared.val_indices, dtype=np.int64)
    data.normalizer = prepared.normalizer
