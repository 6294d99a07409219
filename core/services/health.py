"""Health of the parts: each daemon reports its device state; /readyz reads it back."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import ComponentStatus
from core.db.uow import UnitOfWork, once_more_on_conflict

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


def report_link(
    uow: UnitOfWork, component: str, state: str, detail: str | None, at: datetime, *, shown_as: str | None = None
) -> bool:
    """Record a component's state in its own transaction; tell operators (``link.status``) when it changed.

    ``shown_as`` is the state operators see, where it is worded apart from the health state (the AMI
    link is "up" when it is "ok"). Two daemons starting at once (a restart overlapping the old
    process) both find no row and both insert it: the loser runs once more and updates the row.
    """

    def once() -> bool:
        with uow:
            changed = report_status(uow.session, component, state, detail, at)
            if changed:
                uow.emit("link.status", {"component": component, "state": shown_as or state, "detail": detail})
            uow.commit()
            return changed

    return once_more_on_conflict(once)


def component_states(session: so.Session, now: datetime) -> dict[str, str]:
    """Return every component's state; unknown ones are 'not configured', silent ones 'down'."""
    states = dict.fromkeys(COMPONENTS, "not configured")
    for row in session.scalars(sa.select(ComponentStatus)):
        stale = row.state == "ok" and now - row.updated_at > STALE_AFTER
        states[row.name] = "down" if stale else row.state
    return states
