"""Health of the parts: each daemon reports its device state; /readyz reads it back."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import ComponentStatus

COMPONENTS = ("ami", "modem", "transcription", "mail")
# A daemon that stopped reporting is as good as down: its last "ok" is not trusted beyond this.
STALE_AFTER = timedelta(minutes=3)


def report_status(session: so.Session, name: str, state: str, detail: str | None, now: datetime) -> bool:
    """Record a component's state; return True when it changed (so callers emit link.status once)."""
    row = session.get(ComponentStatus, name)
    if row is None:
        session.add(ComponentStatus(name=name, state=state, detail=detail, updated_at=now))
        return True
    changed = row.state != state
    row.state, row.detail, row.updated_at = state, detail, now
    return changed


def component_states(session: so.Session, now: datetime) -> dict[str, str]:
    """Return every component's state; unknown ones are 'not configured', silent ones 'down'."""
    states = dict.fromkeys(COMPONENTS, "not configured")
    for row in session.scalars(sa.select(ComponentStatus)):
        stale = row.state == "ok" and now - row.updated_at > STALE_AFTER
        states[row.name] = "down" if stale else row.state
    return states
