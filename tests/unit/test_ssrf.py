"""Callback URL safety (docs/webhooks.md, "Callback URLs are untrusted"): pure checks, fake resolvers, no network."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from ipaddress import ip_address
from typing import Any

import pytest

from jobgate.webhooks.ssrf import (
    AllowList,
    CallbackRefused,
    check_callback_url,
    forbidden_reason,
    parse_host_as_ip,
    resolve_and_check,
    resolve_callback_url,
)

NOTHING_ALLOWED = AllowList()
LOCAL_STACK = AllowList.parse("127.0.0.1/32,::1/128")

AddrInfo = tuple[Any, Any, Any, Any, tuple[Any, ...]]


class FakeResolver:
    """getaddrinfo's shape, answering from a table, and remembering what it was asked."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, int, int]] = []

    def __call__(self, host: str, port: int, family: int = 0, kind: int = 0, /) -> Sequence[AddrInfo]:
        self.asked.append((host, port, family))
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [_record(address, port) for address in self.answers[host]]


def _record(address: str, port: int) -> AddrInfo:
    if ip_address(address).version == 6:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


def never_resolve(host: str, port: int, family: int = 0, kind: int = 0, /) -> Sequence[AddrInfo]:
    raise AssertionError(f"{host!r} must not be sent to a resolver")


# --- which addresses are refused ------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.1.2.3", "private (10.0.0.0/8)"),
        ("172.16.0.1", "private (172.16.0.0/12)"),
        ("172.31.255.255", "private (172.16.0.0/12)"),
        ("192.168.1.1", "private (192.168.0.0/16)"),
        ("169.254.169.254", "instance metadata"),
        ("169.254.0.1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("0.0.0.0", "this network"),
        ("0.1.2.3", "this network"),
        ("198.18.0.1", "benchmarking"),
        ("198.19.255.254", "benchmarking"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("192.0.2.1", "TEST-NET-1"),
        ("198.51.100.7", "TEST-NET-2"),
        ("203.0.113.9", "TEST-NET-3"),
        ("192.0.0.8", "IETF protocol assignments"),
        ("192.88.99.1", "6to4 relay"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fc00::1", "unique local"),
        ("fd12:3456::1", "unique local"),
        ("fd00:ec2::254", "instance metadata"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("100::1", "discard-only"),
        ("2001:2::1", "benchmarking"),
        ("64:ff9b:1::1", "local-use NAT64"),
        ("4000::1", "outside global unicast"),
    ],
)
def test_every_non_routable_range_is_refused_with_a_reason(address: str, why: str) -> None:
    reason = forbidden_reason(ip_address(address))

    assert reason is not None
    assert why in reason


@pytest.mark.parametrize(
    ("address", "embedded", "why"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1", "IPv4-mapped"),
        ("::ffff:169.254.169.254", "169.254.169.254", "IPv4-mapped"),
        ("::ffff:10.0.0.1", "10.0.0.1", "IPv4-mapped"),
        ("::127.0.0.1", "127.0.0.1", "IPv4-compatible"),
        ("::ffff:0:127.0.0.1", "127.0.0.1", "IPv4-translated"),
        ("64:ff9b::127.0.0.1", "127.0.0.1", "NAT64"),
        ("64:ff9b::a9fe:a9fe", "169.254.169.254", "NAT64"),
        ("2002:7f00:0001::1", "127.0.0.1", "6to4"),
        ("2002:c0a8:0101:5::1", "192.168.1.1", "6to4"),
        # Teredo carries the server in bits 32-63 and the client (bit-inverted) in the last 32.
        ("2001:0:0a00:0001::1", "10.0.0.1", "Teredo"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45", "Teredo"),
    ],
)
def test_ipv6_forms_of_refused_ipv4_addresses_are_refused(address: str, embedded: str, why: str) -> None:
    reason = forbidden_reason(ip_address(address))

    assert reason is not None
    assert why in reason
    assert embedded in reason


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "2a00:1450:4001:82b::200e",
        # A VPC with DNS64 hands out NAT64 forms of public IPv4 receivers.
        "64:ff9b::93.184.216.34",
        "::ffff:93.184.216.34",
        "2002:5db8:d822::1",
    ],
)
def test_public_addresses_are_accepted(address: str) -> None:
    assert forbidden_reason(ip_address(address)) is None


def test_deprecated_ipv4_compatible_form_is_refused_even_for_a_public_address() -> None:
    reason = forbidden_reason(ip_address("::93.184.216.34"))

    assert reason is not None
    assert "deprecated" in reason


# --- IP literals in every spelling ----------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
        ("[::ffff:7f00:1]", "::ffff:127.0.0.1"),
        ("::1", "::1"),
    ],
)
def test_numeric_spellings_are_recognised_as_the_address_they_name(host: str, address: str) -> None:
    assert parse_host_as_ip(host) == ip_address(address)


