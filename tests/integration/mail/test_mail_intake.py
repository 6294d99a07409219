"""Mailbox intake against a real Dovecot and a real SMTP sink, on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import io
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa
from PIL import Image

from core.bootstrap import Core, bootstrap
from core.config import load_settings
from core.db.models import Attachment, ComponentStatus, Event, InboundItem, Message, OutboxItem, StatusChange, Ticket
from core.services.outbox import deliver, notification_handler
from email_channel.daemon import MailIntake
from email_channel.imap import ImapConfig, ImapMailbox, MailboxError
from email_channel.smtp import SmtpNotifier

from .servers import CuttingProxy, SmtpSink

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mail"
MAILBOX = "sistem48@opstinakotorvaros.com"
MakeIntake = Callable[..., MailIntake]
T = TypeVar("T")


def mail(
    body: str = "Nema vode u ulici Svetog Save od jutros.",
    *,
    sender: str = "Marko Marković <marko@example.org>",
    subject: str = "Nema vode",
    message_id: str | None = "<m1@example.org>",
    html: str | None = None,
    **headers: str,
) -> bytes:
    """Build a message as a citizen's mail client would."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = MAILBOX
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message.as_bytes()


def rows(core: Core, model: type[T], *where: sa.ColumnElement[bool]) -> list[T]:
    """Return all rows of a model matching the conditions."""
    with core.session_factory() as session:
        return list(session.scalars(sa.select(model).where(*where)))


def only_ticket(core: Core) -> Ticket:
    """Return the one ticket in the database."""
    [ticket] = rows(core, Ticket)
    return ticket


def email_sender(sink: SmtpSink) -> dict:  # type: ignore[type-arg]
    """Outbox handlers that send e-mail to the sink."""
    handle = notification_handler(SmtpNotifier(sink.url, sender=MAILBOX))
    return {"notify_citizen": handle, "notify_org": handle, "notify_supervisor": handle}


def deliver_citizen_notices(core: Core, sink: SmtpSink) -> None:
    """Deliver every pending citizen notice through SMTP to the sink."""
    for item in rows(core, OutboxItem, OutboxItem.kind == "notify_citizen", OutboxItem.state == "pending"):
        assert deliver(core.uow(), item.id, email_sender(sink)).state == "done"


def test_plain_mail_becomes_a_ticket(core: Core, mailbox: ImapMailbox, make_intake: MakeIntake) -> None:
    """A plain mail is a ticket with the citizen's address, an e-mail ack queued, then moved to Processed."""
    mailbox.append(mail())
    assert make_intake(mailbox.config).scan() == {"ticket": 1}
    ticket = only_ticket(core)
    assert ticket.channel == "email"
    assert ticket.description == "Nema vode u ulici Svetog Save od jutros."  # the subject repeats the text
    assert ticket.citizen is not None
    assert ticket.citizen.email == "marko@example.org"
    assert ticket.citizen.name == "Marko Marković"
    [item] = rows(core, InboundItem)
    assert (item.source_key, item.ticket_id, item.state) == ("<m1@example.org>", ticket.id, "accepted")
    assert item.raw is not None
    assert "Message-ID: <m1@example.org>" in item.raw
    [ack] = rows(core, OutboxItem, OutboxItem.kind == "notify_citizen")
    assert (ack.payload["channel"], ack.payload["address"]) == ("email", "marko@example.org")
    assert ack.payload["body"].startswith("Sistem 48: prijava je primljena")  # the citizen wrote in Latin
    [event] = rows(core, Event, Event.type == "mail.new")
    assert event.payload["ticket_code"] == ticket.code
    assert (mailbox.count("INBOX"), mailbox.count("Processed")) == (0, 1)


