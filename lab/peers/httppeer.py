"""A threaded HTTP(S) server on which the HTTP smart-plug peers are built."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from lab.peers.outlets import PowerBoard


class PeerRequestHandler(BaseHTTPRequestHandler):
    """Base handler: the peer is reachable as self.peer; replies are whole, then closed."""

    protocol_version = "HTTP/1.1"
    server_version: ClassVar[str] = "zfsha-lab-peer"

    @property
    def peer(self) -> Any:
        return self.server.peer  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: peers run inside tests, whose output should show failures only."""

    def path_and_query(self) -> tuple[str, dict[str, str]]:
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        return parts.path, query

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_body(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None:
        # Compact separators, as the devices' own firmware prints JSON.
        self.send_body(status, json.dumps(value, separators=(",", ":")).encode(), "application/json", headers)

    def send_text(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        self.send_body(status, text.encode(), "text/plain", headers)


class HttpPeer:
    """Serve `handler` on a real socket, with an optional TLS certificate and key."""

    handler: ClassVar[type[PeerRequestHandler]]

    def __init__(
        self,
        board: PowerBoard,
        *,
        listen: str = "127.0.0.1",
        port: int = 0,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
    ) -> None:
        self.board = board
        self.listen = listen
        self.port = port
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.listen}:{self.port}"

    @property
    def state(self) -> dict[str, bool]:
        return self.board.snapshot()

    def start(self) -> int:
        server = ThreadingHTTPServer((self.listen, self.port), self.handler)
        server.daemon_threads = True
        server.peer = self  # type: ignore[attr-defined]
        if self.tls_cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.tls_cert, self.tls_key)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"{type(self).__name__}-http", daemon=True
        )
        self._thread.start()
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.board.close()

    def __enter__(self) -> HttpPeer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
