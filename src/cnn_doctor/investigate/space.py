"""Search spaces for ``cnn-doctor sweep``, read from a small TOML file.

One table per config key; the key's type in the config tree decides what Optuna samples, so a space
file cannot ask for a float where the trainer expects a choice::

    [optim.lr]              # float: low/high (log = true for scale parameters like the LR)
    low = 1e-3
    high = 1.0
    log = true

    [model.depth]           # int: low/high, optional step
    low = 1
    high = 4

    [optim.name]            # anything: an explicit list of choices
    choices = ["sgd", "adam"]

    [data.augment]          # list-valued keys take a list of lists
    choices = [[], ["crop", "flip"]]

Every bound and choice is checked against the config's own validation when the file is read, so a
typo fails before a single trial has spent CPU time. Nothing here imports keras.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from cnn_doctor.config import SECTIONS, Config, ConfigError, config_from_dict

if typing.TYPE_CHECKING:  # pragma: no cover
    import optuna

ParamKind = Literal["float", "int", "categorical"]
_ALLOWED_KEYS = {"low", "high", "log", "step", "choices"}


class SpaceError(ConfigError):
    """A mistake in a search-space file; the message names the table and the fix."""


def _field_hint(section: str, key: str) -> Any:
    cls = SECTIONS[section]
    hints = typing.get_type_hints(cls)
    return hints[key]


def _is_list_hint(hint: Any) -> bool:
    return typing.get_origin(hint) is list


@dataclass(frozen=True)
class Param:
    """One searchable config key and its distribution."""

    key: str  # dotted: "optim.lr"
    kind: ParamKind
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()
    is_list: bool = False  # list-valued config key: choices travel through Optuna as JSON strings

    def suggest(self, trial: optuna.Trial) -> Any:
        """Ask ``trial`` for a value and return it in the config's own type."""
        if self.kind == "float":
            assert self.low is not None and self.high is not None
            return trial.suggest_float(self.key, self.low, self.high, log=self.log, step=self.step)
        if self.kind == "int":
            assert self.low is not None and self.high is not None
            return trial.suggest_int(
                self.key, int(self.low), int(self.high), log=self.log, step=int(self.step or 1)
            )
        if self.is_list:
            # Optuna's categorical values must be scalars; lists are stored as JSON text.
            encoded = trial.suggest_categorical(self.key, [json.dumps(c) for c in self.choices])
            return json.loads(encoded)
        return trial.suggest_categorical(self.key, list(self.choices))

    def to_dict(self) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        if self.kind == "categorical":
            raw["choices"] = [list(c) if isinstance(c, tuple) else c for c in self.choices]
        else:
            raw.update(low=self.low, high=self.high, log=self.log)
            if self.step is not None:
                raw["step"] = self.step
        return raw


