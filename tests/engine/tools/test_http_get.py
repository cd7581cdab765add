"""http.get: off without an allow-list, refuses other hosts, ports, schemes and non-public
addresses, connects to the address it checked, and keeps one deadline for the whole call."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from engine.tools import http_fetch, http_get
from engine.tools.base import ToolContext
from engine.tools.catalog import build_registry
from engine.tools.errors import ToolSettingsError
from engine.tools.http_get import host_allowed
from engine.tools.http_rules import not_public

PAGE = b"<html><head><style>p{}</style><script>var x=1;</script></head>" + (
    b"<body><h1>Weather</h1><p>Sunny,   21 C</p></body></html>"
)


class Handler(BaseHTTPRequestHandler):
    #: The Host header of each request, in order.
    hosts: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Handler.hosts.append(self.headers.get("Host", ""))
        if self.path.startswith("/to?"):  # a redirect to the address after the '?'
            self.send_response(302)
            self.send_header("Location", self.path[4:])
            self.end_headers()
            return
        if self.path == "/trickle":  # one byte every 0.5 s, 20 of them at most
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "20")
            self.end_headers()
            for _ in range(20):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.5)
            return
        if self.path == "/trickle-head":  # the status line itself, a byte every 0.5 s
            for byte in b"HTTP/1.0 200 OK\r\n\r\n"[:20]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.5)
            return
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


def _serve(httpd: ThreadingHTTPServer) -> Iterator[None]:
    httpd.daemon_threads = True
    Handler.hosts = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    for _ in _serve(httpd):
        yield f"http://127.0.0.1:{httpd.server_address[1]}"


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


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
    local = f"127.0.0.1:{_port(server)}"  # an IP entry names the address: loopback allowed
    with build_registry([_entry(allow_hosts=[local], max_bytes=1000)], workspace=workspace) as reg:
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
    port = _port(server)
    with build_registry([_entry(allow_hosts=[f"127.0.0.1:{port}"])], workspace=workspace) as reg:
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
    assert host_allowed("http://example.com:80/x", allow)
    assert not host_allowed("http://example.com:8080/x", allow)  # a bare host: 80/443 only
    assert not host_allowed("https://example.com:22/x", allow)
    assert not host_allowed("ftp://example.com/x", allow)
    assert host_allowed("https://en.wiki.org/x", allow)
    assert not host_allowed("https://wiki.org.evil.com/x", allow)
    assert not host_allowed("https://example.com.evil.com/", allow)
    assert not host_allowed("http://evil.com/?example.com", allow)
    assert not host_allowed("http://example.com@evil.com/", allow)
    assert host_allowed("http://api.test:8080/", allow)
    assert not host_allowed("http://api.test/", allow)


def test_a_slow_server_is_a_timeout(workspace: Path, ctx: ToolContext, server: str) -> None:
    entry = _entry(allow_hosts=[f"127.0.0.1:{_port(server)}"], timeout_s=0.5)
    with build_registry([entry], workspace=workspace) as reg:
        start = time.monotonic()
        slow = reg.call("http.get", {"url": f"{server}/slow"}, context=ctx)
    assert slow.error_kind == "timeout" and "within 0.5 s" in slow.output
    assert time.monotonic() - start < 2


def test_ip_rules_v4_and_v6() -> None:
    allow = ["[::1]:8080", "::2", "10.0.0.0/8", "192.168.1.5:81"]
    assert host_allowed("http://[::1]:8080/", allow)
    assert not host_allowed("http://[::1]/", allow)
    assert host_allowed("http://[::2]/", allow) and host_allowed("https://[::2]/", allow)
    assert not host_allowed("http://[::2]:8080/", allow)
    assert host_allowed("http://10.1.2.3/", allow)
    assert not host_allowed("http://11.1.2.3/", allow)
    assert host_allowed("http://192.168.1.5:81/", allow)
    assert not host_allowed("http://192.168.1.5/", allow)
    assert not host_allowed("http://10.1.2.3.evil.com/", allow)


@pytest.mark.parametrize(
    "entry", ["exa mple.com", "example.com:0", "example.com:http", "[::1", "[::1]x", "a/b"]
)
def test_a_malformed_allow_list_entry_is_refused_when_the_file_loads(
    workspace: Path, entry: str
) -> None:
    with pytest.raises(ToolSettingsError, match=r"tools\[0\] 'http.get'.*allow_hosts"):
        build_registry([_entry(allow_hosts=[entry])], workspace=workspace)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "non-public"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a00:1", "private"),
        ("2002:a00:1::", "private"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_kinds(address: str, kind: str | None) -> None:
    assert not_public(ipaddress.ip_address(address)) == kind


def _resolving_to(monkeypatch: pytest.MonkeyPatch, *found: str) -> list[str]:
    """Make every name resolve to `found`; returns the names looked up, in order."""
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return list(found)

    monkeypatch.setattr(http_get, "resolve", resolve)
    return asked


def test_a_name_resolving_to_loopback_needs_allow_private(
    workspace: Path, ctx: ToolContext, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _port(server)
    asked = _resolving_to(monkeypatch, "127.0.0.1")
    url = f"http://example.test:{port}/data"
    with build_registry([_entry(allow_hosts=[f"example.test:{port}"])], workspace=workspace) as reg:
        refused = reg.call("http.get", {"url": url}, context=ctx)
    assert not refused.ok and refused.error_kind == "failed"
    assert refused.output == (
        "example.test resolves to 127.0.0.1, which is a loopback address; refused; "
        "set allow_private: true or list the address"
    )
    assert Handler.hosts == []  # nothing reached the server
    allowed = _entry(allow_hosts=[f"example.test:{port}"], allow_private=True)
    with build_registry([allowed], workspace=workspace) as reg:
        fetched = reg.call("http.get", {"url": url}, context=ctx)
    assert fetched.ok and fetched.output == 'HTTP 200 application/json\n\n{"temp": 21}'
    # Connected to the address checked (one look-up per hop), the name kept for Host.
    assert asked == ["example.test", "example.test"]
    assert Handler.hosts == [f"example.test:{port}"]


def test_a_mapped_ipv6_loopback_is_refused_too(
    workspace: Path, ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    _resolving_to(monkeypatch, "2606:4700:4700::1111", "::ffff:127.0.0.1")
    with build_registry([_entry(allow_hosts=["example.test"])], workspace=workspace) as reg:
        refused = reg.call("http.get", {"url": "http://example.test/"}, context=ctx)
    assert "resolves to ::ffff:127.0.0.1, which is a loopback address" in refused.output


def test_a_network_entry_allows_what_a_name_resolves_to(
    workspace: Path, ctx: ToolContext, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _port(server)
    _resolving_to(monkeypatch, "127.0.0.1")
    entries = [f"intranet.test:{port}", f"127.0.0.0/8:{port}"]
    with build_registry([_entry(allow_hosts=entries)], workspace=workspace) as reg:
        fetched = reg.call("http.get", {"url": f"http://intranet.test:{port}/data"}, context=ctx)
    assert fetched.ok, fetched.output


def test_redirects_are_checked_for_scheme_host_and_port(
    workspace: Path, ctx: ToolContext, server: str
) -> None:
    port = _port(server)
    with build_registry([_entry(allow_hosts=[f"127.0.0.1:{port}"])], workspace=workspace) as reg:

        def hop(target: str) -> str:
            return reg.call("http.get", {"url": f"{server}/to?{target}"}, context=ctx).output

        assert hop(f"ftp://127.0.0.1:{port}/x").endswith(
            f"redirected to ftp://127.0.0.1:{port}/x, which is not allowed: "
            "only http:// and https:// addresses can be fetched"
        )
        assert "127.0.0.1 port 22 is not allowed" in hop("http://127.0.0.1:22/")
        assert "127.0.0.1 port 80 is not allowed" in hop("http://127.0.0.1/")
        assert "localhost port" in hop(f"http://localhost:{port}/data")
        assert hop(f"http://127.0.0.1:{port}/data").endswith('{"temp": 21}')


def test_a_trickling_body_is_cut_at_the_deadline(
    workspace: Path, ctx: ToolContext, server: str
) -> None:
    entry = _entry(allow_hosts=[f"127.0.0.1:{_port(server)}"], timeout_s=1.5)
    with build_registry([entry], workspace=workspace) as reg:
        for path in ("/trickle", "/trickle-head"):
            start = time.monotonic()
            result = reg.call("http.get", {"url": f"{server}{path}"}, context=ctx)
            took = time.monotonic() - start
            assert result.error_kind == "timeout", (path, result.output)
            assert "did not answer within 1.5 s" in result.output
            assert took < 1.5 + 1.5, (path, took)


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_fetches_from_an_ipv6_literal(workspace: Path, ctx: ToolContext) -> None:
    class Server6(ThreadingHTTPServer):
        address_family = socket.AF_INET6

    httpd = Server6(("::1", 0), Handler)
    for _ in _serve(httpd):
        port = httpd.server_address[1]
        with build_registry([_entry(allow_hosts=[f"[::1]:{port}"])], workspace=workspace) as reg:
            result = reg.call("http.get", {"url": f"http://[::1]:{port}/data"}, context=ctx)
        assert result.ok, result.output
        assert Handler.hosts == [f"[::1]:{port}"]


def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `name` (cert file, key file)."""
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_https_to_the_checked_address_keeps_the_name_for_sni_and_the_certificate(
    workspace: Path, ctx: ToolContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert_file, key_file = _certificate(tmp_path, "secure.test")
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert_file, key_file)
    names: list[str | None] = []
    server_tls.sni_callback = lambda sock, name, context: names.append(name)  # type: ignore[assignment,func-returns-value]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = server_tls.wrap_socket(httpd.socket, server_side=True)
    monkeypatch.setattr(
        http_fetch, "tls_context", lambda: ssl.create_default_context(cafile=str(cert_file))
    )
    asked = _resolving_to(monkeypatch, "127.0.0.1")
    for _ in _serve(httpd):
        port = httpd.server_address[1]
        entry = _entry(
            allow_hosts=[f"secure.test:{port}", f"other.test:{port}"], allow_private=True
        )
        with build_registry([entry], workspace=workspace) as reg:
            good = reg.call("http.get", {"url": f"https://secure.test:{port}/data"}, context=ctx)
            wrong = reg.call("http.get", {"url": f"https://other.test:{port}/data"}, context=ctx)
    assert good.ok, good.output
    assert names[0] == "secure.test" and Handler.hosts[0] == f"secure.test:{port}"
    assert asked == ["secure.test", "other.test"]
    # The certificate is checked against the name asked for, not the address connected to.
    assert not wrong.ok and "CERTIFICATE_VERIFY_FAILED" in wrong.output
