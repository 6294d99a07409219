"""Fixed statements that write (core/db/fixed.py run_all) and the event insert built on them (core/db/uow.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from core.bootstrap import Core
from core.db.base import UtcDateTime
from core.db.fixed import FixedQuery, run_all
from core.db.models import Call, Event
from core.db.uow import event_dict
from core.ports import RecordingLivePush
from core.services import call_rows
from core.services.call_rows import CallRow

HOSTILE = ['"quoted"', "back\\slash", "{braces,comma}", "NULL", "", "Čaršija Котор", "tab\tnew\nline", None]

_ECHO = FixedQuery(
    sa.text(
        "SELECT u.value FROM unnest(CAST(:values AS text[])) WITH ORDINALITY AS u(value, ord) ORDER BY u.ord"
    ).columns(sa.column("value", sa.String))
)
_NEW_CALL = FixedQuery(
    sa.text(
        "INSERT INTO call (linkedid, direction, state, started_at) VALUES (:linkedid, 'in', 'ringing', CURRENT_TIMESTAMP)"
        " RETURNING id"
    ).columns(sa.column("id", sa.BigInteger))
)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_text_array_carries_any_string(core: Core) -> None:
    """Quotes, backslashes, braces, the word NULL, a real NULL: sent as a text array, back as they were."""
    with core.engine.connect() as conn:
        assert [row.value for row in _ECHO.rows(conn, {"values": HOSTILE})] == HOSTILE


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_fixed_statements_are_prepared_on_first_use(core: Core) -> None:
    """A fixed text is prepared at once on each connection, not after psycopg's default five runs."""
    with core.engine.connect() as conn:
        _ECHO.rows(conn, {"values": ["x"]})
        prepared = conn.execute(
            sa.text("SELECT count(*) FROM pg_prepared_statements WHERE strpos(statement, 'WITH ORDINALITY') > 0")
        ).scalar_one()
        assert prepared == 1


def test_run_all_returns_each_statements_rows_in_order(core: Core) -> None:
    """Several statements in one call (one pipeline on PostgreSQL): each one's rows, in order."""
    with core.engine.begin() as conn:
        first, second = run_all(
            conn, [(_NEW_CALL, {"linkedid": "1764310000.1"}), (_NEW_CALL, {"linkedid": "1764310000.2"})]
        )
        assert first[0].id < second[0].id
        assert conn.execute(sa.select(sa.func.count()).select_from(Call)).scalar_one() == 2


_COUNT_CALLS = FixedQuery(sa.select(sa.func.count(Call.id).label("calls")))


def _calls_seen_by_another_connection(core: Core) -> int:
    with core.engine.connect() as other:
        return int(other.execute(sa.select(sa.func.count()).select_from(Call)).scalar_one())


def test_commit_rides_with_the_statements_on_postgresql(core: Core) -> None:
    """``commit=True`` commits on PostgreSQL (in the statements' round trip); elsewhere the caller does.

    Either way the caller's own commit then succeeds.
    """
    with core.engine.connect() as conn:
        run_all(conn, [(_NEW_CALL, {"linkedid": "1764310000.1"})], commit=True)
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            raw: Any = conn.connection.driver_connection
            assert raw.info.transaction_status == 0  # psycopg: IDLE
        else:
            conn.commit()
        assert _calls_seen_by_another_connection(core) == 1
        conn.commit()  # nothing left to send: no error, no second transaction
    assert _calls_seen_by_another_connection(core) == 1


# On SQLite no other connection can even look while a write transaction is open (BEGIN IMMEDIATE).
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_unit_of_work_commits_with_its_events(core: Core, live: RecordingLivePush) -> None:
    """The event insert is a unit of work's last statement: it commits the rows and events, then the push.

    The session's own commit comes after it and finds nothing left to send.
    """
    seen_at_session_commit: list[int] = []
    with core.uow() as uow:
        uow.session.add(Call(linkedid="1764310000.9", direction="in", state="ringing", started_at=core.clock.now()))
        uow.emit("call.updated", {"linkedid": "1764310000.9"})
        real = uow.session.commit

        def commit() -> None:
            seen_at_session_commit.append(_calls_seen_by_another_connection(core))
            real()

        uow.session.commit = commit  # type: ignore[method-assign]
        committed = uow.commit()
    assert seen_at_session_commit == [1]
    assert _calls_seen_by_another_connection(core) == 1
    assert [e["linkedid"] for e in live.events] == ["1764310000.9"]
    assert live.events == committed


