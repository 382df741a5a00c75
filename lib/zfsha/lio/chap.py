"""CHAP credentials, read only from private files and never shown.

A credentials file holds `key=value` lines: `userid`, `password`, and optionally `mutual_userid` and
`mutual_password` (the target's own credentials for mutual CHAP). `#` starts a comment line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zfsha import secrets
from zfsha.errors import ConfigError

KEYS = ("userid", "password", "mutual_userid", "mutual_password")
# rtslib and the kernel refuse longer values.
MAX_LENGTH = 255


@dataclass(frozen=True)
class Chap:
    """One CHAP credential set; the passwords never appear in repr()."""

    userid: str
    password: str = field(repr=False)
    mutual_userid: str = ""
    mutual_password: str = field(default="", repr=False)

    @property
    def mutual(self) -> bool:
        return bool(self.mutual_userid)


def parse(text: str, path: str) -> Chap:
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or key not in KEYS:
            raise ConfigError(f"CHAP file {path} line {number}: expected one of {', '.join(KEYS)} as key=value")
        if key in values:
            raise ConfigError(f"CHAP file {path} line {number}: {key} given twice")
        value = value.strip()
        if not value or len(value) > MAX_LENGTH or any(c.isspace() for c in value) or value == "NULL":
            raise ConfigError(f"CHAP file {path}: {key} must be 1-{MAX_LENGTH} characters without spaces")
        values[key] = value
    for key in ("password", "mutual_password"):
        if key in values:
            secrets.register(values[key])
    if "userid" not in values or "password" not in values:
        raise ConfigError(f"CHAP file {path} needs both userid= and password=")
    if ("mutual_userid" in values) != ("mutual_password" in values):
        raise ConfigError(f"CHAP file {path}: mutual CHAP needs both mutual_userid= and mutual_password=")
    if values.get("mutual_password") == values["password"]:
        raise ConfigError(f"CHAP file {path}: mutual_password must differ from password (initiators refuse equal secrets)")
    return Chap(values["userid"], values["password"], values.get("mutual_userid", ""), values.get("mutual_password", ""))


def load(path: str) -> Chap:
    """Read a credentials file, refusing one that others can read."""
    return parse(secrets.read_secret_file(path, "CHAP credentials"), path)
