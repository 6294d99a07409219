"""After-hours voicemail: each complete spool message becomes one draft ticket and one transcription job.

Asterisk writes ``msgNNNN.txt`` next to the audio and appends ``duration=`` last, so a message is
complete only when that line is there (telephony.md §5). ``msgNNNN`` is renumbered when messages
move from INBOX to Old, so the key is the metadata's ``msg_id`` (older Asterisk: origtime + caller
ID + duration), never the file name. We only read the spool, never change it.

The metadata comes from a caller: the caller ID is attacker-controlled text and the file may be
truncated, padded or huge. It is parsed by hand, line by line, bounded, and every value is data.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc

from core.db.models import Call, Ticket, Voicemail
from core.db.uow import UnitOfWork
from core.messages import Channel, ReceiveReport
from core.services.calls import call_summary
from core.services.intake import IntakePolicy, receive
from core.services.views import ticket_summary

log = logging.getLogger(__name__)

MAX_INFO_BYTES = 64 * 1024  # a real msgNNNN.txt is ~400 bytes; read no more than this
MAX_VALUE = 512
MAX_LINES = 200
PLACEHOLDER_TEXT = "Говорна порука (чека транскрипцију)"
TRANSCRIBE_KIND = "transcribe"
_CALLERID_RE = re.compile(r'^\s*(?:"(?P<qname>[^"]*)"|(?P<name>[^<]*?))\s*<(?P<num>[^>]*)>\s*$')
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, kw_only=True)
class MessageInfo:
    """What ``msgNNNN.txt`` says about one message (missing fields are None)."""

    fields: dict[str, str] = field(default_factory=dict)
    caller_name: str | None = None
    caller_number: str | None = None
    origtime: int | None = None
    duration: int | None = None
    msg_id: str | None = None
    callerchan: str | None = None

    @property
    def complete(self) -> bool:
        """Asterisk appends ``duration=`` after recording: without it the message is still being written."""
        return self.duration is not None


@dataclass(frozen=True, kw_only=True)
class SpoolMessage:
    """One complete message found in the spool: where it is and what its metadata says."""

    mailbox: str  # "4800@sistem48"
    folder: str  # INBOX | Old
    name: str  # msg0003 (not stable: only for people and logs)
    info: MessageInfo
    audio_path: str | None


@dataclass(frozen=True)
class IngestResult:
    """The voicemail row for a message, and whether this call created it."""

    voicemail_id: int
    created: bool


def _decode(data: bytes) -> str:
    """Decode metadata: UTF-8, else cp1250 (older trunks), never dropping letters."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1250", errors="replace")


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value.strip())
    except ValueError:
        return None
    return number if 0 <= number < 10**12 else None


def parse_callerid(text: str | None) -> tuple[str | None, str | None]:
    """Split ``"Name" <number>`` (or ``Name <n>``, a bare number, a bare name, ``Unknown``)."""
    if not text:
        return None, None
    text = text.strip()
    match = _CALLERID_RE.match(text)
    if match:
        name = match.group("qname") if match.group("qname") is not None else match.group("name")
        number = match.group("num").strip()
        return (name.strip() or None) if name else None, number or None
    if text.casefold() == "unknown":
        return None, None
    compact = text.replace(" ", "").replace("-", "").replace("/", "")
    if compact.lstrip("+").isdigit():
        return None, text
    return text, None


