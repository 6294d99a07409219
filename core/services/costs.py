"""Costs per ticket: hours, materials and money, for the financial reports of each organisation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import CostEntry, Ticket, User

MAX_HOURS = Decimal(10_000)
MAX_AMOUNT = Decimal(10_000_000)
MAX_TEXT = 1000


class CostError(ValueError):
    """A cost entry that cannot be stored (bad number, negative, too large)."""


@dataclass(frozen=True, kw_only=True)
class CostInput:
    """What a user typed into the cost form (numbers as text, comma or dot decimals)."""

    hours: str | None = None
    materials: str | None = None
    amount: str | None = None
    note: str | None = None


def parse_amount(value: str | None, limit: Decimal, name: str) -> Decimal:
    """Parse "12,50" or "12.50" into a non-negative Decimal with two places."""
    text = (value or "").strip().replace(" ", "").replace(",", ".")
    if not text:
        return Decimal(0)
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise CostError(f"{name}: not a number") from exc
    if not number.is_finite() or number < 0 or number > limit:
        raise CostError(f"{name}: out of range")
    return number.quantize(Decimal("0.01"))


def add_cost(session: so.Session, ticket: Ticket, user: User, data: CostInput, *, at: datetime) -> CostEntry:
    """Add one cost entry to a ticket (the caller checks visibility and commits)."""
    hours = parse_amount(data.hours, MAX_HOURS, "hours")
    amount = parse_amount(data.amount, MAX_AMOUNT, "amount")
    materials = (data.materials or "").strip()[:MAX_TEXT] or None
    if hours == 0 and amount == 0 and materials is None:
        raise CostError("empty cost entry")
    entry = CostEntry(
        ticket_id=ticket.id,
        organisation_id=ticket.organisation_id,
        user_id=user.id,
        at=at,
        hours=hours,
        materials=materials,
        amount=amount,
        currency="BAM",
        note=(data.note or "").strip()[:MAX_TEXT] or None,
    )
    session.add(entry)
    session.flush()
    return entry


def costs_of(session: so.Session, ticket_id: int) -> dict[str, Any]:
    """Return a ticket's cost entries and their totals."""
    rows = session.execute(
        sa.select(CostEntry, User.username)
        .outerjoin(User, User.id == CostEntry.user_id)
        .where(CostEntry.ticket_id == ticket_id)
        .order_by(CostEntry.at, CostEntry.id)
    ).all()
    entries = [
        {
            "id": c.id,
            "at": c.at.isoformat(),
            "user": username,
            "hours": str(c.hours),
            "materials": c.materials,
            "amount": str(c.amount),
            "currency": c.currency,
            "note": c.note,
        }
        for c, username in rows
    ]
    hours = sum((Decimal(c.hours) for c, _ in rows), Decimal(0))
    amount = sum((Decimal(c.amount) for c, _ in rows), Decimal(0))
    return {"entries": entries, "total_hours": str(hours), "total_amount": str(amount), "currency": "BAM"}
