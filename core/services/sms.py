"""SMS conversations: inbound threading, status queries, "fixed? 1/0" answers, and the outgoing queue.

Pure core: the modem daemon (``sms_modem``) turns what the SIM holds into ``ReceiveReport``s and calls
:func:`receive_sms`; it never touches tickets itself. Every step here is idempotent by the report's
``source_key``, so a message re-read after a crash, or drained twice from the local spool, changes
nothing the second time:

1. ``_prepare`` (one transaction): duplicate check, the citizen's script, and what the text is
   (a complaint, a status query, a yes/no answer, a late part, binary data).
2. ``intake.receive`` (its own transaction) records the message on a ticket, or a store-only insert
   keeps it without a ticket (binary data, a status query about nothing).
3. ``_after`` (one transaction) does the SMS-specific work once per message (answers, feedback,
   reopening, ``sms.new``), guarded by ``Message.meta["sms_handled"]``.

Outgoing SMS are ``message`` rows (direction ``out``, ``delivery_state`` ``queued``): the daemon's
sender claims them with :func:`claim_next`, sends, and records the outcome with :func:`record_sent`
or :func:`record_failure`; delivery reports land through :func:`record_delivery_report`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
import sqlalchemy.orm as so

from core.db.models import Citizen, InboundItem, Message, Organisation, StatusChange, Ticket, User
from core.db.uow import UnitOfWork
from core.domain.tickets import OPEN_STATUSES, Status, find_codes
from core.i18n import render, status_label
from core.messages import Channel, IntakeResult, ReceiveReport
from core.phones import parse_phone
from core.services import citizens
from core.services.intake import IntakePolicy, receive
from core.services.views import ticket_summary
from core.text import fold, in_script, strip_invisible, to_latin, words

log = logging.getLogger(__name__)

# A citizen's "1"/"0" answers the "fixed?" question only this long after the resolution.
FEEDBACK_WINDOW = timedelta(days=7)
# A late part of an incomplete multipart SMS joins its ticket when it comes within this window.
LATE_PART_WINDOW = timedelta(hours=48)
# Commands are short; a long text that happens to start with "status" is a complaint.
MAX_COMMAND_CHARS = 160
# Outgoing SMS budget (parts per rolling 24 h) and per-recipient cap: a cost and SMS-pumping guard.
DAILY_PART_BUDGET = 600
PER_RECIPIENT_DAILY = 20
MAX_ATTEMPTS = 6
BASE_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(minutes=30)
MAX_BODY = 1000  # a 15-part UCS-2 message; longer texts are cut (details are on the portal)
MAX_ERROR = 500
PREVIEW = 160

STATUS_WORDS = frozenset({"status", "stanje", "statusa", "stanja"})
YES_WORDS = frozenset({"1", "da"})
NO_WORDS = frozenset({"0", "ne"})

# Serbian, written once in Cyrillic; Latin derived for citizens who write in Latin.
TEXTS: dict[str, str] = {
    "feedback_invite": "Да ли је проблем ријешен? Одговорите 1 (да) или 0 (не).",
    "status_line": "{code}: {status}",
    "status_none": "Систем 48: немате пријава у раду. За стање пријаве пошаљите СТАЊЕ и број пријаве.",
    "status_many": "Систем 48, ваше пријаве: {lines}",
    "status_unknown": "Систем 48: пријава {code} није пронађена. Провјерите број пријаве.",
    "feedback_yes": "Систем 48, {code}: хвала на потврди.",
    "feedback_no": "Систем 48, {code}: пријава је поново отворена и прослијеђена надлежнима.",
    "org_reopened": "Систем 48: грађанин јавља да пријава {code} није ријешена. Пријава је поново отворена.",
    "note_feedback_yes": "Грађанин је потврдио да је проблем ријешен.",
    "note_feedback_no": "Грађанин је одговорио да проблем није ријешен. Пријава је поново отворена.",
    "note_late_part": "Стигао је закашњели дио СМС поруке.",
    "work_order": "Систем 48, радни налог {code}: {text}",
}


class Kind(StrEnum):
    """What an inbound SMS is."""

    MESSAGE = "message"  # a complaint or a follow-up: intake decides the ticket
    STATUS = "status"
    FEEDBACK = "feedback"
    LATE_PART = "late_part"
    BINARY = "binary"
    UNKNOWN_STATUS = "unknown_status"  # a status query about no known ticket: kept, answered, no ticket


@dataclass(frozen=True, kw_only=True)
class SmsResult:
    """What became of one inbound SMS."""

    kind: Kind
    duplicate: bool
    ticket_code: str | None
    created: bool
    message_id: int | None


@dataclass(frozen=True, kw_only=True)
class _Plan:
    """Step 1's decision, handed to steps 2 and 3."""

    kind: Kind
    script: str
    ticket_code: str | None = None
    answer: str | None = None  # yes|no for feedback
    codes: tuple[str, ...] = ()


