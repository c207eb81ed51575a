"""The web refuses a request body larger than its cap without reading it, and keeps serving."""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.db import Database
from shared.domain.states import Role
from tests.conftest import make_settings
from tests.support.factories import make_article, make_source, make_user
from tests.support.web import WebServer

CAP = 64 * 1024


@pytest.fixture
def small_web(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[WebServer, str]]:
    settings = make_settings(tmp_path / "var", database_url=sqlite_url, web_max_body_bytes=CAP)
    database = Database(sqlite_url)
    _, token = make_user(database, "editor", Role.EDITOR)
    make_article(database, make_source(database))
    database.dispose()
    server = WebServer(settings).start()
    yield server, token
    server.stop()


def head(port: int, lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").replace("PORT", str(port)).encode()


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one HTTP/1.1 answer with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before an answer: {data!r}"
        data += chunk
    raw_head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = raw_head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return int(status_line.split()[1]), headers, body


def assert_problem_413(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 413 and f"{CAP:,} bytes" in problem["detail"]


def test_a_declared_oversized_body_is_refused_before_it_is_read(
    small_web: tuple[WebServer, str],
) -> None:
    web, token = small_web
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as sock:
        sock.sendall(head(web.port, [
            "PUT /api/v1/articles/1/translation HTTP/1.1", "Host: 127.0.0.1:PORT",
            f"Authorization: Bearer {token}", "Content-Type: application/json",
            "Content-Length: 1073741824",  # 1 GiB announced; only 16 KiB ever sent
        ]) + b'{"lock_version": 1, "title": "' + b"x" * 16384)  # fmt: skip
        assert_problem_413(*read_answer(sock))  # answered while 1 GiB is still to come
    assert_still_serving(web, token)


def test_a_chunked_body_is_cut_off_at_the_cap(small_web: tuple[WebServer, str]) -> None:
    web, token = small_web
    sent = 0
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as sock:
        sock.sendall(head(web.port, [
            "PUT /api/v1/articles/1/translation HTTP/1.1", "Host: 127.0.0.1:PORT",
            f"Authorization: Bearer {token}", "Content-Type: application/json",
            "Transfer-Encoding: chunked",
        ]))  # fmt: skip
        chunk = b"x" * 8192
        # Up to 64 MiB would follow; the answer must come once the cap (64 KiB) is passed.
        while sent < 64 * 1024 * 1024:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        assert_problem_413(*read_answer(sock))
    # Answered before the body ended (what was sent sits in loopback buffers of a few MiB).
    assert sent < 64 * 1024 * 1024
    assert_still_serving(web, token)


def test_a_body_within_the_cap_is_read(small_web: tuple[WebServer, str]) -> None:
    web, token = small_web
    body = {"lock_version": 1, "title": "t", "body_html": "x" * (CAP - 200)}
    answer = web.request("PUT", "/api/v1/articles/1/translation", token, json=body)
    # Read and judged by the workflow: a new article is claimed before it is saved.
    assert answer.status_code == 409 and "cannot save an article that is new" in answer.text


def assert_still_serving(web: WebServer, token: str) -> None:
    assert web.get("/healthz").status_code == 200
    me = web.get("/api/v1/me", token)
    assert me.status_code == 200 and me.json()["username"] == "editor"
