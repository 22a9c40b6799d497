"""Health check: the case store answers, Redis answers, and a worker with a scheduler runs."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from rq import Worker
from rq.scheduler import RQScheduler
from sqlalchemy import text

logger = logging.getLogger(__name__)

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
def health() -> ResponseReturnValue:
    """200 when the database, Redis, a worker and the job scheduler are all there; else 503.

    Without a scheduler, delayed jobs and retries never run, so its absence is a failure.
    """
    services = current_app.extensions["hotline"]
    checks: dict[str, str] = {}

    try:
        with services.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:
        logger.error("health: database failed: %s", type(error).__name__)
        checks["database"] = "failed"

    try:
        services.redis.ping()
        checks["redis"] = "ok"
        workers = Worker.all(connection=services.redis)
        checks["workers"] = str(len(workers)) if workers else "none"
        locks = [RQScheduler.get_locking_key(name) for name in services.settings.queues]
        held = any(services.redis.exists(key) for key in locks)
        checks["scheduler"] = "ok" if held else "none"
    except Exception as error:
        logger.error("health: redis failed: %s", type(error).__name__)
        checks["redis"] = "failed"

    healthy = checks.get("database") == "ok" and all(
        checks.get(name) not in {None, "failed", "none"}
        for name in ("redis", "workers", "scheduler")
    )
    return jsonify(status="ok" if healthy else "failing", checks=checks), 200 if healthy else 503
