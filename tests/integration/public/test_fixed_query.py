"""FixedQuery (core/db/fixed.py) returns exactly what Connection.execute returns, and fails the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
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
from tests.support.database import drop_other_connections


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
    # SQLite's qmark parameters keep SQLAlchemy's own path; PostgreSQL's named ones take the fast one.
    assert (core.engine.dialect.paramstyle in NAMED_STYLES) == (core.engine.dialect.name == "postgresql")
    with core.session_factory() as session:  # inside a session's transaction too
        assert pub.find_public(session, codes[0], core.clock.now()) is not None


def test_bind_processors_apply(core: Core, client: FlaskClient, supervisor: User, partner_token: str) -> None:
    """A timestamp parameter is normalised by its type, as SQLAlchemy does, even under an escaped name."""
    _seed(core, supervisor, partner_token, client)
    sarajevo = timezone(timedelta(hours=1))
    for name in ("since", "since.from"):  # a dot must be escaped in the SQL's parameter name
        since = sa.bindparam(name, type_=UtcDateTime())
        query = FixedQuery(sa.select(StatusChange.id, StatusChange.at).where(StatusChange.at >= since))
        with core.read_engine.connect() as conn:
            for moment in (core.clock.now() - timedelta(hours=1), datetime(2000, 1, 1, tzinfo=sarajevo)):
                fast, slow = _both(query, conn, {name: moment.astimezone(sarajevo)})
                assert fast == slow and fast


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite takes execute() itself, no server
def test_dialect_types_process_as_sqlalchemy_does(core: Core) -> None:
    """Types whose processing differs per dialect (an interval, a decimal) come back as from execute()."""
    query = FixedQuery(
        sa.select(
            sa.cast(sa.bindparam("gap", type_=sa.String()), sa.Interval()).label("gap"),
            sa.cast(sa.bindparam("amount", type_=sa.String()), sa.Numeric(10, 2)).label("amount"),
            sa.cast(sa.bindparam("flag", type_=sa.String()), sa.Boolean()).label("flag"),
        )
    )
    with core.read_engine.connect() as conn:
        params = {"gap": "1 hour 30 minutes", "amount": "12.50", "flag": "true"}
        fast, slow = _both(query, conn, params)
        assert fast == slow == [(timedelta(hours=1, minutes=30), Decimal("12.50"), True)]
        assert [type(value) for value in fast[0]] == [type(value) for value in slow[0]]


def test_a_failed_statement_leaves_the_transaction_to_the_caller(core: Core) -> None:
    """On a transactional connection an error is rolled back by the caller and the connection goes on."""
    bad = FixedQuery(sa.select(sa.cast(sa.bindparam("n", type_=sa.String()), sa.Integer()).label("n")))
    with core.engine.connect() as conn:
        if core.engine.dialect.name == "postgresql":
            with pytest.raises(sa.exc.DataError):
                bad.rows(conn, {"n": "није број"})
            conn.rollback()
        assert [tuple(r) for r in bad.rows(conn, {"n": "48"})] == [(48,)]
        conn.commit()


def test_parameters_rendered_per_execution_are_refused() -> None:
    """An IN list or a literal-execute value is rendered into the SQL per execution: no fixed text."""
    with pytest.raises(ValueError, match="expanding"):
        FixedQuery(sa.select(Ticket.id).where(Ticket.code.in_(sa.bindparam("codes", expanding=True))))
    with pytest.raises(ValueError, match="literal-execute"):
        FixedQuery(sa.select(Ticket.id).where(Ticket.code == sa.bindparam("code", literal_execute=True)))


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite takes execute() itself, no server
def test_a_dropped_connection_is_invalidated(core: Core, client: FlaskClient, supervisor: User) -> None:
    """A connection the server dropped fails as SQLAlchemy's disconnect error, invalidated for the retry."""
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


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite takes execute() itself, no server
def test_a_server_restart_discards_every_pooled_connection(core: Core) -> None:
    """After a restart every idle pooled connection is dead: the retry must get a new one, not a sibling."""
    engine = core.read_engine
    held = [engine.connect() for _ in range(3)]  # three pooled connections, idle once returned
    for conn in held:
        pub._FIND.rows(conn, {"code": "48-2026-000001"})
        conn.close()
    assert drop_other_connections(core.engine) >= 3
    assert pub.read(engine, lambda c: pub._FIND.rows(c, {"code": "48-2026-000001"})) == []