@pytest.mark.parametrize(
    "host", ["hooks.example.com", "localhost", "1.2.3.4.5", "08.0.0.1", "1..2", "256.0.0.1", "1 2"]
)
def test_names_and_malformed_numbers_are_not_addresses(host: str) -> None:
    assert parse_host_as_ip(host) is None


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f000001", "0177.0.0.1", "0x7f.1", "127.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]"]
)
def test_numeric_spellings_of_loopback_are_refused_at_submit_and_never_resolved(host: str) -> None:
    with pytest.raises(CallbackRefused, match="loopback"):
        check_callback_url(f"https://{host}/hook", NOTHING_ALLOWED)
    with pytest.raises(CallbackRefused, match="loopback"):
        resolve_callback_url(f"https://{host}/hook", NOTHING_ALLOWED, never_resolve)


@pytest.mark.parametrize("host", ["1.2.3.256", "1.2.3.4.5", "08.0.0.1", "0x7g.1", "example.123"])
def test_hosts_that_end_in_a_number_but_are_no_address_are_refused_not_resolved(host: str) -> None:
    with pytest.raises(CallbackRefused, match="neither a valid IP address nor a domain name"):
        check_callback_url(f"https://{host}/", NOTHING_ALLOWED)
    with pytest.raises(CallbackRefused, match="neither a valid IP address nor a domain name"):
        resolve_and_check(host, 443, NOTHING_ALLOWED, never_resolve)


# --- the allow-list -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", " , "])
def test_empty_allow_list_text_allows_nothing(text: str) -> None:
    assert AllowList.parse(text).is_empty


def test_allow_list_reads_comma_separated_networks() -> None:
    allow = AllowList.parse(" 127.0.0.1/32 , ::1/128 ")

    assert allow.contains(ip_address("127.0.0.1"))
    assert allow.contains(ip_address("::1"))
    assert not allow.contains(ip_address("127.0.0.2"))
    assert not allow.contains(ip_address("::ffff:127.0.0.1"))


@pytest.mark.parametrize("bad", ["localhost", "127.0.0.1/33", "127.0.0.1/8", "10.0.0.0/8;"])
def test_a_bad_allow_list_entry_is_named(bad: str) -> None:
    with pytest.raises(ValueError, match=bad.replace(".", r"\.")):
        AllowList.parse(f"::1/128,{bad}")


def test_allow_list_lets_127_0_0_1_through_but_not_127_0_0_2() -> None:
    assert resolve_and_check("127.0.0.1", 8080, LOCAL_STACK, never_resolve) == ["127.0.0.1"]
    with pytest.raises(CallbackRefused, match=r"127\.0\.0\.2.*loopback"):
        resolve_and_check("127.0.0.2", 8080, LOCAL_STACK, never_resolve)


def test_allow_listed_names_resolve_to_their_addresses() -> None:
    resolver = FakeResolver({"receiver.local": ["127.0.0.1", "::1"]})

    assert resolve_and_check("receiver.local", 9000, LOCAL_STACK, resolver) == ["127.0.0.1", "::1"]


# --- resolving --------------------------------------------------------------------------------


def test_a_name_resolving_to_public_and_private_addresses_is_refused_naming_the_private_one() -> None:
    resolver = FakeResolver({"hooks.example.com": ["93.184.216.34", "2606:4700:4700::1111", "10.0.0.7"]})

    with pytest.raises(CallbackRefused, match=r"10\.0\.0\.7, which is private"):
        resolve_and_check("hooks.example.com", 443, NOTHING_ALLOWED, resolver)


def test_a_name_resolving_to_an_aaaa_metadata_address_is_refused() -> None:
    resolver = FakeResolver({"hooks.example.com": ["93.184.216.34", "fd00:ec2::254"]})

    with pytest.raises(CallbackRefused, match="fd00:ec2::254"):
        resolve_and_check("hooks.example.com", 443, NOTHING_ALLOWED, resolver)


def test_a_public_name_is_resolved_once_for_a_and_aaaa_and_its_addresses_returned() -> None:
    resolver = FakeResolver({"hooks.example.com": ["93.184.216.34", "2606:4700:4700::1111", "93.184.216.34"]})

    addresses = resolve_and_check("hooks.example.com", 8443, NOTHING_ALLOWED, resolver)

    assert addresses == ["93.184.216.34", "2606:4700:4700::1111"]
    assert resolver.asked == [("hooks.example.com", 8443, socket.AF_UNSPEC)]


def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(CallbackRefused, match="does not resolve"):
        resolve_and_check("nowhere.example.com", 443, NOTHING_ALLOWED, FakeResolver({}))


