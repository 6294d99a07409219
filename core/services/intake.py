"""Intake: the one entry for every channel. A report becomes a ticket or joins one, exactly once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
import sqlalchemy.orm as so
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.db.models import (
    Call,
    Category,
    Citizen,
    InboundItem,
    Message,
    Organisation,
    StatusChange,
    Ticket,
    TicketCounter,
)
from core.db.uow import UnitOfWork
from core.domain.tickets import OPEN_STATUSES, Status, compute_deadlines, find_codes, format_code
from core.i18n import HISTORY_NOTES, channel_label
from core.messages import Channel, IntakeResult, ReceiveReport
from core.phones import parse_phone
from core.services import citizens, classify
from core.services.notices import notify_citizen, notify_organisation
from core.services.views import ticket_summary
from core.text import strip_invisible, words

log = logging.getLogger(__name__)

MAX_RAW_CHARS = 1_000_000  # larger reports are refused with a clear error (413 on the API)
MAX_DESCRIPTION = 8_000  # the ticket shows this much; the raw item keeps everything
MAX_PLACE = 200
# A message "clearly continues" a ticket when the citizen has exactly one open ticket and wrote
# to it (or opened it) this recently, and the new text does not point to another category.
CONTINUATION_WINDOW = timedelta(hours=2)


class ReportTooLarge(ValueError):
    """A report over MAX_RAW_CHARS."""


@dataclass(frozen=True, kw_only=True)
class IntakePolicy:
    """The knobs of intake that deployments may change."""

    timezone: str = "Europe/Sarajevo"
    answer_hours: int = 48


def receive(uow: UnitOfWork, cmd: ReceiveReport, policy: IntakePolicy | None = None) -> IntakeResult:
    """Record a report from any channel and commit it; side effects leave after commit."""
    policy = policy or IntakePolicy()
    if len(cmd.text) > MAX_RAW_CHARS or (cmd.raw is not None and len(cmd.raw) > MAX_RAW_CHARS):
        raise ReportTooLarge(f"report longer than {MAX_RAW_CHARS} characters")
    for attempt in (1, 2):
        try:
            with uow:
                result = _receive(uow, cmd, policy)
                if not result.duplicate:
                    uow.commit()
                return result
        except sa_exc.IntegrityError:
            # Optimistic path: another transaction inserted the same inbound item or citizen between
            # our look-up and our commit. Nothing of ours was committed; the second pass sees theirs.
            if attempt == 2:
                raise
            log.info("intake raced on a unique key; retrying once")
    raise AssertionError("unreachable")  # pragma: no cover


def _receive(uow: UnitOfWork, cmd: ReceiveReport, policy: IntakePolicy) -> IntakeResult:
    """Do the work of ``receive`` inside an open unit of work."""
    session = uow.session
    now = cmd.received_at or uow.clock.now()
    item: InboundItem | None = None
    if cmd.source_key:
        key = cmd.source_key[:300]
        existing = session.execute(
            sa.select(Ticket.id, InboundItem.message_id, Ticket.code)
            .join(Ticket, Ticket.id == InboundItem.ticket_id)
            .where(InboundItem.channel == cmd.channel.value, InboundItem.source_key == key)
        ).first()
        if existing is not None:
            return IntakeResult(
                ticket_id=int(existing[0]),
                ticket_code=str(existing[2]),
                created=False,
                duplicate=True,
                message_id=existing[1],
            )
        item = InboundItem(
            channel=cmd.channel.value,
            source_key=key,
            received_at=now,
            raw=_keep_raw(cmd.raw if cmd.raw is not None else cmd.text),
            state="accepted",
        )
        # Added with the message below, not now: an early add would be autoflushed by the next query
        # and then need an UPDATE for its ticket and message ids.

    text = strip_invisible(cmd.text).strip()
    phone = parse_phone(cmd.phone)
    citizen, is_new_citizen = citizens.find_or_create_ex(session, phone=phone, email=cmd.email, name=cmd.name, now=now)
    # A citizen created just now has no tickets to continue; a quoted code may still name one.
    known_id = citizen.id if citizen is not None and not is_new_citizen else None
    found = _existing_ticket(session, cmd, text, known_id, now)
    created = found is None
    if found is None:
        ticket = _open_ticket(uow, cmd, text, citizen, now, policy)
    else:
        ticket = found
        _continue_ticket(uow, ticket, cmd, now)
    message = Message(
        ticket_id=ticket.id,
        citizen=citizen,
        direction="in",
        channel=cmd.channel.value,
        address=(phone.raw if phone else None) or cmd.email,
        body=text[:MAX_DESCRIPTION] if text else "",
        at=now,
        delivery_state="received",
        attempts=0,
    )
    session.add(message)
    if item is not None:
        item.ticket_id = ticket.id
        item.message = message
        session.add(item)
    if cmd.call_id is not None:
        call = session.get(Call, cmd.call_id)
        if call is not None and call.ticket_id is None:
            call.ticket_id = ticket.id
    session.flush()  # one batch: message, inbound item, history and outbox rows
    return IntakeResult(ticket_id=ticket.id, ticket_code=ticket.code, created=created, message_id=message.id)


def _keep_raw(raw: str) -> str:
    """Keep the original for an operator; only NUL is made visible (PostgreSQL text refuses U+0000)."""
    return raw.replace("\x00", "\u2400")


def _existing_ticket(
    session: so.Session, cmd: ReceiveReport, text: str, citizen_id: int | None, now: datetime
) -> Ticket | None:
    """Find the ticket this report belongs to: named by the operator, quoted, or clearly continued."""
    codes = [cmd.ticket_code] if cmd.ticket_code else find_codes(text)
    for code in codes:
        ticket = session.scalar(sa.select(Ticket).where(Ticket.code == code))
        if ticket is not None:
            return ticket
    if citizen_id is None or cmd.channel in (Channel.WALK_IN, Channel.WEB, Channel.OPEN311):
        return None
    open_tickets = session.scalars(
        sa.select(Ticket).where(Ticket.citizen_id == citizen_id, Ticket.status.in_([s.value for s in OPEN_STATUSES]))
    ).all()
    if len(open_tickets) != 1:
        return None
    ticket = open_tickets[0]
    last = ticket.last_inbound_at or ticket.created_at
    if now - last > CONTINUATION_WINDOW:
        return None
    suggestion = classify.suggest_category(session, text)
    if suggestion.category_id is not None and suggestion.category_id != ticket.category_id:
        return None  # a different problem: its own ticket
    return ticket


def _next_code(session: so.Session, now: datetime, tz: ZoneInfo) -> str:
    """Take the next number of the local year in one statement (the row lock serialises writers)."""
    year = now.astimezone(tz).year
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(TicketCounter).values(year=year, value=1)
    number = session.execute(
        stmt.on_conflict_do_update(
            index_elements=[TicketCounter.year], set_={"value": TicketCounter.value + 1}
        ).returning(TicketCounter.value)
    ).scalar_one()
    return format_code(year, number)


def _open_ticket(
    uow: UnitOfWork,
    cmd: ReceiveReport,
    text: str,
    citizen: Citizen | None,
    now: datetime,
    policy: IntakePolicy,
) -> Ticket:
    """Classify, route and open a new ticket with its deadlines, history and notices."""
    session = uow.session
    category: Category | None = None
    if cmd.category:
        category = session.scalar(sa.select(Category).where(Category.code == cmd.category, Category.active.is_(True)))
    if category is None:
        suggestion = classify.suggest_category(session, text)
        if suggestion.category_id is not None:
            category = session.get(Category, suggestion.category_id)
    place_text = strip_invisible(cmd.place).strip()[:MAX_PLACE] if cmd.place else None
    place = classify.find_place(session, place_text or text)
    organisation: Organisation | None = category.organisation if category else None
    deadlines = compute_deadlines(now, category.resolve_hours if category else 240, policy.answer_hours)
    status = route_status(organisation) if organisation is not None else Status.NEW
    priority = category.priority if category else "normal"
    if any(w.startswith("hitn") for w in words(text)):
        priority = "high"
    description = text[:MAX_DESCRIPTION] or "(без текста)"
    ticket = Ticket(
        code=_next_code(session, now, ZoneInfo(policy.timezone)),
        channel=cmd.channel.value,
        citizen=citizen,
        category=category,
        organisation=organisation,
        description=description,
        place=place_text or (place.name_cyrl if place else None),
        place_id=place.id if place else None,
        status=status.value,
        priority=priority,
        search_text=classify.search_key(description, place_text, place.name_latn if place else None),
        created_at=now,
        updated_at=now,
        answer_due=deadlines.answer_due,
        resolve_due=deadlines.resolve_due,
        last_inbound_at=now,
    )
    session.add(ticket)
    session.flush()  # the ticket's id goes into history, outbox payloads and events
    history = [StatusChange(
        ticket_id=ticket.id, at=now, kind="status", actor_id=cmd.operator_id,
        actor_label="operator" if cmd.operator_id else "system", from_status=None, to_status=Status.NEW.value,
        public_note=HISTORY_NOTES["received"].format(channel=channel_label(cmd.channel.value)),
    )]  # fmt: skip
    if organisation is not None:
        history.append(routing_entry(ticket.id, organisation, status, now))
    if status is Status.REFERRED:
        # "Not our competence" is an answer too: the citizen learns at once who handles it.
        ticket.answered_at = now
    session.add_all(history)
    notify_citizen(uow, ticket, "referred" if status is Status.REFERRED else "ack", channel_hint=cmd.channel.value)
    if organisation is not None:
        notify_organisation(uow, ticket, organisation, "org_new")
    uow.emit("ticket.created", {"ticket": ticket_summary(ticket)})
    return ticket


def route_status(organisation: Organisation) -> Status:
    """Return where routing leaves a ticket: assigned, or referred when the body is outside the municipality."""
    return Status.REFERRED if organisation.kind == "external" else Status.ASSIGNED


def routing_entry(ticket_id: int, organisation: Organisation, status: Status, now: datetime) -> StatusChange:
    """Return the public history line that says where a new ticket went ("not our competence" explains)."""
    note = HISTORY_NOTES["referred" if status is Status.REFERRED else "routed"]
    return StatusChange(
        ticket_id=ticket_id,
        at=now,
        kind="status",
        actor_label="system",
        from_status=Status.NEW.value,
        to_status=status.value,
        organisation_id=organisation.id,
        public_note=note.format(organisation=organisation.name),
    )


def _continue_ticket(uow: UnitOfWork, ticket: Ticket, cmd: ReceiveReport, now: datetime) -> None:
    """Attach a follow-up message to an existing ticket."""
    ticket.last_inbound_at = now
    ticket.updated_at = now
    uow.session.add(
        StatusChange(
            ticket_id=ticket.id,
            at=now,
            kind="message",
            actor_id=cmd.operator_id,
            actor_label="operator" if cmd.operator_id else "citizen",
            internal_note=HISTORY_NOTES["message"].format(channel=channel_label(cmd.channel.value)),
        )
    )
    uow.emit("ticket.updated", {"ticket": ticket_summary(ticket), "reason": "message"})
