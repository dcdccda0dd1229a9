"""send_pinned against real servers on 127.0.0.1 and ::1 only: pinned connects, no redirects, TLS by name.

No name used here (hooks.test, other.test) exists in DNS: a request that arrives proves it was
sent to the pinned address, not looked up.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypedDict, cast

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from jobgate.webhooks.pinned_http import read_body_prefix, send_pinned


class Timeouts(TypedDict):
    connect_timeout: float
    read_timeout: float


TIMEOUTS: Timeouts = {"connect_timeout": 5.0, "read_timeout": 10.0}


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Reply = Callable[["Handler"], None]


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], reply: Reply, *, family: socket.AddressFamily) -> None:
        self.address_family = family
        self.reply = reply
        self.received: list[Received] = []
        self.server_names: list[str | None] = []
        # Lets a handler that is holding its connection open finish at teardown.
        self.release = threading.Event()
        super().__init__(address, Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up mid-body are part of these tests, not errors worth a traceback."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse can be observed

    def _handle(self) -> None:
        server = cast("Server", self.server)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        server.received.append(Received(self.command, self.path, dict(self.headers.items()), body))
        server.reply(self)

    do_GET = do_POST = _handle  # noqa: N815 - http.server dispatches on these names

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Quiet: pytest shows what matters."""

    def respond(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def ok(handler: Handler) -> None:
    handler.respond(200, b"ok")


ServerFactory = Callable[..., Server]


@pytest.fixture
def start_server() -> Iterator[ServerFactory]:
    servers: list[Server] = []

    def start(
        reply: Reply = ok, *, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
    ) -> Server:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server = Server((host, port), reply, family=family)
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        servers.append(server)
        # A short poll interval only makes teardown quicker.
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return server

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


def port_of(server: Server) -> int:
    return int(server.server_address[1])


def test_the_request_goes_to_the_pinned_address_with_the_name_in_host(start_server: ServerFactory) -> None:
    server = start_server()
    port = port_of(server)

    response = send_pinned(
        "POST",
        f"http://hooks.test:{port}/x?y=1",
        ["127.0.0.1"],
        headers={"content-type": "application/json", "webhook-id": "msg_1", "Host": "evil.test"},
        body=b'{"type":"job.succeeded"}',
        **TIMEOUTS,
    )

    assert response.status_code == 200
    assert read_body_prefix(response) == b"ok"
    assert response.url == f"http://hooks.test:{port}/x?y=1"
    [received] = server.received
    assert (received.method, received.path, received.body) == ("POST", "/x?y=1", b'{"type":"job.succeeded"}')
    assert received.headers["Host"] == f"hooks.test:{port}"
    assert received.headers["webhook-id"] == "msg_1"


def test_a_redirect_to_the_metadata_service_comes_back_unfollowed(start_server: ServerFactory) -> None:
    def redirect(handler: Handler) -> None:
        handler.respond(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})

    server = start_server(redirect)

    response = send_pinned(
        "POST", f"http://hooks.test:{port_of(server)}/x", ["127.0.0.1"], headers={}, body=b"{}", **TIMEOUTS
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "http://169.254.169.254/latest/meta-data/"
    assert len(server.received) == 1
    response.close()


def test_the_next_address_is_tried_when_the_first_refuses_the_connection(start_server: ServerFactory) -> None:
    server = start_server()  # listens on 127.0.0.1 only: ::1 refuses this port

    response = send_pinned(
        "POST", f"http://hooks.test:{port_of(server)}/x", ["::1", "127.0.0.1"], headers={}, body=b"{}", **TIMEOUTS
    )

    assert response.status_code == 200
    assert len(server.received) == 1
    response.close()


def test_an_answer_from_the_first_address_is_final_even_an_error(start_server: ServerFactory) -> None:
    ipv6 = start_server(host="::1")
    try:
        ipv4 = start_server(lambda handler: handler.respond(503, b"busy"), port=port_of(ipv6))
    except OSError:
        pytest.skip("cannot listen on the same port on 127.0.0.1 and ::1 here")

    response = send_pinned(
        "POST", f"http://hooks.test:{port_of(ipv6)}/x", ["127.0.0.1", "::1"], headers={}, body=b"{}", **TIMEOUTS
    )

    assert response.status_code == 503
    assert len(ipv4.received) == 1
    assert ipv6.received == []
    response.close()


def test_a_connection_lost_after_sending_is_not_retried_on_the_next_address(start_server: ServerFactory) -> None:
    def hang_up(handler: Handler) -> None:
        handler.close_connection = True  # the request was read (maybe acted on): no answer

    ipv6 = start_server(host="::1")
    try:
        start_server(hang_up, port=port_of(ipv6))
    except OSError:
        pytest.skip("cannot listen on the same port on 127.0.0.1 and ::1 here")

    with pytest.raises(requests.ConnectionError):
        send_pinned(
            "POST", f"http://hooks.test:{port_of(ipv6)}/x", ["127.0.0.1", "::1"], headers={}, body=b"{}", **TIMEOUTS
        )
    assert ipv6.received == []


def test_when_no_address_accepts_a_connection_the_error_is_raised() -> None:
    with socket.socket() as probe:  # a port nothing listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(requests.ConnectionError):
        send_pinned("POST", f"http://hooks.test:{port}/x", ["127.0.0.1", "::1"], headers={}, body=b"", **TIMEOUTS)


def test_only_the_first_kilobyte_is_read_from_an_endless_body(start_server: ServerFactory) -> None:
    def endless(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(10 * 1024 * 1024))
        handler.end_headers()
        handler.wfile.write(b"x" * 4096)
        handler.wfile.flush()
        # The rest never comes: reading to the end would end in a ReadTimeout.
        cast("Server", handler.server).release.wait(timeout=60)

    server = start_server(endless)
    response = send_pinned(
        "POST", f"http://hooks.test:{port_of(server)}/x", ["127.0.0.1"], headers={}, body=b"{}", **TIMEOUTS
    )

    assert read_body_prefix(response, 1024) == b"x" * 1024


# --- https: the connection goes to 127.0.0.1, TLS is checked for the name -------------------


@dataclass
class Pki:
    ca_file: Path
    cert_file: Path
    key_file: Path
    server_names: list[str | None] = field(default_factory=list)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        context.sni_callback = self._record_sni
        return context

    def _record_sni(self, _socket: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        self.server_names.append(name)


@pytest.fixture(scope="module")
def pki_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for hooks.test alone (no IP address in it)."""
    directory = tmp_path_factory.mktemp("pki")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jobgate test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        _certificate(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.test")]), ca_name, key.public_key(), now)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = (directory / "ca.pem", directory / "hooks.test.pem", directory / "hooks.test.key")
    files[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return files


def _certificate(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, now: datetime.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


@pytest.fixture
def pki(pki_files: tuple[Path, Path, Path]) -> Pki:
    return Pki(*pki_files)


@pytest.fixture
def trusting_session(pki: Pki) -> Iterator[requests.Session]:
    session = requests.Session()
    session.verify = str(pki.ca_file)
    yield session
    session.close()


def test_https_is_verified_for_the_name_while_connecting_to_the_address(
    start_server: ServerFactory, pki: Pki, trusting_session: requests.Session
) -> None:
    server = start_server(tls=pki.server_context())
    port = port_of(server)

    response = send_pinned(
        "POST",
        f"https://hooks.test:{port}/x",
        ["127.0.0.1"],
        headers={},
        body=b"{}",
        session=trusting_session,
        **TIMEOUTS,
    )

    assert response.status_code == 200
    assert read_body_prefix(response) == b"ok"
    assert pki.server_names == ["hooks.test"]
    assert server.received[0].headers["Host"] == f"hooks.test:{port}"


def test_https_to_a_name_the_certificate_does_not_cover_is_refused(
    start_server: ServerFactory, pki: Pki, trusting_session: requests.Session
) -> None:
    server = start_server(tls=pki.server_context())

    with pytest.raises(requests.exceptions.SSLError):
        send_pinned(
            "POST",
            f"https://other.test:{port_of(server)}/x",
            ["127.0.0.1"],
            headers={},
            body=b"{}",
            session=trusting_session,
            **TIMEOUTS,
        )
    assert server.received == []


def test_https_to_an_untrusted_certificate_is_refused_by_default(start_server: ServerFactory, pki: Pki) -> None:
    server = start_server(tls=pki.server_context())

    with pytest.raises(requests.exceptions.SSLError):
        send_pinned(
            "POST", f"https://hooks.test:{port_of(server)}/x", ["127.0.0.1"], headers={}, body=b"{}", **TIMEOUTS
        )
    assert server.received == []


def test_a_verified_connection_is_never_reused_for_another_name(
    start_server: ServerFactory, pki: Pki, trusting_session: requests.Session
) -> None:
    server = start_server(tls=pki.server_context())
    port = port_of(server)
    for _ in range(2):
        response = send_pinned(
            "GET",
            f"https://hooks.test:{port}/x",
            ["127.0.0.1"],
            headers={},
            body=b"",
            session=trusting_session,
            **TIMEOUTS,
        )
        assert response.content == b"ok"  # read to the end: the kept-alive connection goes back to the pool
    assert pki.server_names == ["hooks.test"], "the session reuses a connection to the same name"

    with pytest.raises(requests.exceptions.SSLError):
        send_pinned(
            "GET",
            f"https://other.test:{port}/x",
            ["127.0.0.1"],
            headers={},
            body=b"",
            session=trusting_session,
            **TIMEOUTS,
        )
    assert len(server.received) == 2
