"""Keeping real command output from the guests as the unit tests' test data (LAB_VM_CAPTURE_DIR)."""

from __future__ import annotations

from pathlib import Path

from lab.vm.guest import ExecResult, Guest


def capture(directory: Path, name: str, guest: Guest, argv: list[str], timeout: float = 120) -> ExecResult:
    """Run argv in guest and keep its exact stdout as NAME.txt (stderr and a non-zero rc beside it)."""
    result = guest.exec(argv, timeout=timeout)
    (directory / f"{name}.txt").write_text(result.stdout)
    for suffix, keep, text in ((".stderr.txt", result.stderr, result.stderr), (".rc", result.rc, f"{result.rc}\n")):
        path = directory / f"{name}{suffix}"
        if keep:
            path.write_text(text)
        else:
            path.unlink(missing_ok=True)
    return result
