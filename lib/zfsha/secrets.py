"""Secrets: read from files or password scripts, remembered so that nothing ever prints them.

Every secret the process learns is registered here; the command runner and the log handlers redact all
registered values from anything they emit.
"""

from __future__ import annotations

import os
import stat

from zfsha.errors import ConfigError

REDACTED = "******"
_known: set[str] = set()


def register(secret: str) -> str:
    """Remember a secret so it is redacted everywhere; returns it unchanged."""
    if secret:
        _known.add(secret)
    return secret


def redact(text: str, extra: tuple[str, ...] | list[str] = ()) -> str:
    """Replace every known secret (longest first, so overlapping ones vanish whole)."""
    for secret in sorted({*_known, *(s for s in extra if s)}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def read_secret_file(path: str, what: str, *, private: bool = True) -> str:
    """Read a one-line secret from a file; with private, refuse a file others can read."""
    try:
        with open(path, encoding="utf-8") as file:
            info = os.fstat(file.fileno())
            content = file.read()
    except FileNotFoundError:
        raise ConfigError(f"{what} file {path} does not exist") from None
    except OSError as err:
        raise ConfigError(f"{what} file {path} cannot be read: {err.strerror}") from None
    if private and info.st_mode & (stat.S_IRWXO):
        raise ConfigError(f"{what} file {path} is accessible by others (mode {stat.S_IMODE(info.st_mode):o}); chmod o-rwx it")
    secret = content.strip("\r\n")
    if not secret:
        raise ConfigError(f"{what} file {path} is empty")
    return register(secret)


def forget_all() -> None:
    """Drop registered secrets (tests only)."""
    _known.clear()
