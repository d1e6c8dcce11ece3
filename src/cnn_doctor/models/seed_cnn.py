"""``seed_cnn``: the small CNN from the question that started cnn-doctor, made configurable.

Conv32-Pool-Conv64-Pool-Flatten-Dense128-Dropout-Dense10 with 3x3 convs (Keras's default "valid"
padding, as in the question) and 2x2 max-pools. It is the baseline whose accuracy stalls near 70%;
the ``seed`` preset reproduces its original recipe, so this factory just honours the config — e.g.
the question's Dropout(0.5) is ``model.dropout = 0.5`` in that preset, and ``dropout = 0`` means no
dropout layer at all.

``model.depth`` = number of conv blocks (0 → 2, the original). Each extra block doubles the channels
up to 8x the first block's (256 at width 1). A block's conv keeps "valid" padding while its input is
at least 8 px wide (else "same", so deep variants never shrink to nothing), and it max-pools while
the map is still at least 4 px wide.
"""

from __future__ import annotations

import keras

from cnn_doctor.config import ModelConfig
from cnn_doctor.models.layers import LayerMaker, image_input, scaled, spatial_size
from cnn_doctor.models.registry import register_model

REFERENCE_DEPTH = 2
FIRST_CHANNELS = 32
MAX_CHANNELS = 256
DENSE_UNITS = 128


@register_model("seed_cnn")
def seed_cnn(cfg: ModelConfig, input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """Build the seed CNN; see the module docstring for how width and depth scale it."""
    make = LayerMaker(cfg)
    depth = cfg.depth or REFERENCE_DEPTH
    inputs = image_input(input_shape)
    size = min(spatial_size(input_shape))
    x = inputs
    channels = FIRST_CHANNELS
    for block in range(1, depth + 1):
        padding = "valid" if size >= 8 else "same"
        x = make.conv(x, scaled(channels, cfg.width), f"conv{block}", padding=padding)
        if padding == "valid":
            size -= 2
        x = make.bn(x, f"bn{block}")
        x = make.act(x, str(block))
        if size >= 4:
            x = keras.layers.MaxPooling2D(2, data_format=None, name=f"pool{block}")(x)
            size //= 2
        channels = min(channels * 2, MAX_CHANNELS)
    x = keras.layers.Flatten(data_format=None, name="flatten")(x)
    x = make.dense(x, scaled(DENSE_UNITS, cfg.width), "fc1")
    x = make.act(x, "fc1")
    x = make.dropout(x, "dropout")
    outputs = make.head(x, num_classes)
    return keras.Model(inputs, outputs, name="seed_cnn")
