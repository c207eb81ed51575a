"""The one HTTP client for everything fetched from outside (feeds, article pages, webhooks).

What it guarantees, whoever calls it:
- the address actually connected to is public, checked on every hop after DNS resolution (so a
  name that resolves to 127.0.0.1 the second time is still refused), unless the exact host:port
  is on the allow-list (`CROSSFEED_FETCH_ALLOWED_HOSTS`); IPv6 addresses that embed an IPv4
  one (mapped, 6to4, Teredo, NAT64) are judged by the IPv4 address too;
- a total deadline per request, redirects included, that also stops a server dripping headers
  or body one byte at a time (a watchdog shuts the sockets down), with DNS bounded too;
- a body cap enforced while streaming and after decompression, so a gzip bomb costs little;
- redirects followed by hand: each hop checked, at most `fetch_max_redirects`, no downgrade
  from https to http, and credentials (Authorization, Cookie) never carried to another origin;
- no proxies or .netrc from the environment (they would bypass the address check).

requests and urllib3 do the HTTP; this package only adds the checks they do not have.
"""

from shared.http.addresses import AddressGuard, is_public_address
from shared.http.client import FetchResult, SafeClient, parse_retry_after
from shared.http.errors import (
    BlockedAddress,
    BodyTooLarge,
    DeadlineExceeded,
    FetchError,
    TooManyRedirects,
)

__all__ = [
    "AddressGuard",
    "BlockedAddress",
    "BodyTooLarge",
    "DeadlineExceeded",
    "FetchError",
    "FetchResult",
    "SafeClient",
    "TooManyRedirects",
    "is_public_address",
    "parse_retry_after",
]
