"""Sending one request to addresses already checked, never looking the host up again.

`ssrf.resolve_callback_url` decides which addresses a callback may reach; `send_pinned`
connects to exactly those, while the URL's host name still goes into `Host`, SNI and
certificate verification. So a second DNS lookup (rebinding) can never redirect a webhook.
A `Deadline` bounds the whole exchange, not each socket read: when it passes, every
connection the exchange uses is shut down, so a receiver that trickles bytes is cut off too.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Mapping
from contextlib import suppress
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import SplitResult, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import MaxRetryError, NewConnectionError

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs

__all__ = ["Deadline", "DeadlineExceeded", "read_body_prefix", "send_pinned"]

# A prefix no real URL starts with: mounting the adapter there lets a caller's session keep it
# (and its connection pools) without changing how that session sends anything else.
_PINNED_ADAPTER_PREFIX = "jobgate-pinned://"


class DeadlineExceeded(requests.Timeout):
    """The exchange did not finish before its deadline and was cut off."""


class Deadline:
    """A fixed end for one exchange: when it passes, each connection the exchange uses is shut
    down (a read blocked on it returns at once), however steadily the peer sends bytes.

    Call `cancel` when the exchange is over; a Deadline is for one exchange only.
    """

    def __init__(self, seconds: float) -> None:
        self._ends_at = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._connections: list[HTTPConnection] = []
        self._expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    @property
    def expired(self) -> bool:
        return self._expired

    def remaining(self) -> float:
        return max(0.0, self._ends_at - time.monotonic())

    def cancel(self) -> None:
        self._timer.cancel()

    def watch(self, connection: HTTPConnection) -> None:
        with self._lock:
            if connection not in self._connections:
                self._connections.append(connection)
            expired = self._expired
        if expired:
            _shut_down(connection)

    def _expire(self) -> None:
        with self._lock:
            self._expired = True
            connections = list(self._connections)
        for connection in connections:
            _shut_down(connection)


def _shut_down(connection: HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        with suppress(OSError):  # already closed: nothing left to cut
            sock.shutdown(socket.SHUT_RDWR)


# The deadline of the exchange this thread is sending, for the connections it opens or reuses.
_current_deadline: ContextVar[Deadline | None] = ContextVar("jobgate_pinned_deadline", default=None)


def _watch(connection: HTTPConnection) -> None:
    deadline = _current_deadline.get()
    if deadline is not None:
        deadline.watch(connection)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        _watch(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:  # a reused connection is watched too
        _watch(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        _watch(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _PinnedAdapter(HTTPAdapter):
    """Connects to the IP address in the URL, but verifies TLS for the name in `Host`; its
    connections are cut off when the deadline of the exchange passes."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}

    def build_connection_pool_key_attributes(
        self, request: PreparedRequest, verify: bool | str, cert: str | tuple[str, str] | None = None
    ) -> tuple[_HostParams, _PoolKwargs]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if host_params["scheme"] != "https":
            return host_params, pool_kwargs
        # Both are part of urllib3's pool key: pools for different names never mix.
        name = urlsplit("//" + request.headers["Host"]).hostname
        with_name: dict[str, Any] = {**pool_kwargs, "server_hostname": name, "assert_hostname": name}
        return host_params, cast("_PoolKwargs", with_name)


def send_pinned(
    method: str,
    url: str,
    addresses: list[str],
    *,
    headers: Mapping[str, str],
    body: bytes,
    connect_timeout: float,
    read_timeout: float,
    deadline: Deadline | None = None,
    session: requests.Session | None = None,
) -> requests.Response:
    """Send one request to the already-checked addresses, never looking the host up again.

    The URL's host name still goes into `Host` and, for https, into SNI and certificate
    verification. Redirects come back as they are (never followed). The next address is tried
    only when no connection could be made to this one. The response is streamed: read what you
    need (`read_body_prefix`) and close it. A `deadline` cuts off the sending and the reading of
    the body alike (DeadlineExceeded, or the read's error once it has passed). `session`
    supplies trust settings (`verify`, `cert`) and keeps connections for reuse; it never adds
    headers, cookies, auth or proxies.
    """
    if not addresses:
        raise ValueError("send_pinned needs at least one address")
    request = _prepare(method, url, headers, body)
    adapter = _pinned_adapter(session)
    verify: bool | str = session.verify if session is not None and session.verify is not None else True
    cert = session.cert if session is not None else None
    target = urlsplit(request.url or url)

    def send_to(address: str) -> requests.Response:
        pinned = request.copy()
        pinned.url = _url_for_address(target, address)
        connect = connect_timeout
        if deadline is not None:
            if deadline.expired:
                raise DeadlineExceeded("the deadline passed before an address answered")
            connect = min(connect, deadline.remaining())
        token = _current_deadline.set(deadline)
        try:
            response = adapter.send(pinned, stream=True, timeout=(connect, read_timeout), verify=verify, cert=cert)
        except requests.ConnectionError as error:
            if deadline is not None and deadline.expired:
                raise DeadlineExceeded("cut off at the deadline") from error
            raise
        finally:
            _current_deadline.reset(token)
        response.url = request.url or url
        return response

    for address in addresses[:-1]:
        try:
            return send_to(address)
        except requests.ConnectionError as error:
            if not _never_connected(error):
                raise
    return send_to(addresses[-1])


def read_body_prefix(response: requests.Response, limit: int = 1024) -> bytes:
    """At most `limit` bytes of the body, then the connection is closed: a huge body costs nothing."""
    prefix = b""
    try:
        for chunk in response.iter_content(chunk_size=limit):
            prefix += chunk
            if len(prefix) >= limit:
                break
    finally:
        response.close()
    return prefix[:limit]


def _prepare(method: str, url: str, headers: Mapping[str, str], body: bytes) -> PreparedRequest:
    # A bare Request, not Session.prepare_request: no session headers, cookies or netrc auth.
    request = requests.Request(method, url, headers=dict(headers), data=body).prepare()
    request.headers["Host"] = _host_header(urlsplit(request.url or url))
    return request


def _host_header(parts: SplitResult) -> str:
    # requests has already turned an internationalised name into its ASCII (IDNA) form.
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return host if parts.port is None else f"{host}:{parts.port}"


def _url_for_address(parts: SplitResult, address: str) -> str:
    ip = ipaddress.ip_address(address)
    host = f"[{ip}]".replace("%", "%25") if ip.version == 6 else str(ip)
    # No port in the URL: none here either, so the scheme's default applies, as it would have.
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def _pinned_adapter(session: requests.Session | None) -> _PinnedAdapter:
    if session is None:
        return _PinnedAdapter()
    adapter = session.adapters.get(_PINNED_ADAPTER_PREFIX)
    if not isinstance(adapter, _PinnedAdapter):
        adapter = _PinnedAdapter()
        session.mount(_PINNED_ADAPTER_PREFIX, adapter)
    return adapter


def _never_connected(error: requests.ConnectionError) -> bool:
    """True when the request cannot have reached this address (so another may be tried)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    cause = error.args[0] if error.args else None
    # A refused or unreachable connect; TLS failures and resets after sending are answers.
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)
