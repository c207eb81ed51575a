"""Why a fetch produced no response. Messages are shown to operators (source health)."""

from __future__ import annotations


class FetchError(Exception):
    """A fetch that did not produce a response; the message says why."""


class BlockedAddress(FetchError):
    """The host resolves to an address we must not connect to."""


class TooManyRedirects(FetchError):
    pass


class BodyTooLarge(FetchError):
    pass


class DeadlineExceeded(FetchError):
    pass