class BlockedRecipient(ValueError):
    """We do not send SMS to this address (not a number that contacted us, or a short code)."""


# -- script and commands ----------------------------------------------------------------------------


_CYRILLIC = re.compile("[\u0400-\u04ff]")
_LATIN = re.compile("[A-Za-z\u00c0-\u024f]")


def detect_script(text: str, default: str = "sr-Cyrl") -> str:
    """Tell which script the citizen wrote in (``sr-Cyrl`` or ``sr-Latn``); ``default`` when no letters."""
    cyr = len(_CYRILLIC.findall(text))
    lat = len(_LATIN.findall(text))
    if cyr == 0 and lat == 0:
        return default
    return "sr-Cyrl" if cyr >= lat else "sr-Latn"


def parse_status_query(text: str) -> tuple[str, ...] | None:
    """Return the codes of a status query (possibly none), or None when the text is not one."""
    if len(text) > MAX_COMMAND_CHARS:
        return None
    tokens = words(text)
    if not tokens or tokens[0] not in STATUS_WORDS:
        return None
    return tuple(dict.fromkeys(find_codes(text)))


def parse_feedback(text: str) -> str | None:
    """Return ``yes`` or ``no`` for a bare 1/0/da/ne (any script or case), else None."""
    if len(text) > 20:
        return None
    tokens = words(text)
    if len(tokens) != 1:
        return None
    if tokens[0] in YES_WORDS:
        return "yes"
    if tokens[0] in NO_WORDS:
        return "no"
    return None


def feedback_invite(script: str) -> str:
    """Return the sentence that ends a resolution notice: answer 1 or 0."""
    return in_script(TEXTS["feedback_invite"], script)


def _text(key: str, script: str, **values: str) -> str:
    """Render one of this module's texts in the citizen's script (values are inserted as given)."""
    return in_script(TEXTS[key], script).format(**values)


# -- inbound ----------------------------------------------------------------------------------------


def receive_sms(uow: UnitOfWork, report: ReceiveReport, policy: IntakePolicy | None = None) -> SmsResult:
    """Record one inbound SMS exactly once and do what it asks; safe to call again with the same report."""
    if report.source_key is None:
        raise ValueError("an SMS report needs its source_key")
    plan, existing = _prepare(uow, report)
    if existing is not None:
        # Seen before (re-read after a crash, or drained from the spool twice): finish step 3 only.
        _after(uow, existing, plan, report)
        return _result(uow, plan.kind, existing, duplicate=True, created=False)
    if plan.kind in (Kind.BINARY, Kind.UNKNOWN_STATUS):
        message_id = _store_only(uow, report, plan)
        _after(uow, message_id, plan, report)
        return _result(uow, plan.kind, message_id, duplicate=False, created=False)
    cmd = report if plan.ticket_code is None else replace(report, ticket_code=plan.ticket_code)
    result: IntakeResult = receive(uow, cmd, policy)
    if result.message_id is not None:
        _after(uow, result.message_id, plan, report)
    return SmsResult(
        kind=plan.kind,
        duplicate=result.duplicate,
        ticket_code=result.ticket_code,
        created=result.created,
        message_id=result.message_id,
    )


def _result(uow: UnitOfWork, kind: Kind, message_id: int, *, duplicate: bool, created: bool) -> SmsResult:
    """Build a result for a message already stored."""
    with uow:
        message = uow.session.get_one(Message, message_id)
        code = None
        if message.ticket_id is not None:
            code = uow.session.get_one(Ticket, message.ticket_id).code
    return SmsResult(kind=kind, duplicate=duplicate, ticket_code=code, created=created, message_id=message_id)


