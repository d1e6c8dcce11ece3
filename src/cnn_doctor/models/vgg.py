"""``vgg``: VGG-style stacks of 3x3 convs for 32x32 images.

Four stages with reference widths 64/128/256/512 (times ``model.width``), max-pool between stages
(32 → 16 → 8 → 4), then global average pooling and a single ``logits`` Dense — the CIFAR habit of
dropping VGG's 4096-unit FC layers, which hold most of its parameters and overfit 50k images.

``model.depth`` = total conv layers (0 → 8, i.e. 2 per stage). Convs are spread as evenly as
possible with the remainder going to the deeper stages (10 → 2/2/3/3); fewer than 4 convs use only
the first ``depth`` stages.
"""

from __future__ import annotations

import keras

from cnn_doctor.config import ModelConfig
from cnn_doctor.models.layers import LayerMaker, image_input, scaled
from cnn_doctor.models.registry import register_model

REFERENCE_DEPTH = 8
STAGE_WIDTHS = (64, 128, 256, 512)


def convs_per_stage(depth: int) -> list[int]:
    """How ``depth`` convs are spread over the (up to) four stages."""
    stages = len(STAGE_WIDTHS)
    if depth < stages:
        return [1] * depth
    base, extra = divmod(depth, stages)
    return [base + (1 if stage >= stages - extra else 0) for stage in range(stages)]


@register_model("vgg")
def vgg(cfg: ModelConfig, input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """Build the VGG-style net; see the module docstring for how depth is distributed."""
    make = LayerMaker(cfg)
    counts = convs_per_stage(cfg.depth or REFERENCE_DEPTH)
    inputs = image_input(input_shape)
    x = inputs
    stages = zip(counts, STAGE_WIDTHS[: len(counts)], strict=True)
    for stage, (count, width) in enumerate(stages, start=1):
        if stage > 1:
            x = keras.layers.MaxPooling2D(2, data_format=None, name=f"pool{stage - 1}")(x)
        for conv in range(1, count + 1):
            tag = f"{stage}_{conv}"
            x = make.conv(x, scaled(width, cfg.width), f"conv{tag}")
            x = make.bn(x, f"bn{tag}")
            x = make.act(x, tag)
    x = keras.layers.GlobalAveragePooling2D(data_format=None, name="gap")(x)
    x = make.dropout(x, "dropout")
    outputs = make.head(x, num_classes)
    return keras.Model(inputs, outputs, name="vgg")
