"""Possible duplicates: open tickets of the same category at the same place, reported recently.

A water cut is reported by a dozen people within an hour; the operator should add the caller to the
existing ticket (or link it into the cluster) instead of opening a thirteenth.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import Ticket
from core.domain.tickets import OPEN_STATUSES
from core.services.views import ticket_summary
from core.text import fold

WINDOW = timedelta(days=7)
LIMIT = 5


def possible_duplicates(
    session: so.Session,
    *,
    category_id: int | None,
    place_id: int | None,
    place: str | None,
    now: datetime,
    exclude_codes: tuple[str, ...] = (),
    window: timedelta = WINDOW,
    limit: int = LIMIT,
) -> list[dict[str, Any]]:
    """Return up to ``limit`` open tickets with this category and place from the last ``window``, newest first."""
    if category_id is None or (place_id is None and not (place and place.strip())):
        return []  # without both a category and a place, "same problem" is a guess we do not make
    query = sa.select(Ticket).where(
        Ticket.category_id == category_id,
        Ticket.created_at >= now - window,
        Ticket.status.in_([s.value for s in OPEN_STATUSES]),
    )
    if place_id is not None:
        query = query.where(Ticket.place_id == place_id)
    else:
        folded = fold(place or "")
        needle = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Ticket.search_text.like(f"%{needle}%", escape="\\"))
    if exclude_codes:
        query = query.where(Ticket.code.not_in(exclude_codes))
    rows = session.scalars(query.order_by(Ticket.created_at.desc()).limit(limit)).unique().all()
    out = []
    for ticket in rows:
        item = ticket_summary(ticket)
        item["cluster_id"] = ticket.cluster_id
        item["description"] = ticket.description[:200]
        out.append(item)
    return out
