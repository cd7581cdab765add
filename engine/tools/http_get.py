"""`http.get`: fetch a web page as text, only from the hosts the agent file allows.

Off unless the entry's settings list `allow_hosts`. Every redirect is checked against
the same list; only http and https; a time limit and a size cap; HTML comes back as text.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from html.parser import HTMLParser
from http.client import HTTPMessage
from pathlib import Path
from typing import IO, Any

from engine.tools.base import Tool, ToolError, ToolTimeout
from engine.tools.builtin import BuiltinSpec

SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "allow_hosts": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "minItems": 1,
            "description": "hosts the tool may reach: 'example.com', 'example.com:8080', "
            "'*.example.com' (its sub-domains); nothing else is fetched",
        },
        "timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 120, "default": 10},
        "max_bytes": {"type": "integer", "minimum": 100, "default": 200000},
    },
    "additionalProperties": False,
}

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml", "+json")


def host_allowed(url: str, allow: list[str]) -> bool:
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for rule in (r.lower().strip() for r in allow):
        name, _, rule_port = rule.partition(":")
        if rule_port and rule_port != str(port):
            continue
        if host == name or (name.startswith("*.") and host.endswith(name[1:])):
            return True
    return False


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
    parser.feed(html)
    return "\n".join(parser.parts)


def _opener(allow: list[str]) -> urllib.request.OpenerDirector:
    class Guard(urllib.request.HTTPRedirectHandler):
        def redirect_request(
            self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
            headers: HTTPMessage, newurl: str,
        ) -> urllib.request.Request | None:  # fmt: skip
            if not host_allowed(newurl, allow):
                raise ToolError(f"redirected to {newurl}, whose host is not allowed")
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return urllib.request.build_opener(Guard)


def _build(settings: Mapping[str, Any], workspace: Path) -> Tool:
    allow = list(settings.get("allow_hosts") or [])
    if not allow:
        raise ToolError("http.get is off until 'allow_hosts' lists the hosts it may reach")
    timeout = float(settings.get("timeout_s", 10))
    max_bytes = int(settings.get("max_bytes", 200_000))
    opener = _opener(allow)

    def http_get(url: str) -> str:
        """Fetch a web page or API answer (GET) and return it as text.

        Args:
            url: the full address, starting with http:// or https://
        """
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ToolError("only http:// and https:// addresses can be fetched")
        if not host_allowed(url, allow):
            raise ToolError(f"the host of {url} is not allowed; allowed: {', '.join(allow)}")
        request = urllib.request.Request(url, headers={"User-Agent": "agent-workbench"})
        try:
            with opener.open(request, timeout=timeout) as response:
                body = response.read(max_bytes + 1)
                status, kind = response.status, response.headers.get_content_type()
                charset = response.headers.get_content_charset() or "utf-8"
        except urllib.error.HTTPError as exc:
            raise ToolError(f"HTTP {exc.code} {exc.reason} from {url}") from exc
        except TimeoutError as exc:
            raise ToolTimeout(f"{url} did not answer within {timeout:g} s") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise ToolTimeout(f"{url} did not answer within {timeout:g} s") from exc
            raise ToolError(f"could not fetch {url}: {reason}") from exc
        if not any(t in kind for t in _TEXT_TYPES):
            raise ToolError(f"{url} is {kind}, not text")
        text = body[:max_bytes].decode(charset, errors="replace")
        if kind in ("text/html", "application/xhtml+xml"):
            text = html_to_text(text)
        cut = f"\n[cut at {max_bytes} bytes]" if len(body) > max_bytes else ""
        return f"HTTP {status} {kind}\n\n{text}{cut}"

    return Tool.from_function(http_get, name="http.get", timeout_s=timeout + 5.0)


SPEC = BuiltinSpec(
    name="http.get",
    description="Fetches web pages as text from an allow-list of hosts (off without one).",
    factory=_build,
    settings_schema=SETTINGS_SCHEMA,
)
