"""SafeClient: fetch from outside under the rules in shared/http/__init__.py."""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import parse_header_links

from shared import __version__
from shared.http.addresses import AddressGuard
from shared.http.deadline import Deadline
from shared.http.errors import BodyTooLarge, DeadlineExceeded, FetchError, TooManyRedirects
from shared.http.transport import GuardedAdapter
from shared.settings import Settings

PERMANENT_REDIRECTS = frozenset({301, 308})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Never carried to another origin by a redirect.
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
CHUNK = 64 * 1024


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

    def link(self, rel: str) -> str | None:
        """The URL of the first `Link: <url>; rel="..."` header with this relation."""
        for link in parse_header_links(self.headers.get("Link", "")):
            if rel in link.get("rel", "").split():
                return link.get("url")
        return None


class SafeClient:
    """Fetch URLs from outside; every call is bounded and checked (see the package docs)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.guard = AddressGuard.allowing(settings.fetch_allowed_hosts)
        self.user_agent = f"Crossfeed/{__version__} (+{settings.fetch_contact_url})"
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies or .netrc: they would bypass the guard
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
        follow_redirects: bool = True,
    ) -> FetchResult:
        """Send one request, following redirects by hand (unless told not to: a delivery's
        POST must not become a GET elsewhere); raise FetchError if it cannot."""
        total = self.settings.fetch_deadline
        with Deadline(total) as deadline:
            try:
                return self._request(method, url, headers, data, max_bytes, deadline,
                                     follow_redirects)  # fmt: skip
            except FetchError as exc:
                if deadline.fired and not isinstance(exc, DeadlineExceeded):
                    raise DeadlineExceeded(f"no complete answer within {total:g} s") from exc
                raise

    def _request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        data: bytes | None,
        max_bytes: int | None,
        deadline: Deadline,
        follow_redirects: bool = True,
    ) -> FetchResult:
        cap = max_bytes or self.settings.fetch_max_bytes
        request_headers = {"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"}
        request_headers.update(headers or {})
        redirects: list[tuple[int, str]] = []
        permanent_url, permanent_chain = url, True
        current = url
        while True:
            _check_scheme(current)
            remaining = deadline.remaining()
            if remaining <= 0:
                raise DeadlineExceeded(f"no answer within {deadline.seconds:g} s")
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
                if response.status_code in REDIRECTS and location and follow_redirects:
                    if len(redirects) >= self.settings.fetch_max_redirects:
                        raise TooManyRedirects(
                            f"more than {self.settings.fetch_max_redirects} redirects from {url}"
                        )
                    target = urljoin(current, location)
                    _check_redirect(current, target)
                    if _origin(target) != _origin(current):
                        request_headers = {
                            k: v for k, v in request_headers.items()
                            if k.lower() not in CREDENTIAL_HEADERS
                        }  # fmt: skip
                    redirects.append((response.status_code, target))
                    if response.status_code in PERMANENT_REDIRECTS and permanent_chain:
                        permanent_url = target
                    else:
                        permanent_chain = False
                    # As browsers and requests do: 303, and 301/302 after a POST, become GET.
                    if response.status_code == 303 or (
                        response.status_code in (301, 302) and method == "POST"
                    ):
                        method, data = "GET", None
                    current = target
                    continue
                body = _read_body(response, cap, deadline)
                return FetchResult(
                    url=current,
                    status=response.status_code,
                    headers=response.headers,
                    body=body,
                    permanent_url=permanent_url,
                    redirects=redirects,
                    elapsed=deadline.seconds - deadline.remaining(),
                )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def _check_scheme(url: str) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(f"refusing {scheme or 'a relative'} URL {url!r}: only http and https")


def _check_redirect(current: str, target: str) -> None:
    _check_scheme(target)
    if urlsplit(current).scheme.lower() == "https" and urlsplit(target).scheme.lower() == "http":
        raise FetchError(f"refusing a redirect from https to plain http ({target})")


def _read_body(response: requests.Response, cap: int, deadline: Deadline) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge(f"body of {int(declared):,} bytes exceeds the {cap:,} byte limit")
    raw = response.raw
    chunks: list[bytes] = []
    size = 0
    while True:
        if deadline.remaining() <= 0 or deadline.fired:
            raise DeadlineExceeded(f"body not received within {deadline.seconds:g} s")
        try:
            # read1 returns after at most one read from the socket, so the deadline is checked
            # between every arrival however slowly the server drips. urllib3 bounds how much
            # one read may decompress to, so a compressed bomb never expands far past the cap.
            chunk = raw.read1(CHUNK, decode_content=True)
        except Exception as exc:
            if deadline.fired:
                raise DeadlineExceeded(f"body not received within {deadline.seconds:g} s") from exc
            raise FetchError(f"reading the body failed: {exc}") from exc
        if not chunk:
            if deadline.fired:  # the watchdog closed the socket: the body is cut short
                raise DeadlineExceeded(f"body not received within {deadline.seconds:g} s")
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
        return dt.timedelta(seconds=min(int(value), 10**9))  # beyond: no longer a number of days
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(dt.timedelta(0), when - (now or dt.datetime.now(dt.UTC)))
