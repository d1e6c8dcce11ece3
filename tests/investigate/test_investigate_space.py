"""Search-space parsing: the config's types decide the distribution; mistakes fail at read time."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from cnn_doctor.config import Config, ConfigError
from cnn_doctor.investigate.space import SpaceError, apply_params, load_space, parse_space

SPACE_TOML = """
[optim.lr]
low = 1e-3
high = 1.0
log = true

[optim.name]
choices = ["sgd", "adam"]

[model.depth]
low = 1
high = 3

[data.augment]
choices = [[], ["crop", "flip"]]
"""


def test_load_space_infers_distributions_from_config_types(tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_text(SPACE_TOML)
    space = load_space(path)
    kinds = {p.key: p.kind for p in space.params}
    assert kinds == {
        "optim.lr": "float",
        "optim.name": "categorical",
        "model.depth": "int",
        "data.augment": "categorical",
    }


def test_suggested_values_build_a_valid_config_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_text(SPACE_TOML)
    space = load_space(path)
    again = parse_space(space.to_dict())
    assert again == space
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        trial = study.ask()
        params = space.suggest(trial)
        config = apply_params(Config(), params)
        assert 1e-3 <= config.optim.lr <= 1.0
        assert config.optim.name in ("sgd", "adam")
        assert config.data.augment in ([], ["crop", "flip"])
        assert isinstance(config.model.depth, int)
        study.tell(trial, 0.5)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"optim": {"lrr": {"low": 1, "high": 2}}}, "unknown key optim.lrr"),
        ({"optimizer": {"lr": {"low": 1, "high": 2}}}, "unknown section"),
        ({"optim": {"lr": {"low": 1.0, "high": 0.1}}}, "must be smaller"),
        ({"optim": {"lr": {"low": 0.0, "high": 1.0, "log": True}}}, "log = true needs low > 0"),
        ({"optim": {"lr": {"low": -1.0, "high": 1.0}}}, "optim.lr must be > 0"),
        ({"optim": {"name": {"low": 1, "high": 2}}}, "not numeric"),
        ({"optim": {"name": {"choices": ["sgd", "lion"]}}}, "choose one of"),
        ({"optim": {"name": {"choices": []}}}, "non-empty list"),
        ({"optim": {"lr": {"low": 0.1, "high": 1.0, "lo": 2}}}, "unknown field"),
        ({"model": {"depth": {"low": 1.5, "high": 3}}}, "must be integers"),
        ({"data": {"augment": {"choices": ["crop"]}}}, "each choice must be a list"),
        ({"data": {"augment": {"choices": [["blur"]]}}}, "unknown augmentation"),
        ({}, "empty"),
    ],
)
def test_space_mistakes_name_the_table_and_the_fix(raw: dict, message: str) -> None:
    with pytest.raises(SpaceError, match=message):
        parse_space(raw)


def test_space_errors_are_config_errors_so_the_cli_prints_one_line() -> None:
    assert issubclass(SpaceError, ConfigError)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(SpaceError, match="does not exist"):
        load_space(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[optim.lr\nlow=1")
    with pytest.raises(SpaceError, match="not valid TOML"):
        load_space(bad)


def test_apply_params_validates_and_leaves_the_base_untouched() -> None:
    base = Config()
    changed = apply_params(base, {"optim.lr": 0.05, "model.batchnorm": False})
    assert changed.optim.lr == 0.05 and changed.model.batchnorm is False
    assert base.optim.lr == 0.2 and base.model.batchnorm is True
    with pytest.raises(ConfigError, match="unknown config key"):
        apply_params(base, {"optim.nope": 1})