@dataclass(frozen=True)
class SearchSpace:
    """The parameters a sweep samples; round-trips through ``to_dict`` for the study's attrs."""

    params: tuple[Param, ...]

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        return {p.key: p.suggest(trial) for p in self.params}

    def to_dict(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The TOML-shaped dict ``parse_space`` reads, so a joining worker can rebuild the space."""
        raw: dict[str, dict[str, dict[str, Any]]] = {}
        for p in self.params:
            section, key = p.key.split(".")
            raw.setdefault(section, {})[key] = p.to_dict()
        return raw

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.params]


def apply_params(base: Config, params: Mapping[str, Any]) -> Config:
    """A new validated ``Config``: ``base`` with each dotted key in ``params`` replaced."""
    raw = base.to_dict()
    for dotted, value in params.items():
        section, _, key = dotted.partition(".")
        if section not in raw or key not in raw[section]:
            raise ConfigError(f"unknown config key {dotted!r}")
        raw[section][key] = list(value) if isinstance(value, tuple) else value
    return config_from_dict(raw)


def _check_value(dotted: str, value: Any, where: str) -> None:
    try:
        apply_params(Config(), {dotted: value})
    except ConfigError as error:
        raise SpaceError(f"{where}: {error}") from None


def _number(where: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpaceError(f"{where}: {name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise SpaceError(f"{where}: {name} must be finite")
    return value


def _parse_param(section: str, key: str, spec: Any, origin: str) -> Param:
    dotted = f"{section}.{key}"
    where = f"{origin} [{dotted}]"
    if not isinstance(spec, dict):
        raise SpaceError(
            f"{where}: expected a table such as low = 1e-3, high = 1.0 or choices = [...]"
        )
    unknown = set(spec) - _ALLOWED_KEYS
    if unknown:
        raise SpaceError(
            f"{where}: unknown field(s) {', '.join(sorted(unknown))}; "
            f"valid fields: {', '.join(sorted(_ALLOWED_KEYS))}"
        )
    hint = _field_hint(section, key)
    if "choices" in spec:
        if set(spec) & {"low", "high", "log", "step"}:
            raise SpaceError(f"{where}: give either choices or low/high, not both")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise SpaceError(f"{where}: choices must be a non-empty list")
        is_list = _is_list_hint(hint)
        for choice in choices:
            if is_list and not isinstance(choice, list):
                raise SpaceError(
                    f'{where}: {dotted} is a list, so each choice must be a list, e.g. ["crop"]'
                )
            _check_value(dotted, choice, where)
        frozen = tuple(tuple(c) if is_list else c for c in choices)
        if len(set(frozen)) != len(frozen):
            raise SpaceError(f"{where}: choices contain duplicates")
        return Param(dotted, "categorical", choices=frozen, is_list=is_list)
    if hint not in (int, float):
        raise SpaceError(
            f"{where}: {dotted} is not numeric, so give choices = [...] instead of low/high"
        )
    if "low" not in spec or "high" not in spec:
        raise SpaceError(f"{where}: a numeric range needs both low and high")
    low, high = _number(where, "low", spec["low"]), _number(where, "high", spec["high"])
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise SpaceError(f"{where}: log must be true or false")
    step = spec.get("step")
    if step is not None:
        step = _number(where, "step", step)
        if step <= 0:
            raise SpaceError(f"{where}: step must be > 0")
        if log:
            raise SpaceError(f"{where}: step cannot be combined with log = true (Optuna rule)")
    if low >= high:
        raise SpaceError(f"{where}: low ({low}) must be smaller than high ({high})")
    if log and low <= 0:
        raise SpaceError(f"{where}: log = true needs low > 0")
    kind: ParamKind = "int" if hint is int else "float"
    if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
        raise SpaceError(f"{where}: {dotted} is an integer key, so low and high must be integers")
    _check_value(dotted, int(low) if kind == "int" else low, where + " low")
    _check_value(dotted, int(high) if kind == "int" else high, where + " high")
    return Param(dotted, kind, low=low, high=high, log=log, step=step)


def parse_space(raw: Mapping[str, Any], origin: str = "search space") -> SearchSpace:
    """Validate a TOML-shaped dict (``{"optim": {"lr": {"low": …}}}``) into a ``SearchSpace``."""
    params: list[Param] = []
    for section, tables in raw.items():
        if section not in SECTIONS:
            raise SpaceError(
                f"{origin}: unknown section [{section}]; valid sections: {', '.join(SECTIONS)}"
            )
        if not isinstance(tables, dict):
            raise SpaceError(f"{origin}: [{section}] must contain [{section}.<key>] tables")
        valid = [f.name for f in dataclasses.fields(SECTIONS[section])]
        for key, spec in tables.items():
            if key not in valid:
                raise SpaceError(
                    f"{origin}: unknown key {section}.{key}; valid keys: {', '.join(valid)}"
                )
            params.append(_parse_param(section, key, spec, origin))
    if not params:
        raise SpaceError(
            f"{origin}: the search space is empty; add a table such as "
            "[optim.lr] low = 1e-3 high = 1.0 log = true"
        )
    return SearchSpace(tuple(params))


def load_space(path: str | Path) -> SearchSpace:
    """Read and validate a search-space TOML file."""
    path = Path(path)
    if not path.is_file():
        raise SpaceError(f"search space file {str(path)!r} does not exist")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise SpaceError(f"{path}: not valid TOML ({error})") from None
    return parse_space(raw, str(path))
