"""A plug or PDU driven through its command line over SSH (or telnet), the Ubiquiti mPower way.

After login the device shows a shell prompt; `cat /proc/power/relay<n>` prints 0 or 1 and
`echo 0|1 > /proc/power/relay<n>` switches (the command templates are options, for other devices).
The session is a pexpect-driven ssh (or telnet) client on a pseudo-terminal: the password is typed at
the device's prompt, never put on a command line or in the environment. A host key ssh does not know is a
failure (accept it once by hand, or pass `-o StrictHostKeyChecking=accept-new` in ssh_options), never
silently trusted.
"""

from __future__ import annotations

import math
import re
from typing import Any

from zfsha import run
from zfsha.fence import FenceError
from zfsha.plugs.settings import PlugSettings

# An outlet name goes into a shell command on the device, so it may not carry shell syntax.
SAFE_PLUG = re.compile(r"^[A-Za-z0-9_.:-]+$")
RELAY_FILE = re.compile(r"\brelay(\d+)\b")
ON_WORDS = ("1", "on")
OFF_WORDS = ("0", "off")

PASSWORD_PROMPT = r"(?i)password:\s*$"
LOGIN_PROMPT = r"(?i)(login|username):\s*$"
UNKNOWN_HOST_KEY = r"(?i)continue connecting \(yes/no"
BAD_HOST_KEY = r"(?i)host key verification failed|remote host identification has changed"
DENIED = r"(?i)permission denied|login incorrect|authentication failed|access denied"
REFUSED = r"(?i)connection refused"
# What the telnet client itself prints on connecting; not an answer from the device.
TELNET_CLIENT_LINES = re.compile(r"(?im)^\s*(trying \S+\.\.\.|connected to \S+|escape character is .*)\s*$")
UNREACHABLE = (
    r"(?i)no route to host|network is unreachable|could not resolve hostname|name or service not known"
    r"|connection timed out|unknown host"
)


