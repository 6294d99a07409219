"""Notices to citizens and organisations, written to the outbox in the caller's transaction."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import sqlalchemy as sa

from core.db.models import Organisation, Ticket, User
from core.db.uow import UnitOfWork
from core.i18n import render, status_label
from core.phones import is_mobile
from core.text import in_script

LOCAL_TZ = ZoneInfo("Europe/Sarajevo")


def _local(ticket: Ticket) -> str:
    """Format the answer deadline in local time for people."""
    return ticket.answer_due.astimezone(LOCAL_TZ).strftime("%d.%m.%Y. %H:%M")


def citizen_route(ticket: Ticket, channel_hint: str | None) -> tuple[str, str] | None:
    """Choose how to reach the citizen: their preference, else the channel they used if it can answer."""
    citizen = ticket.citizen
    if citizen is None:
        return None
    sms = citizen.phone_e164 if is_mobile(citizen.phone_e164) else None
    options = {"sms": sms, "email": citizen.email}
    for channel in (citizen.preferred_channel, channel_hint, "sms", "email"):
        if channel in options and options[channel]:
            return channel, options[channel] or ""
    return None


def notify_citizen(
    uow: UnitOfWork, ticket: Ticket, template: str, *, channel_hint: str | None = None, note: str = ""
) -> None:
    """Queue a message to the citizen in their script; once per (ticket, template, note) for acks."""
    route = citizen_route(ticket, channel_hint)
    if route is None:
        return
    channel, address = route
    language = ticket.citizen.script if ticket.citizen else "sr-Cyrl"
    body = render(
        template,
        language,
        code=ticket.code,
        status=status_label(ticket.status, language),
        note=in_script(note, language),
        organisation=ticket.organisation.name if ticket.organisation else "",
    )
    # The acknowledgement is unique per ticket: a re-run of intake can never send a second one.
    dedup = f"citizen:{ticket.id}:{template}" if template in ("ack", "referred") else None
    uow.add_outbox(
        "notify_citizen",
        {
            "ticket_id": ticket.id,
            "channel": channel,
            "address": address,
            "subject": ticket.code,
            "body": body,
        },
        dedup_key=dedup,
    )


def notify_organisation(uow: UnitOfWork, ticket: Ticket, organisation: Organisation, template: str) -> None:
    """Queue a notice to an organisation (its e-mail, else its duty phone), once per ticket and template."""
    body = render(
        template,
        code=ticket.code,
        category=ticket.category.name if ticket.category else "—",
        place=ticket.place or "—",
        answer_due=_local(ticket),
        organisation=organisation.name,
    )
    channel, address = ("email", organisation.email) if organisation.email else ("sms", organisation.duty_phone)
    uow.add_outbox(
        "notify_org",
        {"ticket_id": ticket.id, "organisation_id": organisation.id, "channel": channel if address else "log",
         "address": address, "subject": f"Систем 48: {ticket.code}", "body": body},
        dedup_key=f"org:{ticket.id}:{organisation.id}:{template}",
    )  # fmt: skip


def notify_supervisors(uow: UnitOfWork, ticket: Ticket, template: str) -> None:
    """Queue an escalation to every active supervisor, once per ticket and template."""
    body = render(
        template,
        code=ticket.code,
        organisation=ticket.organisation.name if ticket.organisation else "—",
        answer_due=_local(ticket),
    )
    supervisors = uow.session.scalars(sa.select(User.id).where(User.role == "supervisor", User.active.is_(True))).all()
    uow.add_outbox(
        "notify_supervisor",
        {"ticket_id": ticket.id, "user_ids": list(supervisors), "channel": "log", "address": None,
         "subject": f"Систем 48: ескалација {ticket.code}", "body": body},
        dedup_key=f"supervisor:{ticket.id}:{template}",
    )  # fmt: skip
