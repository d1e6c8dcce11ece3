"""Typed configuration tree: defaults, TOML loading, ``--set`` overrides and validation.

One dataclass per section (``data``, ``model``, ``optim``, ``run``). The defaults *are* the default
recipe, so ``cnn-doctor train`` with no arguments trains it. Every value a user can get wrong is
checked here, once, with an error that names the key and the valid choices — the rest of the code
can trust a ``Config``.

This module must not import keras: the backend is chosen from ``run.backend`` *before* keras loads.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

import tomli_w

NORMALIZATIONS = ("standardize", "scale", "none")
AUGMENTATIONS = ("crop", "flip", "translate", "rotate", "color_jitter", "cutout")
ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh")
FINAL_ACTIVATIONS = ("none", "softmax")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "exponential", "cosine", "onecycle")
BACKENDS = ("torch", "tensorflow", "jax")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
PRESETS_DIR = Path(__file__).parent / "presets"


class ConfigError(ValueError):
    """A user mistake in a config file or override; the message says how to fix it."""


@dataclass
class DataConfig:
    """Where the images come from and what is done to them before the network sees them."""

    data_dir: str = ""  # "" = $CNN_DOCTOR_DATA, then ~/.cache/cnn-doctor (downloading if absent)
    val_size: int = (
        5000  # held out from train, stratified; the test set is only for the final figure
    )
    subset: int = 0  # train on this many images (0 = all that remain after the validation split)
    normalize: Literal["standardize", "scale", "none"] = "standardize"
    augment: list[str] = field(default_factory=lambda: ["crop", "flip"])
    crop_padding: int = 4  # pixels of reflect padding before the random 32x32 crop
    translate: int = 2  # max shift in pixels (zero fill) for "translate"
    rotate: float = 10.0  # max rotation in degrees for "rotate"
    color_jitter: float = 0.2  # max relative change of brightness / contrast / saturation
    cutout: int = 8  # side in pixels of the square zeroed by "cutout"
    label_noise: float = 0.0  # fraction of *train* labels flipped to another class (plants a fault)


@dataclass
class ModelConfig:
    """Which network, and the architecture knobs every family honours."""

    arch: str = "fast"
    width: float = 0.625  # channel multiplier of the family's reference widths
    depth: int = 0  # 0 = the family's reference depth
    activation: Literal["relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh"] = "gelu"
    batchnorm: bool = True
    dropout: float = 0.0
    weight_decay: float = 5e-4  # L2 coefficient on conv/dense kernels
    final_activation: Literal["none", "softmax"] = "none"
    init: str = "he_normal"  # any Keras initializer name


@dataclass
class OptimConfig:
    """Optimizer, learning-rate schedule and batch size."""

    name: Literal["sgd", "adam", "adamw", "rmsprop"] = "sgd"
    lr: float = 0.2
    momentum: float = 0.9
    nesterov: bool = True
    batch_size: int = 256
    epochs: int = 12
    label_smoothing: float = 0.2
    from_logits: bool = True  # how the loss reads the model's output
    schedule: Literal["constant", "step", "exponential", "cosine", "onecycle"] = "onecycle"
    warmup_epochs: float = 0.0  # linear warm-up from 0 (for "onecycle": the rising part)
    hold_epochs: int = 0  # constant LR for this many epochs before "exponential"/"cosine" decay
    step_epochs: list[int] = field(default_factory=lambda: [30, 60])  # "step" milestones
    gamma: float = 0.1  # LR factor at each step milestone, or per epoch for "exponential"
    min_lr: float = 0.0  # floor of "cosine"/"onecycle" decay


@dataclass
class RunConfig:
    """Reproducibility and output."""

    seed: int = 0
    out_dir: str = "runs"
    name: str = ""  # suffix of the run directory; "" = the architecture name
    backend: Literal["torch", "tensorflow", "jax"] = "torch"
    # "auto" = mixed_bfloat16 where the hardware runs bfloat16 natively (see precision.py), else
    # float32; a run's saved config.toml records which one it used.
    precision: Literal["auto", "float32", "mixed_bfloat16", "mixed_float16"] = "auto"
    tta: bool = True  # test-time augmentation (flip + 1-px shifts, 6 views) for the test figure
    evaluate_test: bool = True  # false: skip the test set (sweeps/ablations rank on validation)
    # Wall-time budget ("20m", "90s", "1h30m" or seconds; "" or 0 = none): optim.epochs becomes
    # the most epochs that fit, measured on this machine (budget.py, calibrate.py).
    time_budget: str = ""


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    def save(self, path: Path) -> None:
        from cnn_doctor.atomic import atomic_write_text

        atomic_write_text(path, self.to_toml())


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "optim": OptimConfig,
    "run": RunConfig,
}


def _field_types(section_cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(section_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(section_cls)}


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Turn ``value`` (from TOML or a ``--set`` string) into ``hint``'s type, or explain why not."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise ConfigError(f"{key}={value!r} is not valid; choose one of: {', '.join(choices)}")
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{key}={value!r} is not a boolean; use true or false")
    if hint is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ConfigError(f"{key}={value!r} is not an integer")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}={value!r} is not an integer") from None
    if hint is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key}={value!r} is not a number")
        try:
            result = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}={value!r} is not a number") from None
        if not math.isfinite(result):
            raise ConfigError(f"{key}={value!r} must be a finite number")
        return result
    if hint is str:
        return str(value)
    if origin is list:
        (item_hint,) = typing.get_args(hint)
        if isinstance(value, str):
            value = [v.strip() for v in value.strip("[]").split(",") if v.strip()]
            value = [v.strip("'\"") for v in value]
        if not isinstance(value, list):
            raise ConfigError(f"{key}={value!r} must be a list")
        return [_coerce(f"{key}[]", v, item_hint) for v in value]
    raise ConfigError(f"{key}: unsupported type {hint}")  # pragma: no cover - programming error


def _merge(config: Config, raw: dict[str, Any], origin: str) -> None:
    for section_name, values in raw.items():
        if section_name not in SECTIONS:
            raise ConfigError(
                f"{origin}: unknown section [{section_name}]; valid sections: {', '.join(SECTIONS)}"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{origin}: [{section_name}] must be a table of key = value")
        section = getattr(config, section_name)
        types = _field_types(type(section))
        for key, value in values.items():
            if key not in types:
                raise ConfigError(
                    f"{origin}: unknown key {section_name}.{key}; valid keys: {', '.join(types)}"
                )
            setattr(section, key, _coerce(f"{section_name}.{key}", value, types[key]))


def parse_override(text: str) -> tuple[str, str, str]:
    """Split ``section.key=value`` into its three parts, with a clear error when malformed."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected section.key=value, e.g. optim.lr=0.01")
    dotted, value = text.split("=", 1)
    if dotted.count(".") != 1:
        raise ConfigError(f"--set {text!r}: expected section.key=value, e.g. optim.lr=0.01")
    section, key = (part.strip() for part in dotted.split("."))
    return section, key, value.strip()


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A config file path, or the name of a shipped preset (``seed``, ``default``…)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    preset = PRESETS_DIR / f"{name_or_path}.toml"
    if preset.is_file():
        return preset
    presets = sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))
    raise ConfigError(
        f"config {str(name_or_path)!r} is neither a file nor a preset; "
        f"presets: {', '.join(presets)}"
    )


