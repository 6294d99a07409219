"""Read models: how tickets and their history look to staff (JSON-ready dicts)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import StatusChange, Ticket
from core.i18n import status_label


def ticket_summary(ticket: Ticket) -> dict[str, Any]:
    """Return the short form used in live events and lists."""
    return {
        "id": ticket.id,
        "code": ticket.code,
        "status": ticket.status,
        "status_label": status_label(ticket.status),
        "channel": ticket.channel,
        "category": ticket.category.code if ticket.category else None,
        "organisation": ticket.organisation.code if ticket.organisation else None,
        "place": ticket.place,
        "priority": ticket.priority,
        "created_at": ticket.created_at.isoformat(),
        "answer_due": ticket.answer_due.isoformat(),
        "resolve_due": ticket.resolve_due.isoformat(),
        "answered_at": ticket.answered_at.isoformat() if ticket.answered_at else None,
    }


def ticket_detail(session: so.Session, ticket: Ticket) -> dict[str, Any]:
    """Return the full staff view of a ticket: summary, citizen, routing, deadlines and history."""
    citizen = ticket.citizen
    data = ticket_summary(ticket)
    data.update(
        {
            "description": ticket.description,
            "category": ({"code": ticket.category.code, "name": ticket.category.name} if ticket.category else None),
            "organisation": (
                {
                    "code": ticket.organisation.code,
                    "name": ticket.organisation.name,
                    "kind": ticket.organisation.kind,
                }
                if ticket.organisation
                else None
            ),
            "citizen": (
                {
                    "id": citizen.id,
                    "phone": citizen.phone_e164,
                    "phone_raw": citizen.phone_raw,
                    "name": citizen.name,
                    "email": citizen.email,
                }
                if citizen
                else None
            ),
            "updated_at": ticket.updated_at.isoformat(),
            "resolved_at": ticket.resolved_at.isoformat() if ticket.resolved_at else None,
            "warned_at": ticket.warned_at.isoformat() if ticket.warned_at else None,
            "escalated_at": ticket.escalated_at.isoformat() if ticket.escalated_at else None,
            "breached_at": ticket.breached_at.isoformat() if ticket.breached_at else None,
            "resolve_breached_at": ticket.resolve_breached_at.isoformat() if ticket.resolve_breached_at else None,
            "history": [history_entry(h) for h in history_of(session, ticket.id)],
        }
    )
    return data


def history_of(session: so.Session, ticket_id: int) -> list[StatusChange]:
    """Return a ticket's history in order."""
    return list(
        session.scalars(
            sa.select(StatusChange)
            .where(StatusChange.ticket_id == ticket_id)
            .order_by(StatusChange.at, StatusChange.id)
        )
    )


def history_entry(h: StatusChange) -> dict[str, Any]:
    """Render one history line for staff."""
    return {
        "at": h.at.isoformat(),
        "kind": h.kind,
        "actor": h.actor_label,
        "actor_id": h.actor_id,
        "from_status": h.from_status,
        "to_status": h.to_status,
        "public_note": h.public_note,
        "internal_note": h.internal_note,
    }
