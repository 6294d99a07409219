"""Caller history: everything an operator should see when a number rings (the screen pop)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

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


def _tickets(session: so.Session, citizen_id: int, *, open_only: bool, limit: int) -> list[dict[str, Any]]:
    """Return a citizen's tickets, newest first, in the shape of ``views.ticket_summary``."""
    query = (
        sa.select(*_TICKET_COLUMNS)
        .outerjoin(Category, Category.id == Ticket.category_id)
        .outerjoin(Organisation, Organisation.id == Ticket.organisation_id)
        .where(Ticket.citizen_id == citizen_id)
        .order_by(Ticket.created_at.desc())
        .limit(limit)
    )
    if open_only:
        query = query.where(Ticket.status.in_([s.value for s in OPEN_STATUSES]))
    return [
        {
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
        for r in session.execute(query)
    ]


def caller_history(session: so.Session, number: str | None) -> dict[str, Any]:
    """Return name, open and recent tickets, recent calls and messages for a caller number.

    Each part is one indexed query bounded by LIMIT, so a pop stays fast with a million tickets.
    """
    phone = parse_phone(number)
    key = phone.key if phone else None
    empty: dict[str, Any] = {
        "citizen": None,
        "phone": phone.e164 if phone else None,
        "phone_raw": phone.raw if phone else number,
        "open_tickets": [],
        "recent_tickets": [],
        "recent_calls": [],
        "recent_messages": [],
    }
    if key is None:
        return empty
    citizen = session.execute(
        sa.select(Citizen.id, Citizen.name, Citizen.email, Citizen.script).where(Citizen.phone_key == key)
    ).first()
    if citizen is None:
        return empty
    # One query serves both lists in the common case: the latest tickets hold every open one unless
    # the citizen has more than MAX_OPEN tickets, and only then is a second query needed.
    latest = _tickets(session, citizen.id, open_only=False, limit=MAX_OPEN)
    open_values = {s.value for s in OPEN_STATUSES}
    open_tickets = [t for t in latest if t["status"] in open_values]
    if len(latest) == MAX_OPEN:
        open_tickets = _tickets(session, citizen.id, open_only=True, limit=MAX_OPEN)
    calls = session.execute(
        sa.select(Call.id, Call.started_at, Call.outcome, Call.operator_ext)
        .where(Call.citizen_id == citizen.id)
        .order_by(Call.started_at.desc())
        .limit(RECENT)
    )
    messages = session.execute(
        sa.select(Message.id, Message.at, Message.channel, Message.direction, sa.func.substr(Message.body, 1, 280))
        .where(Message.citizen_id == citizen.id)
        .order_by(Message.at.desc())
        .limit(RECENT)
    )
    return {
        **empty,
        "citizen": {"id": citizen.id, "name": citizen.name, "email": citizen.email, "script": citizen.script},
        "open_tickets": open_tickets,
        "recent_tickets": latest[:RECENT],
        "recent_calls": [
            {"id": c[0], "started_at": c[1].isoformat(), "outcome": c[2], "operator": c[3]} for c in calls
        ],
        "recent_messages": [
            {"id": m[0], "at": m[1].isoformat(), "channel": m[2], "direction": m[3], "body": m[4]} for m in messages
        ],
    }
