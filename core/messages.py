"""Commands that enter the core from any channel adapter (imperative names, plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Channel(StrEnum):
    """How a report reached us (contracts §5)."""

    PHONE = "phone"
    VOICEMAIL = "voicemail"
    SMS = "sms"
    EMAIL = "email"
    WALK_IN = "walk-in"
    WEB = "web"
    OPEN311 = "open311"


@dataclass(frozen=True, kw_only=True)
class ReceiveReport:
    """A citizen's message from any channel, to become a ticket or join an existing one.

    ``source_key`` is the natural key of the inbound item (SMS sender+SMSC time+text hash, e-mail
    Message-ID, voicemail mailbox+msg id, call Linkedid, API Idempotency-Key). The same key received
    twice, even concurrently, yields one ticket.
    """

    channel: Channel
    text: str
    source_key: str | None = None
    phone: str | None = None
    email: str | None = None
    name: str | None = None
    place: str | None = None
    category: str | None = None
    ticket_code: str | None = None
    received_at: datetime | None = None
    raw: str | None = None
    operator_id: int | None = None
    call_id: int | None = None
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class IntakeResult:
    """What intake did with a report."""

    ticket_id: int
    ticket_code: str
    created: bool
    duplicate: bool = False
    message_id: int | None = None
