"""Shared helpers: a hook that records each switch into a file, and credentials files."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pytest

from lab.peers.credentials import write_credentials
from lab.peers.outlets import Outlet


class HookLog:
    """A file the power hooks append "<outlet> <state>" lines to."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def argv(self) -> list[str]:
        return ["sh", "-c", 'echo "$1 $2" >> "$0"', str(self.path), "{outlet}", "{state}"]

    def outlet(self, name: str, on: bool = True) -> Outlet:
        return Outlet(name, on=on, on_hook=self.argv(), off_hook=self.argv())

    def lines(self, expected: int = 0, timeout: float = 5.0) -> list[str]:
        """The recorded switches, waiting (bounded) until at least `expected` are there."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.path.read_text().splitlines() if self.path.exists() else []
            if len(found) >= expected or time.monotonic() > deadline:
                return found
            time.sleep(0.02)


@pytest.fixture
def hooks(tmp_path: Path) -> HookLog:
    return HookLog(tmp_path / "hooks.log")


@pytest.fixture
def credentials(tmp_path: Path) -> Callable[..., Path]:
    def make(**values: str) -> Path:
        return write_credentials(tmp_path / "credentials", values)

    return make


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
