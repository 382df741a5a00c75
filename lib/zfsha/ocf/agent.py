"""An OCF resource agent: the declaration plus dispatch of an action to its handler.

The framework owns everything the OCF API 1.1 asks of every agent: argv dispatch, typed parameters,
probe detection, OCF_CHECK_LEVEL, the action deadline, exit reasons and codes, logging, meta-data and
validate-all. Handlers only say what the agent does.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Union

from zfsha import deadline as deadlines
from zfsha import log as logs
from zfsha import secrets
from zfsha.errors import ConfigError, OcfStatus, ZfshaError, one_line
from zfsha.ocf.declaration import Action, Param
from zfsha.ocf.params import Params, read_params
from zfsha.version import version as zfsha_version

EXIT_REASON_PREFIX = "ocf-exit-reason:"


@dataclass(frozen=True)
class Outcome:
    """A handler's result when it has more to say than success: a status and why."""

    status: OcfStatus
    reason: str = ""


HandlerResult = Union[OcfStatus, Outcome, None]


@dataclass
class Context:
    """Everything a handler may know about the action it is running."""

    agent: Agent
    action: str
    params: Params
    environ: Mapping[str, str]
    deadline: deadlines.Deadline
    depth: int
    interval_ms: int
    log: logging.Logger
    instance: str = ""
    node: str = ""
    notify: dict[str, str] = field(default_factory=dict)

    @property
    def is_probe(self) -> bool:
        """A one-shot monitor Pacemaker runs to learn the state of a resource it did not start."""
        return self.action == "monitor" and self.interval_ms == 0

    @staticmethod
    def degraded(reason: str) -> Outcome:
        return Outcome(OcfStatus.DEGRADED, reason)


Handler = Callable[[Context], HandlerResult]


