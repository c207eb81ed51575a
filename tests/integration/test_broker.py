"""The embedded broker survives torn and foreign message files (shared.broker)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from kombu.connection import Connection
from sqlalchemy import func, select

from shared.admin.sources import SourceCreate, add_source
from shared.celery_app import broker_settings, prune_processed_messages
from shared.db import Database
from shared.domain.events import SourcePollRequested
from shared.models import Article
from shared.uow import UnitOfWork
from tests.conftest import make_settings, settings_env
from tests.support.feeds import Item, rss
from tests.support.httpserver import LocalServer, Reply
from tests.support.processes import Processes
from tests.support.wait import wait_for


def torn_files(queue_dir: Path, queue: str) -> None:
    """What a sender killed mid-write, or a foreign tool, leaves in the queue folder."""
    past = time.time_ns() - 10**9  # older than anything sent now: read first
    (queue_dir / f"{past}_empty.{queue}.msg").write_bytes(b"")
    (queue_dir / f"{past + 1}_garbage.{queue}.msg").write_bytes(b'{"body": "cut sh')
    (queue_dir / f"{past + 2}_half.{queue}.tmp").write_bytes(b'{"body"')


def test_a_worker_keeps_going_past_unreadable_messages(
    tmp_path: Path, sqlite_url: str, server: LocalServer, procs: Processes
) -> None:
    settings = make_settings(
        tmp_path / "var", database_url=sqlite_url,
        fetch_allowed_hosts=[server.host_port], relay_interval_seconds=0.1,
    )  # fmt: skip
    broker_settings(settings)  # creates the folders
    queue_dir = settings.broker_dir / "queue"
    for queue in ("poll", "enrich", "review"):
        torn_files(queue_dir, queue)
    server.route("/feed", Reply(200, rss([Item("urn:1", "خبر")])))
    database = Database(settings.database_url)
    with UnitOfWork(database) as uow:
        source = add_source(uow, SourceCreate(name="Outlet", url=server.url("/feed")))
        uow.emit(SourcePollRequested(source_id=source.id))
        uow.commit()
    env = settings_env(settings)
    worker = procs.start("worker", ["worker"], env)
    procs.start("relay", ["relay"], env)

    def ingested() -> bool:
        with database.session() as session:
            return bool(session.scalar(select(func.count()).select_from(Article)))

    wait_for(ingested, timeout=60, what="the poll behind the unreadable messages")
    assert worker.alive()
    assert "broker_message_unreadable" in worker.output()
    assert list(queue_dir.glob("*.tmp"))  # never taken as a message (pruned by age elsewhere)
    database.dispose()


def test_a_half_written_message_is_never_delivered(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var")
    url, options = broker_settings(settings)
    torn_files(settings.broker_dir / "queue", "review")
    connection = Connection(  # type: ignore[no-untyped-call]
        url, transport="shared.broker:Transport", transport_options=options
    )
    with connection as conn:
        queue = conn.SimpleQueue("review")
        queue.put({"n": 1})
        message = queue.get(timeout=5)
        assert message.payload == {"n": 1}
        message.ack()
        queue.close()


def test_old_taken_and_half_written_files_are_pruned(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var")
    broker_settings(settings)
    old, new = time.time() - 7200, time.time()
    paths = {
        "old taken": settings.broker_dir / "processed" / "1_a.poll.msg",
        "new taken": settings.broker_dir / "processed" / "2_b.poll.msg",
        "old half": settings.broker_dir / "queue" / "3_c.poll.tmp",
        "queued": settings.broker_dir / "queue" / "4_d.poll.msg",
    }
    for name, path in paths.items():
        path.write_bytes(b"{}")
        stamp = old if name in ("old taken", "old half", "queued") else new
        os.utime(path, (stamp, stamp))
    assert prune_processed_messages(settings) == 2
    assert sorted(n for n, p in paths.items() if p.exists()) == ["new taken", "queued"]
