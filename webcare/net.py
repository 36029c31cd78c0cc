"""The client's address: the one thing every per-address throttle and lockout keys on.

`X-Forwarded-For` is written by whoever sends the request, so it is believed only
when the request came from one of our own proxies (WEBCARE_TRUSTED_PROXIES). Each
proxy appends the address it saw, so the list is read from the right: the first
address that is not one of our proxies is the client; anything left of it may be
made up by the client and is never used.
"""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """WEBCARE_TRUSTED_PROXIES as networks; a bad entry is a configuration error."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def parse_address(value: str) -> str | None:
    """An IP address in its canonical form, or None. Accepts what proxies write:
    `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443`."""
    value = value.strip()
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


def is_trusted_proxy(address: str, networks: tuple[Network, ...]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == network.version and ip in network for network in networks)


def client_ip(request) -> str:
    """The address of the client of a Django or DRF request ("" when unknown).

    REMOTE_ADDR, unless it is a trusted proxy: then X-Forwarded-For from the right,
    skipping our proxies. When every hop is a proxy, the left-most one is the client;
    when a hop cannot be read, the last proxy that can be is used (it is at least
    an address we saw, and a broken chain never lets a client choose its key).
    """
    meta = request.META
    remote = parse_address(meta.get("REMOTE_ADDR", "") or "")
    if remote is None:
        return ""
    networks = trusted_networks(tuple(settings.WEBCARE_TRUSTED_PROXIES))
    if not networks or not is_trusted_proxy(remote, networks):
        return remote
    client = remote
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed(forwarded.split(",")):
        address = parse_address(hop)
        if address is None:
            return client
        client = address
        if not is_trusted_proxy(address, networks):
            return address
    return client


def throttle_key(request) -> str:
    """What a per-address throttle counts: the client's address, and for IPv6 its
    /64 network, the block one subscriber is given (an attacker would otherwise
    rotate through 2**64 addresses)."""
    address = client_ip(request)
    if ":" in address:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return address
