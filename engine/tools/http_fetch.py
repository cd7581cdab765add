"""One HTTP GET to an address already checked, all of it within a deadline.

The connection goes to the given address while the host name is kept for the Host
header, TLS SNI and the certificate check, so nothing looks the name up again (a DNS
rebinding cannot swap the address after the check). A timer shuts the socket down at the
deadline, which wakes a read waiting on a server that trickles headers or body.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass

from engine.tools.base import ToolError

_REDIRECTS = (301, 302, 303, 307, 308)
_CHUNK = 65536


def _left(deadline: float) -> float:
    return deadline - time.monotonic()


def tls_context() -> ssl.SSLContext:
    """The TLS settings of https fetches: the system's certificate authorities."""
    return ssl.create_default_context()


class _Pinned(http.client.HTTPConnection):
    """An HTTP connection to a checked address; the host name is kept for the Host header."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    """HTTPS to a checked address: SNI and the certificate check use the host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=tls_context())
        self.address = address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        try:
            self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]
        except BaseException:
            raw.close()
            raise


class Unreachable(ToolError):
    """The connection to one address failed (the next one may take it)."""


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    kind: str
    charset: str
    body: bytes
    location: str | None


def get(url: str, host: str, port: int, address: str, deadline: float, max_bytes: int) -> Answer:
    """One GET to `address`, all of it (connect, headers, body) within the deadline."""
    parts = urllib.parse.urlsplit(url)
    kind = _PinnedTLS if parts.scheme == "https" else _Pinned
    conn = kind(host, port, address, timeout=max(_left(deadline), 0.001))
    expired = threading.Event()

    def expire() -> None:  # wakes a read that is waiting on a trickle
        expired.set()
        if conn.sock is not None:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(conn.sock, socket.SHUT_RDWR)

    timer = threading.Timer(max(_left(deadline), 0), expire)
    timer.daemon = True
    timer.start()
    try:
        try:
            conn.connect()
        except OSError as exc:
            if expired.is_set() or isinstance(exc, TimeoutError):
                raise TimeoutError from exc
            raise Unreachable(
                f"could not connect to {host} ({address}) port {port}: {exc}"
            ) from exc
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request(
            "GET", path, headers={"User-Agent": "agent-workbench", "Accept-Encoding": "identity"}
        )
        response = conn.getresponse()
        body = bytearray()
        while len(body) <= max_bytes and not expired.is_set():
            if conn.sock is not None:
                conn.sock.settimeout(max(_left(deadline), 0.001))
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            body += chunk
        if expired.is_set():
            raise TimeoutError
        location = response.getheader("Location") if response.status in _REDIRECTS else None
        return Answer(
            response.status,
            response.reason,
            response.headers.get_content_type(),
            response.headers.get_content_charset() or "utf-8",
            bytes(body),
            location,
        )
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if expired.is_set() or isinstance(exc, TimeoutError):
            raise TimeoutError from exc
        raise ToolError(f"could not fetch {url}: {exc}") from exc
    finally:
        timer.cancel()
        conn.close()
