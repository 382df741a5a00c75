"""TP-Link Kasa plugs and strips over the legacy local protocol (TCP 9999).

Hand-written on purpose: the protocol is a few lines (a 4-byte big-endian length, then the JSON text
XOR-encrypted with an autokey starting at 171), and the well-kept library, python-kasa, is not packaged
in Debian 12 and is asyncio-based; its newer transports (KLAP, AES) also need a TP-Link cloud login on
the device. Plugs and strips that only speak those newer transports are not supported here.

Three layers, as in python-kasa: bytes (`encrypt`/`decrypt`), messages (`KasaConnection.query`), and the
device's meaning (`KasaPlug`). A strip's outlets are children addressed with `context.child_ids`.
"""

from __future__ import annotations

import json
import socket
import struct
from dataclasses import dataclass
from typing import Any

from zfsha.fence import FenceError
from zfsha.plugs.settings import PlugSettings

INITIAL_KEY = 171
MAX_REPLY = 1 << 20


def encrypt(plaintext: str) -> bytes:
    """One request on the wire: length prefix, then the autokey-XOR ciphertext."""
    key = INITIAL_KEY
    out = bytearray()
    for byte in plaintext.encode():
        key ^= byte
        out.append(key)
    return struct.pack(">I", len(out)) + bytes(out)


def decrypt(ciphertext: bytes) -> str:
    """The JSON text of a reply body (without its length prefix)."""
    key = INITIAL_KEY
    out = bytearray()
    for byte in ciphertext:
        out.append(key ^ byte)
        key = byte
    return out.decode("utf-8", errors="replace")


class KasaConnection:
    """Request/reply over one short TCP connection per request, as the Kasa app does."""

    def __init__(self, settings: PlugSettings) -> None:
        self.settings = settings

    def query(self, request: dict[str, Any], what: str) -> dict[str, Any]:
        label = self.settings.label
        try:
            with socket.create_connection(
                (self.settings.host, self.settings.port), timeout=self.settings.connect_timeout
            ) as conn:
                conn.settimeout(self.settings.command_timeout)
                conn.sendall(encrypt(json.dumps(request, separators=(",", ":"))))
                header = _read_exactly(conn, 4)
                (length,) = struct.unpack(">I", header)
                if length > MAX_REPLY:
                    raise FenceError(f"{label}: reply length {length} while {what} is not a Kasa reply (wrong port?)")
                body = _read_exactly(conn, length)
        except ConnectionRefusedError:
            raise FenceError(
                f"{label}: connection refused while {what}; is it a Kasa device speaking the legacy protocol on this port?"
            ) from None
        except EOFError:
            raise FenceError(f"{label}: the device closed the connection before its reply was complete while {what}") from None
        except socket.timeout:
            raise FenceError(f"{label}: no answer within the timeout while {what}") from None
        except socket.gaierror:
            raise FenceError(f"{label}: host name unknown") from None
        except OSError as err:
            raise FenceError(f"{label}: connection failed while {what}: {err.strerror or type(err).__name__}") from None
        try:
            reply = json.loads(decrypt(body))
        except ValueError:
            raise FenceError(
                f"{label}: the reply while {what} is not Kasa JSON (newer firmware speaking KLAP is not supported)"
            ) from None
        if not isinstance(reply, dict):
            raise FenceError(f"{label}: unexpected reply while {what}: {reply!r}")
        return reply


def _read_exactly(conn: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = conn.recv(count - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


@dataclass(frozen=True)
class KasaOutlet:
    number: str
    child_id: str | None
    alias: str
    on: bool


class KasaPlug:
    """A plug (one outlet, number 1) or a strip (children numbered 1..n in the device's order).

    plug may be the number, the alias the Kasa app shows, or (strips) the full child id.
    """

    def __init__(self, settings: PlugSettings) -> None:
        self.settings = settings
        self.connection = KasaConnection(settings)

    def power_state(self, plug: str | None) -> bool:
        if plug is None:
            # monitor names no outlet: listing the outlets proves the device answers and takes the credentials.
            self.list_outlets()
            return True
        return self._outlet(plug, "reading").on

    def set_power(self, plug: str | None, on: bool) -> None:
        outlet = self._outlet(plug, "switching")
        request: dict[str, Any] = {"system": {"set_relay_state": {"state": 1 if on else 0}}}
        if outlet.child_id is not None:
            request["context"] = {"child_ids": [outlet.child_id]}
        what = f"switching outlet {outlet.number} ({outlet.alias}) {'on' if on else 'off'}"
        reply = self.connection.query(request, what)
        self._checked(_dig(reply, "system", "set_relay_state"), what)

    def list_outlets(self) -> dict[str, str]:
        return {outlet.number: outlet.alias for outlet in self._outlets("listing outlets")}

    def close(self) -> None:
        """Nothing to close: each request had its own connection."""

    def _outlet(self, plug: str | None, doing: str) -> KasaOutlet:
        outlets = self._outlets(f"{doing} outlet {plug}")
        matches = [o for o in outlets if plug in (o.number, o.child_id, o.alias)]
        if not matches:
            known = ", ".join(f"{o.number} ({o.alias})" for o in outlets)
            raise FenceError(f"{self.settings.label}: no outlet {plug!r} on this device; it has {known}")
        if len(matches) > 1:
            raise FenceError(f"{self.settings.label}: plug {plug!r} names several outlets; use the outlet number")
        return matches[0]

    def _outlets(self, what: str) -> list[KasaOutlet]:
        reply = self.connection.query({"system": {"get_sysinfo": {}}}, what)
        info = self._checked(_dig(reply, "system", "get_sysinfo"), what)
        children = info.get("children")
        if children is None:
            state = info.get("relay_state")
            if state not in (0, 1):
                raise FenceError(f"{self.settings.label}: relay_state {state!r} is neither 0 nor 1 while {what}")
            return [KasaOutlet("1", None, str(info.get("alias", "")), state == 1)]
        if not isinstance(children, list):
            raise FenceError(f"{self.settings.label}: malformed children list while {what}")
        device_id = str(info.get("deviceId", ""))
        outlets = []
        for number, child in enumerate(children, 1):
            state = child.get("state") if isinstance(child, dict) else None
            if state not in (0, 1):
                raise FenceError(f"{self.settings.label}: outlet {number} state {state!r} is neither 0 nor 1 while {what}")
            child_id = str(child.get("id", ""))
            # Some firmware lists children by their two-digit suffix only; requests want the full id.
            full_id = child_id if len(child_id) > 2 else device_id + child_id
            outlets.append(KasaOutlet(str(number), full_id, str(child.get("alias", "")), state == 1))
        return outlets

    def _checked(self, part: Any, what: str) -> dict[str, Any]:
        if not isinstance(part, dict):
            raise FenceError(f"{self.settings.label}: unexpected reply while {what}")
        code = part.get("err_code", 0)
        if code != 0:
            raise FenceError(f"{self.settings.label}: the device answered error {code} ({part.get('err_msg', '')}) while {what}")
        return part


def _dig(reply: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(reply, dict):
            return None
        reply = reply.get(key)  # type: ignore[assignment]
    return reply
