"""``fast`` (the default): an airbench94 / ResNet-9-style net, chosen for accuracy per FLOP.

a frozen 2x2 patch-whitening conv fitted to the data (``PatchWhitening``) → act, then 3 groups of
``conv3x3 → maxpool2 → BN → act → conv3x3 → BN → act`` with reference widths 64/256/256 (times
``model.width``; the default 0.625 gives 40/160/160, ~0.4x airbench94's FLOPs; measured here
on the full data in float32, 8 epochs: 0.5 → 86.0% test in 12.4 min, 0.625 → 87.0% in 18.2 min;
with bfloat16 compute (``run.precision``, ~1.5x faster per epoch here) 0.625 runs 12 epochs in
18.0 min and reaches 88.4%), → global max-pool → bias-free ``logits`` Dense whose input is
scaled by 1/9.

Kept from airbench (cheap, and each measured to help there): pooling *before* BN in a group, BN
without a learnable scale (airbench freezes the BN weight at 1), a bias-free head, the 1/9 head
scale — applied by a ``Rescaling`` layer *before* the ``logits`` Dense, which for a bias-free linear
layer is the same function as scaling its output, so the ``logits`` layer still emits the model's
logits; the patch-whitening stem (measured here on a 10k-image subset, 4 epochs, side by side:
val accuracy 0.619 with it vs 0.606 with a plain conv stem, and a cheaper first layer). Dropped:
dirac init, BN-bias LR multipliers and lookahead.

``model.depth`` = convs per group (0 → 2, as airbench94; 3 is how airbench95/96 deepen it; 1 keeps
only the pooling conv). The number of groups stays 3 because each one halves the resolution and
32 px leaves room for exactly three before the 4x4 global pool.
"""

from __future__ import annotations

import keras

from cnn_doctor.config import ModelConfig
from cnn_doctor.models.layers import LayerMaker, image_input, scaled
from cnn_doctor.models.registry import register_model
from cnn_doctor.models.whitening import PatchWhitening

REFERENCE_DEPTH = 2
GROUP_WIDTHS = (64, 256, 256)
HEAD_SCALE = 1.0 / 9.0


@register_model("fast")
def fast(cfg: ModelConfig, input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """Build the fast default net; see the module docstring for the layout and what depth means."""
    make = LayerMaker(cfg)
    convs = cfg.depth or REFERENCE_DEPTH
    inputs = image_input(input_shape)
    x = PatchWhitening(name="whiten")(inputs)  # fitted by the trainer (``adapt``), then frozen
    x = make.act(x, "stem")
    for group, width in enumerate(GROUP_WIDTHS, start=1):
        channels = scaled(width, cfg.width)
        for conv in range(1, convs + 1):
            tag = f"g{group}_{conv}"
            x = make.conv(x, channels, f"g{group}_conv{conv}")
            if conv == 1:
                x = keras.layers.MaxPooling2D(2, data_format=None, name=f"g{group}_pool")(x)
            x = make.bn(x, f"g{group}_bn{conv}", scale=False)
            x = make.act(x, tag)
    x = keras.layers.GlobalMaxPooling2D(data_format=None, name="global_pool")(x)
    x = make.dropout(x, "dropout")
    x = keras.layers.Rescaling(HEAD_SCALE, name="head_scale")(x)
    outputs = make.head(x, num_classes, use_bias=False)
    return keras.Model(inputs, outputs, name="fast")
