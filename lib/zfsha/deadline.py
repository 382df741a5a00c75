"""The deadline of the action being run: every command inherits what is left of it.

Pacemaker gives an action its timeout in OCF_RESKEY_CRM_meta_timeout (milliseconds); an agent that
overruns it is killed mid-step, so each step is bounded by what remains instead.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

# Time kept back from the action's timeout so the agent can still report why it gave up.
MARGIN_SECONDS = 2.0


class Deadline:
    """A point on the monotonic clock after which work must stop."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._end = None if seconds is None else time.monotonic() + seconds

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], default_seconds: float) -> Deadline:
        """The deadline for an action, from CRM_meta_timeout when Pacemaker set it."""
        raw = environ.get("OCF_RESKEY_CRM_meta_timeout", "")
        try:
            seconds = int(raw) / 1000.0
        except ValueError:
            seconds = default_seconds
        if seconds <= 0:
            seconds = default_seconds
        return cls(max(seconds - MARGIN_SECONDS, seconds / 2))

    def remaining(self) -> float | None:
        """Seconds left, never negative; None when unbounded."""
        if self._end is None:
            return None
        return max(0.0, self._end - time.monotonic())

    @property
    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0

    def cap(self, timeout: float | None) -> float | None:
        """The smaller of a step's own timeout and what is left of this deadline."""
        left = self.remaining()
        if left is None:
            return timeout
        if timeout is None:
            return left
        return min(timeout, left)


_current = Deadline(None)


def current() -> Deadline:
    """The deadline of the action this process is running."""
    return _current


def set_current(deadline: Deadline) -> None:
    global _current
    _current = deadline
