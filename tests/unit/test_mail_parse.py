"""Parsing inbound e-mail: bodies, charsets, quotes, headers, automatic mail and MIME bombs."""

from __future__ import annotations

import contextlib
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from email_channel.parse import (
    MailLimits,
    MailRejected,
    html_to_text,
    message_key,
    parse_mail,
    safe_filename,
    trim_quotes,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"


def mail(body: str = "Nema vode u ulici Svetog Save.", **headers: str) -> bytes:
    """Build a simple message with the given body and headers."""
    message = EmailMessage()
    message["From"] = headers.pop("From", "Marko Marković <marko@example.org>")
    message["To"] = "sistem48@opstinakotorvaros.com"
    message["Subject"] = headers.pop("Subject", "Voda")
    message["Message-ID"] = headers.pop("Message_ID", "<m1@example.org>")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def test_plain_message() -> None:
    """A plain message gives sender, subject, text and its Message-ID as key."""
    parsed = parse_mail(mail())
    assert (parsed.kind, parsed.from_address, parsed.from_name) == ("mail", "marko@example.org", "Marko Marković")
    assert parsed.subject == "Voda"
    assert parsed.text == "Nema vode u ulici Svetog Save."
    assert parsed.key == "<m1@example.org>"


def test_key_without_message_id_is_a_hash() -> None:
    """Without a Message-ID the key is a SHA-256 of the raw bytes, stable across fetches."""
    raw = b"From: a@example.org\r\nSubject: x\r\n\r\nhi\r\n"
    assert message_key(raw) == message_key(raw)
    assert message_key(raw).startswith("sha256:")


def test_html_is_reduced_to_safe_text() -> None:
    """Scripts, styles, images and links vanish; visible words and line breaks stay."""
    markup = (
        "<html><head><title>t</title><style>p{}</style><script>alert(1)</script></head><body>"
        '<p>Ulica <b>Kralja</b> Petra&nbsp;I</p><img src="http://evil.example/x.png" onerror="alert(2)">'
        '<a href="javascript:alert(3)">klik</a><svg><script>alert(4)</script></svg>'
        '<div class="gmail_quote">On Mon wrote:<blockquote>staro</blockquote></div></body></html>'
    )
    text = html_to_text(markup)
    assert "alert" not in text
    assert "http" not in text
    assert "<" not in text.replace("> ", "")
    assert trim_quotes(text) == "Ulica Kralja Petra I\nklik"


def test_html_only_message() -> None:
    """A message with only an HTML part gets its text from it."""
    message = EmailMessage()
    message["From"] = "a@example.org"
    message["Subject"] = "Rasvjeta"
    message.set_content("<p>Ne radi <i>rasvjeta</i></p><script>x()</script>", subtype="html")
    assert parse_mail(message.as_bytes()).text == "Ne radi rasvjeta"


def test_cp1250_declared_as_utf8_is_redecoded() -> None:
    """cp1250 bytes under a UTF-8 label are detected and decoded, with no U+FFFD left."""
    parsed = parse_mail((FIXTURES / "cp1250_declared_utf8.eml").read_bytes())
    assert parsed.charset_repaired
    assert "\ufffd" not in parsed.text
    assert "Poštovani, u ulici Svetog Save kod škole već tri dana" in parsed.text
    assert parsed.text.endswith("Đorđe Živković")
    assert parsed.subject == "Nema vode u školi"
    assert parsed.from_name == "Đorđe Živković"


def test_cyrillic_in_windows_1251() -> None:
    """Cyrillic in windows-1251, body and encoded subject, reads back exactly."""
    parsed = parse_mail((FIXTURES / "cyrillic_windows1251.eml").read_bytes())
    assert parsed.subject == "Канализација"
    assert parsed.text.startswith("Поштовани, у Котор Варошу")
    assert not parsed.charset_repaired


@pytest.mark.parametrize(
    ("charset", "encoding"),
    [("iso-8859-2", "iso-8859-2"), ("windows-1250", "cp1250"), ("x-unknown-charset", "cp1250"), (None, "cp1250")],
)
def test_latin2_family_and_unknown_charsets(charset: str | None, encoding: str) -> None:
    """ISO-8859-2, windows-1250, an unknown label and no label all give the right letters."""
    text = "Šljunak na putu za Šiprage, čišćenje žurno. Đak."
    declared = f"; charset={charset}" if charset else ""
    raw = (
        b"From: a@example.org\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        + f"Content-Type: text/plain{declared}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".encode()
        + text.encode(encoding)
    )
    assert parse_mail(raw).text == text


def test_encoded_subject_cannot_inject_headers() -> None:
    """An encoded CR/LF in the subject becomes a space: no Bcc line, no log injection."""
    raw = b"From: a@example.org\r\nSubject: =?utf-8?q?Hello=0D=0ABcc=3A_evil=40x?=\r\n\r\nhi\r\n"
    parsed = parse_mail(raw)
    assert "\r" not in parsed.subject
    assert "\n" not in parsed.subject
    assert parsed.subject == "Hello Bcc: evil@x"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Evo slike.\n\nOn Mon, 2 Nov 2026 at 10:00, Sistem 48 <s@x.ba> wrote:\n> staro\n> staro", "Evo slike."),
        ("Evo slike.\n\nOn Mon, 2 Nov 2026 at 10:00, Sistem 48 <s@x.ba>\nwrote:\n> staro", "Evo slike."),
        ("Хвала.\n\nДана 02.11.2026. у 10:00, Систем 48 је написао:\n> стари текст", "Хвала."),
        ("Hvala.\n\n2.11.2026. 10:00, Sistem 48 je napisao:\n> stari", "Hvala."),
        ("Prvo.\n> citat\nDrugo.", "Prvo.\nDrugo."),
        ("Tekst.\n\n-----Original Message-----\nFrom: x", "Tekst."),
        ("Tekst.\n\nFrom: Sistem 48\nSent: Monday\nTo: marko\nSubject: x", "Tekst."),
        ("Tekst.\n-- \nMarko, Kotor Varoš", "Tekst."),
        ("> samo citat", "> samo citat"),
    ],
)
def test_quoted_replies_trimmed(text: str, expected: str) -> None:
    """Reply headers in English and Serbian, quote marks and signatures are cut."""
    assert trim_quotes(text) == expected


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ({"Auto_Submitted": "auto-replied"}, "auto_reply"),
        ({"Auto_Submitted": "no"}, "mail"),
        ({"X_Autoreply": "yes"}, "auto_reply"),
        ({"Precedence": "bulk"}, "auto_reply"),
        ({"Precedence": "junk"}, "auto_reply"),
        ({"Subject": "Automatski odgovor: Voda"}, "auto_reply"),
        ({"Return_Path": "<>"}, "bounce"),
        ({"From": "MAILER-DAEMON@mx.example.net"}, "bounce"),
    ],
)
def test_automatic_mail_recognised(headers: dict[str, str], kind: str) -> None:
    """Auto-replies and bounces are told apart from mail a person wrote."""
    assert parse_mail(mail(**headers)).kind == kind


