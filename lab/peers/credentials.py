"""Credentials files: secrets reach a peer through a file, never through argv."""

from __future__ import annotations

from pathlib import Path


def read_credentials(path: str | Path) -> dict[str, str]:
    """Read `key=value` lines (blank lines and `#` comments skipped).

    Keys peers use: username, password (IPMI, Tasmota, Shelly, mPower), token (Home
    Assistant), kg (IPMI BMC key), privilege (IPMI: user, operator or administrator).
    """
    values: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}:{number}: expected key=value")
        values[key.strip()] = value.strip()
    return values


def write_credentials(path: str | Path, values: dict[str, str]) -> Path:
    """Write a credentials file readable by its owner only (for tests and lab scripts)."""
    target = Path(path)
    target.touch(mode=0o600)
    target.write_text("".join(f"{key}={value}\n" for key, value in values.items()), encoding="utf-8")
    return target
