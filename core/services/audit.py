"""The audit log: append-only rows of who viewed or changed what (ASVS 16.3.2: PII reads are logged too)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import AuditEvent, User

MAX_LIMIT = 500
MAX_REASON = 300


@dataclass(frozen=True, kw_only=True)
class Actor:
    """Who acts, and from where (copied off the request by the web layer)."""

    user_id: int | None
    role: str | None
    ip: str | None = None
    user_agent: str | None = None


def one_line(value: str | None, limit: int) -> str | None:
    """Collapse whitespace (CR/LF would forge log lines) and bound the length."""
    if not value:
        return None
    return " ".join(value.split())[:limit] or None


def record(
    session: so.Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int | None,
    *,
    at: datetime,
    fields: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEvent:
    """Add one audit row to the session (the caller commits it with its own change, or alone for a read)."""
    row = AuditEvent(
        at=at,
        actor_id=actor.user_id,
        role=actor.role,
        action=action[:40],
        object_type=object_type[:40],
        object_id=None if object_id is None else str(object_id)[:80],
        fields_changed=fields,
        ip=one_line(actor.ip, 64),
        user_agent=one_line(actor.user_agent, 300),
        reason=one_line(reason, MAX_REASON),
    )
    session.add(row)
    return row


def recent(
    session: so.Session, *, limit: int = 100, action: str | None = None, object_id: str | None = None
) -> list[dict[str, Any]]:
    """Return the newest audit rows with the actor's username, for supervisors."""
    query = (
        sa.select(AuditEvent, User.username)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )
    if action:
        query = query.where(AuditEvent.action == action)
    if object_id:
        query = query.where(AuditEvent.object_id == object_id)
    rows = session.execute(query.limit(max(1, min(limit, MAX_LIMIT)))).all()
    return [
        {
            "id": event.id,
            "at": event.at.isoformat(),
            "actor": username,
            "role": event.role,
            "action": event.action,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "fields": event.fields_changed,
            "ip": event.ip,
            "reason": event.reason,
        }
        for event, username in rows
    ]
