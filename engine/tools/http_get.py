"""`http.get`: fetch a web page as text, only from the hosts and ports the agent file allows.

Off unless the entry's settings list `allow_hosts` (the rules: `engine.tools.http_rules`).
Each hop (the address, then every redirect) is checked before it is fetched: http or
https, a host and port on the list, and every address the name resolves to public unless
`allow_private`. The connection goes to the address that was checked (no second look-up
a DNS rebinding could answer differently), with the name kept for the Host header, TLS
SNI and the certificate check. One deadline (`timeout_s`) covers the whole call, the body
included: a server that trickles bytes is cut off at it. A size cap; HTML comes back as
its visible text.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.parse
from collections.abc import Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from engine.tools.base import Tool, ToolError, ToolTimeout
from engine.tools.builtin import BuiltinSpec
from engine.tools.http_fetch import Answer, Unreachable, get
from engine.tools.http_rules import NEVER, Rule, ip_of, not_public, parse_rule

SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "allow_hosts": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "minItems": 1,
            "description": "hosts the tool may reach: 'example.com' (ports 80/443 only), "
            "'example.com:8443' (that port), '*.example.com' (its sub-domains), an IP "
            "address ('127.0.0.1:8000', '[::1]:8000') or a network ('10.0.0.0/8'); "
            "nothing else is fetched",
        },
        "allow_private": {
            "type": "boolean",
            "default": False,
            "description": "let host names on the list resolve to private, loopback or "
            "link-local addresses (an intranet or local service); off, only public "
            "addresses are fetched unless an IP or network entry names them",
        },
        "timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 120, "default": 10},
        "max_bytes": {"type": "integer", "minimum": 100, "default": 200000},
    },
    "additionalProperties": False,
}

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml", "+json")
MAX_REDIRECTS = 5


def rules_of(allow: list[str]) -> list[Rule]:
    """The parsed `allow_hosts`; `ToolError` naming a malformed entry."""
    try:
        return [parse_rule(entry) for entry in allow]
    except ValueError as exc:
        raise ToolError(f"allow_hosts: {exc}") from exc


def check_settings(settings: Mapping[str, Any]) -> None:
    """What the schema cannot say: every `allow_hosts` entry parses."""
    rules_of(list(settings.get("allow_hosts") or []))


def _target(url: str) -> tuple[str, str, int]:
    """Scheme, host (lower case, no brackets) and port of a URL; `ToolError` when unusable."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ToolError("only http:// and https:// addresses can be fetched")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ToolError(f"the port in {url} is not valid") from exc
    host = (parts.hostname or "").split("%", 1)[0]
    if not host:
        raise ToolError(f"{url} names no host")
    return parts.scheme, host, port


def host_allowed(url: str, allow: list[str]) -> bool:
    """Whether the URL's scheme, host and port are on the allow-list (addresses not looked up)."""
    try:
        scheme, host, port = _target(url)
    except ToolError:
        return False
    return any(rule.matches(host, port, scheme) for rule in rules_of(allow))


