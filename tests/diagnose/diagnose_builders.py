"""Model builders for ``cnn-doctor diagnose --model diagnose_builders:...`` in tests."""

from __future__ import annotations

import keras


def softmax_cnn(input_shape, num_classes):
    """A small CNN that ends in softmax: with the pipeline's from_logits=True, a double softmax."""
    layers = keras.layers
    data_format = "channels_first" if input_shape[0] == 3 else "channels_last"
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(8, 3, padding="same", activation="relu", data_format=data_format),
            layers.MaxPooling2D(data_format=data_format),
            layers.Flatten(),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )
