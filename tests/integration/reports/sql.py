"""Independent SQL for the report tests: plain statements, written apart from the code under test."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so


def ts(session: so.Session, moment: datetime) -> Any:
    """Bind a UTC instant the way each backend stores it."""
    if session.get_bind().dialect.name == "sqlite":
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


def hours(session: so.Session, later: str, earlier: str) -> str:
    """Return SQL text for ``later - earlier`` in hours."""
    if session.get_bind().dialect.name == "sqlite":
        return f"((julianday({later}) - julianday({earlier})) * 24.0)"
    return f"(extract(epoch from ({later} - {earlier})) / 3600.0)"


def q(session: so.Session, sql: str, **params: Any) -> list[Any]:
    """Run a statement with datetimes bound for the backend; return all rows."""
    bound = {k: ts(session, v) if isinstance(v, datetime) else v for k, v in params.items()}
    return list(session.execute(sa.text(sql), bound).all())


def one(session: so.Session, sql: str, **params: Any) -> Any:
    """Run a statement and return the single value."""
    rows = q(session, sql, **params)
    return rows[0][0]