class CommandLinePlug:
    def __init__(self, settings: PlugSettings) -> None:
        self.settings = settings
        self.label = settings.label
        self._session: Any = None
        self._login()

    def power_state(self, plug: str | None) -> bool:
        if plug is None:
            # monitor names no outlet: listing the outlets proves the device answers and takes the credentials.
            self.list_outlets()
            return True
        command = self.settings.commands.status.format(plug=self._plug(plug))
        output = self._run(command)
        word = output.strip().lower()
        if word in ON_WORDS:
            return True
        if word in OFF_WORDS:
            return False
        raise FenceError(f"{self.label}: no state for outlet {plug}: `{command}` printed {_shown(output)}")

    def set_power(self, plug: str | None, on: bool) -> None:
        template = self.settings.commands.on if on else self.settings.commands.off
        command = template.format(plug=self._plug(plug))
        output = self._run(command)
        if output.strip():
            raise FenceError(
                f"{self.label}: switching outlet {plug} {'on' if on else 'off'} failed: `{command}` printed {_shown(output)}"
            )

    def list_outlets(self) -> dict[str, str]:
        command = self.settings.commands.listing
        numbers = sorted({int(n) for n in RELAY_FILE.findall(self._run(command))})
        if not numbers:
            raise FenceError(f"{self.label}: `{command}` lists no relay<n> files")
        return {str(n): f"relay{n}" for n in numbers}

    def close(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        try:
            if session.isalive():
                session.sendline("exit")
                session.expect([_pexpect().EOF, _pexpect().TIMEOUT], timeout=1)
        except Exception:  # closing is best effort: the session may already be gone
            pass
        session.close(force=True)

    def _plug(self, plug: str | None) -> str:
        if plug is None or not SAFE_PLUG.match(plug):
            raise FenceError(f"{self.label}: plug must be an outlet name of letters, digits, _ . : -; got {plug!r}")
        return plug

    def _login(self) -> None:
        pexpect = _pexpect()
        settings = self.settings
        wait = settings.connect_timeout
        if settings.scheme == "ssh":
            client = run.which("ssh")
            argv = [
                *settings.ssh_options,
                "-o",
                "NumberOfPasswordPrompts=1",
                "-o",
                f"ConnectTimeout={max(1, math.ceil(wait))}",
                "-p",
                str(settings.port),
                "-l",
                settings.username or "",
                "--",
                settings.host,
            ]
        else:
            client = run.which("telnet")
            # -E: no escape character, so no byte of a password or command drops the client into its own
            # `telnet> ` command mode (whose prompt the default cmd_prompt would even take for the device's).
            argv = ["-E", "--", settings.host, str(settings.port)]
        if client is None:
            raise FenceError(f"{self.label}: the {settings.scheme} client is not installed")
        try:
            session = pexpect.spawn(
                client,
                argv,
                env=run.child_environment({"TERM": "dumb"}),
                encoding="utf-8",
                codec_errors="replace",
                timeout=wait,
                dimensions=(24, 1000),
            )
        except pexpect.ExceptionPexpect as err:
            raise FenceError(f"{self.label}: cannot start {settings.scheme}: {err}") from None
        self._session = session
        patterns = [
            PASSWORD_PROMPT,
            LOGIN_PROMPT,
            UNKNOWN_HOST_KEY,
            BAD_HOST_KEY,
            DENIED,
            REFUSED,
            UNREACHABLE,
            settings.prompt,
            pexpect.EOF,
            pexpect.TIMEOUT,
        ]
        typed_password = typed_username = False
        while True:
            index = session.expect(patterns, timeout=wait)
            if index == 0:
                if typed_password:
                    self._fail("the device refused the credentials (asked for the password again); check username and password")
                if not settings.password:
                    self._fail("the device asks for a password; give password or password_script")
                session.sendline(settings.password)
                typed_password = True
            elif index == 1:
                if typed_username:
                    self._fail("the device refused the credentials (asked to log in again); check username and password")
                session.sendline(settings.username or "")
                typed_username = True
            elif index == 2:
                self._fail(
                    "ssh does not know this device's host key; connect once by hand to accept it, or pass "
                    "-o StrictHostKeyChecking=accept-new in ssh_options"
                )
            elif index == 3:
                self._fail("ssh refused the device's host key (it changed, or is not in known_hosts)")
            elif index == 4:
                self._fail("the device refused the credentials; check username and password")
            elif index == 5:
                self._fail(f"connection refused: no {settings.scheme} server on this port")
            elif index == 6:
                self._fail(f"cannot reach the device: {_shown(str(session.after))}")
            elif index == 7:
                return
            elif index == 8:
                self._fail(f"the session ended before a prompt appeared: {_shown(_device_text(str(session.before)))}")
            elif not typed_password and not typed_username and not _device_text(str(session.before)):
                self._fail(f"no answer from the device within {wait:g}s")
            else:
                self._fail(f"no prompt matching {settings.prompt!r} within {wait:g}s (check cmd_prompt)")

    def _run(self, command: str) -> str:
        """Run a command at the prompt; returns what it printed (the echo of the command removed)."""
        pexpect = _pexpect()
        session = self._session
        session.sendline(command)
        index = session.expect([self.settings.prompt, pexpect.EOF, pexpect.TIMEOUT], timeout=self.settings.command_timeout)
        if index == 1:
            self._fail(f"the session ended while running `{command}`")
        if index == 2:
            self._fail(f"no prompt within {self.settings.command_timeout:g}s after `{command}` (check shell_timeout, cmd_prompt)")
        text = str(session.before).replace("\r", "")
        # What follows the last newline is the start of the prompt line (e.g. "MF.v2.1.11" before "# ").
        text = text[: text.rfind("\n") + 1]
        lines = [line.strip() for line in text.split("\n")]
        lines = [line for line in lines if line]
        if lines and lines[0].endswith(command):
            lines = lines[1:]
        return "\n".join(lines)

    def _fail(self, reason: str) -> None:
        self.close()
        raise FenceError(f"{self.label}: {reason}")


def _pexpect() -> Any:
    import pexpect

    return pexpect


def _device_text(output: str) -> str:
    """What the device sent, without the telnet client's own connection messages."""
    return TELNET_CLIENT_LINES.sub("", output).strip()


def _shown(output: str) -> str:
    folded = " ".join(output.split())
    if not folded:
        return "nothing"
    return repr(folded if len(folded) <= 160 else folded[:160] + "...")
