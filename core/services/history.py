"""Caller history: everything an operator should see when a number rings (the screen pop)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import Call, Citizen, Message, Ticket
from core.domain.tickets import OPEN_STATUSES
from core.phones import parse_phone
from core.services.views import ticket_summary

RECENT = 5


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
    citizen = session.scalar(sa.select(Citizen).where(Citizen.phone_key == key))
    if citizen is None:
        return empty
    open_values = [s.value for s in OPEN_STATUSES]
    open_tickets = session.scalars(
        sa.select(Ticket)
        .where(Ticket.citizen_id == citizen.id, Ticket.status.in_(open_values))
        .order_by(Ticket.created_at.desc())
        .limit(20)
    ).all()
    recent = session.scalars(
        sa.select(Ticket).where(Ticket.citizen_id == citizen.id).order_by(Ticket.created_at.desc()).limit(RECENT)
    ).all()
    calls = session.scalars(
        sa.select(Call).where(Call.citizen_id == citizen.id).order_by(Call.started_at.desc()).limit(RECENT)
    ).all()
    messages = session.scalars(
        sa.select(Message).where(Message.citizen_id == citizen.id).order_by(Message.at.desc()).limit(RECENT)
    ).all()
    return {
        **empty,
        "citizen": {"id": citizen.id, "name": citizen.name, "email": citizen.email, "script": citizen.script},
        "open_tickets": [ticket_summary(t) for t in open_tickets],
        "recent_tickets": [ticket_summary(t) for t in recent],
        "recent_calls": [
            {"id": c.id, "started_at": c.started_at.isoformat(), "outcome": c.outcome, "operator": c.operator_ext}
            for c in calls
        ],
        "recent_messages": [
            {"id": m.id, "at": m.at.isoformat(), "channel": m.channel, "direction": m.direction, "body": m.body[:280]}
            for m in messages
        ],
    }
