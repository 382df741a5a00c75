"""Chassis power of one machine through its BMC: IPMI 2.0 over LAN (RMCP+), spoken by pyghmi.

One `BmcSession` is one RMCP+ session, opened once per fence invocation and logged out at the end.
Only the standard chassis commands are used (Get Chassis Status, Chassis Control): no OEM
extensions, so no vendor-specific side channel (pyghmi's OEM layer may open HTTPS) is ever touched.

pyghmi is synchronous but runs its own I/O thread and retransmits on its own schedule (a silent BMC
costs ~5 s at login and ~20 s per command). Every call into it therefore runs on a daemon thread that
the caller waits for with the timeout the admin configured; a call that overruns leaves the session
unusable, and the process can still exit because no thread of pyghmi's or ours is joined at exit.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any, TypeVar

from zfsha.errors import ConfigError
from zfsha.fence import FenceError

if TYPE_CHECKING:
    from pyghmi.ipmi.private.session import Session

log = logging.getLogger("zfsha.ipmi")

T = TypeVar("T")

# IPMI 2.0 table 6-7, privilege levels, named as ipmitool -L and fence_ipmilan --privlvl name them.
PRIVILEGE_LEVELS = {"callback": 1, "user": 2, "operator": 3, "administrator": 4}
KG_BYTES = 20  # IPMI 2.0 section 13.31: the BMC key is 20 bytes
CHASSIS_NETFN = 0x00
GET_CHASSIS_STATUS = 0x01
CHASSIS_CONTROL = 0x02
NOT_IN_PRESENT_STATE = 0xD5
INSUFFICIENT_PRIVILEGE = 0xD4


class ChassisControl(IntEnum):
    """IPMI 2.0 table 28-4, the data byte of Chassis Control."""

    POWER_DOWN = 0
    POWER_UP = 1
    POWER_CYCLE = 2
    HARD_RESET = 3
    DIAGNOSTIC_INTERRUPT = 4
    SOFT_SHUTDOWN = 5


@dataclass(frozen=True)
class BmcLogin:
    """Where a BMC listens and how to log in to it; secrets stay out of repr."""

    host: str
    port: int = 623
    username: str = ""
    password: str = field(default="", repr=False)
    kg: bytes | None = field(default=None, repr=False)
    privilege: str = "administrator"
    login_timeout: float = 5.0
    command_timeout: float = 3.0

    @property
    def where(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"BMC {host}:{self.port}"


def parse_kg(hexadecimal: str) -> bytes:
    """The BMC key from its hexadecimal spelling (ipmitool -y, fence_ipmilan --hexadecimal-kg)."""
    text = hexadecimal.strip()
    if text[:2].lower() == "0x":
        text = text[2:]
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ConfigError("option hexadecimal_kg must be hexadecimal digits (the BMC key, Kg)") from None
    if not key or len(key) > KG_BYTES:
        raise ConfigError(f"option hexadecimal_kg must encode 1 to {KG_BYTES} bytes, got {len(key)}")
    return key


def privilege_level(name: str) -> int:
    try:
        return PRIVILEGE_LEVELS[name]
    except KeyError:
        raise ConfigError(f"option privlvl must be one of {', '.join(PRIVILEGE_LEVELS)}, got {name!r}") from None


# Get Channel Authentication Capabilities, session-less (IPMI 2.0 section 22.13, the first packet every
# lanplus client sends): RMCP header, IPMI 1.5 session header with no auth, then the request for
# channel 0xE ("this channel") with the IPMI 2.0 bit, administrator level.
_CHANNEL_AUTH_PROBE = bytes.fromhex("0600ff07000000000000000000092018c88100388e04b5")


def probe(login: BmcLogin) -> None:
    """Make sure something answers IPMI at the address before pyghmi's slow retransmissions start.

    A closed UDP port is reported by the kernel at once (ICMP port unreachable), a silent address
    within login_timeout; pyghmi itself reports neither clearly.
    """
    deadline = max(login.login_timeout, 0.2)
    try:
        addresses = socket.getaddrinfo(login.host, login.port, 0, socket.SOCK_DGRAM)
    except socket.gaierror as err:
        raise FenceError(f"cannot resolve BMC address {login.host!r}: {err.strerror}") from None
    family, kind, proto, _, sockaddr = addresses[0]
    interval = 0.25
    with socket.socket(family, kind, proto) as sock:
        try:
            sock.connect(sockaddr)
            waited = 0.0
            while waited < deadline:
                sock.send(_CHANNEL_AUTH_PROBE)
                sock.settimeout(min(interval, deadline - waited))
                try:
                    if sock.recv(512):
                        return
                except TimeoutError:
                    waited += min(interval, deadline - waited)
                    interval = min(interval * 2, 1.0)
        except OSError as err:
            if err.errno == errno.ECONNREFUSED:
                raise FenceError(f"{login.where} refused the connection: nothing listens on UDP port {login.port}") from None
            raise FenceError(f"cannot reach {login.where}: {err.strerror or err}") from None
    raise FenceError(f"{login.where} did not answer within {deadline:g} s (login_timeout)")


class BmcSession:
    """An RMCP+ session to one BMC; implements the fencing framework's PowerDevice."""

    def __init__(self, login: BmcLogin, session: Session) -> None:
        self.login = login
        self._session = session
        self._unusable: str | None = None

    @classmethod
    def open(cls, login: BmcLogin) -> BmcSession:
        """Log in (RMCP+ with RAKP-HMAC-SHA256, falling back to SHA1 as pyghmi does)."""
        probe(login)
        level = privilege_level(login.privilege)
        # Imported before login_timeout's timer starts: it bounds the BMC's answers, and this import
        # alone took seconds in a loaded emulated guest. pyghmi's public Command wraps this Session;
        # importing it loads every OEM handler (~100 ms, 40% of a status call), and we need none.
        from pyghmi.ipmi.private import session

        _close_lost_wakeup_race(session)

        def log_in() -> Session:
            return session.Session(
                bmc=login.host,
                userid=login.username,
                password=login.password,
                port=login.port,
                kg=login.kg,
                privlevel=level,
            )

        log.debug("logging in to %s as %r at %s level", login.where, login.username, login.privilege)
        try:
            session = _bounded(log_in, login.login_timeout, f"logging in to {login.where}")
        except FenceError:
            raise
        except Exception as err:
            raise FenceError(f"login to {login.where} failed: {_login_reason(err, login)}") from None
        return cls(login, session)

    def power_state(self, plug: str | None) -> bool:
        response = self._raw(GET_CHASSIS_STATUS, (), "reading chassis power state")
        data = response.get("data") or b""
        if not data:
            raise FenceError(f"{self.login.where} answered Get Chassis Status without data")
        return bool(data[0] & 0x01)

    def set_power(self, plug: str | None, on: bool) -> None:
        control = ChassisControl.POWER_UP if on else ChassisControl.POWER_DOWN
        self._raw(CHASSIS_CONTROL, (control,), f"chassis power {'on' if on else 'off'}")

    def power_cycle(self, plug: str | None) -> None:
        """Chassis power cycle; a chassis that is off cannot cycle (0xD5), so it is powered up."""
        if self.power_state(plug):
            self._raw(CHASSIS_CONTROL, (ChassisControl.POWER_CYCLE,), "chassis power cycle")
        else:
            log.info("chassis is off, so power cycle becomes power on")
            self._raw(CHASSIS_CONTROL, (ChassisControl.POWER_UP,), "chassis power on")

    def pulse_diagnostic_interrupt(self) -> None:
        """NMI to the processors: the kernel panics into kdump if set up so; power stays on."""
        self._raw(CHASSIS_CONTROL, (ChassisControl.DIAGNOSTIC_INTERRUPT,), "diagnostic interrupt (NMI)")

    def close(self) -> None:
        """Close the session on the BMC so it does not hold a session slot until its idle timeout."""
        if self._unusable is not None:
            return
        self._unusable = "session closed"
        try:
            _bounded(self._session.logout, min(self.login.command_timeout, 2.0), "logging out")
        except Exception as err:  # the fence result stands; a leftover BMC session expires by itself
            log.debug("logout from %s failed: %s", self.login.where, err)

    def _raw(self, command: int, data: tuple[int, ...], what: str) -> dict[str, Any]:
        if self._unusable is not None:
            raise FenceError(f"{what}: {self._unusable}")
        try:
            response: dict[str, Any] = _bounded(
                lambda: self._session.raw_command(netfn=CHASSIS_NETFN, command=command, data=data),
                self.login.command_timeout,
                f"{what} on {self.login.where}",
            )
        except FenceError as err:
            self._unusable = f"session to {self.login.where} lost after: {err.reason}"
            raise
        except Exception as err:
            self._unusable = f"session to {self.login.where} lost"
            raise FenceError(f"{what} on {self.login.where} failed: {_text(err)}") from None
        code = response.get("code", 0)
        if code and code != 0xFFFF:  # 0xFFFF is pyghmi's own timeout, not a BMC's answer
            raise FenceError(f"{self.login.where} refused {what}: {_completion_code(command, code)}")
        if "error" in response:
            raise FenceError(f"{what} on {self.login.where} failed: {response['error']}")
        return response


