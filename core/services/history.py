"""Caller history: everything an operator should see when a number rings (the screen pop)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql as pg

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


def _newest_ids(
    session: so.Session, column: so.InstrumentedAttribute[int], owner: so.InstrumentedAttribute[int | None],
    newest: so.InstrumentedAttribute[Any], owners: Sequence[int], limit: int, *where: sa.ColumnElement[bool],
) -> sa.Subquery:  # fmt: skip
    """Return a subquery of the ``limit`` newest row ids of each owner, for any number of owners.

    PostgreSQL: a LATERAL join over the owner ids as one array parameter, so every caller costs one
    index-bounded scan (a number with thousands of tickets reads twenty) and the statement has one
    shape whatever the count, which keeps it in SQLAlchemy's cache. SQLite has no LATERAL; there a
    window over the owners' rows does the same for the small installations it serves; one owner (the
    history API, a single call) is a plain index-bounded ORDER BY … LIMIT everywhere.
    """
    if len(owners) == 1:
        newest_one = sa.select(column.label("id")).where(owner == owners[0], *where).order_by(newest.desc())
        return newest_one.limit(limit).subquery()
    if session.get_bind().dialect.name == "postgresql":
        ids = sa.func.unnest(sa.bindparam("owners", list(owners), type_=pg.ARRAY(sa.Integer))).table_valued("id")
        owner_ids = ids.render_derived(name="o")
        newest_rows = (
            sa.select(column.label("id"))
            .where(owner == owner_ids.c.id, *where)
            .order_by(newest.desc())
            .limit(limit)
            .lateral("n")
        )
        return sa.select(newest_rows.c.id).select_from(owner_ids).join(newest_rows, sa.true()).subquery()
    rank = sa.func.row_number().over(partition_by=owner, order_by=newest.desc()).label("rank")
    ranked = sa.select(column.label("id"), rank).where(owner.in_(owners), *where).subquery()
    return sa.select(ranked.c.id).where(ranked.c.rank <= limit).subquery()


def _tickets_of(
    session: so.Session, owners: Sequence[int], *, open_only: bool, limit: int
) -> dict[int, list[dict[str, Any]]]:
    """Return each citizen's newest tickets (all, or open ones), newest first, in one round trip."""
    where = [Ticket.status.in_([s.value for s in OPEN_STATUSES])] if open_only else []
    ids = _newest_ids(session, Ticket.id, Ticket.citizen_id, Ticket.created_at, owners, limit, *where)
    query = (
        sa.select(*_TICKET_COLUMNS, Ticket.citizen_id)
        .join(ids, ids.c.id == Ticket.id)
        .outerjoin(Category, Category.id == Ticket.category_id)
        .outerjoin(Organisation, Organisation.id == Ticket.organisation_id)
        .order_by(Ticket.citizen_id, Ticket.created_at.desc(), Ticket.id.desc())
    )
    found: dict[int, list[dict[str, Any]]] = {o: [] for o in owners}
    for r in session.execute(query):
        found[r.citizen_id or 0].append(_ticket_row(r))
    return found


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


def caller_histories(session: so.Session, numbers: Collection[str | None]) -> dict[str | None, dict[str, Any]]:
    """Return the history of several caller numbers at once, keyed by the number as given.

    Twenty phones ringing at once (a burst after a water main breaks) cost five round trips, not a
    hundred: citizens, tickets, calls and messages are each one query over every caller, and every
    part stays bounded by LIMIT per caller, so a pop stays fast with a million tickets.
    """
    result = {number: _empty(number) for number in numbers}
    keys: dict[str, list[str | None]] = {}
    for number in result:
        phone = parse_phone(number)
        if phone is not None and phone.key is not None:
            keys.setdefault(phone.key, []).append(number)
    if not keys:
        return result
    people = session.execute(
        sa.select(Citizen.id, Citizen.phone_key, Citizen.name, Citizen.email, Citizen.script).where(
            Citizen.phone_key.in_(keys)
        )
    ).all()
    if not people:
        return result
    owners = sorted(p.id for p in people)
    # One query serves both lists in the common case: the latest tickets hold every open one unless
    # the citizen has more than MAX_OPEN tickets, and only then is a second query needed.
    latest = _tickets_of(session, owners, open_only=False, limit=MAX_OPEN)
    crowded = [o for o in owners if len(latest[o]) == MAX_OPEN]
    open_lists = _tickets_of(session, crowded, open_only=True, limit=MAX_OPEN) if crowded else {}
    call_ids = _newest_ids(session, Call.id, Call.citizen_id, Call.started_at, owners, RECENT)
    calls: dict[int, list[dict[str, Any]]] = {o: [] for o in owners}
    for c in session.execute(
        sa.select(Call.citizen_id, Call.id, Call.started_at, Call.outcome, Call.operator_ext)
        .join(call_ids, call_ids.c.id == Call.id)
        .order_by(Call.citizen_id, Call.started_at.desc(), Call.id.desc())
    ):
        calls[c[0] or 0].append({"id": c[1], "started_at": c[2].isoformat(), "outcome": c[3], "operator": c[4]})
    message_ids = _newest_ids(session, Message.id, Message.citizen_id, Message.at, owners, RECENT)
    messages: dict[int, list[dict[str, Any]]] = {o: [] for o in owners}
    for m in session.execute(
        sa.select(
            Message.citizen_id, Message.id, Message.at, Message.channel, Message.direction,
            sa.func.substr(Message.body, 1, 280),
        )
        .join(message_ids, message_ids.c.id == Message.id)
        .order_by(Message.citizen_id, Message.at.desc(), Message.id.desc())
    ):  # fmt: skip
        messages[m[0] or 0].append(
            {"id": m[1], "at": m[2].isoformat(), "channel": m[3], "direction": m[4], "body": m[5]}
        )
    open_values = {s.value for s in OPEN_STATUSES}
    for person in people:
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
