"""The call rows of the daemon's group commit, read and written as plain rows instead of ORM objects.

A burst of twenty ringing calls is opened, noted and popped in one transaction (``calls.open_and_ring``)
on the path of every operator's pop. Through the ORM, building, tracking and flushing twenty ``Call``
objects cost more than the SQL itself, and the multi-row INSERT had a new text for every number of
rows, which psycopg parses anew each time. Here every step is one statement: on PostgreSQL a fixed
text over array parameters (``unnest``), run on the driver's cursor (core.db.fixed); elsewhere
(SQLite) the equivalent Core statements.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql as pg

from core.db.base import BigId
from core.db.fixed import FixedQuery, run_all
from core.db.models import Call, Citizen, Ticket
from core.jsontext import to_json

CALL = Call.__table__


@dataclass(slots=True, kw_only=True)
class CallRow:
    """One call as the group commit sees it (the columns of ``call``, plus its ticket's code)."""

    id: int | None  # None until inserted
    linkedid: str
    direction: str
    caller_raw: str | None
    caller_name: str | None
    citizen_id: int | None
    operator_ext: str | None = None
    operator_id: int | None = None
    state: str
    outcome: str | None = None
    started_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    ticket_id: int | None = None
    queue: str | None = None
    callback_due_at: datetime | None = None
    callback_done_at: datetime | None = None
    meta: dict[str, Any] | None = None
    ticket_code: str | None = None
    changed: bool = field(default=False, compare=False)  # an existing row whose meta or queue must be written


_SELECT = sa.select(
    *CALL.c,
    sa.select(Ticket.code).where(Ticket.id == Call.ticket_id).scalar_subquery().label("ticket_code"),
)
_PG_FIND = FixedQuery(_SELECT.where(Call.linkedid == sa.any_(sa.bindparam("linkedids", type_=pg.ARRAY(sa.String)))))
_PG_CITIZENS = FixedQuery(
    sa.select(Citizen.phone_key, Citizen.id).where(
        Citizen.phone_key == sa.any_(sa.bindparam("keys", type_=pg.ARRAY(sa.String)))
    )
)
# One fixed text for any number of calls; the metas go as one JSON array, as the events' payloads do
# (core.db.uow). The ORDER BY keeps ids in the order the calls arrived.
_PG_INSERT = FixedQuery(
    sa.text(
        "INSERT INTO call (linkedid, direction, caller_raw, caller_name, citizen_id, state, started_at, queue, meta)"
        " SELECT u.linkedid, u.direction, u.caller_raw, u.caller_name, u.citizen_id, u.state, u.started_at,"
        " u.queue, u.meta"
        " FROM ROWS FROM (unnest(CAST(:linkedids AS text[])), unnest(CAST(:directions AS text[])),"
        " unnest(CAST(:caller_raws AS text[])), unnest(CAST(:caller_names AS text[])),"
        " unnest(CAST(:citizen_ids AS bigint[])), unnest(CAST(:states AS text[])),"
        " unnest(CAST(:started AS timestamptz[])), unnest(CAST(:queues AS text[])),"
        " json_array_elements(CAST(:metas AS json)))"
        " WITH ORDINALITY AS u(linkedid, direction, caller_raw, caller_name, citizen_id, state, started_at, queue,"
        " meta, ord) ORDER BY u.ord RETURNING id, linkedid"
    ).columns(sa.column("id", BigId), sa.column("linkedid", sa.String)),
)
_PG_UPDATE = FixedQuery(
    sa.text(
        "UPDATE call SET meta = u.meta, queue = u.queue"
        " FROM ROWS FROM (unnest(CAST(:ids AS bigint[])), json_array_elements(CAST(:metas AS json)),"
        " unnest(CAST(:queues AS text[]))) AS u(id, meta, queue)"
        " WHERE call.id = u.id RETURNING call.id"
    ).columns(sa.column("id", BigId)),
)


_FIELDS = (*CALL.c.keys(), "ticket_code")


def _row(found: Any) -> CallRow:
    return CallRow(**{name: getattr(found, name) for name in _FIELDS})


def find(
    session: so.Session,
    linkedids: Collection[str],
    keys: Collection[str],
    also: Sequence[tuple[FixedQuery, Mapping[str, Any]]] = (),
) -> tuple[dict[str, CallRow], dict[str, int], list[Sequence[Any]]]:
    """Return the existing calls of these Linkedids (by Linkedid) and the citizen id of each phone key.

    On PostgreSQL both reads go in one round trip, with the statements ``also`` (the callers'
    histories, say), whose rows come third.
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        calls, citizens, *more = run_all(
            conn, [(_PG_FIND, {"linkedids": list(linkedids)}), (_PG_CITIZENS, {"keys": list(keys)}), *also]
        )
    else:
        calls = conn.execute(_SELECT.where(Call.linkedid.in_(linkedids))).all()
        by_key = sa.select(Citizen.phone_key, Citizen.id).where(Citizen.phone_key.in_(keys))
        citizens = conn.execute(by_key).all() if keys else []
        more = run_all(conn, also) if also else []
    return {row.linkedid: _row(row) for row in calls}, {key: cid for key, cid in citizens if key is not None}, more


def save(session: so.Session, calls: Collection[CallRow]) -> None:
    """Insert the new calls (setting their ids) and write the changed meta and queue of existing ones.

    A Linkedid another writer inserted meanwhile fails the INSERT with an IntegrityError, as the ORM
    flush did, so the caller can run its unit of work once more and find that row.
    """
    new = [c for c in calls if c.id is None]
    changed = [c for c in calls if c.id is not None and c.changed]
    if any(c.started_at.tzinfo is None for c in new):
        raise ValueError("naive datetime given to a UTC column")  # as UtcDateTime refuses it
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        if new:
            ids = {
                row.linkedid: row.id
                for row in _PG_INSERT.rows(
                    conn,
                    {
                        "linkedids": [c.linkedid for c in new],
                        "directions": [c.direction for c in new],
                        "caller_raws": [c.caller_raw for c in new],
                        "caller_names": [c.caller_name for c in new],
                        "citizen_ids": [c.citizen_id for c in new],
                        "states": [c.state for c in new],
                        "started": [c.started_at for c in new],
                        "queues": [c.queue for c in new],
                        "metas": to_json([c.meta for c in new]),
                    },
                )
            }
            for c in new:
                c.id = ids[c.linkedid]
        if changed:
            params = {"ids": [c.id for c in changed], "metas": to_json([c.meta for c in changed]),
                      "queues": [c.queue for c in changed]}  # fmt: skip
            if len(_PG_UPDATE.rows(conn, params)) != len(changed):  # as the ORM's flush checks
                raise so.exc.StaleDataError(f"{len(changed)} calls to update, not all found")
    else:
        if new:
            insert = sa.insert(Call).returning(Call.id, sort_by_parameter_order=True)
            columns = ("linkedid", "direction", "caller_raw", "caller_name", "citizen_id", "state", "started_at",
                       "queue", "meta")  # fmt: skip
            inserted = conn.execute(insert, [{name: getattr(c, name) for name in columns} for c in new]).all()
            for c, (new_id,) in zip(new, inserted, strict=True):
                c.id = new_id
        if changed:
            update = (
                sa.update(Call)
                .where(Call.id == sa.bindparam("b_id"))
                .values(meta=sa.bindparam("b_meta"), queue=sa.bindparam("b_queue"))
            )
            done = conn.execute(update, [{"b_id": c.id, "b_meta": c.meta, "b_queue": c.queue} for c in changed])
            if done.rowcount != len(changed):
                raise so.exc.StaleDataError(f"{len(changed)} calls to update, not all found")
    for c in changed:
        c.changed = False
