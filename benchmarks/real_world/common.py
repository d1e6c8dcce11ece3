"""Shared pieces of the real-world corpus: the fixed CIFAR-10 subset every case trains on, and
the post-training check of what the model really predicts.

Why a fixed subset: each case must finish in about a minute on 2 CPU cores, and every case must
see the same images so that differences between cases come from the scripts, not the data. The
subset is drawn from the official training batches only (stratified, seeded), so the test batch
stays untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

N_TRAIN = 2000
N_VAL = 500
DATA_SEED = 0


@dataclass(frozen=True)
class RealWorldData:
    """What a script receives: uint8 NHWC images and int64 labels, as a user would load them."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    class_names: tuple[str, ...]


def build_subset(
    data_dir: str | Path | None, n_train: int = N_TRAIN, n_val: int = N_VAL, seed: int = DATA_SEED
) -> RealWorldData:
    """Stratified, seeded ``n_train`` + ``n_val`` images from the CIFAR-10 training batches.

    Both parts keep file order (CIFAR-10's batches are already in random class order), so a
    script that forgets to shuffle still sees mixed classes unless it sorts them itself.
    """
    from cnn_doctor.data.cifar10 import load_cifar10
    from cnn_doctor.data.prepare import stratified_split

    full = load_cifar10(data_dir, download=False, show_progress=False)
    y_all = np.asarray(full.y_train, dtype=np.int64)
    _, chosen = stratified_split(y_all, n_train + n_val, seed)
    train_pos, val_pos = stratified_split(y_all[chosen], n_val, seed + 1)
    train_idx, val_idx = chosen[train_pos], chosen[val_pos]
    return RealWorldData(
        x_train=np.ascontiguousarray(full.x_train[train_idx], dtype=np.uint8),
        y_train=y_all[train_idx],
        x_val=np.ascontiguousarray(full.x_train[val_idx], dtype=np.uint8),
        y_val=y_all[val_idx],
        class_names=tuple(full.class_names),
    )


def save_subset(data: RealWorldData, path: Path) -> None:
    """Cache the subset so each case's subprocess loads it in milliseconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        x_train=data.x_train,
        y_train=data.y_train,
        x_val=data.x_val,
        y_val=data.y_val,
        class_names=np.array(data.class_names),
    )
    tmp.replace(path)


def load_subset(path: Path) -> RealWorldData:
    with np.load(path) as raw:
        return RealWorldData(
            x_train=raw["x_train"],
            y_train=raw["y_train"],
            x_val=raw["x_val"],
            y_val=raw["y_val"],
            class_names=tuple(str(c) for c in raw["class_names"]),
        )


def record_true_accuracy(history: Any, model: Any, x_val: Any, y_val: np.ndarray) -> Any:
    """Attach the real top-1 validation accuracy to ``history`` and return it.

    Called by every script *after* ``fit`` returned (so the diagnosis cannot see it). Needed
    because the "accuracy" a script reports is not always multi-class accuracy (binary accuracy on
    10 outputs, a 1-unit sigmoid head): the symptom table shows both. ``x_val`` is the validation
    input exactly as the script prepared it (an array or a batch iterable).
    """
    if isinstance(x_val, np.ndarray):
        preds = np.asarray(model.predict(x_val, batch_size=256, verbose=0))
    else:
        preds = np.concatenate([np.asarray(model.predict_on_batch(xb)) for xb in x_val])
    preds = preds.reshape(len(preds), -1)
    if preds.shape[1] == 1:  # a one-unit head: the only "class" it can name is round(p)
        guess = np.rint(np.nan_to_num(preds[:, 0])).astype(np.int64)
    else:
        guess = np.nan_to_num(preds, nan=-np.inf).argmax(axis=1)
    history.true_val_accuracy = float(np.mean(guess == np.asarray(y_val).reshape(-1)))
    return history
