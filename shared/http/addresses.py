"""Which addresses may be connected to, and connecting only to those.

The check runs on the addresses a name actually resolves to, at connect time, for every hop:
a name that resolves to 127.0.0.1 the second time (DNS rebinding) is refused like any other.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from shared.http.errors import BlockedAddress, FetchError

# getaddrinfo cannot be interrupted; it runs here so that a caller can stop waiting for it.
_RESOLVER = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dns")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64, compatible)."""
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in _NAT64 or (int(ip) >> 32 == 0 and int(ip) > 1):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address; False for loopback, private, etc."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        return all(v4.is_global and not v4.is_multicast for v4 in _embedded_ipv4(ip))
    return True


def normalise_host_port(item: str) -> str:
    """`host:port` lower-cased, IPv6 brackets removed (`[::1]:80` -> `::1:80`)."""
    host, _, port = item.strip().rpartition(":")
    return f"{host.strip('[]').lower()}:{port}"


@dataclass(frozen=True)
class AddressGuard:
    """Decides which host:port pairs may be connected to, and connects."""

    allowed: frozenset[str] = frozenset()

    @classmethod
    def allowing(cls, items: Iterable[str]) -> AddressGuard:
        return cls(frozenset(normalise_host_port(item) for item in items))

    def allows_private(self, host: str, port: int) -> bool:
        return normalise_host_port(f"{host}:{port}") in self.allowed

    def resolve(self, host: str, port: int, timeout: float) -> list[Any]:
        future = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout as exc:
            raise FetchError(f"cannot resolve {host}: no answer within {timeout:g} s") from exc
        except socket.gaierror as exc:
            raise FetchError(f"cannot resolve {host}: {exc.strerror}") from exc

    def connect(
        self, host: str, port: int, timeout: float, socket_options: Any = None
    ) -> socket.socket:
        """Resolve `host`, refuse non-public addresses, connect to the first one that answers."""
        infos = self.resolve(host, port, timeout)
        private_ok = self.allows_private(host, port)
        candidates = [info for info in infos if private_ok or is_public_address(str(info[4][0]))]
        if not candidates:
            addresses = ", ".join(sorted({str(info[4][0]) for info in infos}))
            raise BlockedAddress(
                f"{host}:{port} resolves to a non-public address ({addresses}); "
                "add it to CROSSFEED_FETCH_ALLOWED_HOSTS to allow it"
            )
        error: OSError | None = None
        for family, type_, proto, _name, sockaddr in candidates:
            sock = socket.socket(family, type_, proto)
            try:
                for option in socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(timeout)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                error = exc
                sock.close()
        assert error is not None
        raise error
