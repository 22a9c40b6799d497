"""Run the case store's Alembic migrations from code (dev server, tests, deployment scripts)."""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from hotline.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic Config for `database_url`, built in code; it leaves logging alone.

    Raises FileNotFoundError when alembic.ini or the migrations folder is missing.
    """
    if not ALEMBIC_INI.is_file():
        raise FileNotFoundError(f"no Alembic configuration at {ALEMBIC_INI}")
    if not MIGRATIONS_DIR.is_dir():
        raise FileNotFoundError(f"no migrations folder at {MIGRATIONS_DIR}")

    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["skip_logging_config"] = True
    return config


def _display(database_url: str) -> str:
    return make_url(database_url).render_as_string(hide_password=True)


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database at `database_url` up to `revision` (default: the newest).

    Creates the folder of a SQLite file when it is missing. Errors of Alembic
    (e.g. alembic.util.CommandError for an unknown revision) and of the database
    driver (sqlalchemy.exc.SQLAlchemyError) propagate unchanged.
    """
    logger.info("upgrading %s to %s", _display(database_url), revision)

    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Migrate the database at `database_url` down to `revision` ("base" drops everything).

    Raises the same errors as `upgrade`.
    """
    logger.info("downgrading %s to %s", _display(database_url), revision)

    command.downgrade(alembic_config(database_url), revision)
