"""The mail daemon (``sistem48 mail``): the mailbox becomes tickets, exactly once per message.

Order per message (reliability R1, F2, F21): fetch by UID without marking read → record it in the
database and commit → only then move it out of the inbox (to ``Processed``, or ``Quarantine`` for
what we could not read). A link that drops after the commit but before the move makes us fetch the
message again; its natural key (Message-ID, else a hash of the raw bytes) makes the second time a
no-op, and the move is retried. With the database down nothing is moved: the message waits in the
inbox. The UID cursor (with UIDVALIDITY) in ``var/mail/cursor-*.json`` only saves re-listing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import sqlalchemy.exc as sa_exc

from core.bootstrap import Core
from core.config import Settings
from core.services import mail as mail_service
from core.services.mail import InboundMail
from email_channel.imap import AuthFailed, ImapConfig, ImapMailbox, MailboxError
from email_channel.parse import MailLimits, MailRejected, ParsedMail, message_key, parse_mail, valid_address
from email_channel.store import store_attachment

log = logging.getLogger(__name__)

Outcome = Literal["ticket", "added", "duplicate", "ignored", "bounce", "quarantined"]
MAX_RAW_CHARS = 900_000  # intake refuses more than 1,000,000; the mailbox keeps the full original
DB_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DBAPIError, sa_exc.TimeoutError)


@dataclass(frozen=True, kw_only=True)
class MailOptions:
    """Timings and bounds of the daemon (short in tests)."""

    wait_seconds: float = 50.0  # IDLE (or poll) at most this long; also the /readyz heartbeat
    reconnect_max: float = 60.0
    batch: int = 500
    max_attempts: int = 5  # a message failing for other reasons than the database is quarantined after this
    limits: MailLimits = field(default_factory=MailLimits)


def bounded_raw(raw: bytes, limit: int = MAX_RAW_CHARS) -> str:
    """Return the original as text for an operator: undecodable bytes escaped, long ones cut."""
    text = raw.decode("utf-8", "backslashreplace").replace("\x00", "\u2400")
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[… скраћено: {len(raw)} бајтова укупно; оригинал је у поштанском сандучету]"


def script_of(text: str) -> str | None:
    """Tell whether the citizen wrote in Cyrillic or Latin (None when there are no letters)."""
    cyrillic = sum(1 for ch in text if "\u0400" <= ch <= "\u04ff")
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha()) + sum(1 for ch in text if ch in "čćđšžČĆĐŠŽ")
    if not cyrillic and not latin:
        return None
    return "sr-Cyrl" if cyrillic >= latin else "sr-Latn"


REPLY_PREFIXES = ("re", "fw", "fwd", "aw", "odg", "одг", "sv", "tr", "wg")


def _description(parsed: ParsedMail) -> str:
    """Return the ticket text: a new subject above the citizen's words; a reply's subject is just the thread."""
    body = parsed.text.strip()
    subject = parsed.subject.strip()
    head, sep, _ = subject.partition(":")
    replying = bool(sep and head.strip().lower() in REPLY_PREFIXES) or bool(parsed.codes and parsed.codes[0] in subject)
    if replying or not subject or body.lower().startswith(subject.lower()):
        return body or subject
    return f"{subject}\n\n{body}".strip()


class Cursor:
    """The highest UID below which every message is handled, per UIDVALIDITY, kept in a small file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.uidvalidity = 0
        self.last_uid = 0
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            self.uidvalidity, self.last_uid = int(data["uidvalidity"]), int(data["last_uid"])
        except (OSError, ValueError, KeyError, TypeError):
            pass

    def align(self, uidvalidity: int) -> None:
        """Start over when the server renumbered the mailbox (dedup by key prevents doubles)."""
        if uidvalidity != self.uidvalidity:
            if self.uidvalidity:
                log.warning("UIDVALIDITY changed %s → %s: rescanning the inbox", self.uidvalidity, uidvalidity)
            self.uidvalidity, self.last_uid = uidvalidity, 0
            self.save()

    def advance(self, uid: int) -> None:
        """Move the cursor forward (persisted by ``save`` at the end of a scan)."""
        self.last_uid = max(self.last_uid, uid)

    def save(self) -> None:
        """Write atomically (a torn cursor file would only cost a re-listing, but keep it clean)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".cursor-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"uidvalidity": self.uidvalidity, "last_uid": self.last_uid}, fh)
        os.replace(tmp, self.path)


class MailIntake:
    """Reads one mailbox into the core."""

    def __init__(self, core: Core, mailbox: ImapMailbox, options: MailOptions | None = None) -> None:
        self.core = core
        self.mailbox = mailbox
        self.options = options or MailOptions()
        cfg = mailbox.config
        name = hashlib.sha256(f"{cfg.host}:{cfg.port}:{cfg.username}:{cfg.folder}".encode()).hexdigest()[:16]
        self.cursor = Cursor(core.settings.var_dir / "mail" / f"cursor-{name}.json")
        self.own_address = valid_address(core.settings.mail_from)
        self._failures: dict[tuple[int, int], int] = {}
        self._health: tuple[str, str | None] | None = None

    # -- one message -------------------------------------------------------------------------------

    def process(self, raw: bytes) -> tuple[Outcome, str]:
        """Record one raw message in the database (commit) and say where it goes; never moves anything."""
        core, now = self.core, self.core.clock.now()
        try:
            parsed = parse_mail(raw, self.options.limits)
        except MailRejected as exc:
            return self._quarantine(raw, str(exc))
        key = parsed.key
        with core.session_factory() as session:
            known = mail_service.inbound_state(session, key)
            code = next(iter(parsed.codes), None) or mail_service.ticket_for_replies(session, parsed.in_reply_to)
        if known is not None and known.state in ("quarantined", "released"):
            return "quarantined", key
        if known is not None and known.state in ("ignored", "bounce"):
            return ("bounce" if known.state == "bounce" else "ignored"), key
        if parsed.kind == "bounce":
            mail_service.record_bounce(
                core.uow(), key=key, raw=bounded_raw(raw), refs=parsed.bounce_refs,
                action=parsed.bounce_action, status=parsed.bounce_status, now=now,
            )  # fmt: skip
            return "bounce", key
        if parsed.kind == "auto_reply" or (self.own_address and parsed.from_address == self.own_address):
            reason = parsed.auto_reason or "our own address (mail loop)"
            mail_service.record_automatic(
                core.uow(), key=key, raw=bounded_raw(raw), state="ignored", reason=reason, now=now
            )
            return "ignored", key
        stored = tuple(store_attachment(core.settings.var_dir, part) for part in parsed.attachments)
        text = _description(parsed)
        result = mail_service.take_in(
            core.uow(),
            InboundMail(
                key=key,
                text=text or "(без текста)",
                subject=parsed.subject,
                raw=bounded_raw(raw),
                email=parsed.from_address,
                name=parsed.from_name,
                ticket_code=code,
                received_at=now,
                script=script_of(text),
                attachments=stored,
                skipped=parsed.skipped_attachments,
                charset_repaired=parsed.charset_repaired,
            ),
            core.intake_policy,
        )
        if result.duplicate:
            return "duplicate", key
        return ("ticket" if result.created else "added"), key

    # -- the mailbox -------------------------------------------------------------------------------

    def scan(self) -> dict[str, int]:
        """Take in everything waiting in the inbox once; returns counts per outcome.

        Raises MailboxError when the link fails (the caller reconnects) and the database errors when
        the database is down (nothing was moved; the messages wait).
        """
        box = self.mailbox
        if not box.connected:
            box.connect()
            self.cursor.align(box.uidvalidity)
        counts: dict[str, int] = {}
        contiguous = True
        start = self.cursor.last_uid
        try:
            for listed in box.waiting(self.cursor.last_uid, self.options.batch):
                outcome = self._one(listed.uid, listed.size)
                counts[outcome] = counts.get(outcome, 0) + 1
                if outcome == "failed":
                    contiguous = False
                elif contiguous:
                    self.cursor.advance(listed.uid)
        finally:
            # Once per scan, not per message: a lost cursor only costs listing a few UIDs again.
            if self.cursor.last_uid != start:
                self.cursor.save()
        return counts

    def _one(self, uid: int, size: int) -> str:
        """Fetch, record, move one message; returns the outcome or "failed" (it stays in the inbox)."""
        box, limits = self.mailbox, self.options.limits
        oversize = size > limits.max_bytes
        raw = box.fetch(uid, max_bytes=64 * 1024 if oversize else None)
        if raw is None:
            return "vanished"
        try:
            if oversize:
                outcome, key = self._quarantine(raw, f"too_large: {size} bytes > {limits.max_bytes}")
            else:
                outcome, key = self.process(raw)
        except DB_ERRORS:
            raise
        except Exception as exc:  # noqa: BLE001  one bad message must not stop the mailbox
            attempts = self._failures.get((box.uidvalidity, uid), 0) + 1
            self._failures[(box.uidvalidity, uid)] = attempts
            log.exception("mail UID %s failed (attempt %d)", uid, attempts)
            if attempts < self.options.max_attempts:
                return "failed"
            outcome, key = self._quarantine(raw, f"internal: {type(exc).__name__}: {exc}"[:500])
        folder = box.config.quarantine_folder if outcome == "quarantined" else box.config.processed_folder
        box.move(uid, folder)
        self._failures.pop((box.uidvalidity, uid), None)
        log.info("mail UID %s %s (%s) → %s", uid, outcome, key[:80], folder)
        return outcome

    def _quarantine(self, raw: bytes, error: str) -> tuple[Outcome, str]:
        """Quarantine a message we will not parse."""
        key = message_key(raw)
        # Idempotent: a message quarantined before (link lost before the move) is not recorded twice.
        mail_service.quarantine(self.core.uow(), key=key, raw=bounded_raw(raw), error=error, now=self.core.clock.now())
        return "quarantined", key

    def report(self, state: str, detail: str | None) -> None:
        """Tell /readyz and operators the mailbox state (every call refreshes the heartbeat)."""
        try:
            mail_service.link_status(self.core.uow(), state=state, detail=detail, now=self.core.clock.now())
        except DB_ERRORS:
            log.warning("cannot record mail link state %s: database unavailable", state)
        self._health = (state, detail)

    def run(self, stop: threading.Event) -> None:
        """Scan, wait for new mail (IDLE or poll), repeat; reconnect with backoff; until ``stop``."""
        backoff = 1.0
        while not stop.is_set():
            try:
                counts = self.scan()
                self.report("ok", self.mailbox.config.address)
                backoff = 1.0
                if counts:
                    log.info("mail scan: %s", counts)
                    continue  # more may have arrived while we worked
                self.mailbox.wait(self.options.wait_seconds, stop)
            except AuthFailed as exc:
                log.error("mailbox login refused: %s", exc)
                self.report("auth_failed", str(exc)[:300])
                stop.wait(self.options.reconnect_max)
            except MailboxError as exc:
                log.error("mailbox link down: %s", exc)
                self.mailbox.close()
                self.report("down", str(exc)[:300])
                stop.wait(backoff)
                backoff = min(self.options.reconnect_max, backoff * 2)
            except DB_ERRORS as exc:
                # F2: nothing was moved; the message stays in the inbox and is taken when the DB is back.
                log.error("database unavailable during mail intake: %s", type(exc).__name__)
                stop.wait(backoff)
                backoff = min(self.options.reconnect_max, backoff * 2)
        self.mailbox.close()


def serve(settings: Settings, core: Core, stop: threading.Event, options: MailOptions | None = None) -> None:
    """Run the intake for these settings until ``stop``; idle with "not configured" without a mailbox."""
    if not settings.imap_url:
        mail_service.link_status(core.uow(), state="not configured", detail=None, now=core.clock.now())
        stop.wait()
        return
    config = ImapConfig.from_url(settings.imap_url)
    MailIntake(core, ImapMailbox(config), options).run(stop)


def run_mail(settings: Settings) -> None:
    """Entry point of ``sistem48 mail``."""
    from sistem48.runtime import build_core, configure_logging
    from sistem48.worker import live_for

    configure_logging()
    core = build_core(settings, live=live_for(settings))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        serve(settings, core, stop)
    finally:
        core.engine.dispose()