def test_a_name_with_no_addresses_is_refused() -> None:
    with pytest.raises(CallbackRefused, match="does not resolve"):
        resolve_and_check("empty.example.com", 443, NOTHING_ALLOWED, FakeResolver({"empty.example.com": []}))


def test_an_ip_literal_is_checked_without_resolving() -> None:
    assert resolve_and_check("93.184.216.34", 443, NOTHING_ALLOWED, never_resolve) == ["93.184.216.34"]
    with pytest.raises(CallbackRefused, match="instance metadata"):
        resolve_and_check("169.254.169.254", 443, NOTHING_ALLOWED, never_resolve)


# --- the URL rules at submit ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/jobgate",
        "https://hooks.example.com:8443/x?y=1",
        "https://example.com:443/",
        "https://hooks.example.com:65535/",
        "https://93.184.216.34/hook",
        "https://[2606:4700:4700::1111]:8443/hook",
    ],
)
def test_acceptable_urls_pass(url: str) -> None:
    assert check_callback_url(url, NOTHING_ALLOWED) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com:8080/x", "https"),
        ("ftp://hooks.example.com/x", "https"),
        ("https://user:pw@hooks.example.com/x", "user information"),
        ("https://user@hooks.example.com/x", "user information"),
        ("https://hooks.example.com:22/x", "port"),
        ("https://hooks.example.com:80/x", "port"),
        ("https://hooks.example.com:1023/x", "port"),
        ("https://hooks.example.com:99999/x", "valid URL"),
        ("https://[::1/x", "valid URL"),
        ("https:///nohost", "host"),
        ("https://example.com/x#frag", "fragment"),
        ("https://example.com/" + "a" * 2029, "2048"),
        ("https://10.0.0.1/x", "private"),
        ("https://[fd00:ec2::254]/x", "instance metadata"),
    ],
)
def test_unacceptable_urls_say_why(url: str, reason: str) -> None:
    with pytest.raises(CallbackRefused, match=reason):
        check_callback_url(url, NOTHING_ALLOWED)


def test_a_url_of_exactly_2048_characters_is_accepted() -> None:
    url = "https://example.com/" + "a" * 2028

    assert len(url) == 2048
    assert check_callback_url(url, NOTHING_ALLOWED) == url


def test_refusals_are_value_errors_so_they_become_field_errors() -> None:
    with pytest.raises(ValueError, match="https"):
        check_callback_url("http://hooks.example.com:8080/", NOTHING_ALLOWED)


def test_plain_http_is_accepted_only_to_an_allow_listed_address() -> None:
    assert check_callback_url("http://127.0.0.1:8080/hook", LOCAL_STACK) == "http://127.0.0.1:8080/hook"
    assert check_callback_url("http://[::1]:8080/hook", LOCAL_STACK) == "http://[::1]:8080/hook"
    with pytest.raises(CallbackRefused, match="https"):
        check_callback_url("http://127.0.0.1:8080/hook", NOTHING_ALLOWED)
    with pytest.raises(CallbackRefused, match="https"):
        check_callback_url("http://127.0.0.2:8080/hook", LOCAL_STACK)
    with pytest.raises(CallbackRefused, match="https"):
        check_callback_url("http://93.184.216.34:8080/hook", LOCAL_STACK)


def test_plain_http_to_a_name_is_refused_when_nothing_is_allow_listed() -> None:
    with pytest.raises(CallbackRefused, match="https"):
        check_callback_url("http://receiver.local:8080/hook", NOTHING_ALLOWED)


def test_plain_http_to_a_name_goes_only_where_the_name_resolves_into_the_allow_list() -> None:
    resolver = FakeResolver({"receiver.local": ["127.0.0.1"], "hooks.example.com": ["93.184.216.34"]})

    assert resolve_callback_url("http://receiver.local:8080/hook", LOCAL_STACK, resolver) == ["127.0.0.1"]
    with pytest.raises(CallbackRefused, match=r"plain http to 93\.184\.216\.34"):
        resolve_callback_url("http://hooks.example.com:8080/hook", LOCAL_STACK, resolver)


def test_plain_http_on_its_default_port_80_is_refused() -> None:
    with pytest.raises(CallbackRefused, match="port"):
        check_callback_url("http://127.0.0.1/hook", LOCAL_STACK)


def test_every_attempt_checks_the_url_rules_again() -> None:
    resolver = FakeResolver({"hooks.example.com": ["93.184.216.34"]})

    assert resolve_callback_url("https://hooks.example.com/hook", NOTHING_ALLOWED, resolver) == ["93.184.216.34"]
    with pytest.raises(CallbackRefused, match="user information"):
        resolve_callback_url("https://u@hooks.example.com/hook", NOTHING_ALLOWED, resolver)