def _close_lost_wakeup_race(session_module: Any) -> None:
    """Stop pyghmi's client from sleeping through a reply that has already arrived.

    pyghmi (1.5.34) sends a request, then registers a waiter with its I/O thread (`_io_wait`). When
    the reply is read by the I/O thread between the two, the waiter is only woken by the retransmit
    timer, 0.5-1 s later: on loopback that stalled a third of our calls. This version registers the
    waiter first and then looks whether the reply is already queued, which closes the window. It is
    installed only when pyghmi still has the shape it was written against.
    """
    original = getattr(session_module, "_io_wait", None)
    needed = ("ioqueue", "sessionqueue", "iosockets", "selectdeadline", "myself", "_monotonic_time", "Session")
    if original is None or getattr(original, "zfsha_fixed", False) or not all(hasattr(session_module, n) for n in needed):
        return

    def reply_queued(sockaddr: Any) -> bool:
        if sockaddr is None:
            return bool(session_module.sessionqueue)
        handlers = session_module.Session.bmc_handlers.get(sockaddr, {})
        return any(handler.pktqueue for handler in list(handlers.values()))

    def io_wait(timeout: float, myaddr: Any = None, evq: Any = None) -> None:
        event = threading.Event()
        if evq is not None:
            evq.append(event)
        deadline = timeout + session_module._monotonic_time()
        session_module.ioqueue.append((deadline, event, myaddr))
        if reply_queued(myaddr):
            return  # the I/O thread sets or expires the registered waiter later, harmlessly
        if deadline < session_module.selectdeadline:
            wakeup = session_module.iosockets[0]
            wakeup.sendto(b"\x01", (session_module.myself, wakeup.getsockname()[1]))
        event.wait()

    io_wait.zfsha_fixed = True  # type: ignore[attr-defined]
    session_module._io_wait = io_wait


