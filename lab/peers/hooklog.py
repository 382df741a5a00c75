"""A file power hooks append "<outlet> <state>" lines to: how tests see that power really moved."""

from __future__ import annotations

import time
from pathlib import Path

from lab.peers.outlets import Outlet


class HookLog:
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
