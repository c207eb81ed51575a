"""The Celery app, its configuration, and the beat schedule.

Every setting below is chosen on purpose; the comments say why. The short version: the database
is the source of truth and the broker only carries wake-ups, so losing a message delays work but
never loses it (see `shared.outbox`), and every task is safe to run twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from typing import Any

from celery import Celery, signals
from kombu.entity import Exchange, Queue

from shared.settings import Settings, get_settings
from shared.subscriptions import QUEUES, SERVICE_QUEUES

# Task modules of the services, loaded by name so that `shared` never imports a service.
TASK_MODULES = [f"services.{service}.tasks" for service in SERVICE_QUEUES]


def broker_settings(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The broker URL and transport options for these settings."""
    if settings.embedded_broker:
        folder = settings.broker_dir
        for sub in ("queue", "control", "processed"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return "filesystem://localhost/", {
            # One folder in and out: every process on this host sees the same queues.
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            # A worker takes a message by moving its file out of the queue folder. Into a folder
            # on the same filesystem that move is an atomic rename, so two workers can never
            # both take one message (kombu's default target, the system temp folder, may be
            # another filesystem, where a move is a copy then a delete). The relay prunes it.
            "store_processed": True,
            "processed_folder": str(folder / "processed"),
            # 50 ms between scans of the folder: tens of ms pick-up latency for little CPU.
            "polling_interval": 0.05,
        }
    options: dict[str, Any] = {
        # Redis redelivers a task nobody acknowledged after this long. It must exceed the longest
        # task (the hard time limit) or a slow task would run twice at once; Settings checks it.
        "visibility_timeout": settings.broker_visibility_timeout,
        # All keys under one prefix, so two instances can share a Redis without colliding.
        "global_keyprefix": settings.redis_prefix,
    }
    return settings.broker_url, options


def celery_config(settings: Settings) -> dict[str, Any]:
    broker_url, transport_options = broker_settings(settings)
    redis = broker_url.startswith(("redis://", "rediss://"))
    config: dict[str, Any] = {
        "broker_url": broker_url,
        "broker_transport_options": transport_options,
        # The embedded broker is kombu's filesystem transport with two faults fixed (see
        # shared.broker); a Redis URL brings kombu's own Redis transport.
        "broker_transport": "shared.broker:Transport" if settings.embedded_broker else None,
        "broker_connection_retry_on_startup": True,
        # JSON only: no pickle from the broker, payloads readable by anyone debugging a queue.
        "task_serializer": "json",
        "accept_content": ["json"],
        # Results are never read: state lives in the database. No result backend at all.
        "task_ignore_result": True,
        "result_backend": None,
        # Acknowledge after the task finishes, and give the message back if a pool process dies
        # mid-task (prefork), so such a crash means a retry. When the whole worker dies, Redis
        # gives unacknowledged messages back after the visibility timeout; the embedded broker
        # has already dropped them. Either way the database-driven recovery (lease expiry for
        # polls, the outbox's redelivery for events) is what guarantees the work is done.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # A task that raised is acknowledged (not requeued forever); the outbox redelivers
        # events that got no receipt, a bounded number of times.
        "task_acks_on_failure_or_timeout": True,
        # One message at a time per worker process: tasks are long (network I/O) and uneven, so
        # prefetching would park work behind a slow poll while other workers idle.
        "worker_prefetch_multiplier": 1,
        # Bounds on every task. The soft limit raises inside the task so it can clean up; the
        # hard limit kills it (prefork pool only: in the threads pool the HTTP client's own
        # deadline is what bounds a fetch).
        "task_soft_time_limit": settings.task_soft_time_limit,
        "task_time_limit": settings.task_time_limit,
        # Recycle worker processes now and then, so a slow leak in a parser cannot grow forever.
        "worker_max_tasks_per_child": 1000,
        "worker_max_memory_per_child": 512 * 1024,  # KiB
        # On losing the broker connection, stop long-running tasks that can no longer be acked;
        # they will be redelivered, and the consumer is idempotent.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        "task_queues": [
            Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES
        ],
        # Every task is routed by its service prefix (a test checks each one); nothing should
        # fall through to the default.
        "task_default_queue": "review",
        "task_routes": {
            f"{service}.*": {"queue": queue} for service, queue in SERVICE_QUEUES.items()
        },
        "task_create_missing_queues": False,
        "enable_utc": True,
        "timezone": "UTC",
        # Celery's consumer with a Redis reconnection fixed (shared/worker.py).
        "worker_consumer": "shared.worker:Consumer",
        "beat_schedule": beat_schedule(settings),
        # Beat wakes at least once per sweep interval (and so renews RedBeat's lock in time).
        "beat_max_loop_interval": min(settings.poll_sweep_seconds, settings.review_sweep_seconds),
    }
    if redis:
        # One beat only: RedBeat holds a lock in Redis, so a second beat (a scaled or restarted
        # container) waits instead of sending every scheduled task twice; ours also takes the
        # lock back when Redis loses it (shared/beat.py).
        config.update(
            beat_scheduler="shared.beat:Scheduler",
            redbeat_redis_url=broker_url,
            redbeat_key_prefix=f"{settings.redis_prefix}redbeat:",
            # The lock outlives five beat ticks: a beat that dies is replaced that much later.
            redbeat_lock_timeout=max(10, int(settings.poll_sweep_seconds * 5)),
            # Keep retrying Redis for five minutes (a restart) before beat gives up and its
            # supervisor restarts it. Set explicitly: no options borrowed from the broker's.
            redbeat_redis_options={"retry_period": 300},
        )
    else:
        # Embedded mode: `crossfeed up` runs exactly one beat, which keeps its state on disk.
        config["beat_schedule_filename"] = str(settings.data_dir / "celerybeat-schedule")
    return config