def parse_message_info(data: bytes) -> MessageInfo:
    """Parse ``msgNNNN.txt`` defensively: bounded, first value wins, garbage lines ignored."""
    text = _decode(data[:MAX_INFO_BYTES])
    values: dict[str, str] = {}
    for count, raw_line in enumerate(text.splitlines()):
        if count >= MAX_LINES:
            break
        line = raw_line.strip()
        if not line or line.startswith((";", "#", "[")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().casefold()
        if key and key not in values and len(key) <= 40:
            values[key] = _CONTROL.sub("", value.strip())[:MAX_VALUE]
    name, number = parse_callerid(values.get("callerid"))
    return MessageInfo(
        fields=values,
        caller_name=name,
        caller_number=number,
        origtime=_int(values.get("origtime")),
        duration=_int(values.get("duration")) if "duration" in values else None,
        msg_id=values.get("msg_id") or None,
        callerchan=values.get("callerchan") or None,
    )


def message_key(info: MessageInfo) -> str:
    """Return the stable key of a message: ``msg_id``, else origtime + caller ID + duration."""
    if info.msg_id:
        return f"id:{info.msg_id[:100]}"
    basis = f"{info.origtime}|{info.fields.get('callerid', '')}|{info.duration}|{info.callerchan}"
    return "h:" + hashlib.sha256(basis.encode("utf-8", errors="replace")).hexdigest()[:40]


def _received_at(info: MessageInfo, now: datetime) -> datetime:
    """When the citizen spoke: ``origtime`` if it is plausible, else now (the SLA starts at receipt)."""
    if info.origtime:
        try:
            at = datetime.fromtimestamp(info.origtime, UTC)
        except (OverflowError, OSError, ValueError):
            return now
        if now - timedelta(days=90) <= at <= now + timedelta(minutes=1):
            return at
    return now


def _find_call(uow: UnitOfWork, msg: SpoolMessage, at: datetime, hint_linkedid: str | None) -> Call | None:
    """Link the message to its call: the MessageWaiting's Linkedid, else caller number, channel and time."""
    session = uow.session
    if hint_linkedid:
        call = session.scalar(sa.select(Call).where(Call.linkedid == hint_linkedid[:64]))
        if call is not None:
            return call
    if not msg.info.caller_number:
        return None
    candidates = session.scalars(
        sa.select(Call)
        .where(
            Call.caller_raw == msg.info.caller_number[:256],
            Call.started_at >= at - timedelta(hours=2),
            Call.started_at <= at + timedelta(minutes=10),
        )
        .order_by(Call.started_at.desc())
        .limit(20)
    ).all()
    for call in candidates:
        if msg.info.callerchan and (call.meta or {}).get("channel") == msg.info.callerchan:
            return call
    return candidates[0] if candidates else None


def _mark_call(call: Call, ticket_id: int) -> None:
    """Mark a call as ended in a voicemail: its ticket is the follow-up, not a callback."""
    call.outcome = "voicemail"
    call.callback_due_at = None
    call.ticket_id = call.ticket_id or ticket_id


def ingest(
    uow: UnitOfWork,
    msg: SpoolMessage,
    policy: IntakePolicy | None = None,
    *,
    hint_linkedid: str | None = None,
) -> IngestResult | None:
    """Ingest one complete message once: draft ticket, voicemail row, transcription job, ``voicemail.new``.

    Safe to call again for the same message (after a reconnect, from a MessageWaiting and a spool
    scan at once, after a crash between the ticket and the voicemail row): one ticket, one row, one job.
    """
    if not msg.info.complete:
        return None
    key = message_key(msg.info)
    mailbox = msg.mailbox[:80]
    with uow:
        existing = uow.session.scalar(
            sa.select(Voicemail).where(Voicemail.mailbox == mailbox, Voicemail.msg_key == key)
        )
        if existing is not None:
            changed = False
            if msg.audio_path and existing.audio_path != msg.audio_path:
                # INBOX -> Old after the supervisor played it: follow the file, keep the row.
                existing.audio_path = msg.audio_path[:500]
                existing.meta = {**(existing.meta or {}), "folder": msg.folder, "msg": msg.name}
                changed = True
            if existing.call_id is None:
                # Found by a spool scan before its call was recorded: link it now.
                call = _find_call(uow, msg, existing.received_at, hint_linkedid)
                if call is not None and existing.ticket_id is not None:
                    existing.call_id = call.id
                    _mark_call(call, existing.ticket_id)
                    changed = True
            if changed:
                uow.commit()
            return IngestResult(existing.id, False)
        now = uow.clock.now()
    received_at = _received_at(msg.info, now)
    raw = "\n".join(f"{k}={v}" for k, v in msg.info.fields.items())
    result = receive(
        uow,
        ReceiveReport(
            channel=Channel.VOICEMAIL,
            text=PLACEHOLDER_TEXT,
            source_key=f"voicemail:{mailbox}:{key}",
            phone=msg.info.caller_number,
            received_at=received_at,
            raw=raw,
            attrs={"mailbox": mailbox},
        ),
        policy,
    )
    with uow:
        session = uow.session
        call = _find_call(uow, msg, received_at, hint_linkedid)
        meta: dict[str, Any] = {
            "folder": msg.folder,
            "msg": msg.name,
            "callerid": msg.info.fields.get("callerid"),
            "caller_name": msg.info.caller_name,
            "caller_number": msg.info.caller_number,
            "callerchan": msg.info.callerchan,
            "origtime": msg.info.origtime,
            "msg_id": msg.info.msg_id,
            "context": msg.info.fields.get("context"),
        }
        row = Voicemail(
            mailbox=mailbox,
            msg_key=key,
            call_id=call.id if call else None,
            ticket_id=result.ticket_id,
            audio_path=msg.audio_path[:500] if msg.audio_path else None,
            duration_s=msg.info.duration,
            received_at=received_at,
            transcript_status="pending",
            meta=meta,
        )
        try:
            with session.begin_nested():
                session.add(row)
        except sa_exc.IntegrityError:
            again = session.scalar(sa.select(Voicemail).where(Voicemail.mailbox == mailbox, Voicemail.msg_key == key))
            if again is None:
                raise
            return IngestResult(again.id, False)
        if call is not None:
            _mark_call(call, result.ticket_id)
        uow.add_outbox(TRANSCRIBE_KIND, {"voicemail_id": row.id}, dedup_key=f"transcribe:{row.id}")
        ticket = session.get_one(Ticket, result.ticket_id)
        uow.emit(
            "voicemail.new",
            {
                "voicemail": {
                    "id": row.id,
                    "mailbox": mailbox,
                    "duration_s": row.duration_s,
                    "received_at": received_at.isoformat(),
                    "caller": {"name": msg.info.caller_name, "number": msg.info.caller_number},
                    "call_id": row.call_id,
                    "transcript_status": row.transcript_status,
                },
                "ticket": ticket_summary(ticket),
                "call": call_summary(call, session) if call else None,
            },
        )
        uow.commit()
        log.info("voicemail %s ingested as ticket %s", row.id, result.ticket_code)
        return IngestResult(row.id, True)