def _prepare(uow: UnitOfWork, report: ReceiveReport) -> tuple[_Plan, int | None]:
    """Step 1: classify the SMS and remember the citizen's script; return (plan, message id if seen)."""
    key = (report.source_key or "")[:300]
    text = strip_invisible(report.text).strip()
    with uow:
        session = uow.session
        now = report.received_at or uow.clock.now()
        seen = session.execute(
            sa.select(InboundItem.message_id).where(
                InboundItem.channel == Channel.SMS.value, InboundItem.source_key == key
            )
        ).first()
        citizen = None
        phone = parse_phone(report.phone)
        binary = report.attrs.get("sms_binary") == "1"
        if not binary:
            citizen = citizens.find_or_create(session, phone=phone, email=None, name=None, now=now)
        script = citizen.script if citizen is not None else "sr-Cyrl"
        if citizen is not None and len(_CYRILLIC.findall(text)) + len(_LATIN.findall(text)) >= 3:
            # Answers go in the script the citizen writes: "STANJE …" gets Latin, "СТАЊЕ …" Cyrillic.
            script = detect_script(text, citizen.script)
            citizen.script = script
        plan = _classify(session, report, text, citizen, script, now, binary)
        uow.commit()
    if seen is not None and seen[0] is not None:
        return plan, int(seen[0])
    return plan, None


def _classify(
    session: so.Session,
    report: ReceiveReport,
    text: str,
    citizen: Citizen | None,
    script: str,
    now: datetime,
    binary: bool,
) -> _Plan:
    """Decide what an SMS is from its text and the citizen's tickets."""
    if binary:
        return _Plan(kind=Kind.BINARY, script=script)
    late = _late_part_ticket(session, report, citizen, now)
    if late is not None:
        return _Plan(kind=Kind.LATE_PART, script=script, ticket_code=late.code)
    codes = parse_status_query(text)
    if codes is not None:
        known = [c for c in codes if session.scalar(sa.select(Ticket.id).where(Ticket.code == c)) is not None]
        if known:
            return _Plan(kind=Kind.STATUS, script=script, ticket_code=known[0], codes=tuple(codes))
        if codes or citizen is None:
            return _Plan(kind=Kind.UNKNOWN_STATUS, script=script, codes=tuple(codes))
        latest = _citizen_tickets(session, citizen.id)
        if latest:
            return _Plan(kind=Kind.STATUS, script=script, ticket_code=latest[0].code)
        return _Plan(kind=Kind.UNKNOWN_STATUS, script=script)
    answer = parse_feedback(text)
    if answer is not None and citizen is not None:
        resolved = session.scalars(
            sa.select(Ticket)
            .where(
                Ticket.citizen_id == citizen.id,
                Ticket.status == Status.RESOLVED.value,
                Ticket.resolved_at.is_not(None),
                Ticket.resolved_at >= now - FEEDBACK_WINDOW,
            )
            .order_by(Ticket.resolved_at.desc(), Ticket.id.desc())
            .limit(1)
        ).first()
        if resolved is not None:
            return _Plan(kind=Kind.FEEDBACK, script=script, ticket_code=resolved.code, answer=answer)
    return _Plan(kind=Kind.MESSAGE, script=script)


def _citizen_tickets(session: so.Session, citizen_id: int) -> list[Ticket]:
    """Return the citizen's open tickets, newest first, else their latest ticket (at most 3)."""
    open_ = session.scalars(
        sa.select(Ticket)
        .where(Ticket.citizen_id == citizen_id, Ticket.status.in_([s.value for s in OPEN_STATUSES]))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(3)
    ).all()
    if open_:
        return list(open_)
    return list(
        session.scalars(
            sa.select(Ticket).where(Ticket.citizen_id == citizen_id).order_by(Ticket.created_at.desc()).limit(1)
        ).all()
    )


def _late_part_ticket(
    session: so.Session, report: ReceiveReport, citizen: Citizen | None, now: datetime
) -> Ticket | None:
    """Find the ticket of the incomplete message this late part belongs to (sender + ref within the window)."""
    attrs = report.attrs
    late_for = attrs.get("sms_late_for")
    if late_for:
        item = session.scalar(
            sa.select(InboundItem).where(
                InboundItem.channel == Channel.SMS.value, InboundItem.source_key == late_for[:300]
            )
        )
        if item is not None and item.ticket_id is not None:
            return session.get(Ticket, item.ticket_id)
    ref, total = attrs.get("sms_ref"), attrs.get("sms_total")
    if ref is None or citizen is None:
        return None
    # After a daemon restart the assembler has forgotten the flush and hands the late part out as an
    # incomplete message of its own: an earlier incomplete message from the same sender with the same
    # reference and part count, missing exactly these parts, is the one it belongs to.
    mine = set(attrs.get("sms_parts", "").split(",")) - {""}
    candidates = session.scalars(
        sa.select(Message)
        .where(
            Message.citizen_id == citizen.id,
            Message.direction == "in",
            Message.channel == Channel.SMS.value,
            Message.at >= now - LATE_PART_WINDOW,
            Message.ticket_id.is_not(None),
        )
        .order_by(Message.at.desc(), Message.id.desc())
        .limit(200)
    ).all()
    for message in candidates:
        meta = (message.meta or {}).get("sms") or {}
        missing = set(str(meta.get("sms_missing") or "").split(","))
        if meta.get("sms_ref") == ref and meta.get("sms_total") == total and mine and mine <= missing:
            return session.get(Ticket, message.ticket_id)
    return None


