"""Contract every registered model must meet, parametrized over ``available_models()``.

Other parts of cnn-doctor rely on these promises: the diagnosis probes ``act_*`` layers and the
``logits`` layer, the trainer reads ``final_activation`` to pick ``from_logits``, ablations flip
``batchnorm``/``dropout``/``weight_decay``, runs save ``model.keras``, and the trainer may switch to
channels_first. Models are built tiny (width 1/8, shallowest sensible depth) to keep this fast.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
import pytest

from cnn_doctor.config import ACTIVATIONS, ConfigError, ModelConfig
from cnn_doctor.models import available_models, build_model

ARCHS = available_models()
#: Shallowest depth per family that still exercises its structure; other archs use their default.
TINY_DEPTH = {"fast": 1, "resnet": 8, "vgg": 4, "seed_cnn": 2}
CL_SHAPE = (32, 32, 3)
CF_SHAPE = (3, 32, 32)


def tiny(arch: str, **overrides: object) -> ModelConfig:
    base = ModelConfig(arch=arch, width=0.125, depth=TINY_DEPTH.get(arch, 0))
    return dataclasses.replace(base, **overrides)


def images(n: int = 2, shape: tuple[int, ...] = CL_SHAPE) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, *shape)).astype("float32")


def forward(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(x, training=False))


def layers_of(model: keras.Model, *types: type) -> list[keras.layers.Layer]:
    return [layer for layer in model.layers if isinstance(layer, types)]


def weight_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return layers_of(model, keras.layers.Conv2D, keras.layers.Dense)


@pytest.mark.parametrize("arch", ARCHS)
def test_outputs_logits_from_a_layer_named_logits(arch: str) -> None:
    model = build_model(tiny(arch), CL_SHAPE, num_classes=10)
    out = forward(model, images())
    assert out.shape == (2, 10)
    assert np.isfinite(out).all()
    logits = model.get_layer("logits")
    assert isinstance(logits, keras.layers.Dense)
    assert model.layers[-1] is logits
    assert not np.allclose(out.sum(axis=1), 1.0)


@pytest.mark.parametrize("arch", ARCHS)
def test_softmax_output_rows_are_probabilities(arch: str) -> None:
    model = build_model(tiny(arch, final_activation="softmax"), CL_SHAPE, num_classes=10)
    out = forward(model, images())
    assert model.layers[-1].name == "predictions"
    assert (out >= 0).all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def activation_kind(layer: keras.layers.Layer) -> str:
    if isinstance(layer, keras.layers.LeakyReLU):
        return "leaky_relu"
    return layer.get_config()["activation"]


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("arch", ARCHS)
def test_every_activation_is_an_act_layer_of_the_configured_kind(
    arch: str, activation: str
) -> None:
    model = build_model(tiny(arch, activation=activation), CL_SHAPE)
    acts = layers_of(model, keras.layers.Activation, keras.layers.LeakyReLU)
    probed = [layer for layer in acts if layer.name.startswith("act_")]
    assert probed, "the diagnosis finds no act_ layer to probe"
    assert {activation_kind(layer) for layer in probed} == {activation}
    assert [layer.name for layer in acts if layer not in probed] == []  # nothing hides from probes
    for layer in weight_layers(model):  # no activation fused into a conv/dense
        assert layer.get_config()["activation"] == "linear", layer.name


@pytest.mark.parametrize("arch", ARCHS)
def test_batchnorm_flag_adds_or_removes_every_bn_layer(arch: str) -> None:
    with_bn = build_model(tiny(arch, batchnorm=True), CL_SHAPE)
    without = build_model(tiny(arch, batchnorm=False), CL_SHAPE)
    assert layers_of(with_bn, keras.layers.BatchNormalization)
    assert not layers_of(without, keras.layers.BatchNormalization)
    assert all(
        layer.axis in (-1, 3) for layer in layers_of(with_bn, keras.layers.BatchNormalization)
    )


@pytest.mark.parametrize("arch", ARCHS)
def test_dropout_zero_means_no_dropout_layer(arch: str) -> None:
    assert layers_of(build_model(tiny(arch, dropout=0.3), CL_SHAPE), keras.layers.Dropout)
    assert not layers_of(build_model(tiny(arch, dropout=0.0), CL_SHAPE), keras.layers.Dropout)


@pytest.mark.parametrize("arch", ARCHS)
def test_weight_decay_regularizes_every_conv_and_dense_kernel(arch: str) -> None:
    decayed = build_model(tiny(arch, weight_decay=1e-3), CL_SHAPE)
    kernels = weight_layers(decayed)
    assert len(decayed.losses) == len(kernels) > 0
    assert all(float(keras.ops.convert_to_numpy(loss)) > 0 for loss in decayed.losses)
    assert build_model(tiny(arch, weight_decay=0.0), CL_SHAPE).losses == []


@pytest.mark.parametrize("arch", ARCHS)
def test_init_is_used_for_every_kernel(arch: str) -> None:
    model = build_model(tiny(arch, init="glorot_uniform"), CL_SHAPE)
    for layer in weight_layers(model):
        assert isinstance(layer.kernel_initializer, keras.initializers.GlorotUniform), layer.name


@pytest.mark.parametrize("arch", ARCHS)
def test_unknown_init_is_a_config_error(arch: str) -> None:
    with pytest.raises(ConfigError, match="model.init='he_nromal'"):
        build_model(tiny(arch, init="he_nromal"), CL_SHAPE)


@pytest.mark.parametrize("arch", ARCHS)
def test_save_and_load_round_trip_predicts_identically(arch: str, tmp_path: Path) -> None:
    cfg = tiny(arch, dropout=0.2, final_activation="softmax", activation="leaky_relu")
    model = build_model(cfg, CL_SHAPE)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = images()
    np.testing.assert_allclose(forward(loaded, x), forward(model, x), rtol=1e-6, atol=1e-7)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


@pytest.mark.parametrize("arch", ARCHS)
def test_channels_first_matches_channels_last_with_the_same_weights(
    arch: str, channels_first: None
) -> None:
    cf_model = build_model(tiny(arch), CF_SHAPE)
    assert all(layer.axis == 1 for layer in layers_of(cf_model, keras.layers.BatchNormalization))
    keras.config.set_image_data_format("channels_last")
    cl_model = build_model(tiny(arch), CL_SHAPE)
    cf_model.set_weights(cl_model.get_weights())
    x = images()
    np.testing.assert_allclose(
        forward(cf_model, x.transpose(0, 3, 1, 2)), forward(cl_model, x), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("arch", ARCHS)
def test_width_scales_the_parameter_count(arch: str) -> None:
    small = build_model(tiny(arch, width=0.125), CL_SHAPE).count_params()
    large = build_model(tiny(arch, width=0.25), CL_SHAPE).count_params()
    assert large > 2 * small


@pytest.mark.parametrize(
    ("arch", "width", "params"),
    [("resnet", 1.0, 0.27e6), ("fast", 1.0, 2.0e6)],  # ResNet-20 (He et al.), airbench94's net
)
def test_reference_sizes_match_the_published_networks(
    arch: str, width: float, params: float
) -> None:
    model = build_model(ModelConfig(arch=arch, width=width), CL_SHAPE)
    assert model.count_params() == pytest.approx(params, rel=0.03)


def test_seed_cnn_at_width_1_is_the_original_network() -> None:
    cfg = ModelConfig(arch="seed_cnn", width=1.0, batchnorm=False, dropout=0.5)
    model = build_model(cfg, CL_SHAPE)
    convs = layers_of(model, keras.layers.Conv2D)
    assert [layer.filters for layer in convs] == [32, 64]
    assert [layer.units for layer in layers_of(model, keras.layers.Dense)] == [128, 10]
    assert model.get_layer("dropout").rate == 0.5
