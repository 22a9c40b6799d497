"""Health: migrated schema, a worker with a recent heartbeat, and the scheduler (case 13)."""

from __future__ import annotations

from datetime import timedelta

from rq import Queue, Worker
from rq.scheduler import RQScheduler
from rq.utils import utcformat

from hotline import create_app
from hotline.db import utcnow
from tests.conftest import make_settings


def _start_worker(services) -> Worker:
    queues = [Queue(name, connection=services.redis) for name in services.settings.queues]
    worker = Worker(queues, connection=services.redis, worker_ttl=60)
    worker.register_birth()
    worker.heartbeat()
    return worker


def test_ok_with_a_live_worker_and_the_scheduler_lock(client, services) -> None:
    _start_worker(services)
    RQScheduler(list(services.settings.queues), connection=services.redis).acquire_locks()

    response = client.get("/health")

    assert response.status_code == 200, response.json
    assert response.json["checks"] == {
        "database": "ok",
        "redis": "ok",
        "workers": "1",
        "scheduler": "ok",
    }


def test_a_killed_worker_stops_counting_once_its_heartbeat_is_old(client, services) -> None:
    worker = _start_worker(services)
    RQScheduler(list(services.settings.queues), connection=services.redis).acquire_locks()

    stale = utcformat(utcnow() - timedelta(minutes=5))
    services.redis.hset(worker.key, "last_heartbeat", stale)
    response = client.get("/health")

    assert response.status_code == 503
    assert response.json["checks"]["workers"] == "none"


def test_an_unmigrated_database_is_reported(tmp_path, redis_url, emulator) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'empty.db'}", redis_url, emulator.base_url)
    app = create_app(settings)

    response = app.test_client().get("/health")

    assert response.status_code == 503
    assert response.json["checks"]["database"] == "not migrated"
    app.extensions["hotline"].close()


def test_the_index_says_what_this_is(client) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert "/twilio/voice" in response.get_data(as_text=True)