def _store_only(uow: UnitOfWork, report: ReceiveReport, plan: _Plan) -> int:
    """Keep an SMS that opens no ticket (binary data, a status query about nothing), exactly once."""
    key = (report.source_key or "")[:300]
    with uow:
        session = uow.session
        now = report.received_at or uow.clock.now()
        item = InboundItem(channel=Channel.SMS.value, source_key=key, received_at=now, raw=_keep(report.raw))
        try:
            with session.begin_nested():
                session.add(item)
        except sa_exc.IntegrityError:
            existing = session.scalar(
                sa.select(InboundItem).where(InboundItem.channel == Channel.SMS.value, InboundItem.source_key == key)
            )
            if existing is None or existing.message_id is None:
                raise
            return existing.message_id
        phone = parse_phone(report.phone)
        citizen = None
        if phone is not None and phone.key is not None:
            citizen = session.scalar(sa.select(Citizen).where(Citizen.phone_key == phone.key))
        message = Message(
            ticket_id=None,
            citizen_id=citizen.id if citizen else None,
            direction="in",
            channel=Channel.SMS.value,
            address=phone.raw[:320] if phone else None,
            body="" if plan.kind is Kind.BINARY else strip_invisible(report.text).strip()[:MAX_BODY],
            at=now,
            delivery_state="received",
            meta={"sms": dict(report.attrs), "sms_kind": plan.kind.value, "binary": plan.kind is Kind.BINARY},
        )
        session.add(message)
        session.flush()
        item.message_id = message.id
        uow.commit()
        return message.id


def _keep(raw: str | None) -> str | None:
    """Make raw text storable in PostgreSQL (no U+0000), keeping everything else."""
    return raw.replace("\x00", "\u2400") if raw is not None else None


def _after(uow: UnitOfWork, message_id: int, plan: _Plan, report: ReceiveReport) -> None:
    """Step 3: the SMS-specific effects of one inbound message, once (guarded by its meta)."""
    with uow:
        session = uow.session
        message = session.scalar(sa.select(Message).where(Message.id == message_id).with_for_update(of=Message))
        if message is None:
            return
        meta = dict(message.meta or {})
        if meta.get("sms_handled"):
            return
        now = uow.clock.now()
        ticket = session.get(Ticket, message.ticket_id) if message.ticket_id is not None else None
        meta.update({"sms": dict(report.attrs), "sms_kind": plan.kind.value, "sms_handled": True})
        if plan.kind is Kind.BINARY:
            meta["binary"] = True
        message.meta = meta
        if plan.kind is Kind.STATUS and ticket is not None:
            _answer_status(uow, message, ticket, plan)
        elif plan.kind is Kind.UNKNOWN_STATUS:
            _answer_unknown(uow, message, plan)
        elif plan.kind is Kind.FEEDBACK and ticket is not None and plan.answer is not None:
            _record_feedback(uow, message, ticket, plan, now)
        elif plan.kind is Kind.LATE_PART and ticket is not None:
            session.add(
                StatusChange(
                    ticket_id=ticket.id,
                    at=now,
                    kind="note",
                    actor_label="system",
                    internal_note=TEXTS["note_late_part"],
                )
            )
        uow.emit(
            "sms.new",
            {
                "message_id": message.id,
                "ticket": ticket.code if ticket else None,
                "kind": plan.kind.value,
                "binary": plan.kind is Kind.BINARY,
                "incomplete": "sms_missing" in report.attrs,
                "preview": message.body[:PREVIEW],
            },
        )
        uow.commit()


def _reply(uow: UnitOfWork, inbound: Message, body: str, *, ticket_id: int | None, kind: str) -> None:
    """Queue an SMS answer to the sender of ``inbound`` (only numbers may be answered)."""
    address = inbound.address
    phone = parse_phone(address)
    if phone is None or phone.e164 is None:
        log.info("no SMS answer to a sender that is not a phone number (message %s)", inbound.id)
        return
    uow.session.add(
        Message(
            ticket_id=ticket_id,
            citizen_id=inbound.citizen_id,
            direction="out",
            channel=Channel.SMS.value,
            address=phone.e164,
            body=body[:MAX_BODY],
            at=uow.clock.now(),
            delivery_state="queued",
            meta={"reply_to": inbound.id, "sms_kind": kind},
        )
    )


