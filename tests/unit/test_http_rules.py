from __future__ import annotations

import datetime as dt

import pytest

from shared.http import AddressGuard, FetchError, is_public_address, parse_retry_after


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
        "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "fe80::1", "fc00::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "ff02::1", "192.0.2.1", "198.18.0.1",
        # IPv6 addresses carrying a private IPv4 one: compatible, 6to4, NAT64, Teredo.
        "::7f00:1", "2002:7f00:1::", "2002:a00:1::1", "64:ff9b::7f00:1", "64:ff9b::a00:1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
    ],
)  # fmt: skip
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_pass(address: str) -> None:
    assert is_public_address(address)


def test_allow_list_is_exact_host_and_port() -> None:
    guard = AddressGuard(frozenset({"127.0.0.1:8001"}))
    assert guard.allows_private("127.0.0.1", 8001)
    assert not guard.allows_private("127.0.0.1", 8002)
    assert not guard.allows_private("localhost", 8001)


def test_retry_after_seconds_and_dates() -> None:
    now = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert parse_retry_after("120") == dt.timedelta(seconds=120)
    assert parse_retry_after("Wed, 01 Jan 2025 12:05:00 GMT", now) == dt.timedelta(minutes=5)
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now) == dt.timedelta(0)
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_redirects_never_downgrade_to_plain_http() -> None:
    from shared.http.client import _check_redirect  # noqa: PLC0415

    _check_redirect("http://a.example/", "https://b.example/")
    _check_redirect("https://a.example/", "https://b.example/")
    with pytest.raises(FetchError, match="from https to plain http"):
        _check_redirect("https://a.example/feed", "http://a.example/feed")
    with pytest.raises(FetchError, match="only http and https"):
        _check_redirect("https://a.example/", "gopher://a.example/")
