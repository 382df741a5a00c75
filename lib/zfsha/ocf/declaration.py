"""What an OCF agent is: its parameters and actions, declared once.

The metadata XML, parameter parsing and validation all derive from these declarations, so the help an
admin reads in `pcs resource describe` cannot drift from what the agent does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Union

ParamType = Literal["string", "integer", "boolean", "select"]
Value = Union[str, int, bool, None]


@dataclass(frozen=True)
class Param:
    """One instance attribute of a resource (OCF_RESKEY_<name>)."""

    name: str
    shortdesc: str
    longdesc: str = ""
    type: ParamType = "string"
    default: Value = None
    required: bool = False
    unique_group: str | None = None
    reloadable: bool = False
    choices: tuple[str, ...] = ()
    deprecated: bool = False
    replaced_with: str | None = None
    minimum: int | None = None
    # Extra check of a parsed value; raises ConfigError with the reason.
    check: Callable[[Value], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.type == "select" and not self.choices:
            raise ValueError(f"select parameter {self.name} needs choices")
        if self.required and self.default is not None:
            raise ValueError(f"required parameter {self.name} cannot have a default")
        if self.replaced_with and not self.deprecated:
            raise ValueError(f"parameter {self.name} has replaced_with but is not deprecated")


@dataclass(frozen=True)
class Action:
    """An action the agent advertises, with the timeout Pacemaker should default to."""

    name: str
    timeout: int
    interval: int | None = None
    depth: int | None = None
    role: str | None = None
    start_delay: int | None = None


STANDARD_ACTIONS = ("meta-data", "validate-all")