def test_bounce_refers_to_our_message() -> None:
    """A delivery report yields the Message-ID of our message, the action and the diagnostic."""
    parsed = parse_mail((FIXTURES / "bounce.eml").read_bytes())
    assert parsed.kind == "bounce"
    assert parsed.bounce_refs == ("<s48.outbox-OUTBOXID@opstinakotorvaros.com>",)
    assert parsed.bounce_action == "failed"
    assert "550 5.1.1" in (parsed.bounce_status or "")


def _nested(depth: int) -> bytes:
    """Return a message with ``depth`` nested multiparts."""
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth))
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return (
        b"From: a@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        + opening
        + b"Content-Type: text/plain\r\n\r\nhi"
        + closing
    )


def _many_parts(count: int) -> bytes:
    """Return a message with ``count`` parts."""
    parts = b"".join(b"--X\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(count))
    return (
        b"From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n"
        + parts
        + b"--X--\r\n"
    )


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (_nested(2000), "mime_bomb"),
        (_many_parts(20_000), "mime_bomb"),
        (b"From: a@example.org\r\nTo: " + b", ".join(b"u%d@example.org" % i for i in range(5000)) + b"\r\n\r\nhi", "too_many_recipients"),
        (b"From: a@example.org\r\nX-Big: " + b"a" * 300_000 + b"\r\n\r\nhi", "huge_headers"),
        (b"From: a@example.org\r\n" + b"X-H: 1\r\n" * 5000 + b"\r\nhi", "huge_headers"),
        (b"From: a@example.org\r\n\r\n" + b"x" * 2_000_001, "too_large"),
    ],
)  # fmt: skip
def test_mime_bombs_rejected_quickly(raw: bytes, code: str) -> None:
    """Deep nesting, 20,000 parts, 5,000 recipients and huge headers are refused in well under a second."""
    started = time.perf_counter()
    with pytest.raises(MailRejected) as caught:
        parse_mail(raw, MailLimits(max_bytes=2_000_000))
    assert caught.value.code == code
    assert time.perf_counter() - started < 0.5


