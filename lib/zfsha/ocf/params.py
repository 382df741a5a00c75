"""Typed parameters read from OCF_RESKEY_* with one clear reason per mistake."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence

from zfsha.errors import ConfigError
from zfsha.ocf.declaration import Param, Value

log = logging.getLogger("zfsha.ocf")

# The spellings ocf-shellfuncs' ocf_is_true accepts, and their opposites.
TRUE_WORDS = frozenset({"1", "yes", "true", "on", "y", "ja"})
FALSE_WORDS = frozenset({"0", "no", "false", "off", "n", "nein"})


def parse_boolean(name: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"parameter {name} must be a boolean (true/false), got {raw!r}")


def parse_value(param: Param, raw: str) -> Value:
    if param.type == "boolean":
        return parse_boolean(param.name, raw)
    if param.type == "integer":
        try:
            number = int(raw.strip())
        except ValueError:
            raise ConfigError(f"parameter {param.name} must be an integer, got {raw!r}") from None
        if param.minimum is not None and number < param.minimum:
            raise ConfigError(f"parameter {param.name} must be at least {param.minimum}, got {number}")
        return number
    if param.type == "select" and raw not in param.choices:
        raise ConfigError(f"parameter {param.name} must be one of {', '.join(param.choices)}, got {raw!r}")
    return raw


class Params(Mapping[str, Value]):
    """Parsed parameter values by name; attribute access for readable handlers (params.pool)."""

    def __init__(self, values: dict[str, Value], explicit: frozenset[str]) -> None:
        self._values = values
        self.explicit = explicit

    def __getitem__(self, name: str) -> Value:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Value:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None


def read_params(declared: Sequence[Param], environ: Mapping[str, str]) -> Params:
    """Parse every declared parameter from the environment; the first mistake raises ConfigError."""
    values: dict[str, Value] = {}
    explicit: set[str] = set()
    by_name = {param.name: param for param in declared}
    for param in declared:
        raw = environ.get(f"OCF_RESKEY_{param.name}")
        if raw is None or raw == "":
            values[param.name] = param.default
            continue
        explicit.add(param.name)
        values[param.name] = parse_value(param, raw)
    for param in declared:
        if param.deprecated and param.name in explicit:
            replacement = by_name.get(param.replaced_with or "")
            if replacement is None:
                log.warning("parameter %s is deprecated", param.name)
                continue
            log.warning("parameter %s is deprecated; use %s", param.name, replacement.name)
            if replacement.name not in explicit:
                values[replacement.name] = values[param.name]
                explicit.add(replacement.name)
    for param in declared:
        if param.required and param.name not in explicit:
            raise ConfigError(f"required parameter {param.name} is not set")
        if param.check is not None and values[param.name] is not None:
            param.check(values[param.name])
    return Params(values, frozenset(explicit))
