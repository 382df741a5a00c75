"""A peer whose device runs in a child process that reports `READY <port>` and `STATE <outlet> ON|OFF`
lines on stdout; this side mirrors the states into the board, whose hooks run here."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Mapping, Sequence

from lab.peers.outlets import PowerBoard


class ChildProcessPeer:
    def __init__(self, board: PowerBoard, port: int) -> None:
        self.board = board
        self.port = port
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    @property
    def state(self) -> dict[str, bool]:
        return self.board.snapshot()

    def _start_child(self, argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None) -> int:
        """Start the device process and wait for its READY line; returns the port it listens on."""
        self._process = subprocess.Popen(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(env) if env is not None else None
        )
        ready = threading.Event()
        name = f"{type(self).__name__}-events"
        self._reader = threading.Thread(target=self._read_events, args=(ready,), name=name, daemon=True)
        self._reader.start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"{type(self).__name__}: the device process did not report READY")
        return self.port

    def _read_events(self, ready: threading.Event) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            word, _, rest = line.strip().partition(" ")
            if word == "READY":
                self.port = int(rest)
                ready.set()
            elif word == "STATE":
                name, _, state = rest.rpartition(" ")
                if name in self.board:
                    self.board.set(name, state == "ON")

    def stop(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            if self._process.stdin is not None:
                self._process.stdin.close()
            self._process = None
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        self.board.close()

    def __enter__(self):  # type: ignore[no-untyped-def]
        self.start()  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
