"""Composing outgoing e-mail: code in the subject, Reply-To, stable Message-ID, the citizen's script."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.ports import Notification
from core.services.mail import OUR_ID
from email_channel.smtp import NotDeliverable, SmtpConfig, SmtpNotifier

ACK = "Систем 48: пријава је примљена под бројем 48-2026-000123. Одговор о статусу добићете у року од 48 сати."


def notifier() -> SmtpNotifier:
    """A notifier whose clock is fixed."""
    return SmtpNotifier(
        "smtp://127.0.0.1:2525",
        sender="sistem48@opstinakotorvaros.com",
        threads=lambda code: ["<m1@example.org>", "bad id"],
        clock=lambda: datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
    )


def note(body: str = ACK, address: str = "marko@example.org", subject: str = "48-2026-000123") -> Notification:
    """A citizen notification as the outbox handler builds it."""
    return Notification(channel="email", address=address, subject=subject, body=body, idempotency_key="outbox:42")


def test_ack_headers() -> None:
    """The code is in the subject, replies go to the mailbox, the ids thread and mark it automatic."""
    message = notifier().compose(note())
    assert message["Subject"] == "[48-2026-000123] Систем 48: ваша пријава"
    assert message["To"] == "marko@example.org"
    assert message["Reply-To"] == "sistem48@opstinakotorvaros.com"
    assert OUR_ID.match(message["Message-ID"]).group(1) == "42"  # type: ignore[union-attr]
    assert message["In-Reply-To"] == "<m1@example.org>"
    assert message["References"] == "<s48.ticket-48-2026-000123@opstinakotorvaros.com> <m1@example.org>"
    assert message["Auto-Submitted"] == "auto-replied"
    assert "48-2026-000123" in message.get_content()


def test_latin_body_gets_latin_subject_and_footer() -> None:
    """A citizen who wrote in Latin reads the whole message in Latin."""
    message = notifier().compose(note(body="Sistem 48: prijava je primljena pod brojem 48-2026-000123."))
    assert message["Subject"] == "[48-2026-000123] Sistem 48: vaša prijava"
    assert "Ako želite da dopunite prijavu" in message.get_content()


def test_stable_message_id_across_retries() -> None:
    """The same outbox item always gets the same Message-ID."""
    assert notifier().compose(note())["Message-ID"] == notifier().compose(note())["Message-ID"]


@pytest.mark.parametrize("address", ["marko@example.org\r\nBcc: x@evil.example", "", "nije-adresa", None])
def test_bad_addresses_refused(address: str | None) -> None:
    """An address with CR/LF or no address at all is refused before any SMTP talk."""
    with pytest.raises(NotDeliverable):
        notifier().compose(Notification(channel="email", address=address, subject="x", body="y", idempotency_key="k"))


def test_bad_address_is_rejected_not_retried() -> None:
    """send() reports a permanent refusal for an unusable address (no connection is made)."""
    assert notifier().send(note(address="nije-adresa")) == "rejected"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://127.0.0.1:2525", SmtpConfig(host="127.0.0.1", port=2525)),
        ("smtps://u%40x:p%3Aw@mail.example:465", SmtpConfig(host="mail.example", port=465, username="u@x", password="p:w", tls=True)),
        ("smtp://mail.example?starttls=1", SmtpConfig(host="mail.example", port=25, starttls=True)),
    ],
)  # fmt: skip
def test_urls(url: str, expected: SmtpConfig) -> None:
    """S48_SMTP_URL forms parse into the expected settings."""
    assert SmtpConfig.from_url(url) == expected