def _bounded(call: Callable[[], T], seconds: float, what: str) -> T:
    """Run a pyghmi call on a daemon thread and stop waiting for it after `seconds`."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as err:  # handed to the waiting thread
            outcome["error"] = err

    worker = threading.Thread(target=run, name="ipmi-call", daemon=True)
    worker.start()
    worker.join(max(seconds, 0.1))
    if worker.is_alive():
        raise FenceError(f"{what}: no answer within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def _text(err: BaseException) -> str:
    text = str(err).strip()
    return text if text and text != "None" else type(err).__name__


def _login_reason(err: BaseException, login: BmcLogin) -> str:
    """pyghmi's login failures, said as what the admin should check."""
    text = _text(err)
    if "Incorrect password" in text:
        return "wrong password (the BMC's RAKP2 reply does not match it)"
    if "wrong Kg" in text:
        if login.kg:
            return "wrong BMC key: hexadecimal_kg does not match the BMC's Kg"
        return "the BMC needs a key (Kg): set hexadecimal_kg"
    if "Unauthorized name" in text:
        return f"the BMC does not know user {login.username!r}"
    if "Invalid role" in text or "Unauthorized role" in text or "privilege level" in text:
        return f"user {login.username!r} may not log in at privilege level {login.privilege} (privlvl)"
    if "No Cipher suite match" in text:
        return "no common cipher suite: this agent offers suites 17 and 3 (RAKP-HMAC-SHA256/SHA1, AES-128)"
    if text in ("timeout", "IpmiException"):
        return "the BMC stopped answering during login"
    return text


def _completion_code(command: int, code: int) -> str:
    from pyghmi.ipmi.private import util

    meaning = util.get_ipmi_error({"code": code, "command": command, "netfn": CHASSIS_NETFN + 1})
    if code == INSUFFICIENT_PRIVILEGE:
        meaning += " (chassis control needs operator or administrator: check privlvl and the user's rights)"
    return f"completion code 0x{code:02X}, {meaning}"