class Agent:
    """An OCF agent declared once; `main()` runs it as Pacemaker and admins call it."""

    def __init__(
        self,
        name: str,
        shortdesc: str,
        longdesc: str,
        params: Sequence[Param],
        actions: Sequence[Action],
    ) -> None:
        names = [param.name for param in params]
        if len(set(names)) != len(names):
            raise ValueError(f"{name}: duplicate parameter names")
        self.name = name
        self.shortdesc = shortdesc
        self.longdesc = longdesc
        self.params = tuple(params)
        self.actions = tuple(actions)
        self.handlers: dict[str, Handler] = {}
        self.validator: Callable[[Context], None] | None = None

    def action(self, name: str) -> Callable[[Handler], Handler]:
        """Register the handler of an action (decorator)."""
        if name not in {action.name for action in self.actions}:
            raise ValueError(f"{self.name}: handler for undeclared action {name}")

        def register(handler: Handler) -> Handler:
            self.handlers[name] = handler
            return handler

        return register

    def validate(self, checker: Callable[[Context], None]) -> Callable[[Context], None]:
        """Register the agent's own checks (decorator): depth 0 must touch nothing on the host."""
        self.validator = checker
        return checker

    def metadata(self) -> str:
        from zfsha.ocf.metadata import render

        return render(self.name, zfsha_version(), self.shortdesc, self.longdesc, self.params, self.actions)

    def timeout_of(self, action: str) -> float:
        for declared in self.actions:
            if declared.name == action:
                return float(declared.timeout)
        return 20.0

    def main(self, argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> None:
        sys.exit(self.execute(list(sys.argv if argv is None else argv), os.environ if environ is None else environ))

    def execute(self, argv: list[str], environ: Mapping[str, str]) -> int:
        """Run one action and return the exit status (the whole OCF calling convention)."""
        if len(argv) != 2:
            print(f"usage: {self.name} {{{'|'.join(a.name for a in self.actions)}}}", file=sys.stderr)
            return OcfStatus.ERR_ARGS
        action = argv[1]
        if action in ("meta-data", "metadata"):
            print(self.metadata(), end="")
            return OcfStatus.SUCCESS
        instance = environ.get("OCF_RESOURCE_INSTANCE", self.name)
        log = logs.setup(f"{self.name}({instance})", environ)
        if action not in self.handlers and action not in ("validate-all", "reload-agent"):
            return self._fail(environ, log, OcfStatus.ERR_UNIMPLEMENTED, f"action {action} is not implemented")
        deadline = deadlines.Deadline.from_environ(environ, self.timeout_of(action))
        deadlines.set_current(deadline)
        try:
            return self._dispatch(action, environ, log, deadline, instance)
        except ZfshaError as err:
            return self._fail(environ, log, err.status, err.reason)
        except Exception as err:  # a bug: still one line for the admin, the traceback for the developer
            import traceback

            log.debug("%s", secrets.redact(traceback.format_exc()))
            return self._fail(environ, log, OcfStatus.ERR_GENERIC, f"internal error in {action}: {type(err).__name__}: {err}")

    def _dispatch(
        self, action: str, environ: Mapping[str, str], log: logging.Logger, deadline: deadlines.Deadline, instance: str
    ) -> int:
        interval_ms = _int(environ.get("OCF_RESKEY_CRM_meta_interval"), 0)
        try:
            params = read_params(self.params, environ)
        except ConfigError as err:
            if action == "stop" or (action == "monitor" and interval_ms == 0):
                # Nothing can be running under a configuration that cannot be read; saying so keeps
                # Pacemaker from recording a failed stop or probe and fencing the node for it.
                log.warning("%s with invalid configuration (%s): reporting not running", action, err.reason)
                return OcfStatus.SUCCESS if action == "stop" else OcfStatus.NOT_RUNNING
            raise
        context = Context(
            agent=self,
            action=action,
            params=params,
            environ=environ,
            deadline=deadline,
            depth=_int(environ.get("OCF_CHECK_LEVEL"), 0),
            interval_ms=interval_ms,
            log=log,
            instance=instance,
            node=environ.get("OCF_RESKEY_CRM_meta_on_node", ""),
            notify={
                k[len("OCF_RESKEY_CRM_meta_notify_") :]: v
                for k, v in environ.items()
                if k.startswith("OCF_RESKEY_CRM_meta_notify_")
            },
        )
        if self.validator is not None:
            if action in ("validate-all", "start", "reload-agent"):
                self.validator(context)
            elif action in ("stop", "monitor"):
                try:
                    self.validator(_at_depth(context, 0))
                except ConfigError as err:
                    if action == "stop" or context.is_probe:
                        log.warning("%s with invalid configuration (%s): reporting not running", action, err.reason)
                        return OcfStatus.SUCCESS if action == "stop" else OcfStatus.NOT_RUNNING
                    raise
        handler = self.handlers.get(action)
        if handler is None:  # validate-all and reload-agent without a handler of their own
            return OcfStatus.SUCCESS
        result = handler(context)
        return self._finish(environ, log, action, result)

    def _finish(self, environ: Mapping[str, str], log: logging.Logger, action: str, result: HandlerResult) -> int:
        if result is None:
            return OcfStatus.SUCCESS
        if isinstance(result, Outcome):
            if result.reason and result.status not in (OcfStatus.SUCCESS, OcfStatus.NOT_RUNNING):
                return self._fail(environ, log, result.status, result.reason)
            if result.reason:
                log.info("%s: %s", action, result.reason)
            return result.status
        return OcfStatus(result)

    @staticmethod
    def _fail(environ: Mapping[str, str], log: logging.Logger, status: int, reason: str) -> int:
        reason = secrets.redact(one_line(reason))
        prefix = environ.get("OCF_EXIT_REASON_PREFIX", EXIT_REASON_PREFIX)
        level = logging.WARNING if status in (OcfStatus.DEGRADED, OcfStatus.DEGRADED_PROMOTED) else logging.ERROR
        log.log(level, "%s", reason)
        sys.stderr.write(f"{prefix}{reason}\n")
        sys.stderr.flush()
        return int(status)


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw not in (None, "") else default
    except ValueError:
        return default


def _at_depth(context: Context, depth: int) -> Context:
    from dataclasses import replace

    return replace(context, depth=depth)
