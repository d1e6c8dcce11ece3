"""Shared layer makers: every ``ModelConfig`` knob is applied here, once, for all families.

Families only describe their topology; ``LayerMaker`` decides how a conv, a norm, an activation or
the head is made. That keeps the contract the rest of cnn-doctor relies on in one place:

* each activation is its own layer named ``act_*`` (the diagnosis probes these layers by prefix to
  measure dead / saturated fractions), never a fused ``activation=`` argument;
* the last ``Dense`` is named ``logits``; ``final_activation="softmax"`` adds
  ``Activation("softmax", name="predictions")`` after it;
* ``weight_decay`` is an L2 ``kernel_regularizer`` on every conv/dense kernel (0 = none);
* ``init`` is validated up front so a typo is a ``ConfigError``, not a Keras traceback;
* layers use ``data_format=None`` and a BN axis read from ``keras.config.image_data_format()``, so
  one model definition works channels_last and channels_first.
"""

from __future__ import annotations

import keras

from cnn_doctor.config import ACTIVATIONS, ConfigError, ModelConfig

#: Initializers named in the error message for an unknown ``model.init`` (not an exhaustive list).
COMMON_INITIALIZERS = (
    "he_normal",
    "he_uniform",
    "glorot_uniform",
    "glorot_normal",
    "lecun_normal",
    "orthogonal",
    "truncated_normal",
    "random_normal",
    "zeros",
)

#: Running-average momentum of BatchNorm statistics (Keras convention: new = m*old + (1-m)*batch).
#: Keras's default 0.99 averages over ~100 steps, which lags badly in the few-epoch CPU runs this
#: tool makes; airbench uses 0.6 at batch 1024, i.e. ~2.5k images, which is ~0.9 at batch 256.
BN_MOMENTUM = 0.9
#: PyTorch's default epsilon; Keras's 1e-3 is large for tiny-variance channels early in training.
BN_EPSILON = 1e-5
#: Negative slope of ``leaky_relu`` (Keras's LeakyReLU default 0.3 is unusually leaky for CNNs).
LEAKY_SLOPE = 0.1


def validate_initializer(name: str) -> str:
    """Return ``name`` if Keras can use it to initialize a conv kernel, else raise ``ConfigError``.

    Resolving the name is not enough: e.g. ``identity`` resolves but only handles 2-D kernels, so
    a tiny 4-D kernel is initialized as a probe.
    """
    try:
        initializer = keras.initializers.get(name)
    except (ValueError, TypeError):
        initializer = None
    if initializer is None:
        raise ConfigError(
            f"model.init={name!r} is not a Keras initializer; use e.g. "
            f"{', '.join(COMMON_INITIALIZERS)}"
        )
    try:
        initializer((3, 3, 2, 4))
    except (ValueError, TypeError) as error:
        raise ConfigError(
            f"model.init={name!r} cannot initialize a conv kernel ({error}); use e.g. "
            f"{', '.join(COMMON_INITIALIZERS[:6])}"
        ) from None
    return name


def channels_first() -> bool:
    """Whether the current global Keras image data format is channels_first."""
    return keras.config.image_data_format() == "channels_first"


def spatial_size(input_shape: tuple[int, ...]) -> tuple[int, int]:
    """(height, width) of ``input_shape`` read in the current data format."""
    if channels_first():
        return int(input_shape[1]), int(input_shape[2])
    return int(input_shape[0]), int(input_shape[1])


def scaled(reference: int, width: float) -> int:
    """A family's reference channel count times ``model.width``, at least 1."""
    return max(1, int(round(reference * width)))


