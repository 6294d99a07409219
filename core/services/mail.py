"""The e-mail channel's core work beyond intake: attachments, quarantine, bounces, threads, link state.

Pure core: the IMAP and SMTP adapters live in ``email_channel``; this module only sees plain data.
Every function is idempotent by the inbound item's natural key, so a message fetched twice (a
dropped IMAP link after the commit, before the move) changes nothing the second time.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
import sqlalchemy.orm as so

from core.db.models import Attachment, Citizen, InboundItem, Message, OutboxItem, StatusChange, Ticket
from core.db.uow import UnitOfWork
from core.messages import Channel, IntakeResult, ReceiveReport
from core.services.health import report_link
from core.services.intake import IntakePolicy, receive
from core.text import to_latin

log = logging.getLogger(__name__)

CHANNEL = Channel.EMAIL.value
MAX_ERROR = 2000
MAX_SUBJECT = 200
# Message-IDs we put on outgoing mail: "<s48.outbox-123@domain>", so a bounce or a reply that quotes
# one leads back to the outbox item, its outgoing message and its ticket.
OUR_ID = re.compile(r"^<s48\.outbox-(\d{1,18})(?:\.[^@>]*)?@[^>]+>$")


def outgoing_message_id(idempotency_key: str, domain: str) -> str:
    """Return the stable Message-ID for a notification (the same on every retry)."""
    token = re.sub(r"[^A-Za-z0-9.-]", "-", idempotency_key.replace(":", "-"))[:80] or "x"
    return f"<s48.{token}@{domain}>"


@dataclass(frozen=True, kw_only=True)
class StoredAttachment:
    """A file already written under var/attachments (content-addressed), to be linked to a message."""

    filename: str
    content_type: str
    size: int
    sha256: str
    storage_path: str
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, kw_only=True)
class InboundMail:
    """One citizen's e-mail, parsed by the adapter: what intake and the enrichment step need."""

    key: str
    text: str
    subject: str
    raw: str
    email: str | None
    name: str | None
    ticket_code: str | None
    received_at: datetime
    script: str | None = None  # sr-Cyrl|sr-Latn, from the letters the citizen used
    attachments: tuple[StoredAttachment, ...] = ()
    skipped: tuple[str, ...] = ()
    charset_repaired: bool = False


def inbound_state(session: so.Session, key: str) -> InboundItem | None:
    """Return the inbound item already recorded for this message key, if any."""
    return session.scalar(
        sa.select(InboundItem).where(InboundItem.channel == CHANNEL, InboundItem.source_key == key[:300])
    )


def ticket_for_replies(session: so.Session, message_ids: tuple[str, ...]) -> str | None:
    """Find the ticket a reply belongs to from the Message-IDs it answers (ours or the citizen's)."""
    for mid in reversed(message_ids):
        ours = OUR_ID.match(mid)
        if ours:
            code = session.scalar(
                sa.select(Ticket.code)
                .join(Message, Message.ticket_id == Ticket.id)
                .where(Message.outbox_id == int(ours.group(1)))
            )
            if code:
                return code
        code = session.scalar(
            sa.select(Ticket.code)
            .join(InboundItem, InboundItem.ticket_id == Ticket.id)
            .where(InboundItem.channel == CHANNEL, InboundItem.source_key == mid[:300])
        )
        if code:
            return code
    return None


def take_in(uow: UnitOfWork, mail: InboundMail, policy: IntakePolicy | None = None) -> IntakeResult:
    """Make the mail a ticket (or add it to one), then link its files and announce it; idempotent."""
    result = receive(
        uow,
        ReceiveReport(
            channel=Channel.EMAIL,
            text=mail.text,
            source_key=mail.key,
            email=mail.email,
            name=mail.name,
            ticket_code=mail.ticket_code,
            received_at=mail.received_at,
            raw=mail.raw,
        ),
        policy,
    )
    if result.message_id is not None:
        enrich(uow, result, mail)
    return result


