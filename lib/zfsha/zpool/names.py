"""What zpool create accepts as a pool name; imported by every action's validation, so it needs
nothing beyond the interpreter (no re, no dataclasses)."""

from __future__ import annotations

# zpool-create(8): names start with a letter; these words (and names starting with the first four)
# name vdev types and cannot be pools.
RESERVED_PREFIXES = ("mirror", "raidz", "draid", "spare")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ALLOWED = _LETTERS | frozenset("0123456789_.:-")


def pool_name_problem(name: str) -> str | None:
    """Why `name` is no pool name, or None: a letter, then letters, digits, _ - . : (zpool create)."""
    if not name or name[0] not in _LETTERS or not set(name) <= _ALLOWED:
        return f"pool name {name!r} is not a ZFS pool name (a letter, then letters, digits, _ - . :)"
    if name == "log" or name.startswith(RESERVED_PREFIXES):
        return f"pool name {name!r} is reserved by ZFS (log, or starting with {', '.join(RESERVED_PREFIXES)})"
    return None
