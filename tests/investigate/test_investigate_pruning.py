"""The Keras pruning callback: reports 1-based epochs, prunes mid-run, never on the last epoch."""

from __future__ import annotations

import optuna
import pytest

from cnn_doctor.investigate.pruning import OptunaPruning


def _trial() -> optuna.Trial:
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.99)
    )
    return study.ask()


def test_prunes_a_lagging_epoch_and_reports_it_one_based() -> None:
    trial = _trial()
    callback = OptunaPruning(trial)
    callback.set_params({"epochs": 3})
    with pytest.raises(optuna.TrialPruned, match="epoch 1"):
        callback.on_epoch_end(0, {"val_accuracy": 0.5})
    assert trial.study.trials[0].intermediate_values == {1: 0.5}


def test_last_epoch_is_reported_but_never_pruned() -> None:
    trial = _trial()
    callback = OptunaPruning(trial)
    callback.set_params({"epochs": 2})
    callback.on_epoch_end(1, {"val_accuracy": 0.5})  # would be pruned at any earlier epoch
    assert trial.study.trials[0].intermediate_values == {2: 0.5}


def test_missing_metric_warns_once_and_does_not_prune() -> None:
    callback = OptunaPruning(_trial(), monitor="val_accuracy")
    callback.on_train_begin()
    with pytest.warns(UserWarning, match="available: loss"):
        callback.on_epoch_end(0, {"loss": 1.0})
    callback.on_epoch_end(1, {"loss": 1.0})  # no second warning (filterwarnings=error)
