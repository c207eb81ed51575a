"""The safe client against real servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.http import (
    BlockedAddress,
    BodyTooLarge,
    DeadlineExceeded,
    FetchError,
    SafeClient,
    TooManyRedirects,
)
from tests.conftest import make_settings
from tests.support.httpserver import LocalServer, Reply


def client(tmp_path: Path, server: LocalServer, **overrides: object) -> SafeClient:
    values: dict[str, object] = {"fetch_allowed_hosts": [server.host_port]}
    values.update(overrides)
    return SafeClient(make_settings(tmp_path, **values))


def test_an_allowed_loopback_host_is_fetched(tmp_path: Path, server: LocalServer) -> None:
    server.route("/feed", Reply(200, b"<rss/>", {"ETag": '"v1"'}))
    result = client(tmp_path, server).get(server.url("/feed"))
    assert (result.status, result.body, result.headers["ETag"]) == (200, b"<rss/>", '"v1"')
    assert server.hits("/feed")[0].headers["User-Agent"].startswith("Crossfeed/")


def test_loopback_is_refused_unless_allowed(tmp_path: Path, server: LocalServer) -> None:
    server.route("/feed", Reply(200, b"secret"))
    with pytest.raises(BlockedAddress, match="non-public address"):
        client(tmp_path, server, fetch_allowed_hosts=[]).get(server.url("/feed"))
    assert server.hits("/feed") == []  # refused before connecting


def test_the_allow_list_is_per_port(tmp_path: Path, server: LocalServer) -> None:
    other = LocalServer().start()
    try:
        other.route("/x", Reply(200, b"other"))
        with pytest.raises(BlockedAddress):
            client(tmp_path, server).get(other.url("/x"))
    finally:
        other.stop()


def test_localhost_name_is_checked_after_resolution(tmp_path: Path, server: LocalServer) -> None:
    server.route("/feed", Reply(200, b"x"))
    with pytest.raises(BlockedAddress, match="resolves to a non-public address"):
        client(tmp_path, server).get(f"http://localhost:{server.port}/feed")


def test_a_redirect_to_a_blocked_address_is_refused(tmp_path: Path, server: LocalServer) -> None:
    internal = LocalServer().start()
    try:
        internal.route("/admin", Reply(200, b"internal"))
        server.route("/feed", Reply(302, headers={"Location": internal.url("/admin")}))
        with pytest.raises(BlockedAddress):
            client(tmp_path, server).get(server.url("/feed"))
        assert internal.hits("/admin") == []
    finally:
        internal.stop()


def test_permanent_redirects_are_remembered_temporary_ones_not(
    tmp_path: Path, server: LocalServer
) -> None:
    server.route("/old", Reply(301, headers={"Location": "/moved"}))
    server.route("/moved", Reply(302, headers={"Location": "/today"}))
    server.route("/today", Reply(200, b"feed"))
    result = client(tmp_path, server).get(server.url("/old"))
    assert result.body == b"feed"
    assert result.url == server.url("/today")
    assert result.permanent_url == server.url("/moved")
    assert [status for status, _ in result.redirects] == [301, 302]


def test_redirect_loops_stop(tmp_path: Path, server: LocalServer) -> None:
    server.route("/a", Reply(302, headers={"Location": "/b"}))
    server.route("/b", Reply(302, headers={"Location": "/a"}))
    with pytest.raises(TooManyRedirects, match="more than 5 redirects"):
        client(tmp_path, server).get(server.url("/a"))
    assert len(server.requests) == 6


def test_non_http_schemes_are_refused(tmp_path: Path, server: LocalServer) -> None:
    server.route("/feed", Reply(302, headers={"Location": "file:///etc/passwd"}))
    with pytest.raises(FetchError, match="only http and https"):
        client(tmp_path, server).get(server.url("/feed"))


def test_declared_oversize_bodies_are_refused_before_reading(
    tmp_path: Path, server: LocalServer
) -> None:
    server.route("/big", Reply(200, b"x" * 2000))
    with pytest.raises(BodyTooLarge, match="2,000 bytes exceeds"):
        client(tmp_path, server, fetch_max_bytes=1000).get(server.url("/big"))


def test_undeclared_oversize_bodies_stop_at_the_cap(tmp_path: Path, server: LocalServer) -> None:
    server.route("/big", Reply(200, b"x" * 500_000, close_delimited=True))
    with pytest.raises(BodyTooLarge, match="exceeds the 1,000 byte limit"):
        client(tmp_path, server, fetch_max_bytes=1000).get(server.url("/big"))


def test_undeclared_bodies_under_the_cap_are_read(tmp_path: Path, server: LocalServer) -> None:
    server.route("/small", Reply(200, b"x" * 900, close_delimited=True))
    assert (
        client(tmp_path, server, fetch_max_bytes=1000).get(server.url("/small")).body == b"x" * 900
    )


def test_a_gzip_bomb_is_refused_cheaply(tmp_path: Path, server: LocalServer) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # 64 MiB from ~64 KiB
    assert len(bomb) < 100_000
    server.route("/bomb", Reply(200, bomb, {"Content-Encoding": "gzip"}))
    with pytest.raises(BodyTooLarge, match="after decompression"):
        client(tmp_path, server, fetch_max_bytes=1024 * 1024).get(server.url("/bomb"))


def test_gzip_bodies_are_decompressed(tmp_path: Path, server: LocalServer) -> None:
    server.route(
        "/feed", Reply(200, gzip.compress("خبر".encode() * 100), {"Content-Encoding": "gzip"})
    )
    assert client(tmp_path, server).get(server.url("/feed")).body == "خبر".encode() * 100


def test_a_dripping_server_is_cut_off_at_the_deadline(tmp_path: Path, server: LocalServer) -> None:
    server.route("/drip", Reply(200, b"x" * 100, chunk_size=1, chunk_delay=0.2))
    with pytest.raises(DeadlineExceeded, match="within 1 s"):
        client(tmp_path, server, fetch_deadline=1.0, fetch_read_timeout=5.0).get(
            server.url("/drip")
        )
    # It would have taken 20 s; the client stopped after about one.


def test_a_hanging_server_times_out(tmp_path: Path, server: LocalServer) -> None:
    server.route("/hang", Reply(200, b"late", delay=3))
    with pytest.raises(FetchError, match="timed out"):
        client(tmp_path, server, fetch_read_timeout=0.5).get(server.url("/hang"))


def test_connection_refused_is_a_clear_error(tmp_path: Path) -> None:
    dead = LocalServer()
    port = dead.port
    dead.httpd.server_close()
    settings = make_settings(tmp_path, fetch_allowed_hosts=[f"127.0.0.1:{port}"])
    with pytest.raises(FetchError, match=r"cannot connect to 127\.0\.0\.1"):
        SafeClient(settings).get(f"http://127.0.0.1:{port}/feed")


def test_conditional_headers_are_sent(tmp_path: Path, server: LocalServer) -> None:
    server.route("/feed", Reply(304))
    result = client(tmp_path, server).get(server.url("/feed"), headers={"If-None-Match": '"v1"'})
    assert result.not_modified
    assert server.hits("/feed")[0].headers["If-None-Match"] == '"v1"'


class RawServer:
    """A TCP server that answers every connection with `script(conn)`: for misbehaviour the
    scripted HTTP server cannot express, like headers sent a byte at a time."""

    def __init__(self, script: Callable[[socket.socket], None]) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.script = script
        self.closed_by_client = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            conn, _ = self.listener.accept()
            with conn:
                conn.recv(65536)
                try:
                    self.script(conn)
                except OSError:
                    self.closed_by_client.set()

    def close(self) -> None:
        self.listener.close()


def drip_headers(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for _ in range(600):  # a header byte every 0.1 s, for a minute
        conn.sendall(b"X")
        time.sleep(0.1)


def test_a_server_dripping_headers_is_cut_off_at_the_deadline(tmp_path: Path) -> None:
    raw = RawServer(drip_headers)
    settings = make_settings(
        tmp_path, fetch_allowed_hosts=[f"127.0.0.1:{raw.port}"], fetch_deadline=1.0
    )
    try:
        with pytest.raises(DeadlineExceeded, match="within 1 s"):
            SafeClient(settings).get(f"http://127.0.0.1:{raw.port}/feed")
        # The watchdog shut the connection: the server's next write fails.
        assert raw.closed_by_client.wait(timeout=5)
    finally:
        raw.close()


def test_name_resolution_is_bounded_by_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A resolver that never answers: the only stand-in here, for a DNS server we cannot run.
    release = threading.Event()

    def hanging_getaddrinfo(*_args: object, **_kwargs: object) -> list[object]:
        release.wait(30)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", hanging_getaddrinfo)
    settings = make_settings(tmp_path, fetch_deadline=5.0, fetch_connect_timeout=0.5)
    try:
        with pytest.raises(FetchError, match=r"cannot resolve outlet\.example: no answer"):
            SafeClient(settings).get("http://outlet.example/feed")
    finally:
        release.set()


def test_credentials_are_not_carried_to_another_origin(tmp_path: Path, server: LocalServer) -> None:
    other = LocalServer().start()
    try:
        other.route("/hook", Reply(200, b"ok"))
        server.route("/hook", Reply(307, headers={"Location": other.url("/hook")}))
        settings = make_settings(tmp_path, fetch_allowed_hosts=[server.host_port, other.host_port])
        SafeClient(settings).request(
            "POST",
            server.url("/hook"),
            data=b"{}",
            headers={"Authorization": "Bearer secret", "Cookie": "s=1", "X-Trace": "t"},
        )
        [first] = server.hits("/hook")
        [second] = other.hits("/hook")
        assert first.headers["Authorization"] == "Bearer secret"
        assert "Authorization" not in second.headers and "Cookie" not in second.headers
        assert second.headers["X-Trace"] == "t"
        assert (second.method, second.body) == ("POST", b"{}")  # 307 keeps method and body
    finally:
        other.stop()


def test_credentials_stay_on_a_same_origin_redirect(tmp_path: Path, server: LocalServer) -> None:
    server.route("/a", Reply(302, headers={"Location": "/b"}))
    server.route("/b", Reply(200, b"ok"))
    client(tmp_path, server).get(server.url("/a"), headers={"Authorization": "Bearer s"})
    assert server.hits("/b")[0].headers["Authorization"] == "Bearer s"


def test_a_post_redirected_by_302_becomes_a_get(tmp_path: Path, server: LocalServer) -> None:
    server.route("/form", Reply(302, headers={"Location": "/done"}))
    server.route("/done", Reply(200, b"ok"))
    client(tmp_path, server).request("POST", server.url("/form"), data=b"payload")
    done = server.hits("/done")[0]
    assert (done.method, done.body) == ("GET", b"")


def test_bracketed_ipv6_allow_list_entries_match(tmp_path: Path) -> None:
    guard = SafeClient(make_settings(tmp_path, fetch_allowed_hosts=["[::1]:8001"])).guard
    assert guard.allows_private("::1", 8001)
    assert not guard.allows_private("::1", 8002)