def enrich(uow: UnitOfWork, result: IntakeResult, mail: InboundMail) -> bool:
    """Second step of intake: attachments, e-mail details, script, and the ``mail.new`` event (once)."""
    with uow:
        session = uow.session
        message = session.get(Message, result.message_id)
        if message is None:
            return False
        meta: dict[str, Any] = dict(message.meta or {})
        if meta.get("mail_done"):
            return False
        location = None
        for stored in mail.attachments:
            session.add(
                Attachment(
                    ticket_id=result.ticket_id,
                    message_id=message.id,
                    filename=stored.filename[:255],
                    content_type=stored.content_type[:100],
                    size=stored.size,
                    sha256=stored.sha256,
                    storage_path=stored.storage_path[:500],
                    created_at=mail.received_at,
                )
            )
            if location is None and stored.latitude is not None and stored.longitude is not None:
                location = {"lat": stored.latitude, "lon": stored.longitude, "from": stored.filename[:120]}
        meta.update(
            mail_done=True,
            subject=mail.subject[:MAX_SUBJECT],
            message_id=mail.key if mail.key.startswith("<") else None,
            attachments=len(mail.attachments),
        )
        if mail.skipped:
            meta["skipped_attachments"] = list(mail.skipped)[:20]
        if mail.charset_repaired:
            meta["charset_repaired"] = True
        if location is not None:
            meta["location"] = location
            session.add(
                StatusChange(
                    ticket_id=result.ticket_id, at=mail.received_at, kind="note", actor_label="system",
                    internal_note=f"Фотографија садржи GPS локацију: {location['lat']:.5f}, {location['lon']:.5f}.",
                )
            )  # fmt: skip
        message.meta = meta
        if result.created and mail.script:
            _adopt_script(session, result.ticket_id, mail.script)
        uow.emit(
            "mail.new",
            {
                "ticket_id": result.ticket_id,
                "ticket_code": result.ticket_code,
                "message_id": message.id,
                "created": result.created,
                "subject": mail.subject[:MAX_SUBJECT],
                "attachments": len(mail.attachments),
                "location": location is not None,
                "quarantined": False,
            },
        )
        uow.commit()
        return True