def resolve(host: str, port: int) -> list[str]:
    """The addresses a host name resolves to (tests replace this; nothing else looks up)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _left(deadline: float) -> float:
    return deadline - time.monotonic()


def _resolve_by(host: str, port: int, deadline: float) -> list[str]:
    """`resolve` with the deadline (a look-up cannot be interrupted; it is left to finish)."""
    box: dict[str, Any] = {}

    def look_up() -> None:
        try:
            box["found"] = resolve(host, port)
        except OSError as exc:
            box["error"] = exc

    thread = threading.Thread(target=look_up, daemon=True, name="aw-http-resolve")
    thread.start()
    thread.join(max(_left(deadline), 0))
    if thread.is_alive():
        raise TimeoutError
    if "error" in box:
        raise ToolError(f"cannot find the address of {host}: {box['error']}")
    return list(box["found"])


def addresses(
    url: str, rules: list[Rule], allow_private: bool, deadline: float
) -> tuple[str, int, list[str]]:
    """Host, port and the checked addresses to connect to; `ToolError` saying why not."""
    scheme, host, port = _target(url)
    if not any(rule.matches(host, port, scheme) for rule in rules):
        default = " (a host without a port allows only 80/443)" if ":" not in host else ""
        raise ToolError(
            f"{host} port {port} is not allowed{default}; allowed: "
            + ", ".join(rule.text for rule in rules)
        )
    literal = ip_of(host)
    found = [str(literal)] if literal is not None else _resolve_by(host, port, deadline)
    networks = [rule.network for rule in rules if rule.network is not None]
    for text in found:
        address = ip_of(text)
        kind = not_public(address) if address is not None else "unknown"
        if kind is None:
            continue
        named = address is not None and any(address in network for network in networks)
        if kind in NEVER or not (allow_private or named):
            hint = "" if kind in NEVER else "; set allow_private: true or list the address"
            shown = host if literal is not None else f"{host} resolves to {text}, which"
            raise ToolError(f"{shown} is a {kind} address; refused{hint}")
    if not found:
        raise ToolError(f"{host} has no address")
    return host, port, found


def _fetch(
    url: str, rules: list[Rule], allow_private: bool, deadline: float, max_bytes: int
) -> tuple[str, Answer]:
    """The final URL and its answer, every hop checked before it is fetched."""
    first = url
    for hop in range(MAX_REDIRECTS + 1):
        try:
            host, port, found = addresses(url, rules, allow_private, deadline)
        except ToolError as exc:
            if hop == 0:
                raise
            raise ToolError(f"{first} redirected to {url}, which is not allowed: {exc}") from exc
        answer = _connect_any(url, host, port, found, deadline, max_bytes)
        if answer.location is None:
            return url, answer
        url = urllib.parse.urljoin(url, answer.location)
    raise ToolError(f"{first} redirected more than {MAX_REDIRECTS} times")


def _connect_any(
    url: str, host: str, port: int, found: list[str], deadline: float, max_bytes: int
) -> Answer:
    """The answer from the first checked address that takes the connection."""
    failure: ToolError | None = None
    for address in found:
        try:
            return get(url, host, port, address, deadline, max_bytes)
        except Unreachable as exc:
            failure = failure or exc
    assert failure is not None
    raise failure


class _Text(HTMLParser):
    """Visible text of an HTML page (scripts and styles dropped)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip > 0:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(" ".join(data.split()))


def html_to_text(html: str) -> str:
    parser = _Text()
    try:
        parser.feed(html)
    except AssertionError:  # html.parser gives up on some malformed markup (`<![`)
        parser.parts.append("[the rest of the page could not be parsed]")
    return "\n".join(parser.parts)


def _build(settings: Mapping[str, Any], workspace: Path) -> Tool:
    allow = list(settings.get("allow_hosts") or [])
    if not allow:
        raise ToolError("http.get is off until 'allow_hosts' lists the hosts it may reach")
    rules = rules_of(allow)
    allow_private = bool(settings.get("allow_private", False))
    timeout = float(settings.get("timeout_s", 10))
    max_bytes = int(settings.get("max_bytes", 200_000))

    def http_get(url: str) -> str:
        """Fetch a web page or API answer (GET) and return it as text.

        Args:
            url: the full address, starting with http:// or https://
        """
        deadline = time.monotonic() + timeout
        try:
            final, answer = _fetch(url, rules, allow_private, deadline, max_bytes)
        except TimeoutError as exc:
            raise ToolTimeout(f"{url} did not answer within {timeout:g} s") from exc
        if answer.status >= 400:
            raise ToolError(f"HTTP {answer.status} {answer.reason} from {final}")
        if not any(t in answer.kind for t in _TEXT_TYPES):
            raise ToolError(f"{final} is {answer.kind}, not text")
        try:
            text = answer.body[:max_bytes].decode(answer.charset, errors="replace")
        except LookupError:
            text = answer.body[:max_bytes].decode("utf-8", errors="replace")
        if answer.kind in ("text/html", "application/xhtml+xml"):
            text = html_to_text(text)
        cut = f"\n[cut at {max_bytes} bytes]" if len(answer.body) > max_bytes else ""
        return f"HTTP {answer.status} {answer.kind}\n\n{text}{cut}"

    return Tool.from_function(http_get, name="http.get", timeout_s=timeout + 5.0)


SPEC = BuiltinSpec(
    name="http.get",
    description="Fetches web pages as text from an allow-list of hosts (off without one).",
    factory=_build,
    settings_schema=SETTINGS_SCHEMA,
    check=check_settings,
)
