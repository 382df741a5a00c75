"""Problems as values: every failure zfsha raises carries an exit code and a one-line reason.

The OCF and fencing frameworks turn these into `ocf-exit-reason:` lines and exit statuses at the edge;
nothing below them prints or exits.
"""

from __future__ import annotations

from enum import IntEnum


class OcfStatus(IntEnum):
    """Exit codes of the OCF Resource Agent API 1.1."""

    SUCCESS = 0
    ERR_GENERIC = 1
    ERR_ARGS = 2
    ERR_UNIMPLEMENTED = 3
    ERR_PERM = 4
    ERR_INSTALLED = 5
    ERR_CONFIGURED = 6
    NOT_RUNNING = 7
    RUNNING_PROMOTED = 8
    FAILED_PROMOTED = 9
    DEGRADED = 190
    DEGRADED_PROMOTED = 191


def one_line(text: str, limit: int = 400) -> str:
    """Fold text onto one line (exit reasons and log lines are single lines)."""
    folded = " ".join(text.split())
    return folded if len(folded) <= limit else folded[: limit - 3] + "..."


class ZfshaError(Exception):
    """A failure with an OCF exit code and a one-line reason an admin can act on."""

    status: OcfStatus = OcfStatus.ERR_GENERIC

    def __init__(self, reason: str, status: OcfStatus | None = None) -> None:
        self.reason = one_line(reason)
        if status is not None:
            self.status = status
        super().__init__(self.reason)


class GenericError(ZfshaError):
    status = OcfStatus.ERR_GENERIC


class ArgsError(ZfshaError):
    status = OcfStatus.ERR_ARGS


class UnimplementedError(ZfshaError):
    status = OcfStatus.ERR_UNIMPLEMENTED


class PermissionDenied(ZfshaError):
    status = OcfStatus.ERR_PERM


class NotInstalledError(ZfshaError):
    status = OcfStatus.ERR_INSTALLED


class ConfigError(ZfshaError):
    status = OcfStatus.ERR_CONFIGURED


class NotRunningError(ZfshaError):
    status = OcfStatus.NOT_RUNNING


class CommandError(GenericError):
    """A command could not be run to a successful end."""

    def __init__(self, reason: str, argv: tuple[str, ...], returncode: int | None, stderr: str = "") -> None:
        super().__init__(reason)
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr


class CommandNotFound(CommandError):
    status = OcfStatus.ERR_INSTALLED


class CommandFailed(CommandError):
    pass


class CommandTimeout(CommandError):
    pass
