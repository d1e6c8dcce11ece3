"""Config: defaults, TOML + --set layering, and errors that name the fix."""

import re
from pathlib import Path

import pytest

from cnn_doctor.config import Config, ConfigError, config_from_dict, load_config, tomllib


def test_defaults_are_valid_and_round_trip_through_toml(tmp_path: Path) -> None:
    config = load_config()
    config.save(tmp_path / "c.toml")
    again = config_from_dict(tomllib.loads((tmp_path / "c.toml").read_text()))
    assert again == config


def test_file_then_overrides_in_order(tmp_path: Path) -> None:
    path = tmp_path / "my.toml"
    path.write_text('[optim]\nlr = 0.5\nname = "adam"\n[model]\narch = "seed_cnn"\n')
    config = load_config(path, ["optim.lr=0.01", "optim.lr=0.02", "data.augment=flip,cutout"])
    assert config.optim.lr == 0.02
    assert config.optim.name == "adam"
    assert config.model.arch == "seed_cnn"
    assert config.data.augment == ["flip", "cutout"]


def test_types_are_coerced_from_override_strings() -> None:
    config = load_config(
        None, ["model.batchnorm=false", "optim.epochs=3", "optim.step_epochs=[2, 4]"]
    )
    assert config.model.batchnorm is False
    assert config.optim.epochs == 3
    assert config.optim.step_epochs == [2, 4]


def test_presets_load_by_name() -> None:
    seed = load_config("seed")
    assert seed.model.arch == "seed_cnn"
    assert seed.optim.name == "adam"
    assert load_config("default") == Config()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.nam=sgd", "valid keys: name, lr"),
        ("optimizer.lr=1", "valid sections: data, model, optim, run"),
        ("optim.name=sgdd", "choose one of: sgd, adam, adamw, rmsprop"),
        ("optim.lr=fast", "not a number"),
        ("optim.lr=-1", "optim.lr must be > 0"),
        ("optim.epochs=2.5", "not an integer"),
        ("model.batchnorm=maybe", "use true or false"),
        ("data.augment=crop,blur", "choose from: crop, flip"),
        ("data.label_noise=1.5", "data.label_noise must be in [0, 1)"),
        ("optim.lr", "expected section.key=value"),
        ("lr=0.1", "expected section.key=value"),
        ("optim.lr=nan", "finite"),
    ],
)
def test_bad_values_raise_errors_that_say_what_is_valid(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(None, [override])


def test_bad_toml_and_unknown_preset_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[optim\nlr = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="presets: default, seed"):
        load_config("no-such-preset")
