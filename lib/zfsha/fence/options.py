"""Fence agent options as fence-agents defines them: stdin `key=value` or long command-line options.

Pacemaker's fencer writes options to stdin, one `key=value` per line; admins and scripts use the
command line. Both spellings map to one canonical name (the stdin name, with underscores).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from zfsha import secrets
from zfsha.errors import ConfigError

log = logging.getLogger("zfsha.fence")

OptionType = Literal["string", "boolean", "integer", "second", "select"]
TRUE_WORDS = frozenset({"1", "yes", "on", "true"})
FALSE_WORDS = frozenset({"0", "no", "off", "false"})


@dataclass(frozen=True)
class FenceOption:
    """One option of a fence agent, as metadata, stdin and the command line know it."""

    name: str
    shortdesc: str
    long: str
    short: str | None = None
    metavar: str | None = None
    type: OptionType = "string"
    default: str | None = None
    required: bool = False
    choices: tuple[str, ...] = ()
    deprecated_names: tuple[str, ...] = ()
    secret: bool = False

    @property
    def takes_value(self) -> bool:
        return self.type != "boolean"

    @property
    def getopt(self) -> str:
        long = f"--{self.long}" + (f"=[{self.metavar or self.name}]" if self.takes_value else "")
        return f"-{self.short}, {long}" if self.short else long


ACTIONS = ("on", "off", "reboot", "status", "monitor", "list", "list-status", "metadata", "meta-data", "manpage", "validate-all")

STANDARD_OPTIONS: tuple[FenceOption, ...] = (
    FenceOption("action", "Fencing action", "action", "o", "action", default="reboot", required=True),
    FenceOption("ip", "IP address or hostname of fencing device", "ip", "a", "ip", deprecated_names=("ipaddr",)),
    FenceOption("ipport", "TCP/UDP port to use for connection with device", "ipport", "u", "port", type="integer"),
    FenceOption("username", "Login name", "username", "l", "name", deprecated_names=("login",)),
    FenceOption(
        "password", "Login password or passphrase", "password", "p", "password", deprecated_names=("passwd",), secret=True
    ),
    FenceOption(
        "password_script",
        "Script to run to retrieve password",
        "password-script",
        "S",
        "script",
        deprecated_names=("passwd_script",),
    ),
    FenceOption(
        "plug", "Physical plug number on device, UUID or identification of machine", "plug", "n", "id", deprecated_names=("port",)
    ),
    FenceOption(
        "plug_separator",
        "Separator for plug parameter when specifying more than 1 plug",
        "plug-separator",
        None,
        "char",
        default=",",
    ),
    FenceOption("ssl", "Use SSL connection with verifying certificate", "ssl", "z", type="boolean"),
    FenceOption("ssl_insecure", "Use SSL connection without verifying certificate", "ssl-insecure", type="boolean"),
    FenceOption("ssl_secure", "Use SSL connection with verifying certificate", "ssl-secure", type="boolean"),
    FenceOption("method", "Method to fence", "method", "m", "method", type="select", default="onoff", choices=("onoff", "cycle")),
    FenceOption("delay", "Wait X seconds before fencing is started", "delay", None, "seconds", type="second", default="0"),
    FenceOption(
        "power_timeout",
        "Test X seconds for status change after ON/OFF",
        "power-timeout",
        None,
        "seconds",
        type="second",
        default="20",
    ),
    FenceOption("power_wait", "Wait X seconds after issuing ON/OFF", "power-wait", None, "seconds", type="second", default="0"),
    FenceOption(
        "login_timeout", "Wait X seconds for cmd prompt after login", "login-timeout", None, "seconds", type="second", default="5"
    ),
    FenceOption(
        "shell_timeout",
        "Wait X seconds for cmd prompt after issuing command",
        "shell-timeout",
        None,
        "seconds",
        type="second",
        default="3",
    ),
    FenceOption(
        "stonith_status_sleep",
        "Sleep X seconds between status calls during a STONITH action",
        "stonith-status-sleep",
        None,
        "seconds",
        type="second",
        default="1",
    ),
    FenceOption("retry_on", "Count of attempts to retry power on", "retry-on", None, "attempts", type="integer", default="1"),
    FenceOption(
        "disable_timeout",
        "Disable timeout (true/false) (default: true when run from Pacemaker 2.0+)",
        "disable-timeout",
        None,
        "true/false",
    ),
    FenceOption("verbose", "Verbose mode", "verbose", "v", type="boolean"),
    FenceOption(
        "debug_file", "Write debug information to given file", "debug-file", "D", "debugfile", deprecated_names=("debug",)
    ),
    FenceOption("version", "Display version information and exit", "version", "V", type="boolean"),
    FenceOption("help", "Display help and exit", "help", "h", type="boolean"),
)


def parse_seconds(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"option {name} must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"option {name} must not be negative, got {raw!r}")
    return value


class FenceOptions(Mapping[str, str]):
    """Raw option values by canonical name, with typed accessors for the frameworks and drivers."""

    def __init__(self, declared: Sequence[FenceOption], values: Mapping[str, str]) -> None:
        self.declared = {option.name: option for option in declared}
        self._values = dict(values)

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def text(self, name: str) -> str | None:
        value = self._values.get(name)
        if value is None:
            value = self.declared[name].default if name in self.declared else None
        return value

    def flag(self, name: str) -> bool:
        value = self.text(name)
        if value is None or value == "":
            return False
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ConfigError(f"option {name} must be true or false, got {value!r}")

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value in (None, ""):
            return None
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"option {name} must be an integer, got {value!r}") from None

    def seconds(self, name: str) -> float:
        value = self.text(name)
        return parse_seconds(name, value) if value not in (None, "") else 0.0

    @property
    def action(self) -> str:
        return self.text("action") or "reboot"

    @property
    def plugs(self) -> list[str]:
        plug = self.text("plug")
        if not plug:
            return []
        separator = self.text("plug_separator") or ","
        return [part.strip() for part in plug.split(separator) if part.strip()]


def canonical_names(declared: Iterable[FenceOption]) -> dict[str, str]:
    """Every spelling an option may be given in (stdin name, deprecated name, long option) -> name."""
    names: dict[str, str] = {}
    for option in declared:
        for spelling in (option.name, option.long, *option.deprecated_names):
            names[spelling] = option.name
            names[spelling.replace("-", "_")] = option.name
            names[spelling.replace("_", "-")] = option.name
    return names


def parse_stdin(lines: Iterable[str], declared: Sequence[FenceOption]) -> dict[str, str]:
    """Options from stdin: key=value lines, # comments, the last value wins, unknown keys ignored."""
    names = canonical_names(declared)
    values: dict[str, str] = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if key == "nodename":
            values["nodename"] = value
            continue
        name = names.get(key)
        if name is None:
            log.debug("ignoring unknown option %s", key)
            continue
        if any(option.secret for option in declared if option.name == name):
            secrets.register(value)
        values[name] = value
    return values


def parse_command_line(argv: Sequence[str], declared: Sequence[FenceOption], prog: str) -> dict[str, str]:
    # Pacemaker's fencer writes options on stdin; only an admin at a shell needs argparse.
    import argparse

    parser = argparse.ArgumentParser(prog=prog, add_help=False, allow_abbrev=False)
    for option in declared:
        flags = [f"--{option.long}"]
        if option.short:
            flags.insert(0, f"-{option.short}")
        flags += [f"--{name.replace('_', '-')}" for name in option.deprecated_names if f"--{name.replace('_', '-')}" not in flags]
        if option.takes_value:
            parser.add_argument(*flags, dest=option.name, default=None)
        else:
            parser.add_argument(*flags, dest=option.name, action="store_const", const="1", default=None)
    try:
        parsed, unknown = parser.parse_known_args(list(argv))
    except SystemExit:
        raise ConfigError("cannot parse the command line; see --help") from None
    if unknown:
        raise ConfigError(f"unknown command-line argument {unknown[0]}")
    values = {name: value for name, value in vars(parsed).items() if value is not None}
    for option in declared:
        if option.secret and option.name in values:
            secrets.register(values[option.name])
    return values
