"""HTTP for the plug families that speak it, through requests, with every fault as a one-line FenceError.

requests is imported on first use so that the agent's metadata and option checks stay cheap. Error
messages are written here from the facts (status, what was asked); requests' own exception text is never
shown because it quotes the URL, and a Tasmota URL carries the password.
"""

from __future__ import annotations

import json
from typing import Any

from zfsha.fence import FenceError
from zfsha.plugs.settings import PlugSettings

CREDENTIALS_REFUSED = (401, 403)


class HttpClient:
    """One requests session to one device."""

    def __init__(self, settings: PlugSettings, auth: Any = None, headers: dict[str, str] | None = None) -> None:
        import requests

        self.settings = settings
        self.session = requests.Session()
        self.session.auth = auth
        self.session.verify = settings.verify
        # No proxy from the environment: a fence device is on the local network, and the request
        # (with its credentials) must go nowhere else.
        self.session.trust_env = False
        self.session.headers.update(headers or {})
        if settings.verify is False:
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, str] | None = None,
        body: Any = None,
        accept: tuple[int, ...] = (),
    ) -> tuple[int, Any]:
        """Send one request; returns (status, decoded JSON). `what` says what was asked, for messages.

        Statuses in `accept` are returned to the caller (a family's own error replies), with the body as
        text when it is not JSON; any other non-2xx status, or a 2xx reply that is not JSON, is a FenceError.
        """
        import requests

        label = self.settings.label
        try:
            response = self.session.request(
                method,
                self.settings.base_url + path,
                params=params,
                json=body,
                timeout=(self.settings.connect_timeout, self.settings.command_timeout),
                allow_redirects=False,
            )
        except requests.exceptions.SSLError:
            raise FenceError(
                f"{label}: TLS certificate verification failed while {what}; give the device's CA in "
                "ssl_ca_file, or set ssl_insecure if you accept an unverified device"
            ) from None
        except requests.exceptions.ConnectTimeout:
            raise FenceError(f"{label}: no connection within {self.settings.connect_timeout:g}s while {what}") from None
        except requests.exceptions.ReadTimeout:
            raise FenceError(f"{label}: no answer within {self.settings.command_timeout:g}s while {what}") from None
        except requests.exceptions.ConnectionError as err:
            raise FenceError(f"{label}: cannot connect while {what}: {_connection_problem(err)}") from None
        except requests.exceptions.RequestException as err:
            raise FenceError(f"{label}: HTTP request failed while {what}: {type(err).__name__}") from None
        status = response.status_code
        if status in CREDENTIALS_REFUSED and status not in accept:
            raise FenceError(
                f"{label}: the device refused the credentials (HTTP {status}) while {what}; check username and password"
            )
        if not 200 <= status < 300 and status not in accept:
            raise FenceError(f"{label}: HTTP {status} {response.reason or ''} while {what}: {_excerpt(response.text)}")
        try:
            return status, response.json()
        except (ValueError, json.JSONDecodeError):
            if status in accept:
                return status, response.text
            raise FenceError(f"{label}: the reply is not JSON while {what}: {_excerpt(response.text)}") from None


def _connection_problem(err: Exception) -> str:
    """The OS-level cause (refused, unreachable, name unknown), without requests' text that quotes the URL."""
    text = repr(err)
    for marker, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "host name unknown"),
        ("Temporary failure in name resolution", "host name unknown"),
        ("No route to host", "no route to host"),
        ("Network is unreachable", "network unreachable"),
        ("Connection reset", "connection reset by the device"),
        ("RemoteDisconnected", "the device closed the connection without answering"),
        ("BadStatusLine", "the device does not speak HTTP on this port"),
        ("WRONG_VERSION_NUMBER", "the device does not speak HTTPS on this port"),
    ):
        if marker in text:
            return reason
    return "connection failed"


def _excerpt(text: str, limit: int = 120) -> str:
    """The start of a reply body on one line, enough to recognise it."""
    folded = " ".join(text.split())
    if not folded:
        return "(empty body)"
    return folded if len(folded) <= limit else folded[:limit] + "..."
