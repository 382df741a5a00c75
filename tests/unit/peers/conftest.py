"""Shared helpers: a hook that records each switch into a file, and credentials files."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pytest

from lab.peers.credentials import write_credentials
from lab.peers.hooklog import HookLog


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
