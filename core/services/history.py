"""Caller history: everything an operator should see when a number rings (the screen pop)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql as pg

from core.db.fixed import FixedQuery, run_all
from core.db.models import Call, Category, Citizen, Message, Organisation, Ticket
from core.domain.tickets import OPEN_STATUSES
from core.i18n import status_label
from core.phones import parse_phone

RECENT = 5
MAX_OPEN = 20

# Column-level queries, not ORM objects: the pop sits on the path of a ringing phone, and building
# entities with their joined relationships cost more than the SQL itself (bench/history.py).
_TICKET_COLUMNS = (
    Ticket.id,
    Ticket.code,
    Ticket.status,
    Ticket.channel,
    Category.code.label("category"),
    Organisation.code.label("organisation"),
    Ticket.place,
    Ticket.priority,
    Ticket.created_at,
    Ticket.answer_due,
    Ticket.resolve_due,
    Ticket.answered_at,
)


def _ticket_row(r: Any) -> dict[str, Any]:
    """Return one ticket row in the shape of ``views.ticket_summary``."""
    return {
        "id": r.id,
        "code": r.code,
        "status": r.status,
        "status_label": status_label(r.status),
        "channel": r.channel,
        "category": r.category,
        "organisation": r.organisation,
        "place": r.place,
        "priority": r.priority,
        "created_at": r.created_at.isoformat(),
        "answer_due": r.answer_due.isoformat(),
        "resolve_due": r.resolve_due.isoformat(),
        "answered_at": r.answered_at.isoformat() if r.answered_at else None,
    }


def _latest(
    columns: Sequence[Any], ident: so.InstrumentedAttribute[int], owner: so.InstrumentedAttribute[int | None],
    newest: so.InstrumentedAttribute[Any], limit: int, *where: sa.ColumnElement[bool],
) -> tuple[sa.Subquery, sa.sql.selectable.LateralFromClause]:  # fmt: skip
    """PostgreSQL: the ``limit`` newest rows of each citizen whose phone key is in the ``keys`` array.

    A LATERAL join over those citizens, so every caller costs one index-bounded scan (a number with
    thousands of tickets reads twenty) and one statement text serves any number of callers. Keyed by
    phone, not by citizen id, so it needs no earlier read and goes in the same round trip; the columns
    come straight from the scan, without a second look-up of each row by id.
    """
    owners = (
        sa.select(Citizen.id)
        .where(Citizen.phone_key == sa.any_(sa.bindparam("keys", type_=pg.ARRAY(sa.String))))
        .subquery("o")
    )
    # Ties on the timestamp go to the newer id, as in the portable form, so both pick the same rows.
    rows = sa.select(*columns).where(owner == owners.c.id, *where).order_by(newest.desc(), ident.desc()).limit(limit)
    return owners, rows.lateral("n")


def _pg_tickets(*where: sa.ColumnElement[bool]) -> sa.Select[*tuple[Any, ...]]:
    owners, n = _latest(
        [Ticket.id, Ticket.code, Ticket.status, Ticket.channel, Ticket.category_id, Ticket.organisation_id,
         Ticket.place, Ticket.priority, Ticket.created_at, Ticket.answer_due, Ticket.resolve_due, Ticket.answered_at,
         Ticket.citizen_id],
        Ticket.id, Ticket.citizen_id, Ticket.created_at, MAX_OPEN, *where,
    )  # fmt: skip
    return (
        sa.select(
            n.c.id,
            n.c.code,
            n.c.status,
            n.c.channel,
            Category.code.label("category"),
            Organisation.code.label("organisation"),
            n.c.place,
            n.c.priority,
            n.c.created_at,
            n.c.answer_due,
            n.c.resolve_due,
            n.c.answered_at,
            n.c.citizen_id,
        )
        .select_from(owners)
        .join(n, sa.true())
        .outerjoin(Category, Category.id == n.c.category_id)
        .outerjoin(Organisation, Organisation.id == n.c.organisation_id)
        .order_by(n.c.citizen_id, n.c.created_at.desc(), n.c.id.desc())
    )


def _pg_recent(columns: Sequence[Any], ident: so.InstrumentedAttribute[int], owner: so.InstrumentedAttribute[int | None],
               newest: so.InstrumentedAttribute[Any]) -> sa.Select[*tuple[Any, ...]]:  # fmt: skip
    owners, n = _latest(columns, ident, owner, newest, RECENT)
    return (
        sa.select(*n.c)
        .select_from(owners)
        .join(n, sa.true())
        .order_by(n.c.citizen_id, n.c[newest.key].desc(), n.c.id.desc())
    )


def _portable_ids(
    column: so.InstrumentedAttribute[int], owner: so.InstrumentedAttribute[int | None],
    newest: so.InstrumentedAttribute[Any], owners: Sequence[int], limit: int, *where: sa.ColumnElement[bool],
) -> sa.Subquery:  # fmt: skip
    """Elsewhere (SQLite, for the small installations it serves), the same with a window over the owners' rows.

    One owner (the history API, a single call) is a plain index-bounded ORDER BY … LIMIT.
    """
    if len(owners) == 1:
        newest_one = sa.select(column.label("id")).where(owner == owners[0], *where)
        return newest_one.order_by(newest.desc(), column.desc()).limit(limit).subquery()
    rank = sa.func.row_number().over(partition_by=owner, order_by=(newest.desc(), column.desc())).label("rank")
    ranked = sa.select(column.label("id"), rank).where(owner.in_(owners), *where).subquery()
    return sa.select(ranked.c.id).where(ranked.c.rank <= limit).subquery()


def _tickets_query(ids: sa.Subquery) -> sa.Select[*tuple[Any, ...]]:
    return (
        sa.select(*_TICKET_COLUMNS, Ticket.citizen_id)
        .join(ids, ids.c.id == Ticket.id)
        .outerjoin(Category, Category.id == Ticket.category_id)
        .outerjoin(Organisation, Organisation.id == Ticket.organisation_id)
        .order_by(Ticket.citizen_id, Ticket.created_at.desc(), Ticket.id.desc())
    )


_CALL_COLUMNS = (Call.citizen_id, Call.id, Call.started_at, Call.outcome, Call.operator_ext)
_MESSAGE_COLUMNS = (
    Message.citizen_id, Message.id, Message.at, Message.channel, Message.direction,
    sa.func.substr(Message.body, 1, 280).label("body"),
)  # fmt: skip


def _calls_query(ids: sa.Subquery) -> sa.Select[*tuple[Any, ...]]:
    return (
        sa.select(*_CALL_COLUMNS)
        .join(ids, ids.c.id == Call.id)
        .order_by(Call.citizen_id, Call.started_at.desc(), Call.id.desc())
    )


def _messages_query(ids: sa.Subquery) -> sa.Select[*tuple[Any, ...]]:
    return (
        sa.select(*_MESSAGE_COLUMNS)
        .join(ids, ids.c.id == Message.id)
        .order_by(Message.citizen_id, Message.at.desc(), Message.id.desc())
    )


def _people_query(keys: sa.ColumnElement[bool]) -> sa.Select[*tuple[Any, ...]]:
    return sa.select(Citizen.id, Citizen.phone_key, Citizen.name, Citizen.email, Citizen.script).where(keys)


_OPEN = [s.value for s in OPEN_STATUSES]

# The pop sits on the path of a ringing phone: on PostgreSQL these run as fixed statements on the
# driver's cursor (core.db.fixed), compiled once, with the callers' phone keys as one array parameter.
_PG_PEOPLE = FixedQuery(_people_query(Citizen.phone_key == sa.any_(sa.bindparam("keys", type_=pg.ARRAY(sa.String)))))
_PG_TICKETS = FixedQuery(_pg_tickets())
_PG_OPEN_TICKETS = FixedQuery(
    _pg_tickets(Ticket.status == sa.any_(sa.bindparam("open", _OPEN, type_=pg.ARRAY(sa.String))))
)
_PG_CALLS = FixedQuery(_pg_recent(_CALL_COLUMNS, Call.id, Call.citizen_id, Call.started_at))
_PG_MESSAGES = FixedQuery(_pg_recent(_MESSAGE_COLUMNS, Message.id, Message.citizen_id, Message.at))


@dataclass(frozen=True)
class _Found:
    """The rows of one history read: the callers, their latest tickets, calls and messages."""

    people: Sequence[Any]
    tickets: Sequence[Any]
    calls: Sequence[Any]
    messages: Sequence[Any]


def _read(session: so.Session, keys: Collection[str]) -> _Found:
    """Read the callers of these phone keys and their latest tickets, calls and messages.

    PostgreSQL: four fixed statements in one round trip. Elsewhere: the callers first, then the
    portable statements over their ids.
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        by_keys = {"keys": list(keys)}
        people, tickets, calls, messages = run_all(
            conn, [(_PG_PEOPLE, by_keys), (_PG_TICKETS, by_keys), (_PG_CALLS, by_keys), (_PG_MESSAGES, by_keys)]
        )
        return _Found(people, tickets, calls, messages)
    people = session.execute(_people_query(Citizen.phone_key.in_(keys))).all()
    if not people:
        return _Found(people, [], [], [])
    owners = sorted(p.id for p in people)
    ticket_ids = _portable_ids(Ticket.id, Ticket.citizen_id, Ticket.created_at, owners, MAX_OPEN)
    call_ids = _portable_ids(Call.id, Call.citizen_id, Call.started_at, owners, RECENT)
    message_ids = _portable_ids(Message.id, Message.citizen_id, Message.at, owners, RECENT)
    return _Found(
        people,
        session.execute(_tickets_query(ticket_ids)).all(),
        session.execute(_calls_query(call_ids)).all(),
        session.execute(_messages_query(message_ids)).all(),
    )


