"""timm-style model registry: families register plain factory functions by name.

A registry (rather than an ``if arch == ...`` chain in the trainer) lets a family live in its own
module, lets the contract test in ``tests/models`` run over *every* registered model, and gives
``model.arch`` one place where an unknown name is turned into a user-facing ``ConfigError``.

Example:
    >>> @register_model("tiny")
    ... def tiny(cfg: ModelConfig, input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    ...     ...
    >>> model = build_model(ModelConfig(arch="tiny"))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from cnn_doctor.config import ConfigError, ModelConfig

if TYPE_CHECKING:  # pragma: no cover - typing only
    import keras

ModelFactory = Callable[[ModelConfig, tuple[int, ...], int], "keras.Model"]

_MODELS: dict[str, ModelFactory] = {}


def register_model(name: str) -> Callable[[ModelFactory], ModelFactory]:
    """Decorator: make ``factory`` buildable as ``model.arch = name``.

    Registering a *different* function under a taken name is a programming error (two families
    would silently shadow each other), so it raises; re-registering the same function (a module
    reload) is allowed.
    """

    def decorator(factory: ModelFactory) -> ModelFactory:
        existing = _MODELS.get(name)
        if existing is not None and _qualified(existing) != _qualified(factory):
            raise ValueError(
                f"model name {name!r} is already registered by {_qualified(existing)}; "
                f"pick another name for {_qualified(factory)}"
            )
        _MODELS[name] = factory
        return factory

    return decorator


def _qualified(factory: ModelFactory) -> str:
    return f"{factory.__module__}.{factory.__qualname__}"


def available_models() -> list[str]:
    """The registered architecture names, sorted (valid values of ``model.arch``)."""
    return sorted(_MODELS)


def default_input_shape() -> tuple[int, int, int]:
    """CIFAR-10's image shape in the current ``keras.config.image_data_format()``.

    The trainer may switch to channels_first (faster convolutions on the torch CPU backend), so the
    default must follow the global setting rather than hard-code HWC.
    """
    import keras

    if keras.config.image_data_format() == "channels_first":
        return (3, 32, 32)
    return (32, 32, 3)


def build_model(
    cfg: ModelConfig,
    input_shape: Sequence[int] | None = None,
    num_classes: int = 10,
) -> keras.Model:
    """Build the (uncompiled) network ``cfg.arch`` describes.

    Args:
        cfg: the ``[model]`` section; every family honours all of its knobs.
        input_shape: one image's shape *in the current data format*, e.g. ``(32, 32, 3)`` for
            channels_last or ``(3, 32, 32)`` for channels_first; ``None`` = CIFAR-10's shape in the
            current format.
        num_classes: width of the ``logits`` layer.

    Raises:
        ConfigError: unknown ``cfg.arch`` (the message lists the valid names), unknown
            ``cfg.init`` or a depth the family cannot build.
    """
    factory = _MODELS.get(cfg.arch)
    if factory is None:
        raise ConfigError(
            f"model.arch={cfg.arch!r} is not a registered model; choose one of: "
            f"{', '.join(available_models())}"
        )
    shape = tuple(int(s) for s in (input_shape or default_input_shape()))
    if len(shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels) or (C, H, W); got {shape}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1; got {num_classes}")
    return factory(cfg, shape, num_classes)
