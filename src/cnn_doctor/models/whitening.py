"""A frozen patch-whitening first layer, fitted to the training images like ``Normalization``.

Why: airbench94 (Jordan 2024, "94% on CIFAR-10 in 3.29 seconds", section 3.2) starts with a 2x2
conv whose filters are the eigenvectors of the covariance of 2x2 image patches, scaled by
1/sqrt(eigenvalue) — and their negations, so a following ReLU-like activation loses nothing. The
first layer then sees decorrelated, unit-variance inputs from step 0, which its ablation measured
as one of the larger savings in epochs-to-94%. Here the filters are frozen and fitted by
``adapt(images)``, the same contract as ``keras.layers.Normalization``: the trainer calls ``adapt``
on every layer that has it, with a sample of the (normalized) training images, before fitting.
"""

from __future__ import annotations

import keras
import numpy as np

#: Added to eigenvalues before 1/sqrt: airbench's value; stops near-zero-variance directions
#: (JPEG-flattened patches) from being amplified into noise.
EIGENVALUE_EPS = 5e-4


@keras.saving.register_keras_serializable(package="cnn_doctor")
class PatchWhitening(keras.layers.Layer):
    """Valid 2x2 conv with frozen, data-fitted whitening filters (``2 * 4 * channels`` outputs).

    Until ``adapt`` is called the filters are an orthogonal random basis, so an un-adapted model
    still trains (just without the head start).
    """

    def __init__(self, patch_size: int = 2, data_format: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = patch_size
        self.data_format = data_format or keras.config.image_data_format()
        self.trainable = False

    def build(self, input_shape):
        channels = input_shape[1] if self.data_format == "channels_first" else input_shape[-1]
        dims = self.patch_size * self.patch_size * int(channels)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.patch_size, self.patch_size, int(channels), 2 * dims),
            initializer="orthogonal",
            trainable=False,
        )

    def call(self, inputs):
        return keras.ops.conv(inputs, self.kernel, padding="valid", data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        p = self.patch_size - 1
        if self.data_format == "channels_first":
            n, c, h, w = input_shape
            return (n, self.kernel.shape[-1] if self.built else None, h - p, w - p)
        n, h, w, c = input_shape
        return (n, h - p, w - p, self.kernel.shape[-1] if self.built else None)

    def adapt(self, images: np.ndarray) -> None:
        """Fit the filters to ``images`` (model-format, already normalized), a few thousand is
        plenty: the covariance of 12-dimensional patches converges fast."""
        x = np.asarray(images, dtype=np.float64)
        if self.data_format == "channels_first":
            x = x.transpose(0, 2, 3, 1)
        p = self.patch_size
        windows = np.lib.stride_tricks.sliding_window_view(x, (p, p), axis=(1, 2))
        # windows: (n, h-p+1, w-p+1, c, p, p) -> patches flattened in kernel order (kh, kw, c)
        patches = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, p * p * x.shape[-1])
        patches = patches - patches.mean(axis=0)
        covariance = patches.T @ patches / len(patches)
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        filters = eigenvectors / np.sqrt(eigenvalues + EIGENVALUE_EPS)  # columns = filters
        filters = np.concatenate([filters, -filters], axis=1)
        kernel = filters.reshape(p, p, x.shape[-1], -1).astype("float32")
        self.kernel.assign(kernel)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "patch_size": self.patch_size,
            "data_format": self.data_format,
        }
