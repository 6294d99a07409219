"""Supervisor figures: escalations, on-time rate per organisation, breaches, and today's calls."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import Call, Organisation, Ticket
from core.domain.tickets import OPEN_STATUSES
from core.services.views import ticket_summary

MIN_SAMPLE = 5  # fewer decided tickets than this and a percentage says more about chance than work
PERIOD = timedelta(days=30)
LIST_LIMIT = 50


def _open() -> list[str]:
    return [s.value for s in OPEN_STATUSES]


def escalations(session: so.Session, *, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
    """Return open tickets escalated to supervisors, most urgent deadline first."""
    rows = session.scalars(
        sa.select(Ticket)
        .where(Ticket.escalated_at.is_not(None), Ticket.status.in_(_open()))
        .order_by(Ticket.answer_due, Ticket.id)
        .limit(limit)
    ).unique()
    return [ticket_summary(t) for t in rows]


def breaches(
    session: so.Session, *, now: datetime, period: timedelta = PERIOD, limit: int = LIST_LIMIT
) -> list[dict[str, Any]]:
    """Return tickets whose 48-hour answer deadline was breached in the period, newest first."""
    rows = session.scalars(
        sa.select(Ticket)
        .where(Ticket.breached_at.is_not(None), Ticket.breached_at >= now - period)
        .order_by(Ticket.breached_at.desc(), Ticket.id.desc())
        .limit(limit)
    ).unique()
    out = []
    for t in rows:
        item = ticket_summary(t)
        item["breached_at"] = t.breached_at.isoformat() if t.breached_at else None
        out.append(item)
    return out


def on_time_rates(session: so.Session, *, now: datetime, period: timedelta = PERIOD) -> list[dict[str, Any]]:
    """Return per organisation how many decided tickets were answered within 48 hours.

    A ticket counts once its answer deadline has passed or it was answered; the percentage is left
    out (None) below MIN_SAMPLE so a department with two tickets is not ranked on them.
    """
    decided = sa.or_(Ticket.answered_at.is_not(None), Ticket.answer_due <= now)
    on_time = sa.case((sa.and_(Ticket.answered_at.is_not(None), Ticket.answered_at <= Ticket.answer_due), 1), else_=0)
    rows = session.execute(
        sa.select(Organisation.code, Organisation.name, sa.func.count(Ticket.id), sa.func.sum(on_time))
        .join(Ticket, Ticket.organisation_id == Organisation.id)
        .where(Ticket.created_at >= now - period, decided)
        .group_by(Organisation.code, Organisation.name)
        .order_by(Organisation.code)
    ).all()
    out = []
    for code, name, total, good in rows:
        total_i, good_i = int(total or 0), int(good or 0)
        out.append(
            {
                "organisation": code,
                "name": name,
                "decided": total_i,
                "on_time": good_i,
                "rate": round(100.0 * good_i / total_i, 1) if total_i >= MIN_SAMPLE else None,
            }
        )
    return out


def start_of_day(now: datetime, timezone: str) -> datetime:
    """Return the UTC instant of local midnight of ``now``'s local day."""
    tz = ZoneInfo(timezone)
    local = now.astimezone(tz)
    return datetime.combine(local.date(), time(0), tzinfo=tz).astimezone(now.tzinfo)


def calls_today(session: so.Session, *, now: datetime, timezone: str) -> dict[str, Any]:
    """Return today's inbound calls: total, answered, missed, abandoned, voicemail, average wait in seconds."""
    since = start_of_day(now, timezone)
    rows = session.execute(
        sa.select(Call.outcome, Call.state, Call.started_at, Call.answered_at).where(
            Call.direction == "in", Call.started_at >= since, Call.started_at <= now
        )
    ).all()
    counts = {"answered": 0, "missed": 0, "abandoned": 0, "voicemail": 0, "ringing": 0}
    waits: list[float] = []
    for outcome, state, started, answered in rows:
        if answered is not None:
            counts["answered"] += 1
            waits.append(max(0.0, (answered - started).total_seconds()))
        elif outcome in counts:
            counts[str(outcome)] += 1
        elif state != "ended":
            counts["ringing"] += 1
    return {
        "since": since.isoformat(),
        "total": len(rows),
        **counts,
        "average_wait_s": round(sum(waits) / len(waits), 1) if waits else None,
    }


def supervisor_overview(session: so.Session, *, now: datetime, timezone: str) -> dict[str, Any]:
    """Return everything the supervisor tab shows."""
    open_count = session.scalar(sa.select(sa.func.count(Ticket.id)).where(Ticket.status.in_(_open()))) or 0
    return {
        "now": now.isoformat(),
        "open_tickets": int(open_count),
        "escalations": escalations(session),
        "on_time": on_time_rates(session, now=now),
        "min_sample": MIN_SAMPLE,
        "breaches": breaches(session, now=now),
        "calls_today": calls_today(session, now=now, timezone=timezone),
    }
