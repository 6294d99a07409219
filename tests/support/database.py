"""A database brought to head and seeded: what every test database and served test site starts from."""

from __future__ import annotations

import sqlalchemy as sa

from core.db import migrate
from core.db.base import create_engine
from core.seed import seed


def migrate_and_seed(url: str) -> None:
    """Bring a database to head and seed it."""
    engine = create_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as conn, sa.orm.Session(conn) as session:
        seed(session)
        session.flush()
    engine.dispose()


def drop_other_connections(engine: sa.Engine) -> int:
    """Do to every other connection of this database what a server restart does; return how many died."""
    with engine.connect() as conn:
        killed: int = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE pid <> pg_backend_pid() AND datname = current_database()"
            )
        ).scalar_one()
    return killed
