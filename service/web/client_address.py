"""Who is on the other end: the direct peer, or the client a trusted reverse proxy names.

X-Forwarded-For is written by whoever sends the request, so it is read only when the peer is
one of TRUSTED_PROXIES, and then from the right: each trusted proxy appends the address it
saw, so the right-most address that is not a trusted proxy is the first one nobody can forge.
Werkzeug's ProxyFix trusts a fixed number of hops instead of a list of proxies, which lets a
client that reaches the app directly (or through fewer hops) choose its own address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from flask import Flask, current_app, request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """TRUSTED_PROXIES as networks ("10.0.0.5", "10.1.0.0/16", "::1"); a bad entry stops start-up."""
    try:
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)
    except ValueError as error:
        raise ValueError(f"TRUSTED_PROXIES: {error}") from None


def _parsed(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:1.2.3.4 from a dual-stack socket
    return mapped or address


def resolve(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address given the direct peer, the X-Forwarded-For header lines and the trusted proxies."""
    peer_address = _parsed(peer or "")
    if peer_address is None:
        return peer or "unknown"

    def is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address.version == network.version and address in network for network in trusted)

    client = peer_address
    if is_trusted(client):
        hops = [hop for line in forwarded_for for hop in line.split(",")]
        for hop in reversed(hops):
            address = _parsed(hop)
            if address is None:  # garbage a trusted proxy passed on: stop at the last hop we could read
                break
            client = address
            if not is_trusted(address):
                break
    return str(client)


def client_address() -> str:
    """The current request's client address (see the module docstring)."""
    trusted = current_app.extensions.get("passcast_trusted_proxies", ())
    return resolve(request.remote_addr, request.headers.getlist("X-Forwarded-For"), trusted)


def init_app(app: Flask) -> None:
    app.extensions["passcast_trusted_proxies"] = trusted_networks(app.config["PASSCAST"].trusted_proxies)
