"""Every task goes to its own service's queue, and every subscription names a real task."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.celery_app import create_celery_app
from shared.subscriptions import QUEUES, SERVICE_QUEUES, SUBSCRIPTIONS
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> object:
    celery = create_celery_app(make_settings(tmp_path_factory.mktemp("routing")))
    celery.loader.import_default_modules()
    return celery


def our_tasks(app: object) -> list[str]:
    return sorted(name for name in app.tasks if not name.startswith("celery."))  # type: ignore[attr-defined]


def test_each_task_is_routed_to_its_service_queue(app: object) -> None:
    router = app.amqp.router  # type: ignore[attr-defined]
    assert our_tasks(app)
    for name in our_tasks(app):
        service = name.partition(".")[0]
        assert service in SERVICE_QUEUES, f"{name} has no service prefix"
        route = router.route({}, name)
        assert route["queue"].name == SERVICE_QUEUES[service], name


def test_every_subscription_is_a_registered_task(app: object) -> None:
    for consumers in SUBSCRIPTIONS.values():
        for consumer in consumers:
            assert consumer.task in our_tasks(app)
            assert consumer.queue in QUEUES


def test_task_modules_exist_for_every_service() -> None:
    root = Path(__file__).resolve().parents[2] / "services"
    for service in SERVICE_QUEUES:
        assert (root / service / "tasks.py").exists()
