"""`crossfeed web` as deployed, behind a reverse proxy that keeps connections to it open."""

from __future__ import annotations

import http.client
import time
from pathlib import Path

import pytest

from tests.conftest import make_settings, settings_env
from tests.support.api import Api
from tests.support.processes import Processes
from tests.support.servers import free_port
from tests.support.wait import wait_for

pytestmark = pytest.mark.e2e


def test_an_idle_connection_outlives_uvicorns_default_keepalive(
    tmp_path: Path, sqlite_url: str, procs: Processes
) -> None:
    """uvicorn closes idle connections after 5 s unless told otherwise; nginx keeps its
    upstream ones for 60 s, and a request sent as the web closes one is a 502."""
    port = free_port()
    env = settings_env(make_settings(tmp_path / "var", database_url=sqlite_url))
    procs.start("web", ["web", "--host", "127.0.0.1", "--port", str(port)], env)
    wait_for(Api(f"http://127.0.0.1:{port}").ready, timeout=60, what="the web to answer")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/healthz")
    assert connection.getresponse().read()
    time.sleep(7)  # idle, past uvicorn's default (5 s), as a proxy's pooled connection is
    connection.request("GET", "/healthz")  # the same connection: still open
    answer = connection.getresponse()
    assert answer.status == 200 and answer.read()
    connection.close()