def test_reasonable_nesting_still_parses() -> None:
    """Ten nested multiparts are fine."""
    assert parse_mail(_nested(10)).text == "hi"


def test_attachments_named_safely_and_bounded() -> None:
    """Path tricks vanish from names; count and size limits skip files with a reason."""
    message = EmailMessage()
    message["From"] = "a@example.org"
    message["Subject"] = "Prilozi"
    message.set_content("Vidi priloge.")
    message.add_attachment(
        b"MZ\x90\x00", maintype="application", subtype="octet-stream", filename="../../etc/x.jpg.exe"
    )
    message.add_attachment(b"y" * 200, maintype="application", subtype="pdf", filename="velik.pdf")
    for i in range(3):
        message.add_attachment(b"z", maintype="text", subtype="plain", filename=f"n{i}.txt")
    parsed = parse_mail(message.as_bytes(), MailLimits(max_attachments=3, max_attachment_bytes=100))
    assert [a.filename for a in parsed.attachments] == ["x.jpg.exe", "n0.txt", "n1.txt"]
    assert len(parsed.skipped_attachments) == 2
    assert parsed.text == "Vidi priloge."


@pytest.mark.parametrize(
    ("name", "expected"),
    [("../../etc/passwd", "passwd"), ("..\\..\\win.ini", "win.ini"), (".htaccess", "htaccess"), ("a\x00b.jpg", "ab.jpg"),
     ("", "prilog"), ("слика 1.jpg", "слика 1.jpg"), ("a<script>.svg", "a_script_.svg")],
)  # fmt: skip
def test_safe_filename(name: str, expected: str) -> None:
    """Display names lose paths, controls, leading dots and markup characters."""
    assert safe_filename(name) == expected


@pytest.mark.parametrize(
    "sender",
    ['"alice@example.org"@evil.example', "a@b@c.example", "no-address", "x@localhost", "<>"],
)
def test_odd_from_is_not_trusted(sender: str) -> None:
    """An address we cannot read strictly is dropped (CVE-2023-27043), never guessed."""
    assert parse_mail(mail(From=sender)).from_address is None


def test_codes_found_in_subject_and_quote() -> None:
    """Ticket codes are found in the subject first, then in the quoted part."""
    parsed = parse_mail(
        mail("Još nije popravljeno.\n\n> Vaša prijava 48-2026-000007", Subject="Re: [48-2026-000005] Voda")
    )
    assert parsed.codes == ["48-2026-000005", "48-2026-000007"]
    assert parsed.text == "Još nije popravljeno."


def test_garbage_never_raises_anything_but_rejected() -> None:
    """Random bytes either parse or are rejected, never crash."""
    for raw in (b"", b"\x00\xff" * 100, b"Content-Type: multipart/mixed\r\n\r\n--", b"From: \xff\xfe\r\n\r\n\xff"):
        with contextlib.suppress(MailRejected):
            parse_mail(raw)
