"""The migrations build exactly the schema the models describe, and take it all down again.

A model changed without a migration makes `test_head_matches_the_models` fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, pool, text
from sqlalchemy.engine import make_url

from hotline import migrate
from hotline.models import Base
from hotline.settings import load_settings


def _postgresql_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgres"):
        return None
    return load_settings({"DATABASE_URL": url}).database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a new SQLite file, or a new schema in TEST_DATABASE_URL's database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'instance' / 'migrations.db'}"
        return

    base_url = _postgresql_url()
    if base_url is None:
        pytest.skip("TEST_DATABASE_URL is not a PostgreSQL URL")

    schema = f"test_migrations_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, poolclass=pool.NullPool)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))

    try:
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _table_names(database_url: str) -> set[str]:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _differences(database_url: str) -> list[object]:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_revisions_form_one_line() -> None:
    scripts = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))

    assert len(scripts.get_heads()) == 1, "several heads: merge the migration branches"


def test_head_matches_the_models(database_url: str) -> None:
    migrate.upgrade(database_url)

    differences = _differences(database_url)

    assert differences == [], (
        "the models and the migrations disagree; add a revision with "
        "`.venv/bin/alembic revision --autogenerate --rev-id NNNN -m '...'`:\n"
        + "\n".join(repr(difference) for difference in differences)
    )


def test_downgrade_to_base_leaves_no_tables(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert set(Base.metadata.tables) <= _table_names(database_url)

    migrate.downgrade(database_url, "base")

    assert _table_names(database_url) - {"alembic_version"} == set()


def test_upgrade_twice_is_harmless(database_url: str) -> None:
    migrate.upgrade(database_url)

    migrate.upgrade(database_url)

    assert set(Base.metadata.tables) <= _table_names(database_url)
