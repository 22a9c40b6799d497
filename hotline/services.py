"""The process's shared services: settings, case store, Redis, queues, Twilio client, templates.

One `Services` is built per process (web app, worker, CLI) and installed as current, so RQ
jobs, which receive only ids, find the same configuration the app was built with.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from redis import Redis
from rq import Queue, Retry

from hotline.db import Database
from hotline.settings import Settings

if TYPE_CHECKING:
    from jinja2 import Environment
    from twilio.rest import Client

logger = logging.getLogger(__name__)

_current: Services | None = None


class ServicesError(RuntimeError):
    """Raised when a service is asked for but not configured (e.g. no REDIS_URL)."""


class Services:
    """Lazily built connections for one process; cheap to create, safe to fork before use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)

    @cached_property
    def redis(self) -> Redis:
        """The Redis connection for queues; raises ServicesError when REDIS_URL is unset."""
        if not self.settings.redis_url:
            raise ServicesError("REDIS_URL is not set: no queue to put jobs on")
        return Redis.from_url(self.settings.redis_url, socket_timeout=10, socket_connect_timeout=5)

    def queue(self, name: str) -> Queue:
        """The RQ queue `name` (one of settings.queues)."""
        if name not in self.settings.queues:
            raise ServicesError(f"unknown queue {name!r}")
        return Queue(name, connection=self.redis)

    def enqueue(
        self,
        queue_name: str,
        func: Callable[..., Any],
        *args: Any,
        job_id: str | None = None,
        retry: Retry | None = None,
    ) -> str:
        """Put `func(*args)` on a queue; args must be ids, never personal data. Returns the id."""
        job = self.queue(queue_name).enqueue(func, *args, job_id=job_id, retry=retry)
        logger.info("enqueued job=%s func=%s queue=%s", job.id, func.__name__, queue_name)
        return job.id

    def enqueue_in(
        self,
        queue_name: str,
        delay: timedelta,
        func: Callable[..., Any],
        *args: Any,
        job_id: str | None = None,
    ) -> str:
        """Schedule `func(*args)` after `delay` (run by the worker's scheduler). Returns the id."""
        job = self.queue(queue_name).enqueue_in(delay, func, *args, job_id=job_id)
        logger.info(
            "scheduled job=%s func=%s queue=%s in=%ss",
            job.id,
            func.__name__,
            queue_name,
            int(delay.total_seconds()),
        )
        return job.id

    @cached_property
    def twilio(self) -> Client:
        """The real `twilio` REST client, pointed at TWILIO_API_BASE when it is set."""
        from hotline.telephony.client import make_twilio_client

        return make_twilio_client(
            self.settings.twilio_account_sid,
            self.settings.twilio_auth_token,
            self.settings.twilio_api_base,
        )

    @cached_property
    def templates(self) -> Environment:
        """The Jinja2 environment over `sms_templates/`."""
        from hotline.channels.templates import make_environment

        return make_environment()

    def close(self) -> None:
        """Release pooled connections (tests and shutdown)."""
        self.db.dispose()
        if "redis" in self.__dict__:
            self.redis.close()


def install(services: Services) -> None:
    """Make `services` the process's current services (used by jobs and the CLI)."""
    global _current
    _current = services


def current() -> Services:
    """The installed services; built from the environment if nothing was installed."""
    global _current
    if _current is None:
        from hotline.settings import load_settings

        _current = Services(load_settings())
    return _current