def _status_text(session: so.Session, ticket: Ticket, script: str) -> str:
    """Render the status answer for one ticket, with the latest public note (bounded: SMS cost)."""
    note = session.scalar(
        sa.select(StatusChange.public_note)
        .where(StatusChange.ticket_id == ticket.id, StatusChange.public_note.is_not(None))
        .order_by(StatusChange.at.desc(), StatusChange.id.desc())
        .limit(1)
    )
    note_text = (note or "")[:120]
    if script == "sr-Latn":
        note_text = to_latin(note_text)
    return render("status", script, code=ticket.code, status=status_label(ticket.status, script), note=note_text)


def _answer_status(uow: UnitOfWork, message: Message, ticket: Ticket, plan: _Plan) -> None:
    """Answer a status query with the current status of the ticket(s) asked about."""
    session = uow.session
    if len(plan.codes) > 1:
        tickets = [t for c in plan.codes[:3] if (t := session.scalar(sa.select(Ticket).where(Ticket.code == c)))]
        lines = "; ".join(
            _text("status_line", plan.script, code=t.code, status=status_label(t.status, plan.script)) for t in tickets
        )
        body = _text("status_many", plan.script, lines=lines)
    elif not plan.codes and message.citizen_id is not None:
        tickets = _citizen_tickets(session, message.citizen_id)
        if len(tickets) > 1:
            lines = "; ".join(
                _text("status_line", plan.script, code=t.code, status=status_label(t.status, plan.script))
                for t in tickets
            )
            body = _text("status_many", plan.script, lines=lines)
        else:
            body = _status_text(session, ticket, plan.script)
    else:
        body = _status_text(session, ticket, plan.script)
    _reply(uow, message, body, ticket_id=ticket.id, kind="status")


def _answer_unknown(uow: UnitOfWork, message: Message, plan: _Plan) -> None:
    """Answer a status query that names no known ticket."""
    known = bool(plan.codes)
    body = _text("status_unknown", plan.script, code=plan.codes[0]) if known else _text("status_none", plan.script)
    _reply(uow, message, body, ticket_id=None, kind="status")


def _record_feedback(uow: UnitOfWork, message: Message, ticket: Ticket, plan: _Plan, now: datetime) -> None:
    """Record the citizen's "fixed?" answer; "no" reopens the ticket and tells the organisation."""
    session = uow.session
    ticket.feedback = plan.answer
    ticket.feedback_at = now
    ticket.updated_at = now
    yes = plan.answer == "yes"
    session.add(
        StatusChange(
            ticket_id=ticket.id,
            at=now,
            kind="feedback",
            actor_label="citizen",
            organisation_id=ticket.organisation_id,
            public_note=TEXTS["note_feedback_yes" if yes else "note_feedback_no"],
            internal_note=f"sms:{message.id}",
        )
    )
    if yes:
        _reply(uow, message, _text("feedback_yes", plan.script, code=ticket.code), ticket_id=ticket.id, kind="feedback")
        uow.emit("ticket.updated", {"ticket": ticket_summary(ticket), "reason": "feedback"})
        return
    if ticket.status == Status.RESOLVED.value:
        previous = ticket.status
        ticket.status = Status.REOPENED.value
        ticket.reopened_count = (ticket.reopened_count or 0) + 1
        ticket.resolved_at = None
        session.add(
            StatusChange(
                ticket_id=ticket.id,
                at=now,
                kind="status",
                actor_label="citizen",
                from_status=previous,
                to_status=Status.REOPENED.value,
                organisation_id=ticket.organisation_id,
                public_note=TEXTS["note_feedback_no"],
            )
        )
        org = ticket.organisation
        if org is not None:
            _notify_org(uow, ticket, org, _text("org_reopened", "sr-Cyrl", code=ticket.code), f"reopened:{message.id}")
    _reply(uow, message, _text("feedback_no", plan.script, code=ticket.code), ticket_id=ticket.id, kind="feedback")
    uow.emit("ticket.updated", {"ticket": ticket_summary(ticket), "reason": "reopened"})


