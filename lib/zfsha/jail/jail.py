"""One FreeBSD jail, driven through jail(8), jls(8), jexec(8) and pgrep(1)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from zfsha import deadline, run
from zfsha.errors import CommandFailed, GenericError, NotInstalledError
from zfsha.jail.config import SEPARATOR, JailConfig, parse_exhibit


@dataclass(frozen=True)
class JailState:
    jid: int
    dying: bool


class Jail:
    """A jail named in a jail.conf(5) file; methods are the steps an admin would take."""

    def __init__(self, name: str, conf: str) -> None:
        self.name = name
        self.conf = conf

    def configuration(self) -> JailConfig:
        """The jail's parameters as jail(8) resolves them (jail(8) -e)."""
        try:
            done = run.run(["jail", "-f", self.conf, "-e", SEPARATOR])
        except CommandFailed as failed:
            raise NotInstalledError(f"cannot read jail.conf {self.conf}: {failed.stderr.strip() or failed.reason}") from None
        return parse_exhibit(done.stdout, self.name)

    def state(self) -> JailState | None:
        """The jail's jid and whether it is dying, or None when no such jail exists (jls(8) -d -j)."""
        done = run.run(["jls", "--libxo", "json", "-d", "-j", self.name, "jid", "dying"], check=False)
        if done.returncode != 0:
            # jls(8) fails with 'jail "<name>" not found' when the jail does not exist.
            if "not found" in done.stderr:
                return None
            raise GenericError(f"jls -j {self.name} failed: {done.stderr.strip()}")
        rows = json.loads(done.stdout).get("jail-information", {}).get("jail", [])
        if not rows:
            return None
        row = rows[0]
        return JailState(int(row["jid"]), str(row.get("dying", "false")).lower() in ("true", "1"))

    def create(self) -> None:
        """jail(8) -c from the configuration file: an empty persistent jail, services not started yet."""
        done = run.run(["jail", "-q", "-f", self.conf, "-c", self.name], check=False)
        if done.returncode != 0:
            detail = done.stderr.strip() or done.stdout.strip()
            raise GenericError(f"jail -c {self.name} failed: {detail}")

    def remove(self) -> None:
        """jail(8) -r: SIGTERM to every jailed process, then the jail is removed (stop.timeout)."""
        done = run.run(["jail", "-q", "-f", self.conf, "-r", self.name], check=False)
        if done.returncode != 0 and self.state() is not None:
            raise GenericError(f"jail -r {self.name} failed: {done.stderr.strip() or done.stdout.strip()}")

    def execute(self, *argv: str, timeout: float | None = None) -> run.Completed:
        """Run a command inside the jail (jexec(8)); the result is returned whatever the exit status."""
        return run.run(["jexec", self.name, *argv], check=False, timeout=timeout)

    def boot(self) -> None:
        """Start the jail's services the way exec.start would: /etc/rc inside the jail."""
        done = self.execute("/bin/sh", "/etc/rc")
        if done.returncode != 0:
            raise GenericError(f"/etc/rc in jail {self.name} failed (exit {done.returncode}): {done.stderr.strip()}")

    def shutdown(self, timeout: float) -> None:
        """Stop the jail's services cleanly (/etc/rc.shutdown), so its datasets are unmounted inside."""
        self.execute("/bin/sh", "/etc/rc.shutdown", timeout=timeout)

    @staticmethod
    def processes(jid: int, name: str | None = None) -> list[str]:
        """PIDs of processes in jail jid (pgrep(1) -j), all of them or those named exactly `name`."""
        argv = ["pgrep", "-j", str(jid)]
        argv += ["-x", name] if name else ["."]
        done = run.run(argv, check=False)
        # pgrep(1): 0 some matched, 1 none matched, 2 and 3 are errors.
        if done.returncode > 1:
            raise GenericError(f"pgrep -j {jid} failed: {done.stderr.strip()}")
        return done.stdout.split()

    @classmethod
    def wait_until_empty(cls, jid: int, seconds: float) -> list[str]:
        """Wait (at most `seconds`, within the action's deadline) until jail jid has no process left."""
        limit = deadline.current().cap(seconds)
        end = time.monotonic() + (seconds if limit is None else limit)
        while True:
            left = cls.processes(jid)
            if not left or time.monotonic() >= end:
                return left
            time.sleep(0.5)
