"""Clusters: tickets that report the same problem, linked to one primary ticket (``Ticket.cluster_id``).

A water cut reported by twelve people is one job for the water company, but twelve citizens to
answer. Staff link the reports to a primary; a status change on the primary (with its public note)
moves every open member in the same transaction and answers each reporter in their own channel and
script (``notify_citizen`` per ticket).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import StatusChange, Ticket, User
from core.db.uow import UnitOfWork
from core.domain.tickets import TransitionError, check_transition
from core.services.tickets import Forbidden, NotFound, apply_status, can_see, clean_note
from core.services.views import ticket_detail, ticket_summary

MAX_MEMBERS = 500


class ClusterError(ValueError):
    """A link that makes no sense (a ticket with itself)."""


@dataclass(frozen=True)
class ClusterResult:
    """What a cluster-wide status change did."""

    detail: dict[str, Any]
    members_changed: tuple[str, ...]
    members_skipped: tuple[str, ...]


def _ticket(session: so.Session, code: str, user: User, *, lock: bool = False) -> Ticket:
    query = sa.select(Ticket).where(Ticket.code == code)
    if lock:
        query = query.with_for_update(of=Ticket)
    ticket = session.scalar(query)
    if ticket is None:
        raise NotFound(code)
    if not can_see(user, ticket):
        raise Forbidden(code)
    return ticket


def members_of(session: so.Session, primary_id: int) -> list[Ticket]:
    """Return the member tickets of a primary, oldest first."""
    return list(
        session.scalars(
            sa.select(Ticket).where(Ticket.cluster_id == primary_id).order_by(Ticket.created_at).limit(MAX_MEMBERS)
        ).unique()
    )


def cluster_view(session: so.Session, ticket: Ticket) -> dict[str, Any]:
    """Return the cluster a ticket belongs to: primary code, member codes, how many citizens reported it."""
    primary = session.get(Ticket, ticket.cluster_id) if ticket.cluster_id else ticket
    if primary is None:
        primary = ticket
    members = members_of(session, primary.id)
    return {
        "primary": primary.code,
        "is_primary": primary.id == ticket.id,
        "members": [{"code": m.code, "status": m.status, "channel": m.channel} for m in members],
        "reporters": 1 + len(members),
    }


def _note(uow: UnitOfWork, ticket: Ticket, user: User, text: str, at: datetime) -> None:
    uow.session.add(
        StatusChange(
            ticket_id=ticket.id,
            at=at,
            kind="note",
            actor_id=user.id,
            actor_label=user.username,
            organisation_id=ticket.organisation_id,
            internal_note=text,
        )
    )


def link(
    uow: UnitOfWork, member_code: str, primary_code: str, user: User, *, now: datetime | None = None
) -> dict[str, Any]:
    """Make ``member_code`` (and its own members) part of the cluster of ``primary_code``."""
    with uow:
        session = uow.session
        moment = now or uow.clock.now()
        member = _ticket(session, member_code, user, lock=True)
        primary = _ticket(session, primary_code, user, lock=True)
        if primary.cluster_id is not None:  # link to the root, so a cluster is one level deep
            root = session.get(Ticket, primary.cluster_id)
            if root is not None and can_see(user, root):
                primary = root
        if member.id == primary.id:
            raise ClusterError("a ticket cannot be linked to itself")
        moved = [member, *members_of(session, member.id)]
        for ticket in moved:
            ticket.cluster_id = primary.id
            ticket.updated_at = moment
            _note(uow, ticket, user, f"Повезано са пријавом {primary.code} (исти проблем).", moment)
        primary.updated_at = moment
        session.flush()
        for ticket in (primary, *moved):
            uow.emit("ticket.updated", {"ticket": ticket_summary(ticket), "reason": "cluster"})
        view = cluster_view(session, primary)
        uow.commit()
        return view


def unlink(uow: UnitOfWork, code: str, user: User, *, now: datetime | None = None) -> dict[str, Any]:
    """Take a ticket out of its cluster."""
    with uow:
        session = uow.session
        moment = now or uow.clock.now()
        ticket = _ticket(session, code, user, lock=True)
        primary_id = ticket.cluster_id
        if primary_id is None:
            raise ClusterError("the ticket is not in a cluster")
        ticket.cluster_id = None
        ticket.updated_at = moment
        _note(uow, ticket, user, "Веза са груписаном пријавом уклоњена.", moment)
        session.flush()
        uow.emit("ticket.updated", {"ticket": ticket_summary(ticket), "reason": "cluster"})
        primary = session.get(Ticket, primary_id)
        view = cluster_view(session, primary) if primary is not None else cluster_view(session, ticket)
        uow.commit()
        return view


def change_cluster_status(
    uow: UnitOfWork,
    code: str,
    new_status: str,
    user: User,
    *,
    public_note: str | None = None,
    internal_note: str | None = None,
    now: datetime | None = None,
) -> ClusterResult:
    """Change a primary ticket's status and every member's that may follow, all in one transaction."""
    with uow:
        session = uow.session
        moment = now or uow.clock.now()
        primary = _ticket(session, code, user, lock=True)
        public = clean_note(public_note)
        internal = clean_note(internal_note)
        target = check_transition(primary.status, new_status, public)
        apply_status(uow, primary, target, user, public, internal, moment)
        changed: list[str] = []
        skipped: list[str] = []
        for member in members_of(session, primary.id):
            if not can_see(user, member):
                skipped.append(member.code)  # another organisation's report: theirs to answer
                continue
            try:
                check_transition(member.status, target.value, public)
            except TransitionError:
                skipped.append(member.code)  # already closed, say: its citizen was answered before
                continue
            apply_status(uow, member, target, user, public, internal, moment)
            changed.append(member.code)
        detail = ticket_detail(session, primary)
        detail["cluster"] = cluster_view(session, primary)
        uow.commit()
        return ClusterResult(detail, tuple(changed), tuple(skipped))
