"""Which addresses `http.get` may reach: its allow-list rules and the address ranges it refuses.

An `allow_hosts` entry is a host name (`example.com`), its sub-domains (`*.example.com`),
an IP address (`127.0.0.1`, `::1`, `[::1]`) or a network (`10.0.0.0/8`, `fd00::/8`), each
optionally with a port (`example.com:8443`, `[::1]:8080`). Without a port only the
scheme's default port is allowed (80 for http, 443 for https).

Every address a name resolves to must be public: private, loopback, link-local, multicast,
reserved and other special ranges (IPv4 and IPv6, IPv4-mapped and NAT64/6to4 forms read
as the IPv4 address they carry) are refused, unless the settings say `allow_private:
true` or an IP/network entry names the address.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_PORTS = {"http": 80, "https": 443}
_NAME = re.compile(
    r"^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$"
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True)
class Rule:
    """One `allow_hosts` entry: a name (maybe `*.` for sub-domains) or a network, a port."""

    text: str
    name: str | None
    network: IPNetwork | None
    port: int | None  # None: the scheme's default port

    def matches(self, host: str, port: int, scheme: str) -> bool:
        """Whether a URL's host (lower case, no brackets) and port fall under this rule."""
        if port != (self.port or DEFAULT_PORTS.get(scheme)):
            return False
        if self.network is not None:
            address = ip_of(host)
            return address is not None and address in self.network
        assert self.name is not None
        if self.name.startswith("*."):
            return host.endswith(self.name[1:]) and ip_of(host) is None
        return host == self.name


def parse_rule(text: str) -> Rule:
    """The rule an entry says; `ValueError` saying what is wrong with it."""
    entry = text.strip().lower()
    port_text = ""
    if entry.startswith("["):  # [v6] or [v6]:port
        host, bracket, rest = entry[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r}: write an IPv6 address as [::1] or [::1]:8080")
        port_text = rest[1:]
    elif entry.count(":") >= 2:  # a bare IPv6 address or network: no port
        host = entry
    else:
        host, _, port_text = entry.partition(":")
    port = None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
        port = int(port_text)
    try:
        network = ipaddress.ip_network(host, strict=False)
    except ValueError:
        if not _NAME.match(host):
            raise ValueError(
                f"{text!r} is not a host name, '*.domain', IP address or network"
            ) from None
        return Rule(text, host, None, port)
    return Rule(text, None, network, port)


def ip_of(host: str) -> IPAddress | None:
    """The address a URL's host names literally, or None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def carried(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4), else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def not_public(address: IPAddress) -> str | None:
    """What kind of non-public address this is ("loopback", "private"...), None if public."""
    inner = carried(address)
    checks = (
        ("unspecified", inner.is_unspecified),
        ("loopback", inner.is_loopback),
        ("link-local", inner.is_link_local),
        ("multicast", inner.is_multicast),
        ("reserved", inner.is_reserved),
        ("private", inner.is_private),
        ("site-local", isinstance(inner, ipaddress.IPv6Address) and inner.is_site_local),
        ("non-public", not inner.is_global),
    )
    return next((kind for kind, hit in checks if hit), None)


#: Kinds never fetched, whatever the settings say (no web server answers there).
NEVER = ("unspecified", "multicast")
