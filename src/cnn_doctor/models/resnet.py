"""``resnet``: the CIFAR ResNet v1 of He et al. (2016), section 4.2.

A 3x3 stem conv, then 3 stages of ``n`` basic blocks (conv-BN-act-conv-BN, add, act) with
16/32/64 channels times ``model.width``; the first block of stages 2 and 3 halves the resolution
with stride 2. ``model.depth`` = 6n + 2 weight layers (0 → 20, i.e. ResNet-20 with 0.27M params
at width 1). Where the shape changes the shortcut is a strided 1x1 conv + BN (option B, as in the
Keras ``cifar10_resnet`` example) — option A's zero-padding would need a Lambda layer, which does
not serialize safely.

Without BN (``batchnorm=false``) it is a plain residual net: convs get biases, nothing else changes,
so "is BN what makes this train?" is a one-flag ablation.
"""

from __future__ import annotations

import keras

from cnn_doctor.config import ConfigError, ModelConfig
from cnn_doctor.models.layers import LayerMaker, image_input, scaled
from cnn_doctor.models.registry import register_model

REFERENCE_DEPTH = 20
STAGE_WIDTHS = (16, 32, 64)


def blocks_per_stage(depth: int) -> int:
    """``n`` in depth = 6n + 2, or a ``ConfigError`` listing valid depths."""
    if depth < 8 or (depth - 2) % 6:
        raise ConfigError(
            f"model.depth={depth} is not valid for resnet: it must be 6n+2 "
            "(8, 14, 20, 32, 44, 56, 110), or 0 for 20"
        )
    return (depth - 2) // 6


@register_model("resnet")
def resnet(cfg: ModelConfig, input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """Build CIFAR ResNet-(6n+2) v1; see the module docstring."""
    make = LayerMaker(cfg)
    n = blocks_per_stage(cfg.depth or REFERENCE_DEPTH)
    inputs = image_input(input_shape)
    x = make.conv(inputs, scaled(STAGE_WIDTHS[0], cfg.width), "conv1")
    x = make.bn(x, "bn1")
    x = make.act(x, "1")
    in_channels = scaled(STAGE_WIDTHS[0], cfg.width)
    for stage, width in enumerate(STAGE_WIDTHS, start=1):
        channels = scaled(width, cfg.width)
        for block in range(1, n + 1):
            tag = f"s{stage}b{block}"
            strides = 2 if stage > 1 and block == 1 else 1
            y = make.conv(x, channels, f"{tag}_conv1", strides=strides)
            y = make.bn(y, f"{tag}_bn1")
            y = make.act(y, f"{tag}_1")
            y = make.conv(y, channels, f"{tag}_conv2")
            y = make.bn(y, f"{tag}_bn2")
            shortcut = x
            if strides != 1 or channels != in_channels:
                shortcut = make.conv(x, channels, f"{tag}_proj", kernel_size=1, strides=strides)
                shortcut = make.bn(shortcut, f"{tag}_proj_bn")
            x = keras.layers.Add(name=f"{tag}_add")([shortcut, y])
            x = make.act(x, f"{tag}_out")
            in_channels = channels
    x = keras.layers.GlobalAveragePooling2D(data_format=None, name="gap")(x)
    x = make.dropout(x, "dropout")
    outputs = make.head(x, num_classes)
    return keras.Model(inputs, outputs, name="resnet")
