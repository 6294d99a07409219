"""The tables of Sistem 48 (SQLAlchemy 2 typed models; every change ships with an Alembic migration)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.base import Base, BigId

Text = sa.Text()


class Organisation(Base):
    """A body that handles tickets: public company, municipal department, inspection or external body."""

    __tablename__ = "organisation"
    id: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    code: so.Mapped[str] = so.mapped_column(sa.String(40), unique=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    kind: so.Mapped[str] = so.mapped_column(sa.String(20))  # public_company|department|inspection|external|call_centre
    email: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    phone: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    duty_phone: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    duty_team: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    sms_transliterate: so.Mapped[bool] = so.mapped_column(default=False)
    active: so.Mapped[bool] = so.mapped_column(default=True)


class Category(Base):
    """A kind of problem, with its routing target and resolution time."""

    __tablename__ = "category"
    id: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    code: so.Mapped[str] = so.mapped_column(sa.String(40), unique=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    organisation_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("organisation.id"))
    resolve_hours: so.Mapped[int] = so.mapped_column(default=240)
    priority: so.Mapped[str] = so.mapped_column(sa.String(10), default="normal")
    active: so.Mapped[bool] = so.mapped_column(default=True)
    organisation: so.Mapped[Organisation | None] = so.relationship(lazy="joined")


class KeywordRule(Base):
    """An editable classification rule: a word stem or phrase that points to a category."""

    __tablename__ = "keyword_rule"
    id: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    category_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("category.id", ondelete="CASCADE"), index=True)
    pattern: so.Mapped[str] = so.mapped_column(sa.String(100))
    folded: so.Mapped[str] = so.mapped_column(sa.String(100))
    weight: so.Mapped[int] = so.mapped_column(default=1)


class Place(Base):
    """A settlement or street of the municipality, in both scripts, for coarse public locations."""

    __tablename__ = "place"
    id: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    name_cyrl: so.Mapped[str] = so.mapped_column(sa.String(120))
    name_latn: so.Mapped[str] = so.mapped_column(sa.String(120))
    folded: so.Mapped[str] = so.mapped_column(sa.String(120), unique=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(20), default="settlement")


class Citizen(Base):
    """A reporter, identified by E.164 phone number or e-mail; may stay anonymous (no row at all)."""

    __tablename__ = "citizen"
    id: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    # phone_key: E.164 when the number parses, else the trimmed raw sender (e.g. "A1 BiH"), so one
    # sender is one citizen either way. phone_raw keeps what we were given, byte for byte.
    phone_key: so.Mapped[str | None] = so.mapped_column(sa.String(64), unique=True)
    phone_e164: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    phone_raw: so.Mapped[str | None] = so.mapped_column(sa.String(256))
    phone_valid: so.Mapped[bool] = so.mapped_column(default=False)
    name: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    email: so.Mapped[str | None] = so.mapped_column(sa.String(320), unique=True)
    preferred_channel: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    script: so.Mapped[str] = so.mapped_column(sa.String(10), default="sr-Cyrl")
    consent: so.Mapped[bool] = so.mapped_column(default=False)
    consent_at: so.Mapped[datetime | None]
    sms_transliterate: so.Mapped[bool] = so.mapped_column(default=False)
    created_at: so.Mapped[datetime]


class User(Base):
    """A member of staff with one role."""

    __tablename__ = "app_user"
    id: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    username: so.Mapped[str] = so.mapped_column(sa.String(80), unique=True)
    display_name: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    password_hash: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    role: so.Mapped[str] = so.mapped_column(sa.String(20))  # operator|department|supervisor|admin
    organisation_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("organisation.id"))
    extension: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    language: so.Mapped[str] = so.mapped_column(sa.String(10), default="sr-Cyrl")
    active: so.Mapped[bool] = so.mapped_column(default=True)
    totp_secret: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    failed_logins: so.Mapped[int] = so.mapped_column(default=0)
    locked_until: so.Mapped[datetime | None]
    created_at: so.Mapped[datetime]


class ApiToken(Base):
    """A bearer token for scripts and partners; only its SHA-256 is stored."""

    __tablename__ = "api_token"
    id: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(100))
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_at: so.Mapped[datetime]
    last_used_at: so.Mapped[datetime | None]
    revoked_at: so.Mapped[datetime | None]


class Ticket(Base):
    """One citizen request and its two clocks: status answer (48 h) and resolution (per category)."""

    __tablename__ = "ticket"
    __table_args__ = (
        sa.Index("ix_ticket_open_answer", "answered_at", "answer_due"),
        sa.Index("ix_ticket_citizen_created", "citizen_id", "created_at"),
        sa.Index("ix_ticket_status_created", "status", "created_at"),
        sa.Index("ix_ticket_created_at", "created_at"),  # Open311 date filters, weekly overview
    )
    id: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    code: so.Mapped[str] = so.mapped_column(sa.String(20), unique=True)
    channel: so.Mapped[str] = so.mapped_column(sa.String(20))
    citizen_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("citizen.id"))
    category_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("category.id"), index=True)
    organisation_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("organisation.id"), index=True)
    description: so.Mapped[str] = so.mapped_column(Text)
    place: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    place_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("place.id"))
    status: so.Mapped[str] = so.mapped_column(sa.String(20))
    priority: so.Mapped[str] = so.mapped_column(sa.String(10), default="normal")
    search_text: so.Mapped[str] = so.mapped_column(Text, default="")
    created_at: so.Mapped[datetime]
    updated_at: so.Mapped[datetime]
    answer_due: so.Mapped[datetime]
    resolve_due: so.Mapped[datetime]
    answered_at: so.Mapped[datetime | None]
    resolved_at: so.Mapped[datetime | None]
    warned_at: so.Mapped[datetime | None]
    escalated_at: so.Mapped[datetime | None]
    breached_at: so.Mapped[datetime | None]
    resolve_breached_at: so.Mapped[datetime | None]
    last_inbound_at: so.Mapped[datetime | None]
    feedback: so.Mapped[str | None] = so.mapped_column(sa.String(10))  # citizen's "fixed?" answer: yes|no
    feedback_at: so.Mapped[datetime | None]
    reopened_count: so.Mapped[int] = so.mapped_column(default=0)
    cluster_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("ticket.id"), index=True)
    citizen: so.Mapped[Citizen | None] = so.relationship(lazy="joined")
    category: so.Mapped[Category | None] = so.relationship(lazy="joined")
    organisation: so.Mapped[Organisation | None] = so.relationship(lazy="joined")


class TicketCounter(Base):
    """Per-year sequence behind the public code 48-YYYY-NNNNNN."""

    __tablename__ = "ticket_counter"
    year: so.Mapped[int] = so.mapped_column(primary_key=True, autoincrement=False)
    value: so.Mapped[int] = so.mapped_column(default=0)


class StatusChange(Base):
    """A line in a ticket's history: status changes, notes, warnings, escalations, breaches."""

    __tablename__ = "status_change"
    id: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    ticket_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    at: so.Mapped[datetime]
    kind: so.Mapped[str] = so.mapped_column(sa.String(20))  # status|note|warning|escalation|breach|...
    actor_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("app_user.id"))
    actor_label: so.Mapped[str] = so.mapped_column(sa.String(80))
    from_status: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    to_status: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    organisation_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("organisation.id"))
    public_note: so.Mapped[str | None] = so.mapped_column(Text)
    internal_note: so.Mapped[str | None] = so.mapped_column(Text)


