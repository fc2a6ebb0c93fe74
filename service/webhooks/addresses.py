"""Which addresses a brand's webhook may reach, checked where the connection is made.

A webhook URL is the brand's to choose, so it must not let them make us call into our own
network: loopback, private ranges, carrier-grade NAT (100.64.0.0/10, where some clouds keep
their metadata service), link-local (169.254.169.254), reserved and multicast ranges, and
IPv6 forms that carry such an IPv4 address. The rule is Python's `ipaddress` `is_global`.

Resolving a name for the check and again for the connection would let its DNS answer change
in between (DNS rebinding), so the HTTP client resolves once, checks every address, and opens
the socket to a checked one. The URL keeps the host name: the Host header, TLS SNI and the
certificate check are all for the name, as without the check.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlsplit

import httpcore
import httpx

__all__ = ["AddressCheckingBackend", "RefusedAddress", "checked_client", "private_target", "public_address",
           "system_resolver"]

#: host, port -> the addresses to try, in order (socket.getaddrinfo unless a test supplies one).
Resolver = Callable[[str, int], Sequence[str]]
_LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".home.arpa")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class RefusedAddress(httpcore.ConnectError):
    """The host resolves to an address a webhook must not reach; nothing was sent."""


def system_resolver(host: str, port: int) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def public_address(address: str) -> bool:
    """Whether `address` is on the public internet, and so is any IPv4 address it carries
    (6to4 and NAT64 reach the embedded one; IPv4-mapped and Teredo are never global)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        candidates += [embedded for embedded in (ip.ipv4_mapped, ip.sixtofour) if embedded is not None]
        if ip in _NAT64:
            candidates.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return all(one.is_global and not one.is_multicast and not one.is_reserved for one in candidates)


def private_target(url: str) -> bool:
    """Whether a URL names a local host or a non-public address literally (no DNS: this runs
    in the request that registers it; names are judged again when connecting)."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if not host or host == "localhost" or host.endswith(_LOCAL_NAMES):
        return True
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False  # a name, not an address
    return not public_address(host)


class AddressCheckingBackend(httpcore.NetworkBackend):
    """httpcore's sockets, opened only to an address that passed `allowed` in the same lookup."""

    def __init__(self, allowed: Callable[[str], bool] = public_address,
                 resolver: Resolver = system_resolver) -> None:
        self._allowed = allowed
        self._resolver = resolver
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        try:
            addresses = list(dict.fromkeys(self._resolver(host, port)))
        except (OSError, UnicodeError) as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}")
        for address in addresses:  # any bad answer refuses the host: no mixing a public and a private one
            if not self._allowed(address):
                raise RefusedAddress(f"{host} resolves to {address}, which is not a public internet address")
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return self._sockets.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None
        raise failure

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        raise RefusedAddress("webhooks are never sent to a local socket")

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


def checked_client(*, timeout: float, allowed: Callable[[str], bool] = public_address,
                   resolver: Resolver = system_resolver) -> httpx.Client:
    """An httpx client whose every connection goes through AddressCheckingBackend.

    No redirects (a 3xx could point anywhere) and no HTTP(S)_PROXY from the environment (a
    proxy would resolve the name itself, after our check).
    """
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx 0.28 has no public way to pass an httpcore network backend (encode/httpx#3749
    # adds one); its transport sends through `_pool`. Fail loudly if that ever changes, rather
    # than quietly connecting unchecked.
    if not isinstance(getattr(transport, "_pool", None), httpcore.ConnectionPool):
        raise RuntimeError("httpx.HTTPTransport no longer keeps an httpcore.ConnectionPool in _pool")
    transport._pool = httpcore.ConnectionPool(  # noqa: SLF001
        ssl_context=httpx.create_ssl_context(),  # SSL_CERT_FILE/DIR still apply
        network_backend=AddressCheckingBackend(allowed, resolver))
    return httpx.Client(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False)
