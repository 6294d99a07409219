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
