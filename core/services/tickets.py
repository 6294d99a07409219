"""Staff actions on tickets: read, list with filters, change status with public and internal notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import Citizen, Organisation, StatusChange, Ticket, User
from core.db.uow import UnitOfWork
from core.domain.tickets import FINAL_STATUSES, Status, check_transition
from core.phones import parse_phone
from core.services.notices import notify_citizen, notify_organisation
from core.services.views import ticket_detail, ticket_summary
from core.text import fold, strip_invisible

MAX_NOTE = 4000
MAX_PAGE = 200


class NotFound(LookupError):
    """No such ticket (or not visible to this user)."""


class Forbidden(PermissionError):
    """The user may not see or change this ticket."""


def can_see(user: User, ticket: Ticket) -> bool:
    """Department staff see only their organisation's tickets; other roles see all."""
    if user.role == "department":
        return user.organisation_id is not None and ticket.organisation_id == user.organisation_id
    return True


def get_ticket(session: so.Session, code: str, user: User) -> dict[str, Any]:
    """Return one ticket's staff view."""
    ticket = session.scalar(sa.select(Ticket).where(Ticket.code == code))
    if ticket is None:
        raise NotFound(code)
    if not can_see(user, ticket):
        raise Forbidden(code)
    return ticket_detail(session, ticket)


@dataclass(frozen=True, kw_only=True)
class TicketFilter:
    """Filters of the ticket list; all optional."""

    phone: str | None = None
    status: str | None = None
    channel: str | None = None
    organisation: str | None = None
    category: str | None = None
    q: str | None = None
    limit: int = 50
    offset: int = 0


def list_tickets(session: so.Session, flt: TicketFilter, user: User) -> list[dict[str, Any]]:
    """List tickets newest first, filtered; search matches Cyrillic and Latin alike."""
    query = sa.select(Ticket).order_by(Ticket.created_at.desc(), Ticket.id.desc())
    if flt.phone:
        phone = parse_phone(flt.phone)
        key = phone.key if phone else None
        query = query.join(Citizen, Citizen.id == Ticket.citizen_id).where(Citizen.phone_key == (key or ""))
    if flt.status:
        query = query.where(Ticket.status.in_(flt.status.split(",")))
    if flt.channel:
        query = query.where(Ticket.channel == flt.channel)
    if flt.organisation:
        query = query.join(Organisation, Organisation.id == Ticket.organisation_id).where(
            Organisation.code == flt.organisation
        )
    if flt.q:
        # LIKE wildcards in user input are escaped: a search for "%" finds a percent sign.
        needle = fold(flt.q).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(sa.or_(Ticket.search_text.like(f"%{needle}%", escape="\\"), Ticket.code == flt.q.strip()))
    if user.role == "department":
        query = query.where(Ticket.organisation_id == (user.organisation_id or -1))
    limit = max(1, min(flt.limit, MAX_PAGE))
    rows = session.scalars(query.limit(limit).offset(max(0, flt.offset))).unique().all()
    return [ticket_summary(t) for t in rows]


def change_status(
    uow: UnitOfWork,
    code: str,
    new_status: str,
    user: User,
    *,
    public_note: str | None = None,
    internal_note: str | None = None,
    organisation_code: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Change a ticket's status (and optionally its organisation), record who/when/notes, notify."""
    with uow:
        session = uow.session
        ticket = session.scalar(sa.select(Ticket).where(Ticket.code == code).with_for_update(of=Ticket))
        if ticket is None:
            raise NotFound(code)
        if not can_see(user, ticket):
            raise Forbidden(code)
        public = clean_note(public_note)
        internal = clean_note(internal_note)
        target = check_transition(ticket.status, new_status, public)
        moment = now or uow.clock.now()
        if organisation_code:
            org = session.scalar(sa.select(Organisation).where(Organisation.code == organisation_code))
            if org is None:
                raise NotFound(organisation_code)
            if user.role == "department":
                raise Forbidden("department staff cannot reassign")
            if org.id != ticket.organisation_id:
                ticket.organisation_id = org.id
                session.flush()
                session.refresh(ticket)
                # Forwarding is a hand-over: the new organisation is told, as on intake.
                notify_organisation(uow, ticket, org, "org_new")
        apply_status(uow, ticket, target, user, public, internal, moment)
        detail = ticket_detail(session, ticket)
        uow.commit()
        return detail


def apply_status(
    uow: UnitOfWork, ticket: Ticket, target: Status, user: User, public: str | None, internal: str | None, at: datetime
) -> None:
    """Move one checked ticket: stamp the clocks, keep the history line, tell the citizen, push the event."""
    previous = ticket.status
    ticket.status = target.value
    ticket.updated_at = at
    # The 48-hour promise is kept by the first answer a person gives the citizen.
    if ticket.answered_at is None and (public or target in FINAL_STATUSES or target is Status.IN_PROGRESS):
        ticket.answered_at = at
    if target is Status.RESOLVED:
        ticket.resolved_at = at
    if target is Status.REOPENED:
        ticket.resolved_at = None
    uow.session.add(
        StatusChange(
            ticket_id=ticket.id,
            at=at,
            kind="status",
            actor_id=user.id,
            actor_label=user.username,
            from_status=previous,
            to_status=target.value,
            organisation_id=ticket.organisation_id,
            public_note=public,
            internal_note=internal,
        )
    )
    uow.session.flush()
    if public:
        # A resolution asks the citizen whether it is really fixed (1/0 by SMS reopens on 0).
        notify_citizen(uow, ticket, "resolved" if target is Status.RESOLVED else "status", note=public)
    uow.emit("ticket.updated", {"ticket": ticket_summary(ticket), "reason": "status"})


def clean_note(note: str | None) -> str | None:
    """Trim a note, drop invisible characters and bound its size."""
    if note is None:
        return None
    cleaned = strip_invisible(note).strip()[:MAX_NOTE]
    return cleaned or None