def _adopt_script(session: so.Session, ticket_id: int, script: str) -> None:
    """Give a first-time writer in Latin script Latin answers, the pending acknowledgement included."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or ticket.citizen_id is None or script != "sr-Latn":
        return
    citizen = session.get(Citizen, ticket.citizen_id)
    count = session.scalar(sa.select(sa.func.count(Ticket.id)).where(Ticket.citizen_id == ticket.citizen_id))
    if citizen is None or count != 1 or citizen.script != "sr-Cyrl":
        return
    citizen.script = script
    # The acknowledgement was rendered inside intake, before we knew the script; while no worker
    # has claimed it yet, transliterate it (a claimed one is already on its way in Cyrillic).
    item = session.scalar(
        sa.select(OutboxItem).where(
            OutboxItem.dedup_key.in_([f"citizen:{ticket_id}:ack", f"citizen:{ticket_id}:referred"]),
            OutboxItem.state == "pending",
            OutboxItem.attempts == 0,
        )
    )
    if item is not None and item.payload.get("channel") == "email":
        item.payload = {**item.payload, "body": to_latin(str(item.payload.get("body") or ""))}


def record_automatic(uow: UnitOfWork, *, key: str, raw: str, state: str, reason: str | None, now: datetime) -> bool:
    """Keep an auto-reply (state ``ignored``) as a raw record with no ticket and no answer; idempotent."""
    with uow:
        if not _insert_item(uow.session, key=key, raw=raw, state=state, error=reason, now=now):
            return False
        uow.commit()
        return True


def record_bounce(
    uow: UnitOfWork,
    *,
    key: str,
    raw: str,
    refs: tuple[str, ...],
    action: str | None,
    status: str | None,
    now: datetime,
) -> list[int]:
    """Keep a bounce and mark the outgoing messages it refers to; return their ids. Never answered."""
    with uow:
        session = uow.session
        if not _insert_item(session, key=key, raw=raw, state="bounce", error=status, now=now):
            return []
        outbox_ids = [int(m.group(1)) for m in (OUR_ID.match(r) for r in refs) if m]
        conditions = [Message.external_id.in_(list(refs))] if refs else []
        if outbox_ids:
            conditions.append(Message.outbox_id.in_(outbox_ids))
        marked: list[int] = []
        if conditions:
            for message in session.scalars(
                sa.select(Message).where(Message.direction == "out", Message.channel == CHANNEL, sa.or_(*conditions))
            ):
                message.delivery_state = "delayed" if action == "delayed" else "bounced"
                message.error = (status or "bounce")[:MAX_ERROR]
                marked.append(message.id)
        if marked:
            log.warning("bounce for outgoing message(s) %s: %s", marked, (status or "")[:200])
        uow.commit()
        return marked


def quarantine(uow: UnitOfWork, *, key: str, raw: str, error: str, now: datetime) -> int | None:
    """Keep a message we could not read for an operator (never deleted); return the item id once."""
    with uow:
        item = _insert_item(uow.session, key=key, raw=raw, state="quarantined", error=error, now=now)
        if item is None:
            return None
        uow.emit("mail.new", {"ticket_id": None, "quarantined": True, "item_id": item.id, "error": error[:300]})
        uow.commit()
        log.warning("mail %s quarantined: %s", item.id, error[:200])
        return item.id


def _insert_item(
    session: so.Session, *, key: str, raw: str, state: str, error: str | None, now: datetime
) -> InboundItem | None:
    """Insert a ticketless inbound item unless the key is already known; None when it was."""
    item = InboundItem(
        channel=CHANNEL,
        source_key=key[:300],
        received_at=now,
        raw=raw.replace("\x00", "\u2400"),
        state=state,
        error=error[:MAX_ERROR] if error else None,
    )
    try:
        with session.begin_nested():
            session.add(item)
    except sa_exc.IntegrityError:
        return None
    return item


def quarantined(session: so.Session, *, limit: int = 100) -> list[InboundItem]:
    """Return quarantined e-mail items, newest first."""
    return list(
        session.scalars(
            sa.select(InboundItem)
            .where(InboundItem.channel == CHANNEL, InboundItem.state == "quarantined")
            .order_by(InboundItem.id.desc())
            .limit(limit)
        )
    )


class NotQuarantined(LookupError):
    """The item does not exist or is not (any more) in quarantine."""


def release(
    uow: UnitOfWork,
    item_id: int,
    *,
    text: str,
    email: str | None,
    operator_id: int,
    policy: IntakePolicy | None = None,
) -> IntakeResult:
    """Make a ticket from a quarantined message after an operator looked at it; idempotent per item."""
    with uow:
        item = uow.session.get(InboundItem, item_id)
        if item is None or item.channel != CHANNEL or item.state not in ("quarantined", "released"):
            raise NotQuarantined(str(item_id))
        received_at = item.received_at
    result = receive(
        uow,
        ReceiveReport(
            channel=Channel.EMAIL,
            text=text or "(без текста)",
            source_key=f"release:{item_id}",
            email=email,
            received_at=received_at,
            operator_id=operator_id,
        ),
        policy,
    )
    with uow:
        item = uow.session.get_one(InboundItem, item_id)
        item.state = "released"
        item.ticket_id = result.ticket_id
        item.message_id = result.message_id
        uow.commit()
    return result


def thread_ids(session: so.Session, code: str, *, limit: int = 5) -> list[str]:
    """Return the citizen's Message-IDs on this ticket (oldest first), for In-Reply-To/References."""
    rows = session.scalars(
        sa.select(InboundItem.source_key)
        .join(Ticket, Ticket.id == InboundItem.ticket_id)
        .where(Ticket.code == code, InboundItem.channel == CHANNEL, InboundItem.source_key.like("<%"))
        .order_by(InboundItem.id.desc())
        .limit(limit)
    ).all()
    return list(reversed(rows))


def link_status(uow: UnitOfWork, *, state: str, detail: str | None, now: datetime) -> bool:
    """Record the mailbox link state for /readyz and tell operators when it changed."""
    return report_link(uow, "mail", state, detail, now)