def _notify_org(uow: UnitOfWork, ticket: Ticket, org: Organisation, body: str, tag: str) -> None:
    """Queue a notice to an organisation through the outbox (e-mail, else its duty phone)."""
    channel, address = ("email", org.email) if org.email else ("sms", org.duty_phone)
    uow.add_outbox(
        "notify_org",
        {"ticket_id": ticket.id, "organisation_id": org.id, "channel": channel if address else "log",
         "address": address, "subject": f"Систем 48: {ticket.code}", "body": body},
        dedup_key=f"org:{ticket.id}:{org.id}:{tag}"[:200],
    )  # fmt: skip


# -- operators: queue, replies, work orders -------------------------------------------------------


def list_sms(
    session: so.Session, *, direction: str | None, state: str | None, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """List SMS messages newest first for the operators' queue."""
    query = sa.select(Message).where(Message.channel == Channel.SMS.value)
    if direction in ("in", "out"):
        query = query.where(Message.direction == direction)
    if state:
        query = query.where(Message.delivery_state.in_(state.split(",")[:10]))
    rows = session.scalars(
        query.order_by(Message.at.desc(), Message.id.desc()).limit(max(1, min(limit, 200))).offset(max(0, offset))
    ).all()
    codes = dict(
        session.execute(
            sa.select(Ticket.id, Ticket.code).where(Ticket.id.in_({m.ticket_id for m in rows if m.ticket_id}))
        ).all()
    )
    return [sms_view(m, codes.get(m.ticket_id) if m.ticket_id else None) for m in rows]


def sms_view(message: Message, ticket_code: str | None) -> dict[str, Any]:
    """Render one SMS message for staff."""
    meta = message.meta or {}
    return {
        "id": message.id,
        "direction": message.direction,
        "ticket": ticket_code,
        "address": message.address,
        "body": message.body,
        "at": message.at.isoformat(),
        "delivery_state": message.delivery_state,
        "attempts": message.attempts,
        "segments": message.segments,
        "encoding": message.encoding,
        "error": message.error,
        "kind": meta.get("sms_kind"),
        "binary": bool(meta.get("binary")),
        "incomplete": bool((meta.get("sms") or {}).get("sms_missing")),
    }


def queue_reply(uow: UnitOfWork, code: str, text: str, user: User) -> dict[str, Any]:
    """Queue an operator's SMS reply to the ticket's citizen, and note it in the history."""
    body = strip_invisible(text).strip()[:MAX_BODY]
    if not body:
        raise ValueError("empty reply")
    with uow:
        session = uow.session
        ticket = session.scalar(sa.select(Ticket).where(Ticket.code == code[:20]))
        if ticket is None:
            raise LookupError(code)
        citizen = ticket.citizen
        if citizen is None or citizen.phone_e164 is None:
            raise BlockedRecipient("the ticket has no citizen phone number")
        now = uow.clock.now()
        message = Message(
            ticket_id=ticket.id,
            citizen_id=citizen.id,
            direction="out",
            channel=Channel.SMS.value,
            address=citizen.phone_e164,
            body=body,
            at=now,
            delivery_state="queued",
            meta={"sms_kind": "reply", "user_id": user.id},
        )
        session.add(message)
        session.add(
            StatusChange(
                ticket_id=ticket.id, at=now, kind="note", actor_id=user.id, actor_label=user.username,
                internal_note=f"SMS: {body[:200]}",
            )
        )  # fmt: skip
        session.flush()
        view = sms_view(message, ticket.code)
        uow.commit()
        return view


def queue_work_order(uow: UnitOfWork, org_code: str, text: str, user: User, ticket_code: str | None) -> dict[str, Any]:
    """Queue a work order SMS to an organisation's duty phone (optionally about a ticket)."""
    body = strip_invisible(text).strip()[:MAX_BODY]
    if not body:
        raise ValueError("empty work order")
    with uow:
        session = uow.session
        org = session.scalar(sa.select(Organisation).where(Organisation.code == org_code[:40]))
        if org is None:
            raise LookupError(org_code)
        phone = parse_phone(org.duty_phone)
        if phone is None or phone.e164 is None:
            raise BlockedRecipient("the organisation has no duty phone")
        ticket = None
        if ticket_code:
            ticket = session.scalar(sa.select(Ticket).where(Ticket.code == ticket_code[:20]))
            if ticket is None:
                raise LookupError(ticket_code)
            body = _text("work_order", "sr-Cyrl", code=ticket.code, text=body)[:MAX_BODY]
        message = Message(
            ticket_id=ticket.id if ticket else None,
            direction="out",
            channel=Channel.SMS.value,
            address=phone.e164,
            body=body,
            at=uow.clock.now(),
            delivery_state="queued",
            meta={"sms_kind": "work_order", "organisation_id": org.id, "user_id": user.id},
        )
        session.add(message)
        session.flush()
        view = sms_view(message, ticket.code if ticket else None)
        uow.commit()
        return view


# -- the outgoing queue (used by the daemon's sender) ---------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OutgoingSms:
    """A claimed outgoing SMS: what to send, to whom, and whether to transliterate."""

    message_id: int
    address: str
    body: str
    transliterate: bool
    attempts: int


def recover_interrupted(uow: UnitOfWork) -> int:
    """Fail rows a killed sender left in ``sending``: they may have gone out, so never send them twice."""
    with uow:
        result = uow.session.execute(
            sa.update(Message)
            .where(
                Message.channel == Channel.SMS.value, Message.direction == "out", Message.delivery_state == "sending"
            )
            .values(delivery_state="unknown", error="sender stopped during the send; it may have been delivered")
            .execution_options(synchronize_session=False)
        )
        uow.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def allowed_recipient(session: so.Session, address: str | None) -> str | None:
    """Return the E.164 number we may send to, or None.

    Only mobile numbers that contacted us (a known citizen) or an organisation's duty phone: never
    alphanumeric senders, short codes or arbitrary numbers (SMS pumping).
    """
    phone = parse_phone(address)
    if phone is None or phone.e164 is None or not phone.valid:
        return None
    number = phone.e164
    if session.scalar(sa.select(Citizen.id).where(Citizen.phone_e164 == number).limit(1)) is not None:
        return number
    for duty in session.scalars(sa.select(Organisation.duty_phone).where(Organisation.duty_phone.is_not(None))):
        duty_phone = parse_phone(duty)
        if duty_phone is not None and duty_phone.e164 == number:
            return number
    return None


def _parts_sent_since(session: so.Session, since: datetime, address: str | None = None) -> int:
    """Count SMS parts handed to the modem since ``since`` (optionally to one address)."""
    query = sa.select(sa.func.coalesce(sa.func.sum(Message.segments), 0)).where(
        Message.channel == Channel.SMS.value,
        Message.direction == "out",
        Message.external_id.is_not(None),
        Message.at >= since,
    )
    if address is not None:
        query = query.where(Message.address == address)
    return int(session.scalar(query) or 0)


def _transliterate_for(session: so.Session, message: Message, number: str, default: bool) -> bool:
    """Return the citizen's, else the organisation's, else the deployment's transliteration choice."""
    citizen = session.get(Citizen, message.citizen_id) if message.citizen_id else None
    if citizen is None:
        citizen = session.scalar(sa.select(Citizen).where(Citizen.phone_e164 == number).limit(1))
    if citizen is not None and citizen.sms_transliterate:
        return True
    org_id = (message.meta or {}).get("organisation_id")
    if isinstance(org_id, int):
        org = session.get(Organisation, org_id)
        if org is not None and org.sms_transliterate:
            return True
    elif citizen is None:
        for org in session.scalars(sa.select(Organisation).where(Organisation.duty_phone.is_not(None))):
            duty = parse_phone(org.duty_phone)
            if duty is not None and duty.e164 == number and org.sms_transliterate:
                return True
    return default


def _outgoing_body(session: so.Session, message: Message) -> str:
    """Return the text to send: a resolution notice to the citizen also invites the 1/0 answer."""
    body = message.body
    if message.ticket_id is None:
        return body
    ticket = session.get(Ticket, message.ticket_id)
    if (
        ticket is None
        or ticket.status != Status.RESOLVED.value
        or ticket.resolved_at is None
        or message.at < ticket.resolved_at
        or ticket.citizen is None
        or (message.meta or {}).get("sms_kind") in ("status", "feedback", "work_order")
    ):
        return body
    to = parse_phone(message.address)
    if to is None or to.e164 is None or to.e164 != ticket.citizen.phone_e164:
        return body
    invite = feedback_invite(ticket.citizen.script)
    return body if fold(invite) in fold(body) else f"{body} {invite}"


def claim_next(
    uow: UnitOfWork, now: datetime, *, transliterate_default: bool, budget: int = DAILY_PART_BUDGET
) -> OutgoingSms | None:
    """Claim the next queued SMS that is due and allowed; refuse blocked ones; None when nothing is due."""
    with uow:
        session = uow.session
        for _ in range(20):
            message = session.scalars(
                sa.select(Message)
                .where(
                    Message.channel == Channel.SMS.value,
                    Message.direction == "out",
                    Message.delivery_state == "queued",
                    sa.or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
                )
                .order_by(Message.next_attempt_at.is_not(None), Message.next_attempt_at, Message.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if message is None:
                return None
            number = allowed_recipient(session, message.address)
            if number is None:
                message.delivery_state = "blocked"
                message.error = "recipient is not a number that contacted us or a duty phone"
                log.warning("outgoing SMS %s blocked: recipient not allowed", message.id)
                uow.commit()
                continue
            if _parts_sent_since(session, now - timedelta(days=1)) >= budget:
                message.next_attempt_at = now + timedelta(hours=1)
                message.error = "daily SMS budget reached"
                log.error("daily SMS budget of %d parts reached; sending paused", budget)
                uow.commit()
                return None
            if _parts_sent_since(session, now - timedelta(days=1), number) >= PER_RECIPIENT_DAILY:
                message.next_attempt_at = now + timedelta(hours=1)
                message.error = "daily cap for this recipient reached"
                uow.commit()
                continue
            body = _outgoing_body(session, message)
            translit = _transliterate_for(session, message, number, transliterate_default)
            message.delivery_state = "sending"
            message.attempts = (message.attempts or 0) + 1
            message.address = number
            if body != message.body:
                message.body = body
            claimed = OutgoingSms(
                message_id=message.id, address=number, body=body, transliterate=translit, attempts=message.attempts
            )
            uow.commit()
            return claimed
    return None


def record_sent(
    uow: UnitOfWork,
    message_id: int,
    *,
    references: tuple[int, ...],
    segments: int,
    encoding: str,
    transliterated: bool,
    report_requested: bool,
    sent_text: str | None = None,
) -> None:
    """Record a successful hand-over to the network (``sent_text``: what went out, when transliterated)."""
    with uow:
        message = uow.session.get_one(Message, message_id)
        message.delivery_state = "sent"
        message.external_id = ",".join(map(str, references))[:200]
        message.segments = segments
        message.encoding = encoding
        message.error = None
        message.next_attempt_at = None
        message.meta = {
            **(message.meta or {}),
            "refs": list(references),
            "transliterated": transliterated,
            "sent_at": uow.clock.now().isoformat(),
            "report_requested": report_requested,
        }
        if sent_text is not None:
            message.meta = {**message.meta, "sent_text": sent_text[:MAX_BODY]}
        uow.commit()


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after ``attempts`` failed sends, capped."""
    delay: timedelta = BASE_RETRY * (2 ** max(0, attempts - 1))
    return min(delay, MAX_RETRY)


def record_failure(uow: UnitOfWork, message_id: int, error: str, *, permanent: bool = False) -> str:
    """Record a failed send: queued again after a backoff, or failed; returns the new state."""
    with uow:
        message = uow.session.get_one(Message, message_id)
        message.error = error[:MAX_ERROR]
        if permanent or message.attempts >= MAX_ATTEMPTS:
            message.delivery_state = "failed"
            message.next_attempt_at = None
            log.error("SMS %s failed for good after %d attempt(s): %s", message_id, message.attempts, error)
        else:
            message.delivery_state = "queued"
            message.next_attempt_at = uow.clock.now() + retry_delay(message.attempts)
        uow.commit()
        return message.delivery_state


def record_delivery_report(
    uow: UnitOfWork, *, recipient: str, reference: int, state: str, at: datetime | None
) -> int | None:
    """Apply a status report to the SMS it is about (recipient + message reference); return its id."""
    phone = parse_phone(recipient)
    number = phone.e164 if phone and phone.e164 else recipient
    with uow:
        session = uow.session
        now = uow.clock.now()
        candidates = session.scalars(
            sa.select(Message)
            .where(
                Message.channel == Channel.SMS.value,
                Message.direction == "out",
                Message.address == number,
                Message.external_id.is_not(None),
                Message.at >= now - timedelta(days=7),
            )
            .order_by(Message.id.desc())
            .limit(50)
        ).all()
        for message in candidates:
            meta = dict(message.meta or {})
            refs = [int(r) for r in meta.get("refs") or []]
            reports = {str(k): v for k, v in (meta.get("reports") or {}).items()}
            if reference not in refs or str(reference) in reports and reports[str(reference)] != "pending":
                continue
            reports[str(reference)] = state
            meta["reports"] = reports
            message.meta = meta
            states = [reports.get(str(r)) for r in refs]
            if "failed" in states:
                message.delivery_state = "failed"
                message.error = "delivery report: failed"
            elif all(s == "delivered" for s in states):
                message.delivery_state = "delivered"
            if at is not None and message.delivery_state == "delivered":
                meta["delivered_at"] = at.isoformat()
            uow.commit()
            return message.id
    return None
