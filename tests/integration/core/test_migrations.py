"""Migrations: the schema Alembic builds is exactly the schema the models describe."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core.db import migrate
from core.db.base import Base, create_engine


def test_migrations_match_models(db_url: str) -> None:
    """Autogenerate finds nothing to add: every model change shipped with its migration."""
    engine = create_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_is_idempotent(db_url: str) -> None:
    """Running the upgrade again on a migrated database changes nothing."""
    engine = create_engine(db_url)
    migrate.upgrade(engine)
    assert migrate.current(engine) == "0001"
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    engine.dispose()
    assert {"ticket", "citizen", "outbox", "event", "inbound_item", "component_status"} <= tables
