"""http.get: off without an allow-list, refuses other hosts, fetches from a local server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine.tools.base import ToolContext
from engine.tools.catalog import build_registry
from engine.tools.errors import ToolSettingsError
from engine.tools.http_get import host_allowed

PAGE = b"<html><head><style>p{}</style><script>var x=1;</script></head>" + (
    b"<body><h1>Weather</h1><p>Sunny,   21 C</p></body></html>"
)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        routes = {
            "/page": (200, "text/html; charset=utf-8", PAGE),
            "/data": (200, "application/json", b'{"temp": 21}'),
            "/big": (200, "text/plain", b"b" * 50_000),
            "/image": (200, "image/png", b"\x89PNG...."),
            "/missing": (404, "text/plain", b"nope"),
        }
        if self.path == "/away":
            self.send_response(302)
            self.send_header("Location", "http://example.org/steal")
            self.end_headers()
            return
        if self.path == "/slow":
            time.sleep(2)
        if self.path == "/hop":
            self.send_response(302)
            self.send_header("Location", "/data")
            self.end_headers()
            return
        status, kind, body = routes.get(self.path, (404, "text/plain", b"?"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _entry(**settings: object) -> dict[str, object]:
    return {"name": "http.get", "settings": settings}


def test_off_without_an_allow_list(workspace: Path) -> None:
    with pytest.raises(ToolSettingsError, match=r"tools\[0\] 'http.get'.*allow_hosts"):
        build_registry([{"name": "http.get"}], workspace=workspace)
    with pytest.raises(ToolSettingsError, match="allow_hosts"):
        build_registry([_entry(allow_hosts=[])], workspace=workspace)


def test_fetches_from_an_allowed_local_server(
    workspace: Path, ctx: ToolContext, server: str
) -> None:
    with build_registry(
        [_entry(allow_hosts=["127.0.0.1"], max_bytes=1000)], workspace=workspace
    ) as reg:
        page = reg.call("http.get", {"url": f"{server}/page"}, context=ctx)
        assert page.ok and page.output == "HTTP 200 text/html\n\nWeather\nSunny, 21 C"
        data = reg.call("http.get", {"url": f"{server}/hop"}, context=ctx)
        assert data.output == 'HTTP 200 application/json\n\n{"temp": 21}'
        big = reg.call("http.get", {"url": f"{server}/big"}, context=ctx)
        assert big.ok and big.output.endswith("[cut at 1000 bytes]") and len(big.output) < 1100
        image = reg.call("http.get", {"url": f"{server}/image"}, context=ctx)
        assert not image.ok and "image/png, not text" in image.output
        missing = reg.call("http.get", {"url": f"{server}/missing"}, context=ctx)
        assert not missing.ok and "HTTP 404" in missing.output


def test_other_hosts_and_schemes_are_refused(
    workspace: Path, ctx: ToolContext, server: str
) -> None:
    port = server.rsplit(":", 1)[1]
    with build_registry([_entry(allow_hosts=["127.0.0.1"])], workspace=workspace) as reg:
        other = reg.call("http.get", {"url": f"http://localhost:{port}/page"}, context=ctx)
        assert not other.ok and "not allowed" in other.output
        away = reg.call("http.get", {"url": f"{server}/away"}, context=ctx)
        assert not away.ok and "redirected to http://example.org/steal" in away.output
        local_file = reg.call("http.get", {"url": "file:///etc/passwd"}, context=ctx)
        assert not local_file.ok and "only http" in local_file.output
    with build_registry([_entry(allow_hosts=["127.0.0.1:1"])], workspace=workspace) as reg:
        wrong_port = reg.call("http.get", {"url": f"{server}/page"}, context=ctx)
        assert not wrong_port.ok and "not allowed" in wrong_port.output


def test_host_rules() -> None:
    allow = ["example.com", "*.wiki.org", "api.test:8080"]
    assert host_allowed("https://EXAMPLE.com/x", allow)
    assert host_allowed("https://en.wiki.org/x", allow)
    assert not host_allowed("https://wiki.org.evil.com/x", allow)
    assert not host_allowed("https://example.com.evil.com/", allow)
    assert not host_allowed("http://evil.com/?example.com", allow)
    assert not host_allowed("http://example.com@evil.com/", allow)
    assert host_allowed("http://api.test:8080/", allow)
    assert not host_allowed("http://api.test/", allow)


def test_a_slow_server_is_a_timeout(workspace: Path, ctx: ToolContext, server: str) -> None:
    entry = _entry(allow_hosts=["127.0.0.1"], timeout_s=0.5)
    with build_registry([entry], workspace=workspace) as reg:
        start = time.monotonic()
        slow = reg.call("http.get", {"url": f"{server}/slow"}, context=ctx)
    assert slow.error_kind == "timeout" and "within 0.5 s" in slow.output
    assert time.monotonic() - start < 2
