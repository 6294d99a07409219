"""The 48-hour promise: a sweeper that warns at 24 h, escalates at 40 h and flags breaches at 48 h.

Deadlines are UTC columns written at intake; the sweeper compares them with an injected ``now``.
Each step is a conditional UPDATE (``… WHERE warned_at IS NULL``) whose row count decides who
records it, so two sweepers at once, a re-run, or a clock that jumps backwards never repeat a step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import StatusChange, Ticket
from core.db.uow import UnitOfWork
from core.domain.tickets import OPEN_STATUSES
from core.i18n import HISTORY_NOTES
from core.services.notices import notify_organisation, notify_supervisors
from core.services.views import ticket_summary

log = logging.getLogger(__name__)

SWEEP_LOCK_KEY = 480_049
BATCH = 500


@dataclass(frozen=True, kw_only=True)
class SlaPolicy:
    """Hours after receipt for each step (the answer itself is due at ``answer_hours``)."""

    answer_hours: int = 48
    warn_hours: int = 24
    escalate_hours: int = 40


@dataclass
class SweepReport:
    """What one sweep did (codes per step)."""

    warned: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    breached: list[str] = field(default_factory=list)
    resolve_breached: list[str] = field(default_factory=list)
    skipped: bool = False


def sweep(uow: UnitOfWork, now: datetime, policy: SlaPolicy | None = None) -> SweepReport:
    """Run one SLA sweep at ``now`` and commit."""
    policy = policy or SlaPolicy()
    report = SweepReport()
    with uow:
        session = uow.session
        if session.get_bind().dialect.name == "postgresql":
            got = session.execute(sa.select(sa.func.pg_try_advisory_xact_lock(SWEEP_LOCK_KEY))).scalar_one()
            if not got:
                # Another sweeper is at work; the conditional updates would make us harmless anyway,
                # this only saves the duplicate effort.
                report.skipped = True
                return report
        before_due = timedelta(hours=policy.answer_hours)
        warn_at = before_due - timedelta(hours=policy.warn_hours)
        escalate_at = before_due - timedelta(hours=policy.escalate_hours)
        open_values = [s.value for s in OPEN_STATUSES]
        unanswered = sa.and_(Ticket.answered_at.is_(None), Ticket.status.in_(open_values))

        def step(column: so.InstrumentedAttribute[datetime | None], due_cond: sa.ColumnElement[bool]) -> list[Ticket]:
            ids = session.scalars(
                sa.select(Ticket.id).where(column.is_(None), due_cond).order_by(Ticket.id).limit(BATCH)
            ).all()
            claimed: list[Ticket] = []
            for ticket_id in ids:
                result = session.execute(
                    sa.update(Ticket)
                    .where(Ticket.id == ticket_id, column.is_(None), due_cond)
                    .values({column.key: now})
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    ticket = session.get_one(Ticket, ticket_id)
                    session.refresh(ticket)
                    claimed.append(ticket)
            return claimed

        # answer_due - 24h <= now  ⇔  answer_due <= now + 24h; written so the index on answer_due serves.
        for ticket in step(Ticket.warned_at, sa.and_(unanswered, Ticket.answer_due <= now + warn_at)):
            _record(uow, ticket, now, "warning")
            if ticket.organisation is not None:
                notify_organisation(uow, ticket, ticket.organisation, "org_warning")
            report.warned.append(ticket.code)
        for ticket in step(Ticket.escalated_at, sa.and_(unanswered, Ticket.answer_due <= now + escalate_at)):
            _record(uow, ticket, now, "escalation")
            notify_supervisors(uow, ticket, "escalation")
            report.escalated.append(ticket.code)
        for ticket in step(Ticket.breached_at, sa.and_(unanswered, Ticket.answer_due <= now)):
            _record(uow, ticket, now, "breach")
            notify_supervisors(uow, ticket, "breach")
            report.breached.append(ticket.code)
        for ticket in step(
            Ticket.resolve_breached_at,
            sa.and_(Ticket.resolved_at.is_(None), Ticket.status.in_(open_values), Ticket.resolve_due <= now),
        ):
            _record(uow, ticket, now, "resolve_breach")
            report.resolve_breached.append(ticket.code)
        uow.commit()
    if report.warned or report.escalated or report.breached or report.resolve_breached:
        log.info(
            "sla sweep: %d warned, %d escalated, %d breached, %d past resolution",
            len(report.warned),
            len(report.escalated),
            len(report.breached),
            len(report.resolve_breached),
        )
    return report


def _record(uow: UnitOfWork, ticket: Ticket, now: datetime, kind: str) -> None:
    """Write the step into the ticket's history and tell the screens."""
    uow.session.add(
        StatusChange(
            ticket_id=ticket.id,
            at=now,
            kind=kind,
            actor_label="sweeper",
            organisation_id=ticket.organisation_id,
            internal_note=HISTORY_NOTES[kind],
        )
    )
    uow.emit("ticket.updated", {"ticket": ticket_summary(ticket), "reason": kind})
