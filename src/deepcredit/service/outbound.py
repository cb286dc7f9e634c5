"""Where the service may send a request of its own: public internet addresses only.

Why: a person registers a webhook URL, and the service then opens connections to it. Without a check, any
person token could point the service at addresses only the service can reach (its database on
127.0.0.1, an admin port, a cloud metadata endpoint at 169.254.169.254) and have it post there,
retrying, on a schedule (server-side request forgery). So a webhook's host must resolve to public
addresses only: checked at registration (a clear refusal) and again at every delivery, on the very
address the connection then uses, so that a name which later resolves elsewhere (DNS rebinding) is
refused too. A public host's other ports are not the receiver's either (an admin console, a database
left listening): only the scheme's default port (443, 80) is sent to, checked at registration and at every
delivery. Redirects are not followed. `allow_private` (DEEPCREDIT_WEBHOOK_ALLOW_PRIVATE) lifts both rules
for a local receiver in development and tests.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

TIMEOUT_S = 10


class UnsafeTarget(Exception):
    """The host resolves to an address the service must not send to (or to none)."""


DEFAULT_PORTS = {"https": 443, "http": 80}


def check_port(scheme: str, port: int | None, allow_private: bool) -> None:
    """Refuse a port other than the scheme's default (no port in the URL is the default)."""
    if not allow_private and port is not None and port != DEFAULT_PORTS.get(scheme):
        raise UnsafeTarget("the webhook URL names a port other than its scheme's default")


def is_public(address: str) -> bool:
    """Whether an IP address is globally routable: not loopback, private, link-local, shared (CGNAT),
    multicast, reserved or unspecified, also when written as an IPv4-mapped IPv6 address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id (fe80::1%eth0) is not part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def literal_address(host: str) -> str | None:
    """The host itself when it is an IP address (IPv6 without brackets), else None."""
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (raises OSError when it resolves to none)."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


def safe_address(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to: all of the host's addresses must be public (one bad one refuses the
    host, since which one a connection picks is not ours to choose)."""
    addresses = resolve(host, port)
    if not allow_private:
        bad = [a for a in addresses if not is_public(a)]
        if bad:
            raise UnsafeTarget("the webhook host resolves to an address that is not public")
    return addresses[0]


def check_at_registration(host: str, port: int, allow_private: bool) -> None:
    """Refuse a host that is, or resolves to, a non-public address. A name that does not resolve now is
    let through: it may later, and every delivery checks again."""
    if allow_private:
        return
    literal = literal_address(host)
    if literal is not None:
        if not is_public(literal):
            raise UnsafeTarget("the webhook host is not a public address")
        return
    try:
        safe_address(host, port, allow_private=False)
    except OSError:
        return


class _CheckedHTTP(http.client.HTTPConnection):
    allow_private = False

    def connect(self) -> None:
        address = safe_address(self.host, self.port, self.allow_private)
        self.sock = socket.create_connection((address, self.port), self.timeout)


class _CheckedHTTPS(http.client.HTTPSConnection):
    allow_private = False

    def __init__(self, host: str, port: int | None, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)

    def connect(self) -> None:
        address = safe_address(self.host, self.port, self.allow_private)
        sock = socket.create_connection((address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)  # the certificate of the name


def post(url: str, body: bytes, headers: dict[str, str], allow_private: bool = False) -> int:
    """POST `body` to `url` through a checked connection; the HTTP status (a redirect is not followed: its
    3xx status is the answer)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise UnsafeTarget("the URL has no host")
    check_port(parts.scheme, parts.port, allow_private)
    conn: _CheckedHTTP | _CheckedHTTPS
    if parts.scheme == "https":
        conn = _CheckedHTTPS(parts.hostname, parts.port, timeout=TIMEOUT_S)
    elif parts.scheme == "http":
        conn = _CheckedHTTP(parts.hostname, parts.port, timeout=TIMEOUT_S)
    else:
        raise UnsafeTarget(f"scheme {parts.scheme!r} is not sent to")
    conn.allow_private = allow_private
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", path, body=body, headers=headers)
        return int(conn.getresponse().status)
    finally:
        conn.close()
