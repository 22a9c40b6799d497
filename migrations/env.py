"""Alembic environment of the case store: which database, which metadata, how to render types.

The URL is the `sqlalchemy.url` option when code sets it (`hotline.migrate`), else DATABASE_URL.
"""

from __future__ import annotations

import logging
from logging.config import fileConfig
from pathlib import Path
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import make_url

from hotline.db import UTCDateTime
from hotline.models import Base
from hotline.settings import load_settings

# Alembic loads this file under a made-up module name, so the logger is named explicitly.
logger = logging.getLogger("hotline.migrations")

config = context.config

if config.config_file_name and not config.attributes.get("skip_logging_config"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    """The URL to migrate: set by code on the Config, else read from the environment."""
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    return load_settings().database_url


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render the project's own column types so that revision files import them."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        autogen_context.imports.add("from hotline.db import UTCDateTime")
        return "UTCDateTime()"
    return False


def _ensure_sqlite_directory(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _configure_options(url: str) -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "render_item": render_item,
        "render_as_batch": make_url(url).get_backend_name() == "sqlite",
        "compare_type": True,
    }


def run_migrations_offline() -> None:
    """Write the SQL of the migrations to standard output, without a connection."""
    url = database_url()

    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_configure_options(url),
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Apply the migrations over a connection of their own."""
    url = database_url()
    _ensure_sqlite_directory(url)
    logger.info("migrating %s", make_url(url).render_as_string(hide_password=True))

    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, **_configure_options(url))

            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