def test_html_mail_is_safe_text(core: Core, mailbox: ImapMailbox, make_intake: MakeIntake) -> None:
    """An HTML-only mail becomes plain text without scripts or remote images."""
    message = EmailMessage()
    message["From"] = "ana@example.org"
    message["Subject"] = "Rasvjeta"
    message["Message-ID"] = "<html@example.org>"
    message.set_content(
        '<p>Ne radi <b>rasvjeta</b> kod škole.</p><script>alert(1)</script><img src="http://x.example/t.gif">',
        subtype="html",
    )
    mailbox.append(message.as_bytes())
    make_intake(mailbox.config).scan()
    assert only_ticket(core).description == "Rasvjeta\n\nNe radi rasvjeta kod škole."


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("cyrillic_windows1251.eml", "Канализација\n\nПоштовани, у Котор Варошу код пијаце се излила канализација."),
        ("cp1250_declared_utf8.eml", "Nema vode u školi\n\nPoštovani, u ulici Svetog Save kod škole već tri dana"),
    ],
)
def test_serbian_charsets(
    core: Core, mailbox: ImapMailbox, make_intake: MakeIntake, fixture: str, expected: str
) -> None:
    """Cyrillic in windows-1251 and cp1250 mislabelled as UTF-8 both read correctly."""
    mailbox.append((FIXTURES / fixture).read_bytes())
    make_intake(mailbox.config).scan()
    assert only_ticket(core).description.startswith(expected)
    assert "\ufffd" not in only_ticket(core).description


def test_reply_with_code_lands_on_the_same_ticket(core: Core, mailbox: ImapMailbox, make_intake: MakeIntake) -> None:
    """A later mail naming the code (even from another address, days later) joins the ticket."""
    intake = make_intake(mailbox.config)
    mailbox.append(mail())
    intake.scan()
    code = only_ticket(core).code
    core.clock.advance(days=3)  # type: ignore[attr-defined]
    mailbox.append(
        mail(
            f"Još uvijek nema vode.\n\nOn Mon, 2 Nov 2026 Sistem 48 wrote:\n> Vaša prijava {code}",
            sender="komsija@example.net",
            subject=f"Re: [{code}] Sistem 48: vaša prijava",
            message_id="<m2@example.net>",
        )
    )
    assert intake.scan() == {"added": 1}
    assert only_ticket(core).code == code
    inbound = rows(core, Message, Message.direction == "in")
    assert [m.body for m in inbound] == ["Nema vode u ulici Svetog Save od jutros.", "Još uvijek nema vode."]


def test_photo_with_gps(core: Core, mailbox: ImapMailbox, make_intake: MakeIntake) -> None:
    """The photo is stored without EXIF, its location noted for staff, the original not kept on disk."""
    picture = io.BytesIO()
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (44.0, 37.0, 30.0), 3: "E", 4: (17.0, 22.0, 12.0)})
    Image.new("RGB", (40, 30), (10, 120, 10)).save(picture, "JPEG", exif=exif)
    message = EmailMessage()
    message["From"] = "foto@example.org"
    message["Subject"] = "Rupa na putu"
    message["Message-ID"] = "<foto@example.org>"
    message.set_content("Evo slike rupe.")
    message.add_attachment(picture.getvalue(), maintype="image", subtype="jpeg", filename="../IMG_0001.jpg")
    mailbox.append(message.as_bytes())
    make_intake(mailbox.config).scan()
    ticket = only_ticket(core)
    [attachment] = rows(core, Attachment)
    assert (attachment.ticket_id, attachment.filename, attachment.content_type) == (
        ticket.id,
        "IMG_0001.jpg",
        "image/jpeg",
    )
    stored = core.settings.var_dir / "attachments" / attachment.storage_path
    with Image.open(stored) as image:
        assert dict(image.getexif()) == {}
    [message_row] = rows(core, Message, Message.direction == "in")
    assert message_row.meta is not None
    assert message_row.meta["location"]["lat"] == pytest.approx(44.625)
    notes = [s.internal_note for s in rows(core, StatusChange, StatusChange.kind == "note")]
    assert notes == ["Фотографија садржи GPS локацију: 44.62500, 17.37000."]


@pytest.mark.parametrize(
    "headers",
    [{"Auto_Submitted": "auto-replied"}, {"X_Autoreply": "yes"}, {"Precedence": "bulk"}],
)
def test_auto_reply_is_no_ticket(
    core: Core, mailbox: ImapMailbox, make_intake: MakeIntake, headers: dict[str, str]
) -> None:
    """An auto-reply is kept as a raw record, never a ticket, never answered."""
    mailbox.append(mail("Odsutan sam do ponedjeljka.", subject="Odsustvo", **headers))
    assert make_intake(mailbox.config).scan() == {"ignored": 1}
    assert rows(core, Ticket) == []
    assert rows(core, OutboxItem) == []
    [item] = rows(core, InboundItem)
    assert (item.state, item.ticket_id) == ("ignored", None)
    assert mailbox.count("Processed") == 1


