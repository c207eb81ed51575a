"""Partner feed serving: requests per second for a cached feed, and for 304 answers, against
nginx serving the same bytes as a static file, both loaded by wrk on loopback in the same run.

Crossfeed runs as deployed (`crossfeed web`, one process, on PostgreSQL, access log on) with a
partner feed of 50 published articles. Target: at least half of nginx's rate. Also measured in
the same run, as the ceiling of any Python answer on this machine: uvicorn sending the same
bytes from an ASGI app that does nothing else.

    .venv/bin/python bench/feeds.py [--seconds 8] [--connections 32]
"""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._publishing import Desk, partner  # noqa: E402
from bench._stack import Stack  # noqa: E402
from shared.publishing import feeds  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.uow import UnitOfWork  # noqa: E402

TARGET = 0.5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> tuple[float, int]:
    """Requests per second, and non-2xx/3xx answers, from wrk."""
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for name, value in headers.items():
        args[1:1] = ["-H", f"{name}: {value}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=seconds + 60)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out.stdout)
    if rate is None:
        raise RuntimeError(f"wrk printed no rate:\n{out.stdout}\n{out.stderr}")
    return float(rate.group(1)), int(errors.group(1)) if errors else 0


def get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), b""


def nginx(root: Path, port: int) -> subprocess.Popen[bytes]:
    """nginx serving `root` on 127.0.0.1:port, as tuned for static files (2 workers)."""
    (root / "logs").mkdir(exist_ok=True)
    conf = root / "nginx.conf"
    conf.write_text(f"""
worker_processes 2;
daemon off;
error_log {root}/logs/error.log;
pid {root}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    keepalive_requests 100000;
    types {{ application/rss+xml xml; }}
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
        location / {{ add_header Cache-Control "private, max-age=60, must-revalidate"; }}
    }}
}}
""")
    return subprocess.Popen(["nginx", "-c", str(conf), "-p", str(root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


BARE_APP = """
BODY = open({path!r}, "rb").read()
HEADERS = [(b"content-type", b"application/rss+xml"), (b"etag", b'"bare"'),
           (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({{"type": "http.response.start", "status": 200, "headers": HEADERS}})
    await send({{"type": "http.response.body", "body": BODY}})
"""


def bare_uvicorn(workdir: Path, body: Path, port: int) -> subprocess.Popen[bytes]:
    """The ceiling of any Python answer here: uvicorn (httptools, uvloop) with an ASGI app
    that only sends the same bytes: no routing, no token, no cache, no log."""
    (workdir / "bare_feed.py").write_text(BARE_APP.format(path=str(body)))
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bare_feed:app", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--log-level", "warning"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--articles", type=int, default=50)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="cf-bench-feeds-"))
    port = free_port()
    # The limiter counts every request, as deployed, at a rate the load never reaches.
    stack = Stack(workdir, web_port=str(port), site_url="https://news.example",
                  feeds_rate_limit="1000000000/minute")  # fmt: skip
    web_nginx = bare = None
    try:
        settings = Settings(_env_file=None, database_url=stack.url, environment="test",
                            secret_key="bench-secret-" + "x" * 40, data_dir=workdir / "var",
                            site_url="https://news.example")  # fmt: skip
        desk = Desk(stack.database, settings)
        for n in range(args.articles):
            desk.publish(desk.approved(f"Story {n}: shelling in Jasim, Daraa"))
        token = partner(stack.database, "bench")
        with UnitOfWork(stack.database) as uow:
            feeds.refresh(uow.session, settings)
            uow.commit()
        stack.start("web", "web", "--port", str(port))
        wait_listening(port)
        url = f"http://127.0.0.1:{port}/feeds/bench/rss.xml"
        auth = {"Authorization": f"Bearer {token}"}
        status, headers, body = get(url, auth)
        if status != 200:
            raise RuntimeError(f"the feed answered {status}")
        etag = headers["etag"] if "etag" in headers else headers["ETag"]
        if get(url, {**auth, "If-None-Match": etag})[0] != 304:
            raise RuntimeError("an unchanged feed did not answer 304")

        www = workdir / "nginx" / "www"
        www.mkdir(parents=True)
        (www / "rss.xml").write_bytes(body)
        workdir.chmod(0o755)  # nginx's workers run as nobody
        nginx_port = free_port()
        web_nginx = nginx(workdir / "nginx", nginx_port)
        wait_listening(nginx_port)
        static = f"http://127.0.0.1:{nginx_port}/rss.xml"
        nginx_etag = get(static, {})[1]["ETag"]

        bare_port = free_port()
        bare = bare_uvicorn(workdir, www / "rss.xml", bare_port)
        wait_listening(bare_port)

        s, c = args.seconds, args.connections
        ours, ours_errors = wrk(url, s, c, auth)
        theirs, _ = wrk(static, s, c, {})
        ceiling, _ = wrk(f"http://127.0.0.1:{bare_port}/rss.xml", s, c, {})
        ours_304, errors_304 = wrk(url, s, c, {**auth, "If-None-Match": etag})
        theirs_304, _ = wrk(static, s, c, {"If-None-Match": nginx_etag})
        print(f"feed: {len(body):,} bytes, {args.articles} articles; wrk -t2 -c{c} "
              f"-d{s}s on loopback, 2 cores shared by wrk, the server and PostgreSQL")  # fmt: skip
        print(f"200 (full feed): crossfeed web {ours:,.0f} req/s ({ours_errors} errors), "
              f"nginx static {theirs:,.0f} req/s; ratio {ours / theirs:.2f} "
              f"({'met' if ours / theirs >= TARGET else 'missed'}: target {TARGET})")  # fmt: skip
        print(f"304 (unchanged): crossfeed web {ours_304:,.0f} req/s ({errors_304} errors), "
              f"nginx {theirs_304:,.0f} req/s; ratio {ours_304 / theirs_304:.2f}")  # fmt: skip
        print(f"ceiling: bare uvicorn sending the same bytes (no routing, token, cache or log) "
              f"{ceiling:,.0f} req/s; ratio to nginx {ceiling / theirs:.2f}; crossfeed reaches "
              f"{ours / ceiling:.2f} of it")  # fmt: skip
        return 0
    finally:
        for server in (web_nginx, bare):
            if server is not None:
                server.terminate()
                server.wait(timeout=20)
        stack.close()


if __name__ == "__main__":
    raise SystemExit(main())