class InboundItem(Base):
    """The raw record of everything received, keyed by its natural key so nothing is taken twice."""

    __tablename__ = "inbound_item"
    __table_args__ = (sa.UniqueConstraint("channel", "source_key", name="uq_inbound_item_source"),)
    id: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    channel: so.Mapped[str] = so.mapped_column(sa.String(20))
    source_key: so.Mapped[str] = so.mapped_column(sa.String(300))
    received_at: so.Mapped[datetime]
    raw: so.Mapped[str | None] = so.mapped_column(Text)
    state: so.Mapped[str] = so.mapped_column(sa.String(20), default="accepted")  # accepted|quarantined
    error: so.Mapped[str | None] = so.mapped_column(Text)
    ticket_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("ticket.id"), index=True)
    message_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("message.id"))
    message: so.Mapped[Message | None] = so.relationship()


class Message(Base):
    """A text to or from a citizen or an organisation, on any channel, with its delivery state."""

    __tablename__ = "message"
    __table_args__ = (sa.Index("ix_message_citizen_at", "citizen_id", "at"),)
    id: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    ticket_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("ticket.id"), index=True)
    citizen_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("citizen.id"))
    direction: so.Mapped[str] = so.mapped_column(sa.String(3))  # in|out
    channel: so.Mapped[str] = so.mapped_column(sa.String(20))
    address: so.Mapped[str | None] = so.mapped_column(sa.String(320))
    body: so.Mapped[str] = so.mapped_column(Text)
    at: so.Mapped[datetime]
    delivery_state: so.Mapped[str] = so.mapped_column(sa.String(20), default="received")
    outbox_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("outbox.id"), unique=True)
    external_id: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    # Outbound queue state for channels with their own sender (the SMS daemon paces the modem).
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    next_attempt_at: so.Mapped[datetime | None]
    segments: so.Mapped[int | None]
    encoding: so.Mapped[str | None] = so.mapped_column(sa.String(10))
    error: so.Mapped[str | None] = so.mapped_column(Text)
    meta: so.Mapped[dict[str, Any] | None]
    citizen: so.Mapped[Citizen | None] = so.relationship()