def test_bounce_marks_the_outgoing_message(
    core: Core, mailbox: ImapMailbox, make_intake: MakeIntake, smtp_sink: SmtpSink
) -> None:
    """A bounce for our acknowledgement marks that message bounced; no ticket, no answer."""
    intake = make_intake(mailbox.config)
    mailbox.append(mail(sender="nepostoji@example.net"))
    intake.scan()
    deliver_citizen_notices(core, smtp_sink)
    [sent] = smtp_sink.handler.received
    ours = email.message_from_bytes(sent.content, policy=email.policy.default)["Message-ID"]
    bounce = (
        (FIXTURES / "bounce.eml").read_bytes().replace(b"<s48.outbox-OUTBOXID@opstinakotorvaros.com>", ours.encode())
    )
    mailbox.append(bounce)
    assert intake.scan() == {"bounce": 1}
    [out] = rows(core, Message, Message.direction == "out")
    assert out.delivery_state == "bounced"
    assert "550 5.1.1" in (out.error or "")
    assert len(rows(core, Ticket)) == 1
    assert len(rows(core, OutboxItem, OutboxItem.kind == "notify_citizen")) == 1


def test_mime_bomb_is_quarantined(core: Core, mailbox: ImapMailbox, make_intake: MakeIntake) -> None:
    """2,000 nested multiparts are refused at once, kept for an operator and moved to Quarantine."""
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(2000))
    bomb = b"From: x@example.org\r\nSubject: bomb\r\nMessage-ID: <bomb@example.org>\r\n" + opening + b"\r\nhi\r\n"
    mailbox.append(bomb)
    started = time.monotonic()
    assert make_intake(mailbox.config).scan() == {"quarantined": 1}
    assert time.monotonic() - started < 5
    [item] = rows(core, InboundItem)
    assert item.state == "quarantined"
    assert (item.error or "").startswith("mime_bomb")
    assert rows(core, Ticket) == []
    [event] = rows(core, Event, Event.type == "mail.new")
    assert event.payload["quarantined"] is True
    assert (mailbox.count("INBOX"), mailbox.count("Quarantine")) == (0, 1)


def test_same_message_twice_is_one_ticket(core: Core, mailbox: ImapMailbox, make_intake: MakeIntake) -> None:
    """Two copies of one Message-ID (a resend, a second delivery) make one ticket; both leave the inbox."""
    mailbox.append(mail())
    mailbox.append(mail())
    assert make_intake(mailbox.config).scan() == {"ticket": 1, "duplicate": 1}
    assert len(rows(core, Ticket)) == 1
    assert mailbox.count("Processed") == 2


def test_connection_reset_after_message_two_of_five(
    core: Core, mailbox: ImapMailbox, make_intake: MakeIntake, imap_config: ImapConfig
) -> None:
    """F21: an RST right after message 2 was fetched loses nothing and doubles nothing."""
    for n in range(1, 6):
        mailbox.append(
            mail(f"Prijava broj {n}: kvar.", sender=f"gradjanin{n}@example.org", message_id=f"<f21-{n}@example.org>")
        )
    proxy = CuttingProxy(imap_config.port)
    try:
        proxy.cut_after(b"BODY[]", 2)
        intake = make_intake(ImapConfig(**{**imap_config.__dict__, "port": proxy.port}))
        with pytest.raises(MailboxError):
            intake.scan()
        assert proxy.cuts == 1
        for _ in range(5):  # reconnects like run() does
            try:
                intake.scan()
                break
            except MailboxError:
                continue
    finally:
        proxy.close()
    keys = sorted(i.source_key for i in rows(core, InboundItem))
    assert keys == [f"<f21-{n}@example.org>" for n in range(1, 6)]
    assert len(rows(core, Ticket)) == 5
    assert len(rows(core, OutboxItem, OutboxItem.kind == "notify_citizen")) == 5
    assert (mailbox.count("INBOX"), mailbox.count("Processed")) == (0, 5)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # a server to cut: SQLite has none
