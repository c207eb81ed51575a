"""Partner pollers for bench/load.py: a fleet of feed readers, each with its own token and
feed, revalidating on a fixed cadence (If-None-Match) and noting the status and latency of
every request.

Run in a process of its own (`python -c "from bench._pollers import main; main()" CONFIG OUT`),
so that the load generator shares no interpreter lock with the outlets, the editors and the
webhook receiver of the bench. One asyncio loop (uvloop) drives two fleets with the same
client, cadence and partners: one polling Crossfeed, one polling nginx serving the same bytes
as static files. Each new document a Crossfeed poller receives is written to nginx's folder,
so nginx's copies change when Crossfeed's do. A request is a new connection (partners that
poll every few seconds find the keep-alive closed anyway), HTTP/1.1, `Connection: close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop

TIMEOUT = 30.0


@dataclass(frozen=True)
class Target:
    slug: str
    token: str
    file: str  # rss.xml, atom.xml, feed.json, ninjs.json

    @property
    def path(self) -> str:
        return f"/feeds/{self.slug}/{self.file}"


class Answer:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def get(host: str, port: int, path: str, headers: dict[str, str]) -> Answer:
    """One GET on a new connection, read to the end of the body."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Connection: close",
            "User-Agent: crossfeed-load/1",
            "Accept-Encoding: identity",
        ]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status_line, *header_lines = head.split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        answer_headers = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if sep:
                answer_headers[name.strip().lower()] = value.strip()
        if status in (204, 304) or status < 200:
            body = b""
        elif "content-length" in answer_headers:
            body = await reader.readexactly(int(answer_headers["content-length"]))
        elif answer_headers.get("transfer-encoding", "").lower() == "chunked":
            body = await _chunked(reader)
        else:
            body = await reader.read()
        return Answer(status, answer_headers, body)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


class Mirror:
    """nginx's copies of the feeds: each new document Crossfeed served, written in place."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.digests: dict[str, bytes] = {}

    def write(self, path: str, body: bytes) -> None:
        digest = hashlib.sha1(body).digest()
        if self.digests.get(path) == digest:
            return
        self.digests[path] = digest
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(target.name + ".new")
        temporary.write_bytes(body)
        temporary.chmod(0o644)
        os.replace(temporary, target)


# One request: fleet, poller, wall-clock start, latency (s), status (0: no answer), bytes, error.
Record = tuple[str, int, float, float, int, int, str]


async def poll(
    fleet: str,
    n: int,
    target: Target,
    address: tuple[str, int],
    first: float,
    interval: float,
    until: float,
    records: list[Record],
    mirror: Mirror | None,
) -> None:
    """Poll one feed every `interval` seconds from `first` (loop time) to `until`."""
    loop = asyncio.get_running_loop()
    etag: str | None = None
    due = first
    while True:
        await asyncio.sleep(max(0.0, due - loop.time()))
        if loop.time() >= until:
            return
        headers = {"Authorization": f"Bearer {target.token}"}
        if etag:
            headers["If-None-Match"] = etag
        wall, started = time.time(), time.perf_counter()  # uvloop's clock: 1 ms steps
        error = ""
        try:
            answer = await asyncio.wait_for(get(*address, target.path, headers), TIMEOUT)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            answer, error = Answer(0, {}, b""), type(exc).__name__
        latency = time.perf_counter() - started
        records.append((fleet, n, wall, latency, answer.status, len(answer.body), error))
        if answer.status == 200:
            etag = answer.headers.get("etag")
            if mirror is not None:
                mirror.write(target.path, answer.body)
        due = max(due + interval, loop.time())  # a poller that fell behind polls at once


async def prime(targets: list[Target], address: tuple[str, int], mirror: Mirror) -> int:
    """Fetch every feed once (not measured) and give nginx its copy; the failures."""
    gate = asyncio.Semaphore(20)

    async def one(target: Target) -> bool:
        async with gate:
            answer = await asyncio.wait_for(
                get(*address, target.path, {"Authorization": f"Bearer {target.token}"}), TIMEOUT
            )
        if answer.status == 200:
            mirror.write(target.path, answer.body)
        return answer.status == 200

    return sum(not ok for ok in await asyncio.gather(*(one(t) for t in targets)))


async def run(config: dict[str, Any]) -> list[Record]:
    targets = [Target(**t) for t in config["targets"]]
    crossfeed = ("127.0.0.1", int(config["crossfeed_port"]))
    nginx = ("127.0.0.1", int(config["nginx_port"]))
    mirror = Mirror(Path(config["www"]))
    failed = await prime(targets, crossfeed, mirror)
    if failed:
        raise RuntimeError(f"{failed} partner feeds did not answer 200 before the run")
    print("ready", flush=True)  # the bench starts its clock on this line
    loop = asyncio.get_running_loop()
    start = loop.time()
    interval, until = float(config["interval"]), start + float(config["seconds"])
    rng = random.Random(int(config["seed"]))
    records: list[Record] = []
    pollers = []
    for fleet, address, copy in (("crossfeed", crossfeed, mirror), ("nginx", nginx, None)):
        for n, target in enumerate(targets):
            first = start + rng.uniform(0, interval)
            pollers.append(poll(fleet, n, target, address, first, interval, until, records, copy))
    await asyncio.gather(*pollers)
    return records


def main() -> None:
    """CONFIG (JSON) in, the records (JSON) written to OUT."""
    config_path, out_path = sys.argv[1:3]
    config = json.loads(Path(config_path).read_text())
    records = uvloop.run(run(config))
    Path(out_path).write_text(json.dumps(records))