class Call(Base):
    """One phone call, keyed by the caller leg's Asterisk Linkedid."""

    __tablename__ = "call"
    __table_args__ = (sa.Index("ix_call_citizen_started", "citizen_id", "started_at"),)
    id: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    linkedid: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    direction: so.Mapped[str] = so.mapped_column(sa.String(3), default="in")
    caller_raw: so.Mapped[str | None] = so.mapped_column(sa.String(256))
    caller_name: so.Mapped[str | None] = so.mapped_column(sa.String(256))
    citizen_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("citizen.id"))
    operator_ext: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    operator_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("app_user.id"))
    state: so.Mapped[str] = so.mapped_column(sa.String(20))  # ringing|answered|ended
    outcome: so.Mapped[str | None] = so.mapped_column(sa.String(20))  # answered|missed|abandoned|voicemail
    started_at: so.Mapped[datetime]
    answered_at: so.Mapped[datetime | None]
    ended_at: so.Mapped[datetime | None]
    ticket_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("ticket.id"))
    queue: so.Mapped[str | None] = so.mapped_column(sa.String(80))
    callback_due_at: so.Mapped[datetime | None]
    callback_done_at: so.Mapped[datetime | None]
    meta: so.Mapped[dict[str, Any] | None]


class Voicemail(Base):
    """An after-hours voicemail: audio, metadata, and its transcript state."""

    __tablename__ = "voicemail"
    __table_args__ = (sa.UniqueConstraint("mailbox", "msg_key", name="uq_voicemail_msg"),)
    id: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    mailbox: so.Mapped[str] = so.mapped_column(sa.String(80))
    msg_key: so.Mapped[str] = so.mapped_column(sa.String(120))
    call_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("call.id"))
    ticket_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("ticket.id"), index=True)
    audio_path: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    duration_s: so.Mapped[int | None]
    received_at: so.Mapped[datetime]
    transcript_status: so.Mapped[str] = so.mapped_column(sa.String(20), default="pending")
    transcript_text: so.Mapped[str | None] = so.mapped_column(Text)
    transcript_redacted: so.Mapped[str | None] = so.mapped_column(Text)
    transcript_words: so.Mapped[dict[str, Any] | None]
    transcript_confidence: so.Mapped[float | None]
    transcript_attempts: so.Mapped[int] = so.mapped_column(default=0)
    transcript_error: so.Mapped[str | None] = so.mapped_column(Text)
    needs_human: so.Mapped[bool] = so.mapped_column(default=False)
    publish_transcript: so.Mapped[bool] = so.mapped_column(default=False)
    corrected_text: so.Mapped[str | None] = so.mapped_column(Text)
    corrected_by: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("app_user.id"))
    corrected_at: so.Mapped[datetime | None]
    meta: so.Mapped[dict[str, Any] | None]


class Attachment(Base):
    """A file that came with a message (photo, document), stored outside the database."""

    __tablename__ = "attachment"
    id: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    ticket_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("ticket.id"), index=True)
    message_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("message.id"))
    message: so.Mapped[Message | None] = so.relationship()
    filename: so.Mapped[str] = so.mapped_column(sa.String(255))
    content_type: so.Mapped[str] = so.mapped_column(sa.String(100))
    size: so.Mapped[int]
    sha256: so.Mapped[str] = so.mapped_column(sa.String(64))
    storage_path: so.Mapped[str] = so.mapped_column(sa.String(500))
    created_at: so.Mapped[datetime]


class CostEntry(Base):
    """Hours, materials and money spent on a ticket (for the financial reports)."""

    __tablename__ = "cost_entry"
    id: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    ticket_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    organisation_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("organisation.id"))
    user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("app_user.id"))
    at: so.Mapped[datetime]
    hours: so.Mapped[Decimal] = so.mapped_column(sa.Numeric(10, 2), default=Decimal(0))
    materials: so.Mapped[str | None] = so.mapped_column(Text)
    amount: so.Mapped[Decimal] = so.mapped_column(sa.Numeric(12, 2), default=Decimal(0))
    currency: so.Mapped[str] = so.mapped_column(sa.String(3), default="BAM")
    note: so.Mapped[str | None] = so.mapped_column(Text)


class OutboxItem(Base):
    """A side effect written in the same transaction as its cause, delivered by a worker after commit."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_state_available", "state", "available_at"),)
    id: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(40))
    payload: so.Mapped[dict[str, Any]]
    dedup_key: so.Mapped[str | None] = so.mapped_column(sa.String(200), unique=True)
    state: so.Mapped[str] = so.mapped_column(sa.String(10), default="pending")  # pending|sending|done|dead
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    created_at: so.Mapped[datetime]
    available_at: so.Mapped[datetime]
    claimed_at: so.Mapped[datetime | None]
    done_at: so.Mapped[datetime | None]
    last_error: so.Mapped[str | None] = so.mapped_column(Text)


class Event(Base):
    """A live event for operators' screens; ``seq`` is the cursor clients resync from."""

    __tablename__ = "event"
    seq: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    type: so.Mapped[str] = so.mapped_column(sa.String(40))
    at: so.Mapped[datetime]
    audience: so.Mapped[str] = so.mapped_column(sa.String(80), default="operators")
    payload: so.Mapped[dict[str, Any]]


class ComponentStatus(Base):
    """The last word of each daemon about its device (PBX link, modem, model, mailbox), for /readyz."""

    __tablename__ = "component_status"
    name: so.Mapped[str] = so.mapped_column(sa.String(40), primary_key=True)
    state: so.Mapped[str] = so.mapped_column(sa.String(20))  # ok|down|not configured|auth_failed|...
    detail: so.Mapped[str | None] = so.mapped_column(Text)
    updated_at: so.Mapped[datetime]


class AuditEvent(Base):
    """Append-only record of who viewed or changed what (supervisors read it; nobody edits it)."""

    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_object", "object_type", "object_id"),)
    id: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    at: so.Mapped[datetime] = so.mapped_column(index=True)
    actor_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("app_user.id"))
    role: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    action: so.Mapped[str] = so.mapped_column(sa.String(40))
    object_type: so.Mapped[str] = so.mapped_column(sa.String(40))
    object_id: so.Mapped[str | None] = so.mapped_column(sa.String(80))
    fields_changed: so.Mapped[dict[str, Any] | None]
    ip: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    user_agent: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    reason: so.Mapped[str | None] = so.mapped_column(Text)


class BudgetLine(Base):
    """A year's budget for an organisation (optionally one category), for budget-versus-actual reports."""

    __tablename__ = "budget_line"
    __table_args__ = (sa.UniqueConstraint("organisation_id", "year", "category_id", name="uq_budget_line_key"),)
    id: so.Mapped[int] = so.mapped_column(BigId, primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisation.id"))
    year: so.Mapped[int]
    category_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("category.id"))
    label: so.Mapped[str] = so.mapped_column(sa.String(200))
    amount: so.Mapped[Decimal] = so.mapped_column(sa.Numeric(14, 2))
    currency: so.Mapped[str] = so.mapped_column(sa.String(3), default="BAM")
