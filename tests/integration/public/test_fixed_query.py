"""FixedQuery (core/db/fixed.py) returns exactly what Connection.execute returns, and fails the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from core.bootstrap import Core
from core.db.base import UtcDateTime
from core.db.fixed import NAMED_STYLES, FixedQuery
from core.db.models import StatusChange, Ticket, User
from core.services import public as pub
from tests.integration.public.test_privacy import _seed


def _both(query: FixedQuery, conn: sa.Connection, params: dict[str, Any]) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """Return the rows of the fast path (as tuples) and of SQLAlchemy's own path."""
    fast = [tuple(row) for row in query.rows(conn, params)]
    slow = [tuple(row) for row in conn.execute(query.statement, params).all()]
    return fast, slow


def test_rows_are_those_of_connection_execute(
    core: Core, client: FlaskClient, supervisor: User, partner_token: str
) -> None:
    """Tracking-page and Open311 statements over tickets with notes, a transcript and Open311 data."""
    codes = _seed(core, supervisor, partner_token, client)
    with core.read_engine.connect() as conn:
        for code in [*codes, "48-2026-999999"]:
            for query in (pub._FIND, pub._BY_CODE):
                fast, slow = _both(query, conn, {"code": code})
                assert fast == slow, (code, query)
                if code != "48-2026-999999":
                    assert fast, code
                    row = query.rows(conn, {"code": code})[0]
                    assert row.code == code  # rows are named like SQLAlchemy's
                    assert row.created_at.tzinfo is UTC  # the column type's result processor ran
    with core.session_factory() as session:  # inside a session's transaction too
        assert pub.find_public(session, codes[0], core.clock.now()) is not None


def test_bind_processors_apply(core: Core, client: FlaskClient, supervisor: User, partner_token: str) -> None:
    """A timestamp parameter is normalised by its type, as SQLAlchemy does before it reaches the driver."""
    _seed(core, supervisor, partner_token, client)
    since = sa.bindparam("since", type_=UtcDateTime())
    query = FixedQuery(sa.select(StatusChange.id, StatusChange.at).where(StatusChange.at >= since))
    sarajevo = timezone(timedelta(hours=1))
    with core.read_engine.connect() as conn:
        for moment in (core.clock.now() - timedelta(hours=1), datetime(2000, 1, 1, tzinfo=sarajevo)):
            fast, slow = _both(query, conn, {"since": moment.astimezone(sarajevo)})
            assert fast == slow and fast


def test_parameters_rendered_per_execution_are_refused() -> None:
    """An IN list or a literal-execute value is rendered into the SQL per execution: no fixed text."""
    with pytest.raises(ValueError, match="expanding"):
        FixedQuery(sa.select(Ticket.id).where(Ticket.code.in_(sa.bindparam("codes", expanding=True))))
    with pytest.raises(ValueError, match="literal-execute"):
        FixedQuery(sa.select(Ticket.id).where(Ticket.code == sa.bindparam("code", literal_execute=True)))


def test_a_dropped_connection_is_invalidated(core: Core, client: FlaskClient, supervisor: User) -> None:
    """A connection the server dropped fails as SQLAlchemy's disconnect error, invalidated for the retry."""
    if core.engine.dialect.name != "postgresql":
        # SQLite (qmark parameters) takes SQLAlchemy's own path, tested above; no server can drop it.
        assert core.engine.dialect.paramstyle not in NAMED_STYLES
        return
    with core.read_engine.connect() as conn:
        assert pub._FIND.rows(conn, {"code": "48-2026-000001"}) is not None
        with core.engine.connect() as killer:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            killer.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(sa.exc.OperationalError) as caught:
            pub._FIND.rows(conn, {"code": "48-2026-000001"})
        assert caught.value.connection_invalidated
        assert conn.invalidated
    assert pub.read(core.read_engine, lambda c: pub._FIND.rows(c, {"code": "48-2026-000001"})) == []
