"""Callback URLs are untrusted input: the one place that decides where a webhook may go.

docs/webhooks.md, "Callback URLs are untrusted". `check_callback_url` applies the rules of
the URL itself, which need no network. `resolve_callback_url` applies them and then resolves
the host once, refusing it if any address is not globally routable; submit calls it (so a
host that resolves only to private addresses is a 422), and so does every attempt, which then
connects to those very addresses (`pinned_http.send_pinned`): a second lookup (DNS rebinding)
can never redirect the request. An explicit `AllowList` of networks is the one way around
the address rules.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any, Protocol
from urllib.parse import SplitResult, urlsplit

__all__ = [
    "AllowList",
    "CallbackRefused",
    "IPAddress",
    "IPNetwork",
    "Resolver",
    "callback_host_and_port",
    "check_callback_url",
    "forbidden_reason",
    "parse_host_as_ip",
    "resolve_and_check",
    "resolve_callback_url",
    "system_resolver",
]

type IPAddress = IPv4Address | IPv6Address
type IPNetwork = IPv4Network | IPv6Network

MAX_CALLBACK_URL_LENGTH = 2048
MIN_UNPRIVILEGED_PORT = 1024
DEFAULT_PORTS = {"https": 443, "http": 80}


class CallbackRefused(ValueError):
    """A callback URL or address the SSRF rules refuse; the message says why, for people."""


# --- the allow-list ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AllowList:
    """Networks exempt from the address rules (local stack: loopback only; deployed: none)."""

    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str) -> AllowList:
        """Read a comma-separated list of CIDR networks; empty text is an empty list."""
        return cls(tuple(_parse_network(entry) for entry in text.split(",") if entry.strip()))

    def contains(self, ip: IPAddress) -> bool:
        # Versions never mix: 127.0.0.1/32 does not admit ::ffff:127.0.0.1.
        return any(ip in network for network in self.networks)

    @property
    def is_empty(self) -> bool:
        return not self.networks


def _parse_network(entry: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(entry.strip(), strict=True)
    except ValueError as error:
        raise ValueError(f"allow-list entry {entry.strip()!r} is not a network ({error})") from None


# --- which addresses are refused --------------------------------------------------------------
# Explicit tables, most specific first: `is_global` alone misses multicast, 6to4/NAT64 forms of
# private addresses and more (docs/webhooks.md). It is only the last-resort backstop below.

_IPV4_REFUSED: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(network), label)
    for network, label in (
        ("0.0.0.0/8", '"this network"'),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT shared address space"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.169.254/32", "the cloud instance metadata service"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved for IETF protocol assignments"),
        ("192.0.2.0/24", "documentation, TEST-NET-1"),
        ("192.88.99.0/24", "the deprecated 6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "reserved for benchmarking"),
        ("198.51.100.0/24", "documentation, TEST-NET-2"),
        ("203.0.113.0/24", "documentation, TEST-NET-3"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "the limited broadcast address"),
        ("240.0.0.0/4", "reserved"),
    )
)

_IPV6_REFUSED_FIRST: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(network), label) for network, label in (("::/128", "unspecified"), ("::1/128", "loopback"))
)

_IPV6_REFUSED: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(network), label)
    for network, label in (
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001:2::/48", "reserved for benchmarking"),
        ("2001:10::/28", "ORCHID, not an endpoint"),
        ("2001:20::/28", "ORCHIDv2, not an endpoint"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment routing (SRv6) SIDs"),
        ("fd00:ec2::254/128", "the cloud instance metadata service"),
        ("fc00::/7", "unique local (ULA)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "deprecated site-local"),
        ("ff00::/8", "multicast"),
    )
)

_IPV6_GLOBAL_UNICAST = IPv6Network("2000::/3")


def _low_32_bits(ip: IPv6Address) -> tuple[IPv4Address, ...]:
    return (IPv4Address(int(ip) & 0xFFFFFFFF),)


def _sixtofour(ip: IPv6Address) -> tuple[IPv4Address, ...]:
    return (ip.sixtofour,) if ip.sixtofour else ()


def _teredo(ip: IPv6Address) -> tuple[IPv4Address, ...]:
    return ip.teredo or ()


@dataclass(frozen=True)
class _Embedding:
    """An IPv6 form that carries IPv4 addresses: it is as safe as what it carries."""

    network: IPv6Network
    form: str
    embedded: Callable[[IPv6Address], tuple[IPv4Address, ...]]
    # Forms no host should use any more are refused even when what they carry is public.
    deprecated: bool = False


_IPV6_EMBEDDINGS: tuple[_Embedding, ...] = (
    _Embedding(IPv6Network("::ffff:0:0/96"), "an IPv4-mapped address", _low_32_bits),
    _Embedding(IPv6Network("::ffff:0:0:0/96"), "an IPv4-translated address", _low_32_bits, deprecated=True),
    _Embedding(IPv6Network("::/96"), "an IPv4-compatible address", _low_32_bits, deprecated=True),
    # A VPC with DNS64 gives IPv4-only receivers 64:ff9b:: addresses: public ones must pass.
    _Embedding(IPv6Network("64:ff9b::/96"), "a NAT64 address", _low_32_bits),
    _Embedding(IPv6Network("2002::/16"), "a 6to4 address", _sixtofour),
    _Embedding(IPv6Network("2001::/32"), "a Teredo address", _teredo),
)


def forbidden_reason(ip: IPAddress) -> str | None:
    """None when the address is globally routable, else why a webhook may not go there."""
    if isinstance(ip, IPv4Address):
        return _ipv4_reason(ip)
    return _ipv6_reason(ip)


def _ipv4_reason(ip: IPv4Address) -> str | None:
    reason = _table_reason(ip, _IPV4_REFUSED)
    if reason is None and not ip.is_global:
        reason = "not globally routable"
    return reason


def _ipv6_reason(ip: IPv6Address) -> str | None:
    # The scope (%eth0) says nothing about routability; compare the bare address.
    ip = IPv6Address(int(ip))
    reason = _table_reason(ip, _IPV6_REFUSED_FIRST)
    if reason is not None:
        return reason
    embedding = next((e for e in _IPV6_EMBEDDINGS if ip in e.network), None)
    if embedding is not None:
        return _embedding_reason(embedding, ip)
    reason = _table_reason(ip, _IPV6_REFUSED)
    if reason is None and ip not in _IPV6_GLOBAL_UNICAST:
        reason = f"outside global unicast space ({_IPV6_GLOBAL_UNICAST})"
    if reason is None and not ip.is_global:
        reason = "not globally routable"
    return reason


def _embedding_reason(embedding: _Embedding, ip: IPv6Address) -> str | None:
    for carried in embedding.embedded(ip):
        carried_reason = _ipv4_reason(carried)
        if carried_reason is not None:
            return f"{embedding.form} ({embedding.network}) of {carried}, which is {carried_reason}"
    if embedding.deprecated:
        return f"{embedding.form} ({embedding.network}), a deprecated form"
    return None


def _table_reason(ip: IPAddress, table: Iterable[tuple[IPNetwork, str]]) -> str | None:
    return next((f"{label} ({network})" for network, label in table if ip in network), None)


# --- recognising IP literals ------------------------------------------------------------------

# One inet_aton part: hex (0x..), octal (leading 0) or decimal; ASCII digits only, no signs,
# spaces or underscores (which int() would accept).
_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")
# A host whose last label is a number is an address or nothing (WHATWG URL "ends in a number").
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")


def parse_host_as_ip(host: str) -> IPAddress | None:
    """The address a host literally names, in any spelling inet_aton or a URL allows; else None.

    `2130706433`, `0x7f000001`, `0177.0.0.1`, `0x7f.1`, `127.1` and `[::ffff:7f00:1]` all name
    loopback: they must be checked as addresses, never handed to a resolver as names.
    """
    if host.startswith("[") and host.endswith("]"):
        return _parse_ipv6_literal(host[1:-1])
    if ":" in host:
        return _parse_ipv6_literal(host)
    return _parse_ipv4_literal(host.removesuffix("."))


def _parse_ipv6_literal(text: str) -> IPv6Address | None:
    try:
        return IPv6Address(text)
    except ValueError:
        return None


def _parse_ipv4_literal(text: str) -> IPv4Address | None:
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_parse_ipv4_part(part) for part in parts]
    if any(number is None for number in numbers):
        return None
    *leading, last = [number for number in numbers if number is not None]
    # a, a.b, a.b.c, a.b.c.d: each leading part is one byte, the last fills what is left.
    if any(number > 0xFF for number in leading) or last >= 1 << (8 * (4 - len(leading))):
        return None
    value = last
    for position, number in enumerate(leading):
        value |= number << (8 * (3 - position))
    return IPv4Address(value)


def _parse_ipv4_part(part: str) -> int | None:
    if not _IPV4_PART.fullmatch(part):
        return None
    if part[:2] in ("0x", "0X"):
        return int(part[2:] or "0", 16)
    if part.startswith("0"):
        return int(part, 8)
    return int(part)


def _looks_numeric(host: str) -> bool:
    last_label = host.removesuffix(".").rsplit(".", 1)[-1]
    return bool(_NUMERIC_LABEL.fullmatch(last_label))


# --- the rules of the URL itself, which need no network ---------------------------------------


def check_callback_url(url: str, allow: AllowList) -> str:
    """Return the URL if its own rules accept it, else raise CallbackRefused saying why (a 422 at submit).

    https only; plain http only to allow-listed addresses (a literal is checked here, a name
    when it is resolved); no user information; port 443 or 1024-65535; at most 2048
    characters. An address literal must also be one a webhook may go to.
    """
    if len(url) > MAX_CALLBACK_URL_LENGTH:
        raise CallbackRefused(f"must be at most {MAX_CALLBACK_URL_LENGTH} characters")
    parts = _split(url)
    host = _host_of(parts)
    if parts.username is not None or parts.password is not None:
        raise CallbackRefused("must not contain user information")
    if parts.fragment:
        raise CallbackRefused("must not contain a fragment")
    literal = _literal_of(host)
    _check_scheme(parts.scheme, literal, allow)
    _check_port(_port_of(parts))
    if literal is not None:
        _check_address(literal, allow)
    return url


def callback_host_and_port(url: str) -> tuple[str, int]:
    """The host to resolve and the port to connect to (the scheme's default when none is given)."""
    parts = _split(url)
    return _host_of(parts), _port_of(parts)


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - urlsplit checks the port only when asked for it
    except ValueError as error:
        raise CallbackRefused(f"is not a valid URL ({error})") from None
    return parts


def _host_of(parts: SplitResult) -> str:
    host = parts.hostname
    if not host:
        raise CallbackRefused("must name a host")
    if any(character.isspace() or not character.isprintable() for character in host):
        raise CallbackRefused("must not contain spaces or control characters in the host")
    return host


def _port_of(parts: SplitResult) -> int:
    return parts.port if parts.port is not None else DEFAULT_PORTS.get(parts.scheme, 0)


def _literal_of(host: str) -> IPAddress | None:
    literal = parse_host_as_ip(host)
    if literal is None and _looks_numeric(host):
        raise CallbackRefused(f"names the host {host!r}, which is neither a valid IP address nor a domain name")
    return literal


def _check_scheme(scheme: str, literal: IPAddress | None, allow: AllowList) -> None:
    if scheme == "https" or (scheme == "http" and _http_may_be_allowed(literal, allow)):
        return
    raise CallbackRefused("must use https (plain http only to allow-listed addresses)")


def _http_may_be_allowed(literal: IPAddress | None, allow: AllowList) -> bool:
    if literal is not None:
        return allow.contains(literal)
    # A name may still resolve into the allow-list: resolve_and_check(plain_http=True) decides.
    return not allow.is_empty


def _check_port(port: int) -> None:
    if port != 443 and not MIN_UNPRIVILEGED_PORT <= port <= 65535:
        raise CallbackRefused("must use port 443 or a port from 1024 to 65535")


def _check_address(ip: IPAddress, allow: AllowList, *, plain_http: bool = False) -> None:
    if allow.contains(ip):
        return
    if plain_http:
        raise CallbackRefused(f"uses plain http to {ip}, which is not allow-listed; use https")
    reason = forbidden_reason(ip)
    if reason is not None:
        raise CallbackRefused(f"goes to {ip}, which is {reason}")


# --- at submit and at every attempt: resolve once, check every address ------------------------


def system_resolver(host: str, port: int, family: int = 0, kind: int = 0, /) -> Any:
    """socket.getaddrinfo, looked up at call time (so a test can stand in for DNS)."""
    return socket.getaddrinfo(host, port, family, kind)


class Resolver(Protocol):
    """socket.getaddrinfo's shape (tests pass fakes: no DNS in unit tests)."""

    def __call__(
        self, host: str, port: int, family: int = ..., kind: int = ..., /
    ) -> Sequence[tuple[Any, Any, Any, Any, tuple[Any, ...]]]: ...


def resolve_and_check(
    host: str,
    port: int,
    allow: AllowList,
    resolver: Resolver | None = None,
    *,
    plain_http: bool = False,
) -> list[str]:
    """Resolve A and AAAA once; return the addresses to connect to, or raise CallbackRefused.

    Refused if ANY address is forbidden and not allow-listed (one bad record is enough: the
    resolver's order is not ours to trust). An IP literal is checked without resolving. With
    `plain_http`, every address must be allow-listed.
    """
    literal = parse_host_as_ip(host)
    addresses = [literal] if literal is not None else _resolve(host, port, resolver)
    for ip in addresses:
        _check_address(ip, allow, plain_http=plain_http)
    return list(dict.fromkeys(str(ip) for ip in addresses))


def resolve_callback_url(url: str, allow: AllowList, resolver: Resolver | None = None) -> list[str]:
    """Everything an attempt must check: the URL rules again, then the addresses it resolves to."""
    check_callback_url(url, allow)
    host, port = callback_host_and_port(url)
    return resolve_and_check(host, port, allow, resolver, plain_http=urlsplit(url).scheme == "http")


def _resolve(host: str, port: int, resolver: Resolver | None) -> list[IPAddress]:
    resolver = resolver or system_resolver
    if _looks_numeric(host):
        # Never let a resolver guess what a malformed number means.
        raise CallbackRefused(f"host {host!r} is neither a valid IP address nor a domain name")
    try:
        records = resolver(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise CallbackRefused(f"host {host!r} does not resolve") from None
    addresses = [
        ipaddress.ip_address(record[4][0]) for record in records if record[0] in (socket.AF_INET, socket.AF_INET6)
    ]
    if not addresses:
        raise CallbackRefused(f"host {host!r} does not resolve")
    return addresses
