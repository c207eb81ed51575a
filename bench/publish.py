"""Publishing latency: from an editor's publish to the article on every destination.

Crossfeed as deployed (PostgreSQL, Redis, relay, beat and a publisher worker with 8 threads)
publishes `--articles` articles at `--rate` per second to three destinations at once: a real
WordPress on 127.0.0.1 (scripts/wordpress-up.sh), a webhook receiver in this process, and a
partner's feed. Printed: p50 and p95 of the time from the publish action's commit to the
article being on each destination, and on all of them. Target: p95 under 2 s.

    .venv/bin/python bench/publish.py [--articles 200] [--rate 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._publishing import Desk, partner  # noqa: E402
from bench._stack import Stack  # noqa: E402
from shared.admin.destinations import (  # noqa: E402
    DestinationCreate,
    add_destination,
    new_webhook_secret,
)
from shared.domain.states import DeliveryState  # noqa: E402
from shared.models import Delivery, Destination, FeedDocument  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.uow import UnitOfWork  # noqa: E402

TARGET_P95 = 2.0


class Receiver:
    """A webhook endpoint on loopback noting when each article arrived."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                article_id = json.loads(body)["data"]["article_id"]
                receiver.arrived.setdefault(article_id, time.time())
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def close(self) -> None:
        self.httpd.shutdown()


def wordpress() -> dict[str, str]:
    out = subprocess.run([str(ROOT / "scripts" / "wordpress-up.sh")], capture_output=True,
                         text=True, check=True, timeout=900)  # fmt: skip
    return dict(item.split("=", 1) for item in out.stdout.strip().splitlines()[-1].split())


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0, help="publications per second")
    args = parser.parse_args()

    site = wordpress()
    receiver = Receiver()
    workdir = Path(tempfile.mkdtemp(prefix="cf-bench-publish-"))
    wp_host = site["WORDPRESS_URL"].removeprefix("http://")
    hook_host = receiver.url.removeprefix("http://").split("/")[0]
    stack = Stack(workdir, fetch_allowed_hosts=f"{wp_host},{hook_host}",
                  relay_interval_seconds="0.05", publish_sweep_seconds="1")  # fmt: skip
    try:
        settings = Settings(_env_file=None, database_url=stack.url, environment="test",
                            secret_key="bench-secret-" + "x" * 40, data_dir=workdir / "var",
                            fetch_allowed_hosts=[wp_host, hook_host])  # fmt: skip
        with UnitOfWork(stack.database) as uow:
            add_destination(uow, settings, DestinationCreate(
                name="site", kind="wordpress", url=site["WORDPRESS_URL"],
                secret=f"{site['WORDPRESS_USER']}:{site['WORDPRESS_APP_PASSWORD']}",
            ))  # fmt: skip
            add_destination(uow, settings, DestinationCreate(
                name="partner hook", kind="webhook", url=receiver.url,
                secret=new_webhook_secret(),
            ))  # fmt: skip
            uow.commit()
        partner(stack.database, "bench")
        desk = Desk(stack.database, settings)
        run = uuid.uuid4().hex[:6]
        ready = [desk.approved(f"Bench {run} story {n} from Jasim in Daraa")
                 for n in range(args.articles)]  # fmt: skip
        warm_up = desk.approved(f"Bench {run} warm-up")
        stack.start("worker", "worker", "--queues", "publish", "--pool", "threads",
                    "--concurrency", "8")  # fmt: skip
        stack.start("relay", "relay")
        stack.start("beat", "beat")
        desk.publish(warm_up)  # not timed: the worker's start, first connections
        deadline = time.monotonic() + 120
        while warm_up not in receiver.arrived:
            stack.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError("the warm-up article never reached the webhook")
            time.sleep(0.1)

        in_feed: dict[int, float] = {}
        stop = threading.Event()

        def watch_feed() -> None:
            while not stop.is_set():
                with stack.database.session() as session:
                    body = session.scalar(select(FeedDocument.body).where(
                        FeedDocument.format == "rss"))  # fmt: skip
                now = time.time()
                if body:
                    text = body.decode()
                    for n, article_id in enumerate(ready):
                        if article_id not in in_feed and f"story {n} from" in text:
                            in_feed[article_id] = now
                time.sleep(0.02)

        watcher = threading.Thread(target=watch_feed, daemon=True)
        watcher.start()
        published: dict[int, float] = {}
        started = time.monotonic()
        for n, article_id in enumerate(ready):
            wait = started + n / args.rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            desk.publish(article_id)
            published[article_id] = time.time()
        deadline = time.monotonic() + 300
        site_done: dict[int, float] = {}
        while time.monotonic() < deadline:
            stack.check_alive()
            with stack.database.session() as session:
                rows = session.execute(
                    select(Delivery.article_id, Delivery.updated_at)
                    .join(Destination, Destination.id == Delivery.destination_id)
                    .where(Destination.kind == "wordpress",
                           Delivery.state == DeliveryState.DELIVERED)
                ).all()  # fmt: skip
            site_done = {a: t.timestamp() for a, t in rows}
            if len(site_done) == len(ready) == len(receiver.arrived) == len(in_feed):
                break
            time.sleep(0.2)
        stop.set()
        with stack.database.session() as session:
            failed = session.scalars(select(Delivery.last_error).where(
                Delivery.state != DeliveryState.DELIVERED)).all()  # fmt: skip
        figures = {
            "WordPress": [site_done[a] - published[a] for a in ready if a in site_done],
            "webhook": [receiver.arrived[a] - published[a] for a in ready if a in receiver.arrived],
            "partner feed": [in_feed[a] - published[a] for a in ready if a in in_feed],
        }
        every = [
            max(site_done[a], receiver.arrived[a], in_feed[a]) - published[a]
            for a in ready
            if a in site_done and a in receiver.arrived and a in in_feed
        ]
        print(f"{args.articles} articles published at {args.rate:g}/s to a real WordPress, a "
              f"webhook and a partner feed (PostgreSQL, Redis, 8 publisher threads)")  # fmt: skip
        for name, values in figures.items():
            if values:
                print(f"{name}: {len(values)}/{len(ready)} delivered; p50 "
                      f"{statistics.median(values) * 1000:.0f} ms, p95 "
                      f"{percentile(values, 0.95) * 1000:.0f} ms")  # fmt: skip
        if every:
            p95 = percentile(every, 0.95)
            verdict = "met" if p95 < TARGET_P95 else "missed"
            print(f"on every destination: {len(every)}/{len(ready)}; p50 "
                  f"{statistics.median(every) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms "
                  f"({verdict}: target p95 < {TARGET_P95:g} s)")  # fmt: skip
        if failed:
            print(f"not delivered: {len(failed)}; e.g. {failed[0]}")
        return 0 if len(every) == len(ready) else 1
    finally:
        stack.close()
        receiver.close()


if __name__ == "__main__":
    raise SystemExit(main())