def _open_tickets(session: so.Session, people: Sequence[Any]) -> Sequence[Any]:
    """Read the latest open tickets of these callers (those with more tickets than one read holds)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        return _PG_OPEN_TICKETS.rows(conn, {"keys": [p.phone_key for p in people]})
    owners = sorted(p.id for p in people)
    ids = _portable_ids(Ticket.id, Ticket.citizen_id, Ticket.created_at, owners, MAX_OPEN, Ticket.status.in_(_OPEN))
    return session.execute(_tickets_query(ids)).all()


def _by_owner(
    owners: Collection[int], rows: Sequence[Any], row: Callable[[Any], dict[str, Any]]
) -> dict[int, list[dict[str, Any]]]:
    """Group rows (ordered by owner, newest first) into each owner's list.

    On PostgreSQL each read keys on the phone numbers and takes its own snapshot, so a citizen
    created for one of them between the reads can bring rows of an owner not read: they are left out.
    """
    found: dict[int, list[dict[str, Any]]] = {o: [] for o in owners}
    for r in rows:
        own = found.get(r.citizen_id)
        if own is not None:
            own.append(row(r))
    return found


def _call_row(c: Any) -> dict[str, Any]:
    return {"id": c.id, "started_at": c.started_at.isoformat(), "outcome": c.outcome, "operator": c.operator_ext}


def _message_row(m: Any) -> dict[str, Any]:
    return {"id": m.id, "at": m.at.isoformat(), "channel": m.channel, "direction": m.direction, "body": m.body}


def _empty(number: str | None) -> dict[str, Any]:
    phone = parse_phone(number)
    return {
        "citizen": None,
        "phone": phone.e164 if phone else None,
        "phone_raw": phone.raw if phone else number,
        "open_tickets": [],
        "recent_tickets": [],
        "recent_calls": [],
        "recent_messages": [],
    }


def caller_history(session: so.Session, number: str | None) -> dict[str, Any]:
    """Return name, open and recent tickets, recent calls and messages for a caller number."""
    return caller_histories(session, [number])[number]


def _keys(numbers: Collection[str | None]) -> dict[str, list[str | None]]:
    """Return the numbers by phone key (numbers that are no phone number left out)."""
    keys: dict[str, list[str | None]] = {}
    for number in numbers:
        phone = parse_phone(number)
        if phone is not None and phone.key is not None:
            keys.setdefault(phone.key, []).append(number)
    return keys


def read_ahead(session: so.Session, numbers: Collection[str | None]) -> list[tuple[FixedQuery, Mapping[str, Any]]]:
    """Return the statements of the history read of these numbers, for a caller to send with its own.

    PostgreSQL only (elsewhere: none, and ``caller_histories`` reads as usual). The statements key on
    the phone numbers alone, so they need no earlier read and can share the caller's round trip; their
    rows, in order, go to ``caller_histories(session, numbers, rows)`` with the same numbers.
    """
    keys = _keys(numbers)
    if not keys or session.connection().dialect.name != "postgresql":
        return []
    by_keys = {"keys": list(keys)}
    return [(_PG_PEOPLE, by_keys), (_PG_TICKETS, by_keys), (_PG_CALLS, by_keys), (_PG_MESSAGES, by_keys)]


def caller_histories(
    session: so.Session, numbers: Collection[str | None], rows: Sequence[Sequence[Any]] | None = None
) -> dict[str | None, dict[str, Any]]:
    """Return the history of several caller numbers at once, keyed by the number as given.

    Twenty phones ringing at once (a burst after a water main breaks) cost one round trip on
    PostgreSQL, not a hundred: citizens, tickets, calls and messages are each one query over every
    caller, and every part stays bounded by LIMIT per caller, so a pop stays fast with a million tickets.
    ``rows``: what the statements of ``read_ahead`` for these numbers returned, if the caller ran them.
    """
    result = {number: _empty(number) for number in numbers}
    keys = _keys(result)
    if not keys:
        return result
    found = _Found(*rows) if rows else _read(session, keys)
    if not found.people:
        return result
    owners = {p.id for p in found.people}
    latest = _by_owner(owners, found.tickets, _ticket_row)
    # One read serves both lists in the common case: the latest tickets hold every open one unless
    # the citizen has more than MAX_OPEN tickets, and only then is a second read needed.
    crowded = [p for p in found.people if len(latest[p.id]) == MAX_OPEN]
    open_lists = _by_owner([p.id for p in crowded], _open_tickets(session, crowded), _ticket_row) if crowded else {}
    calls = _by_owner(owners, found.calls, _call_row)
    messages = _by_owner(owners, found.messages, _message_row)
    open_values = set(_OPEN)
    for person in found.people:
        own = latest[person.id]
        for number in keys[person.phone_key]:
            result[number] = {
                **result[number],
                "citizen": {"id": person.id, "name": person.name, "email": person.email, "script": person.script},
                "open_tickets": open_lists[person.id]
                if person.id in open_lists
                else [t for t in own if t["status"] in open_values],
                "recent_tickets": own[:RECENT],
                "recent_calls": calls[person.id],
                "recent_messages": messages[person.id],
            }
    return result