def test_a_failing_statement_fails_the_batch_with_sqlalchemys_error(core: Core) -> None:
    """A duplicate Linkedid in the middle of a batch is an IntegrityError, as Connection.execute raises."""
    with core.engine.connect() as conn:
        with pytest.raises(sa.exc.IntegrityError) as failed:
            run_all(
                conn,
                [(_NEW_CALL, {"linkedid": "1764310000.1"}), (_NEW_CALL, {"linkedid": "1764310000.1"}),
                 (_COUNT_CALLS, {})],
            )  # fmt: skip
        # The failing statement is named; a pipeline (PostgreSQL) fails at a later point, so there the
        # error names every statement of it, the count that never ran included.
        assert "INSERT INTO call" in str(failed.value)
        assert ("count(call.id)" in str(failed.value)) == (conn.dialect.name == "postgresql")
        conn.rollback()
        assert conn.execute(sa.select(sa.func.count()).select_from(Call)).scalar_one() == 0


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_missing_parameter_is_named_beside_an_anonymous_one(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    """A LIMIT is an anonymous parameter: given the named one, no construct_params; without it, its error."""
    query = FixedQuery(sa.select(Call.id).where(Call.linkedid == sa.bindparam("linkedid")).limit(5))
    with core.engine.begin() as conn:
        conn.execute(sa.insert(Call), [{"linkedid": "1764310000.1", "direction": "in", "state": "ringing",
                                        "started_at": core.clock.now()}])  # fmt: skip
        with pytest.raises(sa.exc.InvalidRequestError, match="linkedid"):
            query.rows(conn, {})
        compiled = query._plan(conn.dialect).compiled  # noqa: SLF001

        def slow_path(*_args: object, **_kwargs: object) -> None:
            raise AssertionError("construct_params called with every parameter given")

        monkeypatch.setattr(compiled, "construct_params", slow_path)
        assert len(query.rows(conn, {"linkedid": "1764310000.1"})) == 1


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_one_parameter_used_twice_is_processed_once(core: Core) -> None:
    """Two bindparam("since") objects are one parameter: its UtcDateTime processor runs once."""
    since = core.clock.now()
    first, second = sa.bindparam("since", type_=UtcDateTime()), sa.bindparam("since", type_=UtcDateTime())
    query = FixedQuery(sa.select(Call.id).where(sa.or_(Call.started_at >= first, Call.ended_at >= second)))
    with core.engine.connect() as conn:
        plan = query._plan(conn.dialect)  # noqa: SLF001
        assert [name for name, _ in plan.binds] == ["since"]
        assert query.rows(conn, {"since": since}) == []


def test_many_events_of_one_commit_keep_their_order_and_payloads(core: Core, live: RecordingLivePush) -> None:
    """Fifty events in one commit: seq follows emission order, and what is pushed is what is stored."""
    payloads: list[dict[str, Any]] = [
        {"n": n, "name": HOSTILE[n % len(HOSTILE)], "nested": {"list": [n, None, "Ђ"]}} for n in range(50)
    ]
    payloads[7]["name"] = "Ivan\udce8"  # a lone surrogate: JSON can escape it, UTF-8 cannot carry it
    with core.uow() as uow:
        for n, payload in enumerate(payloads):
            uow.emit("ticket.updated" if n % 2 else "call.ringing", payload, audience=f"ext:{200 + n % 3}")
        committed = uow.commit()
    assert [event["n"] for event in committed] == list(range(50))
    assert len({event["seq"] for event in committed}) == 50
    assert live.events == committed
    with core.session_factory() as session:
        stored = session.scalars(sa.select(Event).order_by(Event.seq)).all()
        assert [event_dict(row) for row in stored] == committed


def test_call_metas_are_written_and_read_back_as_they_were(core: Core) -> None:
    """New and changed call rows: hostile strings, a lone surrogate and an empty meta come back intact."""
    at = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    metas: list[dict[str, Any] | None] = [{"legs": {str(n): {"ext": text}}} for n, text in enumerate(HOSTILE)]
    metas += [{"name": "Ivan\udce8"}, None, {}]
    rows = [
        CallRow(
            id=None,
            linkedid=f"1764310000.{n}",
            direction="in",
            caller_raw=None,
            caller_name=None,
            citizen_id=None,
            state="ringing",
            started_at=at,
            meta=meta,
        )  # fmt: skip
        for n, meta in enumerate(metas)
    ]
    with core.session_factory() as session:
        call_rows.save(session, rows)
        rows[0].meta = {"legs": {"x": {"ext": '"changed"\\'}}}
        rows[0].changed = True
        call_rows.save(session, rows)
        session.commit()
    with core.session_factory() as session:
        found, _, _ = call_rows.find(session, [r.linkedid for r in rows], [])
    assert [found[r.linkedid].meta for r in rows] == [r.meta for r in rows]
    assert [found[r.linkedid].id for r in rows] == sorted(r.id for r in rows if r.id is not None)