def load_config(path: str | Path | None = None, overrides: typing.Sequence[str] = ()) -> Config:
    """Defaults, then the TOML file (a path or preset name), then each ``--set`` in order."""
    config = Config()
    if path is not None:
        resolved = resolve_config_path(path)
        try:
            raw = tomllib.loads(resolved.read_text())
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{resolved}: not valid TOML ({error})") from None
        _merge(config, raw, str(resolved))
    for text in overrides:
        section, key, value = parse_override(text)
        _merge(config, {section: {key: value}}, f"--set {text}")
    validate(config)
    return config


def config_from_dict(raw: dict[str, Any]) -> Config:
    """Rebuild a ``Config`` from ``Config.to_dict()`` output (e.g. a saved run's config.toml)."""
    config = Config()
    _merge(config, raw, "config")
    validate(config)
    return config


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def validate(config: Config) -> None:
    """Range checks that types alone cannot express."""
    d, m, o, r = config.data, config.model, config.optim, config.run
    _require(d.val_size >= 0, "data.val_size must be >= 0")
    _require(d.subset >= 0, "data.subset must be >= 0 (0 = all images)")
    for name in d.augment:
        _require(
            name in AUGMENTATIONS,
            f"data.augment: unknown augmentation {name!r}; choose from: {', '.join(AUGMENTATIONS)}",
        )
    _require(0 <= d.crop_padding <= 16, "data.crop_padding must be in [0, 16] pixels")
    _require(0 <= d.translate <= 16, "data.translate must be in [0, 16] pixels")
    _require(0 <= d.rotate <= 180, "data.rotate must be in [0, 180] degrees")
    _require(0 <= d.color_jitter <= 1, "data.color_jitter must be in [0, 1]")
    _require(0 <= d.cutout <= 32, "data.cutout must be in [0, 32] pixels")
    _require(0 <= d.label_noise < 1, "data.label_noise must be in [0, 1)")
    _require(m.width > 0, "model.width must be > 0")
    _require(m.depth >= 0, "model.depth must be >= 0 (0 = the family's reference depth)")
    _require(0 <= m.dropout < 1, "model.dropout must be in [0, 1)")
    _require(m.weight_decay >= 0, "model.weight_decay must be >= 0")
    _require(o.lr > 0, "optim.lr must be > 0")
    _require(0 <= o.momentum < 1, "optim.momentum must be in [0, 1)")
    _require(o.batch_size >= 1, "optim.batch_size must be >= 1")
    _require(o.epochs >= 1, "optim.epochs must be >= 1")
    _require(0 <= o.label_smoothing < 1, "optim.label_smoothing must be in [0, 1)")
    _require(o.warmup_epochs >= 0, "optim.warmup_epochs must be >= 0")
    _require(o.hold_epochs >= 0, "optim.hold_epochs must be >= 0")
    _require(o.gamma > 0, "optim.gamma must be > 0")
    _require(o.min_lr >= 0, "optim.min_lr must be >= 0")
    _require(all(e > 0 for e in o.step_epochs), "optim.step_epochs must be positive epoch numbers")
    _require(bool(r.out_dir), "run.out_dir must not be empty")
    from cnn_doctor.budget import parse_duration  # here: budget.py imports this module

    parse_duration(r.time_budget)  # raises BudgetError (a ConfigError) naming the valid forms
