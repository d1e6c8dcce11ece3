"""Model builders for faults no config override can express (``--model builders:name``)."""

from __future__ import annotations

import keras


def frozen_convs(input_shape, num_classes):
    """A from-scratch CNN whose conv layers were left ``trainable=False`` (a copy-paste from a
    transfer-learning script): only the head learns, on random features."""
    layers = keras.layers
    data_format = "channels_first" if input_shape[0] == 3 else "channels_last"
    conv = dict(padding="same", activation="relu", data_format=data_format)
    model = keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(32, 3, name="conv1", **conv),
            layers.MaxPooling2D(data_format=data_format),
            layers.Conv2D(64, 3, name="conv2", **conv),
            layers.MaxPooling2D(data_format=data_format),
            layers.Conv2D(64, 3, name="conv3", **conv),
            layers.GlobalAveragePooling2D(data_format=data_format),
            layers.Dense(num_classes, name="logits"),
        ]
    )
    for name in ("conv1", "conv2", "conv3"):
        model.get_layer(name).trainable = False
    return model
