"""The registry itself: names, errors, and registration rules (no model is trained here)."""

from __future__ import annotations

import keras
import pytest

from cnn_doctor.config import ConfigError, ModelConfig
from cnn_doctor.models import (
    available_models,
    build_model,
    default_input_shape,
    register_model,
    registry,
)
from cnn_doctor.models.layers import validate_initializer
from cnn_doctor.models.resnet import blocks_per_stage
from cnn_doctor.models.vgg import convs_per_stage


def test_all_families_are_registered_and_the_default_arch_is_one_of_them() -> None:
    assert {"seed_cnn", "vgg", "resnet", "fast"} <= set(available_models())
    assert ModelConfig().arch in available_models()


def test_unknown_arch_is_a_config_error_listing_the_valid_names() -> None:
    with pytest.raises(ConfigError, match="model.arch='alexnet'") as info:
        build_model(ModelConfig(arch="alexnet"))
    for name in available_models():
        assert name in str(info.value)


@pytest.mark.parametrize("name", ["he_nromal", "not_an_init"])
def test_unknown_init_is_a_config_error_naming_valid_ones(name: str) -> None:
    with pytest.raises(ConfigError, match="he_normal"):
        validate_initializer(name)


def test_init_that_cannot_fill_a_conv_kernel_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot initialize a conv kernel"):
        validate_initializer("identity")


def test_registering_another_function_under_a_taken_name_fails() -> None:
    def impostor(cfg: ModelConfig, input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
        raise AssertionError("never built")

    with pytest.raises(ValueError, match="already registered"):
        register_model("fast")(impostor)
    assert registry._MODELS["fast"].__name__ == "fast"


def test_a_newly_registered_factory_is_built_by_name() -> None:
    @register_model("_test_linear")
    def linear(cfg: ModelConfig, input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
        inputs = keras.Input(shape=input_shape)
        x = keras.layers.Flatten()(inputs)
        return keras.Model(inputs, keras.layers.Dense(num_classes, name="logits")(x))

    try:
        model = build_model(ModelConfig(arch="_test_linear"), (4, 4, 3), num_classes=5)
        assert model.output_shape == (None, 5)
    finally:
        registry._MODELS.pop("_test_linear")


def test_default_input_shape_follows_the_data_format(channels_first: None) -> None:
    assert default_input_shape() == (3, 32, 32)


@pytest.mark.parametrize("depth", [7, 9, 21])
def test_resnet_depth_must_be_6n_plus_2(depth: int) -> None:
    with pytest.raises(ConfigError, match="6n\\+2"):
        blocks_per_stage(depth)


@pytest.mark.parametrize(
    ("depth", "expected"),
    [(2, [1, 1]), (4, [1, 1, 1, 1]), (8, [2, 2, 2, 2]), (10, [2, 2, 3, 3]), (13, [3, 3, 3, 4])],
)
def test_vgg_spreads_depth_over_stages_deepest_last(depth: int, expected: list[int]) -> None:
    assert convs_per_stage(depth) == expected
