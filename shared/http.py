"""The one HTTP client for everything fetched from outside (feeds, article pages, webhooks).

What it guarantees, whoever calls it:
- the address actually connected to is public, checked on every hop after DNS resolution (so a
  name that resolves to 127.0.0.1 the second time is still refused), unless the exact host:port is
  on the allow-list (`CROSSFEED_FETCH_ALLOWED_HOSTS`);
- connect and read timeouts, and a total deadline that also stops a server dripping one byte at
  a time;
- a body cap enforced while streaming and after decompression, so a gzip bomb costs little;
- redirects followed by hand, each hop checked, at most `fetch_max_redirects`;
- no proxies or .netrc from the environment (they would bypass the address check).

requests and urllib3 do the HTTP; this module only adds the checks they do not have.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import ipaddress
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from shared import __version__
from shared.settings import Settings

PERMANENT_REDIRECTS = frozenset({301, 308})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK = 64 * 1024


class FetchError(Exception):
    """A fetch that did not produce a response; the message says why, for source health."""


class BlockedAddress(FetchError):
    pass


class TooManyRedirects(FetchError):
    pass


class BodyTooLarge(FetchError):
    pass


class DeadlineExceeded(FetchError):
    pass


@dataclass
class FetchResult:
    url: str  # where the body came from, after redirects
    status: int
    headers: CaseInsensitiveDict[str]
    body: bytes
    # The URL to remember: the last one reached through permanent redirects only (301/308).
    permanent_url: str
    redirects: list[tuple[int, str]] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def retry_after(self) -> dt.timedelta | None:
        return parse_retry_after(self.headers.get("Retry-After"))


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address; False for loopback, private, etc."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class AddressGuard:
    """Decides which host:port pairs may be connected to."""

    allowed: frozenset[str] = frozenset()

    def allows_private(self, host: str, port: int) -> bool:
        return f"{host.lower().strip('[]')}:{port}" in self.allowed

    def connect(self, host: str, port: int, timeout: Any, **kwargs: Any) -> socket.socket:
        """Resolve `host`, refuse non-public addresses, connect to the first one that answers."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise FetchError(f"cannot resolve {host}: {exc.strerror}") from exc
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
                for opt in kwargs.get("socket_options") or ():
                    sock.setsockopt(*opt)
                if isinstance(timeout, int | float):  # else urllib3's "default" sentinel
                    sock.settimeout(timeout)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                error = exc
                sock.close()
        assert error is not None
        raise error


def _guarded_pool(
    base: type[HTTPConnectionPool], conn: type[HTTPConnection], guard: AddressGuard
) -> Any:
    class GuardedConnection(conn):  # type: ignore[valid-type,misc]
        def _new_conn(self) -> socket.socket:
            try:
                return guard.connect(
                    self._dns_host, self.port, self.timeout, socket_options=self.socket_options
                )
            except FetchError:
                raise
            except TimeoutError as exc:
                raise FetchError(f"connect to {self.host}:{self.port} timed out") from exc
            except OSError as exc:
                raise FetchError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc

    class GuardedPool(base):  # type: ignore[valid-type,misc]
        ConnectionCls = GuardedConnection

    return GuardedPool


class GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections go through an AddressGuard."""

    def __init__(self, guard: AddressGuard) -> None:
        self.guard = guard
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _guarded_pool(HTTPConnectionPool, HTTPConnection, self.guard),
            "https": _guarded_pool(HTTPSConnectionPool, HTTPSConnection, self.guard),
        }


class SafeClient:
    """Fetch URLs from outside under the rules in this module's docstring."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.guard = AddressGuard(frozenset(settings.fetch_allowed_hosts))
        self.user_agent = f"Crossfeed/{__version__} (+{settings.fetch_contact_url})"
        self.session = requests.Session()
        self.session.trust_env = False
        adapter = GuardedAdapter(self.guard)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def close(self) -> None:
        self.session.close()

    def get(
        self, url: str, headers: Mapping[str, str] | None = None, max_bytes: int | None = None
    ) -> FetchResult:
        return self.request("GET", url, headers=headers, max_bytes=max_bytes)

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        max_bytes: int | None = None,
    ) -> FetchResult:
        """Send one request, following redirects by hand; raise FetchError if it cannot."""
        cap = max_bytes or self.settings.fetch_max_bytes
        started = time.monotonic()
        deadline = started + self.settings.fetch_deadline
        request_headers = {"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"}
        request_headers.update(headers or {})
        redirects: list[tuple[int, str]] = []
        permanent_url, permanent_chain = url, True
        current = url
        while True:
            _check_scheme(current)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded(f"no answer within {self.settings.fetch_deadline:g} s")
            try:
                response = self.session.request(
                    method,
                    current,
                    headers=request_headers,
                    data=data,
                    stream=True,
                    allow_redirects=False,
                    timeout=(
                        min(self.settings.fetch_connect_timeout, remaining),
                        min(self.settings.fetch_read_timeout, remaining),
                    ),
                )
            except requests.exceptions.ConnectionError as exc:
                raise _unwrap(exc) from exc
            except requests.exceptions.Timeout as exc:
                raise FetchError(f"timed out: {exc}") from exc
            except requests.exceptions.RequestException as exc:
                raise FetchError(str(exc)) from exc
            with response:
                location = response.headers.get("Location")
                if response.status_code in REDIRECTS and location:
                    if len(redirects) >= self.settings.fetch_max_redirects:
                        raise TooManyRedirects(
                            f"more than {self.settings.fetch_max_redirects} redirects from {url}"
                        )
                    target = urljoin(current, location)
                    redirects.append((response.status_code, target))
                    if response.status_code in PERMANENT_REDIRECTS and permanent_chain:
                        permanent_url = target
                    else:
                        permanent_chain = False
                    if response.status_code == 303:
                        method, data = "GET", None
                    current = target
                    continue
                body = _read_body(response, cap, deadline, self.settings.fetch_deadline)
                return FetchResult(
                    url=current,
                    status=response.status_code,
                    headers=response.headers,
                    body=body,
                    permanent_url=permanent_url,
                    redirects=redirects,
                    elapsed=time.monotonic() - started,
                )


def _check_scheme(url: str) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(f"refusing {scheme or 'a relative'} URL {url!r}: only http and https")


def _read_body(response: requests.Response, cap: int, deadline: float, total: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge(f"body of {int(declared):,} bytes exceeds the {cap:,} byte limit")
    raw = response.raw
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise DeadlineExceeded(f"body not received within {total:g} s")
        try:
            # read1 returns after at most one read from the socket, so the deadline is checked
            # between every arrival however slowly the server drips. urllib3 bounds how much
            # one read may decompress to, so a compressed bomb never expands far past the cap.
            chunk = raw.read1(CHUNK, decode_content=True)
        except Exception as exc:
            raise FetchError(f"reading the body failed: {exc}") from exc
        if not chunk:
            break
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge(f"body exceeds the {cap:,} byte limit (after decompression)")
        chunks.append(chunk)
    return b"".join(chunks)


def _unwrap(exc: requests.exceptions.ConnectionError) -> FetchError:
    """Find our own FetchError inside requests' wrapping, or describe the connection error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, FetchError):
            return current
        for arg in getattr(current, "args", ()):
            if isinstance(arg, FetchError):
                return arg
            reason = getattr(arg, "reason", None)
            if isinstance(reason, FetchError):
                return reason
        reason = getattr(current, "reason", None)
        if isinstance(reason, FetchError):
            return reason
        current = current.__cause__ or current.__context__
    return FetchError(f"connection failed: {exc}")


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> dt.timedelta | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return dt.timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(dt.timedelta(0), when - (now or dt.datetime.now(dt.UTC)))
