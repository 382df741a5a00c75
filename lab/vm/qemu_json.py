"""The two JSON protocols a guest's qemu speaks on unix sockets: QMP (the machine) and the guest agent.

Both are newline-separated JSON objects. The guest agent has no greeting and keeps answers queued across
client reconnects, so each connection starts with guest-sync-delimited and a fresh id: everything up to
the 0xFF marker and the matching answer is stale and dropped.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from pathlib import Path
from typing import Any


class QemuJsonError(Exception):
    """qemu (or the guest agent) answered with an error object."""


class _JsonSocket:
    def __init__(self, path: Path, timeout: float) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.buffer = b""

    def send(self, message: dict[str, Any]) -> None:
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def receive(self, deadline: float) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no answer from qemu")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("qemu closed the socket")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        line = line.replace(b"\xff", b"").strip()
        return json.loads(line) if line else self.receive(deadline)

    def close(self) -> None:
        self.sock.close()


class Qmp:
    """A QMP connection to one qemu process (machine-level control: power, status)."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.connection = _JsonSocket(path, timeout)
        self.timeout = timeout
        self.connection.receive(time.monotonic() + timeout)  # greeting
        self.execute("qmp_capabilities")

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        message: dict[str, Any] = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        self.connection.send(message)
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self.connection.receive(deadline)
            if "event" in answer:
                continue
            if "error" in answer:
                raise QemuJsonError(f"{command}: {answer['error'].get('desc')}")
            return answer.get("return")

    def close(self) -> None:
        self.connection.close()


class GuestAgent:
    """qemu-guest-agent over the guest's virtio-serial port; reconnects and resyncs after any failure."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connection: _JsonSocket | None = None
        self.lock = threading.Lock()

    def execute(self, command: str, arguments: dict[str, Any] | None = None, timeout: float = 30.0) -> Any:
        with self.lock:
            deadline = time.monotonic() + timeout
            try:
                connection = self._synced(deadline)
                message: dict[str, Any] = {"execute": command}
                if arguments:
                    message["arguments"] = arguments
                connection.send(message)
                answer = connection.receive(deadline)
            except (OSError, TimeoutError, ValueError):
                self.close()
                raise
            if "error" in answer:
                raise QemuJsonError(f"{command}: {answer['error'].get('desc')}")
            return answer.get("return")

    def _synced(self, deadline: float) -> _JsonSocket:
        if self.connection is not None:
            return self.connection
        connection = _JsonSocket(self.path, max(0.1, deadline - time.monotonic()))
        try:
            token = random.randrange(1, 2**31)
            connection.send({"execute": "guest-sync-delimited", "arguments": {"id": token}})
            while connection.receive(deadline).get("return") != token:
                pass
        except BaseException:
            connection.close()
            raise
        self.connection = connection
        return connection

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