def beat_schedule(settings: Settings) -> dict[str, Any]:
    """Timers. Each sweep reads what is due from the database, so a lost tick costs one tick."""
    return {
        "poll-due-sources": {
            "task": "poller.sweep_due_sources",
            "schedule": dt.timedelta(seconds=settings.poll_sweep_seconds),
            "options": {"expires": settings.poll_sweep_seconds},
        },
        "review-timers": {
            "task": "review.sweep_timers",
            "schedule": dt.timedelta(seconds=settings.review_sweep_seconds),
            "options": {"expires": settings.review_sweep_seconds},
        },
        "publish-deliveries": {
            "task": "publisher.sweep_deliveries",
            "schedule": dt.timedelta(seconds=settings.publish_sweep_seconds),
            "options": {"expires": settings.publish_sweep_seconds},
        },
        "websub-subscriptions": {
            "task": "poller.sweep_websub",
            "schedule": dt.timedelta(minutes=5),
            "options": {"expires": 300},
        },
    }


def create_celery_app(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    app = Celery("crossfeed", include=TASK_MODULES, set_as_current=True)
    app.conf.update(celery_config(settings))
    return app


@signals.setup_logging.connect
def _keep_our_logging(**_kwargs: Any) -> None:
    """Connected so that Celery leaves the logging set up by `shared.logs` alone."""


@signals.worker_process_init.connect
def _fresh_pool_after_fork(**_kwargs: Any) -> None:
    # A forked worker must not share the parent's database connections.
    from shared.db import reset_after_fork  # noqa: PLC0415

    reset_after_fork()


def queue_depths(app: Celery, timeout: float = 3.0) -> dict[str, int]:
    """Messages waiting in each queue. Raises if the broker cannot be reached."""
    from kombu.exceptions import ChannelError  # noqa: PLC0415

    depths: dict[str, int] = {}
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)
        channel = conn.default_channel
        for name in QUEUES:
            try:
                depths[name] = int(channel.queue_declare(queue=name, passive=True).message_count)
            except ChannelError:
                depths[name] = 0  # Redis has no key for an empty queue
    return depths


def prune_processed_messages(settings: Settings, older_than: float = 3600.0) -> int:
    """Delete the embedded broker's taken messages, and the half-written files of senders
    killed mid-write, older than `older_than` seconds."""
    cutoff = time.time() - older_than
    removed = 0
    folder = settings.broker_dir
    for path in [*(folder / "processed").glob("*.msg"), *(folder / "queue").glob("*.tmp")]:
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed
