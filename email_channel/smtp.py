"""Outgoing e-mail: the ``Notifier`` adapter for channel "email", and the only smtplib import.

Each notification leaves with a stable Message-ID derived from its outbox item, so a retry is
recognisably the same message, a bounce leads back to the item, and a citizen's reply threads to
the ticket (the code is also in the subject: ``[48-2026-000123] …``).
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import parse_qs, unquote, urlsplit

import sqlalchemy.orm as so

from core.domain.tickets import find_codes
from core.ports import Notification
from core.services.mail import outgoing_message_id, thread_ids
from core.text import to_latin
from email_channel.parse import clean_header, valid_address

log = logging.getLogger(__name__)

SENDER_NAME = "Систем 48 — Општина Котор Варош"
SUBJECT = "Систем 48: ваша пријава"
FOOTER = (
    "Ако желите да допуните пријаву, одговорите на ову поруку и не мијењајте наслов.\n"
    "Ово је аутоматска порука Општине Котор Варош."
)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")

ThreadLookup = Callable[[str], list[str]]


class NotDeliverable(ValueError):
    """The address is not one we can send to (bad syntax): permanent, not retried."""


@dataclass(frozen=True, kw_only=True)
class SmtpConfig:
    """Where outgoing mail goes; built from ``S48_SMTP_URL``.

    ``smtp://host:25`` (plain; add ``?starttls=1`` to upgrade), ``smtps://user:pass@host:465`` (TLS).
    """

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False
    starttls: bool = False
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """Parse an ``smtp://`` or ``smtps://`` URL."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("S48_SMTP_URL must look like smtp://host:25 or smtps://user:password@host:465")
        query = parse_qs(parts.query)
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
            starttls=query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes"),
        )


def _script_of(text: str) -> str:
    """Tell whether a message is written in Cyrillic or Latin."""
    return "sr-Cyrl" if _CYRILLIC.search(text) else "sr-Latn"


class SmtpNotifier:
    """Send notifications by e-mail through an SMTP server (``Notifier`` for channel "email").

    ``threads`` maps a ticket code to the citizen's Message-IDs on that ticket (see
    ``email_channel.smtp.db_threads``) so answers join the citizen's own thread.
    """

    def __init__(
        self,
        url: str,
        *,
        sender: str,
        reply_to: str | None = None,
        threads: ThreadLookup | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = SmtpConfig.from_url(url)
        address = valid_address(sender)
        if address is None:
            raise ValueError(f"sender address {sender!r} is not valid")
        self.sender = address
        self.reply_to = valid_address(reply_to) or address
        self.domain = address.split("@", 1)[1]
        self._threads = threads
        self._ssl_context = ssl_context
        self._clock = clock or (lambda: datetime.now(UTC))

    def compose(self, notification: Notification) -> EmailMessage:
        """Build the message: code in the subject, Reply-To the mailbox, threading headers, our footer."""
        to = valid_address(notification.address)
        if to is None:
            raise NotDeliverable("not an e-mail address")
        script = _script_of(notification.body)
        codes = find_codes(notification.subject) or find_codes(notification.body)
        code = codes[0] if codes else None
        subject = clean_header(notification.subject, 200)
        if code and subject == code:
            subject = SUBJECT
        if code and f"[{code}]" not in subject:
            subject = f"[{code}] {subject.replace(code, '').strip(' :-') or SUBJECT}"
        footer = FOOTER
        name = SENDER_NAME
        if script == "sr-Latn":
            subject, footer, name = to_latin(subject), to_latin(footer), to_latin(name)
        message = EmailMessage()
        message["From"] = Address(display_name=name, addr_spec=self.sender)
        message["To"] = Address(addr_spec=to)
        message["Reply-To"] = Address(addr_spec=self.reply_to)
        message["Subject"] = subject
        message["Date"] = format_datetime(self._clock())
        message["Message-ID"] = outgoing_message_id(notification.idempotency_key, self.domain)
        if code:
            # A per-ticket root makes all our messages on a ticket one thread in the citizen's client;
            # with a thread lookup the citizen's own Message-IDs join it too.
            ids = [f"<s48.ticket-{code}@{self.domain}>"]
            if self._threads is not None:
                ids += [i for i in self._threads(code) if re.fullmatch(r"<[^<>\s]{1,250}>", i)][-5:]
            message["In-Reply-To"] = ids[-1]
            message["References"] = " ".join(ids)
        # RFC 3834: our answers are automatic, so well-behaved auto-responders do not answer them.
        message["Auto-Submitted"] = "auto-replied"
        message["X-Auto-Response-Suppress"] = "All"
        message.set_content(f"{notification.body.strip()}\n\n-- \n{footer}\n", charset="utf-8")
        return message

    def send(self, notification: Notification) -> str:
        """Send one notification; ``sent``, or ``rejected`` for a permanent refusal; raises to retry later."""
        try:
            message = self.compose(notification)
        except NotDeliverable:
            log.warning("e-mail notification %s has no valid address", notification.idempotency_key)
            return "rejected"
        cfg = self.config
        try:
            with self._connect() as smtp:
                if cfg.username:
                    smtp.login(cfg.username, cfg.password or "")
                smtp.send_message(message, from_addr=self.sender, to_addrs=[str(message["To"].addresses[0].addr_spec)])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(500 <= code < 600 for code in codes):
                log.warning("recipient refused permanently for %s: %s", notification.idempotency_key, codes)
                return "rejected"
            raise
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600 and exc.smtp_code not in (530, 535):
                log.warning("message refused permanently (%s) for %s", exc.smtp_code, notification.idempotency_key)
                return "rejected"
            raise
        return "sent"

    def _connect(self) -> smtplib.SMTP:
        """Open an SMTP session as configured (TLS, STARTTLS or plain on loopback)."""
        cfg = self.config
        context = self._ssl_context or ssl.create_default_context()
        if cfg.tls:
            return smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=context)
        smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        if cfg.starttls:
            smtp.starttls(context=context)
        return smtp


def db_threads(session_factory: Callable[[], so.Session]) -> ThreadLookup:
    """Build a thread lookup reading the citizen's Message-IDs from the database.

    For PostgreSQL only: on SQLite the outbox handler already holds the write lock while it sends,
    and a second session would wait for it.
    """

    def lookup(code: str) -> list[str]:
        with session_factory() as session:
            return thread_ids(session, code)

    return lookup