class LayerMaker:
    """Makes layers with the config's knobs applied; families call it for every weight layer.

    Example:
        >>> make = LayerMaker(cfg)
        >>> x = make.conv(x, 32, "conv1")
        >>> x = make.bn(x, "bn1")
        >>> x = make.act(x, "1")  # a layer named "act_1"
    """

    def __init__(self, cfg: ModelConfig) -> None:
        if cfg.activation not in ACTIVATIONS:
            raise ConfigError(
                f"model.activation={cfg.activation!r} is not valid; choose one of: "
                f"{', '.join(ACTIVATIONS)}"
            )
        self.cfg = cfg
        self.init = validate_initializer(cfg.init)
        self.bn_axis = 1 if channels_first() else -1

    def _regularizer(self) -> keras.regularizers.Regularizer | None:
        if self.cfg.weight_decay > 0:
            return keras.regularizers.L2(self.cfg.weight_decay)
        return None

    def conv(
        self,
        x: keras.KerasTensor,
        filters: int,
        name: str,
        *,
        kernel_size: int = 3,
        strides: int = 1,
        padding: str = "same",
        use_bias: bool | None = None,
    ) -> keras.KerasTensor:
        """A linear conv; without an explicit ``use_bias`` it has a bias only when no BN follows."""
        if use_bias is None:
            use_bias = not self.cfg.batchnorm
        return keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            use_bias=use_bias,
            kernel_initializer=self.init,
            kernel_regularizer=self._regularizer(),
            data_format=None,
            name=name,
        )(x)

    def bn(self, x: keras.KerasTensor, name: str, *, scale: bool = True) -> keras.KerasTensor:
        """BatchNorm over the channel axis when ``cfg.batchnorm``, else the identity."""
        if not self.cfg.batchnorm:
            return x
        return keras.layers.BatchNormalization(
            axis=self.bn_axis,
            momentum=BN_MOMENTUM,
            epsilon=BN_EPSILON,
            scale=scale,
            name=name,
        )(x)

    def act(self, x: keras.KerasTensor, suffix: str) -> keras.KerasTensor:
        """The configured activation as its own layer named ``act_<suffix>``."""
        name = f"act_{suffix}"
        if self.cfg.activation == "leaky_relu":
            return keras.layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=name)(x)
        return keras.layers.Activation(self.cfg.activation, name=name)(x)

    def dense(
        self,
        x: keras.KerasTensor,
        units: int,
        name: str,
        *,
        use_bias: bool = True,
        dtype: str | None = None,
    ) -> keras.KerasTensor:
        """A linear dense layer with the configured initializer and L2 penalty."""
        return keras.layers.Dense(
            units,
            use_bias=use_bias,
            kernel_initializer=self.init,
            kernel_regularizer=self._regularizer(),
            name=name,
            dtype=dtype,
        )(x)

    def dropout(self, x: keras.KerasTensor, name: str) -> keras.KerasTensor:
        """``cfg.dropout`` dropout, or the identity when it is 0 (no do-nothing layer)."""
        if self.cfg.dropout <= 0:
            return x
        return keras.layers.Dropout(self.cfg.dropout, name=name)(x)

    def head(
        self, x: keras.KerasTensor, num_classes: int, *, use_bias: bool = True
    ) -> keras.KerasTensor:
        """The ``logits`` Dense, then ``predictions`` softmax if ``final_activation="softmax"``.

        Both compute in float32 whatever the global precision policy: under mixed bfloat16 the
        logits would otherwise carry ~3 significant digits into the softmax and the loss (the
        Keras mixed-precision guide's advice for the output layer).
        """
        x = self.dense(x, num_classes, "logits", use_bias=use_bias, dtype="float32")
        if self.cfg.final_activation == "softmax":
            x = keras.layers.Activation("softmax", name="predictions", dtype="float32")(x)
        elif self.cfg.final_activation != "none":
            raise ConfigError(
                f"model.final_activation={self.cfg.final_activation!r} is not valid; "
                "choose one of: none, softmax"
            )
        return x


def image_input(input_shape: tuple[int, ...]) -> keras.KerasTensor:
    """The model's input tensor, named ``image`` so exported graphs read well."""
    return keras.Input(shape=input_shape, name="image")