def test_database_down_keeps_the_message_in_the_inbox(
    core: Core, mailbox: ImapMailbox, make_intake: MakeIntake, db_url: str
) -> None:
    """F2: with the database unreachable nothing is moved; later the message is taken exactly once."""
    port = int(db_url.rsplit(":", 1)[1].split("/", 1)[0])
    proxy = CuttingProxy(port)
    down_core = bootstrap(
        load_settings(
            {
                "S48_DATABASE_URL": db_url.replace(f":{port}/", f":{proxy.port}/"),
                "S48_VAR_DIR": str(core.settings.var_dir),
            }
        ),
        clock=core.clock,
    )
    try:
        proxy.refuse = True
        intake = make_intake(mailbox.config, on=down_core)
        mailbox.append(mail())
        with pytest.raises(sa.exc.OperationalError):
            intake.scan()
        assert (mailbox.count("INBOX"), mailbox.count("Processed")) == (1, 0)
        assert rows(core, Ticket) == []
        proxy.refuse = False
        down_core.engine.dispose()
        assert intake.scan() == {"ticket": 1}
        assert intake.scan() == {}
    finally:
        down_core.engine.dispose()
        proxy.close()
    assert len(rows(core, Ticket)) == 1
    assert len(rows(core, InboundItem)) == 1
    assert (mailbox.count("INBOX"), mailbox.count("Processed")) == (0, 1)


def test_full_loop_mail_ack_reply(
    core: Core, mailbox: ImapMailbox, make_intake: MakeIntake, smtp_sink: SmtpSink
) -> None:
    """A mail becomes a ticket, the citizen gets the code by e-mail, and the reply lands on the ticket."""
    intake = make_intake(mailbox.config)
    mailbox.append(mail("Поштовани, код школе нема воде од јутрос.", subject="Вода", message_id="<loop@example.org>"))
    intake.scan()
    ticket = only_ticket(core)
    deliver_citizen_notices(core, smtp_sink)
    [envelope] = smtp_sink.handler.received
    assert envelope.rcpt_tos == ["marko@example.org"]
    ack = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert ack["Subject"] == f"[{ticket.code}] Систем 48: ваша пријава"
    assert ack["Reply-To"] == MAILBOX
    assert ticket.code in ack.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    [out] = rows(core, Message, Message.direction == "out")
    assert (out.channel, out.delivery_state) == ("email", "sent")
    # The citizen answers from a client that drops the subject tag but keeps In-Reply-To.
    reply = EmailMessage()
    reply["From"] = "Marko Marković <marko@example.org>"
    reply["To"] = MAILBOX
    reply["Subject"] = "Re: Вода"
    reply["Message-ID"] = "<loop-reply@example.org>"
    reply["In-Reply-To"] = ack["Message-ID"]
    reply.set_content("И даље нема воде.\n\n" + "\n".join("> " + line for line in ack.get_content().splitlines()))
    core.clock.advance(days=1)  # type: ignore[attr-defined]
    mailbox.append(reply.as_bytes())
    assert intake.scan() == {"added": 1}
    assert only_ticket(core).code == ticket.code
    assert [m.body for m in rows(core, Message, Message.direction == "in")][-1] == "И даље нема воде."
    assert len(smtp_sink.handler.received) == 1  # a follow-up is not acknowledged again


def test_daemon_loop_with_idle(core: Core, mailbox: ImapMailbox, make_intake: MakeIntake) -> None:
    """The run loop reports the link ok, waits in IDLE and takes a message that arrives meanwhile."""
    intake = make_intake(mailbox.config)
    stop = threading.Event()
    worker = threading.Thread(target=intake.run, args=(stop,), daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while not rows(core, ComponentStatus) and time.monotonic() < deadline:
            time.sleep(0.05)
        mailbox.append(mail())
        while not rows(core, Ticket) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(10)
    assert not worker.is_alive()
    assert "IDLE" in intake.mailbox.capabilities
    assert len(rows(core, Ticket)) == 1
    [status] = rows(core, ComponentStatus)
    assert (status.name, status.state) == ("mail", "ok")
    [link] = rows(core, Event, Event.type == "link.status")
    assert link.payload["component"] == "mail"


def test_wrong_password_is_reported(core: Core, imap_config: ImapConfig, make_intake: MakeIntake) -> None:
    """Refused credentials are an auth_failed state on /readyz, not a crash."""
    intake = make_intake(ImapConfig(**{**imap_config.__dict__, "password": "pogresna"}))
    stop = threading.Event()
    worker = threading.Thread(target=intake.run, args=(stop,), daemon=True)
    worker.start()
    deadline = time.monotonic() + 20
    while not rows(core, ComponentStatus) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    worker.join(10)
    [status] = rows(core, ComponentStatus)
    assert status.state == "auth_failed"
