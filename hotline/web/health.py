"""Health check: the case store is migrated, Redis answers, and a live worker with a scheduler
runs; plus a plain index page for people who open the web app in a browser."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import cache

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from rq import Worker
from rq.scheduler import RQScheduler

from hotline.db import utcnow
from hotline.jobs import WORKER_TTL
from hotline.migrate import alembic_config
from hotline.services import Services

logger = logging.getLogger(__name__)

blueprint = Blueprint("health", __name__)


@cache
def _schema_heads() -> frozenset[str]:
    config = alembic_config("sqlite://")
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def _database(services: Services) -> str:
    with services.db.engine.connect() as connection:
        current = frozenset(MigrationContext.configure(connection).get_current_heads())
    return "ok" if current == _schema_heads() else "not migrated"


def _live_workers(services: Services) -> int:
    oldest = utcnow() - timedelta(seconds=WORKER_TTL + 15)
    workers = Worker.all(connection=services.redis)
    return sum(1 for worker in workers if worker.last_heartbeat and worker.last_heartbeat > oldest)


def _scheduler(services: Services) -> str:
    keys = [RQScheduler.get_locking_key(name) for name in services.settings.queues]
    return "ok" if any(services.redis.exists(key) for key in keys) else "none"


@blueprint.get("/health")
def health() -> ResponseReturnValue:
    """200 when the database is migrated, Redis answers, a worker has sent a heartbeat
    recently and the job scheduler holds its lock; else 503 with what failed.

    Without a scheduler, delayed jobs and retries never run, so its absence is a failure.
    """
    services: Services = current_app.extensions["hotline"]
    checks: dict[str, str] = {}

    try:
        checks["database"] = _database(services)
    except Exception as error:
        logger.error("health: database failed: %s", type(error).__name__)
        checks["database"] = "failed"

    try:
        services.redis.ping()
        checks["redis"] = "ok"
        live = _live_workers(services)
        checks["workers"] = str(live) if live else "none"
        checks["scheduler"] = _scheduler(services)
    except Exception as error:
        logger.error("health: redis failed: %s", type(error).__name__)
        checks["redis"] = "failed"

    healthy = all(
        checks.get(name) not in {None, "failed", "none", "not migrated"}
        for name in ("database", "redis", "workers", "scheduler")
    )
    return jsonify(status="ok" if healthy else "failing", checks=checks), 200 if healthy else 503


@blueprint.get("/")
def index() -> ResponseReturnValue:
    """What this server is, for a person who opens it in a browser."""
    text = (
        "崂山区社区一站式服务热线 · Laoshan community hotline\n\n"
        "Twilio webhooks (POST, signed): /twilio/voice  /twilio/sms  /twilio/status\n"
        "Health: /health\n"
    )
    return text, 200, {"Content-Type": "text/plain; charset=utf-8"}
