"""Self-signed TLS material made at run time with openssl, for the HTTPS peers."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TlsFiles:
    """A certificate and its key; the certificate is its own CA, so it is the client's CA file."""

    cert: Path
    key: Path

    @property
    def ca_file(self) -> Path:
        return self.cert


def make_self_signed(directory: str | Path, host: str = "127.0.0.1") -> TlsFiles:
    """Write cert.pem/key.pem into directory, valid for host, localhost and 127.0.0.1."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(target / "cert.pem", target / "key.pem")
    names = {"IP:127.0.0.1", "DNS:localhost"}
    names.add(f"IP:{host}" if host.replace(".", "").isdigit() or ":" in host else f"DNS:{host}")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(files.key),
            "-out",
            str(files.cert),
            "-subj",
            f"/CN={host}",
            "-addext",
            "subjectAltName=" + ",".join(sorted(names)),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ],
        check=True,
        capture_output=True,
    )
    files.key.chmod(0o600)
    return files
