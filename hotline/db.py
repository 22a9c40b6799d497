"""The case store's engine and sessions: one session per request or job, and commit hooks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

from hotline.logs import log_exception

logger = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_AFTER_COMMIT_KEY = "hotline_after_commit"

# Twilio waits 15 s for a webhook's answer: a turn must fail (and apologise) well before.
BUSY_TIMEOUT_MS = 5000
POSTGRES_TIMEOUTS = {
    "connect_timeout": 5,
    "options": "-c lock_timeout=5000 -c statement_timeout=10000",
}


class Base(DeclarativeBase):
    """Declarative base of every model; constraint names are stable for migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored in UTC on every backend (SQLite keeps no zone).

    Naive datetimes are refused: every time in the case store must say its zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: the case store keeps aware times only")

        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def on_commit(session: Session, callback: Callable[[], Any]) -> None:
    """Run `callback` once the session's current transaction has committed.

    Jobs are enqueued this way, so a job never sees a row its transaction has not
    written. A rollback discards the callbacks. A failing callback is logged and does not
    affect the others: the committed data stays, and the sweeper finds what was not queued.
    """
    session.info.setdefault(_AFTER_COMMIT_KEY, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    callbacks = session.info.pop(_AFTER_COMMIT_KEY, [])

    for callback in callbacks:
        try:
            callback()
        except Exception:
            log_exception(logger, "after-commit callback %r failed", callback)


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_commit(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_AFTER_COMMIT_KEY, None)


def _configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, and transactions that take the write lock when they begin.

    With these, concurrent writers wait for each other instead of failing with
    "database is locked" halfway through a transaction.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """Owns the engine and the session factories for one process."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

        self.url = url
        # hide_parameters: error messages and logs never carry bound values (phone numbers).
        self.engine = create_engine(
            url,
            echo=echo,
            pool_pre_ping=not url.startswith("sqlite"),
            hide_parameters=True,
            connect_args=POSTGRES_TIMEOUTS if url.startswith("postgresql") else {},
        )
        if self.engine.dialect.name == "sqlite":
            _configure_sqlite(self.engine)

        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.scoped = scoped_session(self.session_factory)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for one unit of work: committed on success, rolled back on error."""
        session = self.session_factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def remove_scoped(self, exc: BaseException | None = None) -> None:
        """End the request's session; roll back anything left uncommitted."""
        session = self.scoped()
        try:
            if exc is not None or session.in_transaction():
                session.rollback()
        finally:
            self.scoped.remove()

    def dispose(self) -> None:
        """Close every pooled connection (after fork, and at shutdown)."""
        self.engine.dispose()
