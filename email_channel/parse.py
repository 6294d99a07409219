"""Pure parsing of inbound e-mail: a cheap pre-scan against MIME bombs, then a careful parse.

Nothing here touches the network, the disk or the database. ``prescan`` looks at raw bytes only
(sizes, counts, nesting) so a hostile message is refused in milliseconds, before
``email.policy.default`` can spend seconds or recurse itself to death on it (reliability §4).
"""

from __future__ import annotations

import codecs
import email
import email.errors
import email.header
import email.policy
import email.utils
import hashlib
import html
import re
from dataclasses import dataclass
from email.message import Message
from html.parser import HTMLParser
from typing import Literal

from typing_extensions import override

from core.domain.tickets import find_codes

Kind = Literal["mail", "auto_reply", "bounce"]


@dataclass(frozen=True, kw_only=True)
class MailLimits:
    """Bounds on what one inbound message may be; anything beyond is quarantined unparsed."""

    max_bytes: int = 25 * 1024 * 1024
    max_header_bytes: int = 128 * 1024  # one header block (top level or any part)
    max_header_lines: int = 1000
    max_multiparts: int = 50  # containers; this also bounds the nesting depth
    max_parts: int = 500
    max_recipients: int = 500  # addresses in To + Cc
    max_attachments: int = 10
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_text_chars: int = 100_000


class MailRejected(ValueError):
    """A message refused before or during parsing; ``code`` says why (it is quarantined, never lost)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True, kw_only=True)
class AttachmentPart:
    """A file found in the message, still untrusted: the name is sanitised, the bytes are not checked."""

    filename: str
    declared_type: str
    data: bytes


@dataclass(frozen=True, kw_only=True)
class ParsedMail:
    """What we understood of one message; every string is decoded, bounded and free of CR/LF in headers."""

    key: str
    kind: Kind
    message_id: str | None
    from_address: str | None
    from_name: str | None
    subject: str
    text: str  # the citizen's own words: quotes trimmed, HTML reduced to text
    full_text: str  # before trimming (for finding a ticket code quoted further down)
    in_reply_to: tuple[str, ...] = ()
    date: str | None = None
    attachments: tuple[AttachmentPart, ...] = ()
    skipped_attachments: tuple[str, ...] = ()  # why some files were not kept
    bounce_refs: tuple[str, ...] = ()  # Message-IDs of our messages a bounce refers to
    bounce_action: str | None = None  # failed|delayed|...
    bounce_status: str | None = None  # DSN status and diagnostic, bounded
    auto_reason: str | None = None
    charset_repaired: bool = False
    defects: tuple[str, ...] = ()

    @property
    def codes(self) -> list[str]:
        """Ticket codes named in the subject, then in the message, then in the quoted part."""
        seen: list[str] = []
        for code in find_codes(self.subject) + find_codes(self.text) + find_codes(self.full_text):
            if code not in seen:
                seen.append(code)
        return seen


# -- keys and pre-scan -----------------------------------------------------------------------------

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
_MSGID_TOKEN = re.compile(r"<([^<>\s]{1,250})>")
_MULTIPART = re.compile(rb"^content-type:[ \t]*(?:\r?\n[ \t]+)?multipart/", re.IGNORECASE | re.MULTILINE)
_BOUNDARY = re.compile(rb"boundary[ \t]*=[ \t]*(?:\"([^\"\r\n]{1,200})\"|([^ \t;\r\n]{1,200}))", re.IGNORECASE)
_DELIM = re.compile(rb"^--([^\r\n]{1,202})", re.MULTILINE)
_RECIPIENT_HEADER = re.compile(rb"^(?:to|cc):(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


def header_block(raw: bytes) -> bytes:
    """Return the top-level header block (everything before the first empty line)."""
    match = _HEADER_END.search(raw, 0, 1024 * 1024 + 4)
    return raw[: match.start()] if match else raw[: 1024 * 1024]


def message_key(raw: bytes) -> str:
    """Return the natural key: the Message-ID as ``<id>``, else a SHA-256 of the raw bytes."""
    found = _MESSAGE_ID.search(header_block(raw))
    if found:
        token = _MSGID_TOKEN.search(found.group(1).decode("ascii", "replace"))
        if token and token.group(1).isprintable():
            return f"<{token.group(1)}>"
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def prescan(raw: bytes, limits: MailLimits) -> None:
    """Refuse a message whose size, header block, part count, nesting or recipients exceed the limits."""
    if len(raw) > limits.max_bytes:
        raise MailRejected("too_large", f"{len(raw)} bytes > {limits.max_bytes}")
    head = header_block(raw)
    if len(head) > limits.max_header_bytes:
        raise MailRejected("huge_headers", f"header block of {len(head)} bytes > {limits.max_header_bytes}")
    if head.count(b"\n") + 1 > limits.max_header_lines:
        raise MailRejected("huge_headers", f"more than {limits.max_header_lines} header lines")
    recipients = sum(value.count(b"@") for value in _RECIPIENT_HEADER.findall(head))
    if recipients > limits.max_recipients:
        raise MailRejected("too_many_recipients", f"{recipients} addresses > {limits.max_recipients}")
    multiparts = len(_MULTIPART.findall(raw))
    if multiparts > limits.max_multiparts:
        raise MailRejected("mime_bomb", f"{multiparts} multipart containers > {limits.max_multiparts}")
    if multiparts:
        boundaries = {a or b for a, b in _BOUNDARY.findall(raw)}
        parts = 0
        for line in _DELIM.findall(raw):
            token = line.rstrip(b" \t")
            if token in boundaries or (token.endswith(b"--") and token[:-2] in boundaries):
                parts += 1
                if parts > limits.max_parts:
                    raise MailRejected("mime_bomb", f"more than {limits.max_parts} MIME parts")
    # Each part's own header block must be bounded too (a giant header inside a part).
    for block in re.split(rb"\r?\n--[^\r\n]{1,202}\r?\n", raw)[1:]:
        end = _HEADER_END.search(block)
        size = end.start() if end else len(block)
        if size > limits.max_header_bytes:
            raise MailRejected("huge_headers", f"a part header of {size} bytes")


# -- headers ------------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")  # fmt: skip


def clean_header(value: str, limit: int = 500) -> str:
    """Neutralise a decoded header: CR/LF and other controls become one space; bounded length."""
    return " ".join(_CONTROL.sub(" ", value).split())[:limit]


def _raw_header(msg: Message, name: str) -> str | None:
    """Return one header decoded leniently (RFC 2047 words, any charset), or None when absent."""
    for key, value in msg.raw_items():
        if key.lower() != name.lower():
            continue
        text = str(value)
        try:
            parts = email.header.decode_header(text)
            decoded = "".join(
                chunk.decode(_codec(charset) or "utf-8", "replace") if isinstance(chunk, bytes) else chunk
                for chunk, charset in parts
            )
        except (ValueError, LookupError, email.errors.HeaderParseError):
            decoded = text
        return decoded
    return None


def header(msg: Message, name: str, limit: int = 500) -> str:
    """Return a header as safe one-line text ('' when absent)."""
    value = _raw_header(msg, name)
    return clean_header(value, limit) if value else ""


def valid_address(address: str | None) -> str | None:
    """Return the address lower-cased if it is a plain ``local@domain.tld``, else None."""
    if not address:
        return None
    candidate = address.strip().lower()
    return candidate if len(candidate) <= 254 and _ADDRESS.match(candidate) else None


def sender(msg: Message) -> tuple[str | None, str | None]:
    """Return (address, display name) of From; an address we cannot read strictly is None.

    The parsed From is only where we send the citizen's answers, never proof of who wrote
    (CVE-2023-27043): an odd address is dropped rather than guessed at.
    """
    raw = _raw_header(msg, "From") or ""
    name, address = email.utils.parseaddr(clean_header(raw, 400))
    if address.count("@") != 1:
        return None, clean_header(name, 200) or None
    return valid_address(address), clean_header(name, 200) or None


def message_ids(value: str) -> tuple[str, ...]:
    """Return the ``<id>`` tokens of a Message-ID, In-Reply-To or References header (at most 20)."""
    return tuple(f"<{m}>" for m in _MSGID_TOKEN.findall(value))[-20:]


# -- charsets -----------------------------------------------------------------------------------------

_ALIASES = {"utf8": "utf-8", "windows-1250": "cp1250", "windows-1251": "cp1251", "x-cp1250": "cp1250",
            "latin2": "iso-8859-2", "unknown-8bit": "", "x-unknown": "", "us-ascii": "ascii"}  # fmt: skip
_SERBIAN = set("abcčćddžđefghijklljmnnjoprsštuvzžABCČĆDĐEFGHIJKLMNOPRSŠTUVZŽ")
_SERBIAN |= set("абвгдђежзијклљмнњопрстћуфхцчџшАБВГДЂЕЖЗИЈКЛЉМНЊОПРСТЋУФХЦЧЏШ")
_CANDIDATES = ("utf-8", "cp1250", "iso-8859-2", "cp1251")


def _codec(charset: str | None) -> str | None:
    """Map a declared charset to a Python codec name, or None when unknown."""
    if not charset:
        return None
    name = charset.strip().lower()
    name = _ALIASES.get(name, name)
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _score(text: str) -> int:
    """Score a decoding: Serbian letters count for it, control characters and U+FFFD against it."""
    good = sum(1 for ch in text if ch in _SERBIAN or ch.isspace() or ch in ".,;:!?-()\"'0123456789")
    bad = sum(1 for ch in text if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\r\n\t") or 0x80 <= ord(ch) < 0xA0)
    return good - 10 * bad


def decode_text(data: bytes, declared: str | None) -> tuple[str, bool]:
    """Decode a text part; return (text, repaired) where repaired means the declared charset was wrong.

    An unknown charset raises ``LookupError`` in ``get_content()`` and cp1250 declared as UTF-8 gives
    U+FFFD with no defect at all (reliability §4), so we decode strictly and, when that fails, pick
    the candidate that reads most like Serbian.
    """
    codec = _codec(declared)
    if codec is not None:
        try:
            return data.decode(codec), False
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("utf-8"), declared is not None
    except UnicodeDecodeError:
        pass
    best = max(_CANDIDATES[1:], key=lambda name: _score(data.decode(name, "replace")))
    return data.decode(best, "replace"), True


# -- HTML to text -------------------------------------------------------------------------------------

_BLOCK = {
    "p",
    "div",
    "blockquote",
    "br",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "ul",
    "ol",
    "hr",
    "pre",
}
_SKIP = {"script", "style", "head", "title", "template", "noscript", "svg", "math", "object", "iframe"}
_QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix", "divrplyfwdmsg")


class _TextExtractor(HTMLParser):
    """Collect visible text only: no tags, no scripts, no images (remote images are never fetched)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.quote = 0
        self.stack: list[str] = []

    @override
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open an element: track skipped and quoted regions, break lines at blocks."""
        if tag in ("br", "hr", "img", "meta", "link", "input", "wbr"):
            if tag in ("br", "hr"):
                self.out.append("\n")
            return
        classes = " ".join((v or "") for k, v in attrs if k in ("class", "id")).lower()
        kind = (
            "skip"
            if tag in _SKIP
            else "quote"
            if tag == "blockquote" or any(c in classes for c in _QUOTE_CLASSES)
            else ""
        )
        self.stack.append(kind)
        self.skip += kind == "skip"
        self.quote += kind == "quote"
        if tag in _BLOCK:
            self.out.append("\n")

    @override
    def handle_endtag(self, tag: str) -> None:
        """Close an element."""
        if tag in ("br", "hr", "img", "meta", "link", "input", "wbr") or not self.stack:
            return
        kind = self.stack.pop()
        self.skip -= kind == "skip"
        self.quote -= kind == "quote"
        if tag in _BLOCK:
            self.out.append("\n")

    @override
    def handle_data(self, data: str) -> None:
        """Keep visible text; quoted text is marked like a plain-text quote."""
        if self.skip or len(self.stack) > 200:
            return
        if self.quote:
            data = "\n".join("> " + line for line in data.split("\n"))
        self.out.append(data)


def html_to_text(markup: str) -> str:
    """Reduce HTML to plain text (visible words, line breaks at blocks, quotes marked with '>')."""
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
    except (AssertionError, ValueError):  # malformed markup: keep what was read so far
        pass
    text = html.unescape("".join(parser.out)).replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# -- quoted replies -----------------------------------------------------------------------------------

_REPLY_HEADER = re.compile(
    r"^\s*(?:"
    r"(?:on|am|le|dana|дана)\b.{0,300}\b(?:wrote|schrieb|a écrit|написао|написала|napisao|napisala|писао|pisao|je napisao|је написао)\s*:?"
    r"|.{0,300}\b(?:је|je)\s+(?:написао|написала|napisao|napisala|писао|писала|pisao|pisala)\s*:?"
    r"|.{0,300}\bwrote\s*:"
    r"|-{2,}\s*(?:original message|izvorna poruka|originalna poruka|оригинална порука|изворна порука|forwarded message|прослијеђена порука|proslijeđena poruka)\s*-{2,}"
    r"|_{10,}"
    r")\s*$",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^\s*(?:from|od|од|šalje|шаље|pošiljalac|пошиљалац)\s*:\s*\S", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(
    r"^\s*(?:sent|date|to|subject|poslano|poslato|послато|datum|датум|za|за|prima|прима)\s*:", re.IGNORECASE
)


_WROTE_NEXT = re.compile(r"^\s*(?:wrote|napisa|написа|je napisa|је написа)", re.IGNORECASE)
_ATTRIBUTION = re.compile(r"^\s*(?:on|am|le|dana|дана)\b", re.IGNORECASE)


def trim_quotes(text: str) -> str:
    """Keep the citizen's own words: cut at the reply header, drop '>' lines and the signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        following = lines[index + 1 : index + 4]
        if _REPLY_HEADER.match(line[:400]):
            break
        # Gmail wraps a long attribution: "On Mon, … <x@y>" then "wrote:" on the next line.
        if following and _ATTRIBUTION.match(line) and _WROTE_NEXT.match(following[0]):
            break
        if _OUTLOOK_FROM.match(line) and any(_OUTLOOK_NEXT.match(n) for n in following):
            break
        if line.rstrip() == "--":  # the standard signature delimiter "-- "
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    trimmed = "\n".join(kept).strip()
    return re.sub(r"\n{3,}", "\n\n", trimmed) if trimmed else text.strip()


# -- automatic mail -----------------------------------------------------------------------------------

_AUTO_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|auto(?:matic)? response|auto:|out of (?:the )?office|automatski odgovor|"
    r"аутоматски одговор|odsutan|odsutna|одсутан|одсутна|undeliverable|delivery status notification|"
    r"mail delivery failed|returned mail|nedostavljivo)",
    re.IGNORECASE,
)


def automatic_kind(msg: Message) -> tuple[Kind, str | None]:
    """Tell auto-replies and bounces from mail a person wrote (RFC 3834, RFC 3464)."""
    return_path = header(msg, "Return-Path")
    from_header = header(msg, "From").lower()
    ctype = msg.get_content_type()
    if (
        return_path.replace(" ", "") == "<>"
        or (ctype == "multipart/report" and "delivery-status" in str(msg.get_param("report-type") or "").lower())
        or re.search(r"\b(mailer-daemon|postmaster)@", from_header)
    ):
        return "bounce", "bounce"
    auto = header(msg, "Auto-Submitted").lower()
    if auto and auto != "no":
        return "auto_reply", f"Auto-Submitted: {auto[:40]}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if header(msg, name):
            return "auto_reply", name
    precedence = header(msg, "Precedence").lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return "auto_reply", f"Precedence: {precedence}"
    if _AUTO_SUBJECT.match(header(msg, "Subject")):
        return "auto_reply", "subject"
    return "mail", None


def _bounce_details(msg: Message) -> tuple[tuple[str, ...], str | None, str | None]:
    """Return (referred Message-IDs, action, status) from a delivery report or a plain bounce."""
    refs: list[str] = []
    action: str | None = None
    status: list[str] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            blocks = part.get_payload()
            for block in blocks if isinstance(blocks, list) else []:
                if not isinstance(block, Message):
                    continue
                act = header(block, "Action").lower()
                if act:
                    action = action if action == "failed" else act
                for name in ("Status", "Diagnostic-Code"):
                    value = header(block, name, 300)
                    if value:
                        status.append(value)
                refs.extend(message_ids(header(block, "Original-Message-ID")))
        elif ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                refs.extend(message_ids(header(inner[0], "Message-ID")))
            elif isinstance(inner, str):
                found = re.search(r"^message-id:\s*(.+)$", inner, re.IGNORECASE | re.MULTILINE)
                if found:
                    refs.extend(message_ids(found.group(1)))
    refs.extend(message_ids(header(msg, "In-Reply-To")))
    refs.extend(message_ids(header(msg, "References")))
    unique = tuple(dict.fromkeys(refs))
    return unique, action or ("failed" if unique else None), ("; ".join(status)[:500] or None)


# -- attachments --------------------------------------------------------------------------------------

_UNSAFE_NAME = re.compile(r"[^\w.\- ()]+", re.UNICODE)


def safe_filename(name: str | None, fallback: str = "prilog") -> str:
    """Return a display name without paths, controls or leading dots; never used as a disk path."""
    if not name:
        return fallback
    base = re.split(r"[\\/]", _CONTROL.sub("", name))[-1]
    cleaned = _UNSAFE_NAME.sub("_", base).strip(" .")[:120]
    return cleaned or fallback


# -- the parse ----------------------------------------------------------------------------------------


def parse_mail(raw: bytes, limits: MailLimits | None = None) -> ParsedMail:
    """Pre-scan and parse one message; raises MailRejected for anything that must be quarantined."""
    limits = limits or MailLimits()
    prescan(raw, limits)
    key = message_key(raw)
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    except (RecursionError, MemoryError, ValueError, TypeError, LookupError, IndexError) as exc:
        raise MailRejected("unparsable", f"{type(exc).__name__}: {exc}"[:300]) from exc
    try:
        return _understand(msg, key, limits)
    except MailRejected:
        raise
    except (RecursionError, ValueError, TypeError, LookupError, IndexError, AttributeError, UnicodeError) as exc:
        raise MailRejected("unparsable", f"{type(exc).__name__}: {exc}"[:300]) from exc


def _understand(msg: Message, key: str, limits: MailLimits) -> ParsedMail:
    """Turn a parsed message into ParsedMail."""
    kind, reason = automatic_kind(msg)
    address, name = sender(msg)
    subject = header(msg, "Subject")
    plain: list[str] = []
    htmls: list[str] = []
    attachments: list[AttachmentPart] = []
    skipped: list[str] = []
    repaired = False
    total = 0
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() == "message":
            continue
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        is_body = disposition != "attachment" and not filename and ctype in ("text/plain", "text/html")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if is_body:
            text, fixed = decode_text(data, part.get_content_charset())
            repaired = repaired or fixed
            (plain if ctype == "text/plain" else htmls).append(text[: limits.max_text_chars])
            continue
        if ctype in ("message/delivery-status", "text/rfc822-headers") or not data:
            continue
        shown = safe_filename(filename, fallback=f"prilog-{len(attachments) + 1}")
        if len(attachments) >= limits.max_attachments:
            skipped.append(f"{shown}: more than {limits.max_attachments} files")
            continue
        if len(data) > limits.max_attachment_bytes:
            skipped.append(f"{shown}: {len(data)} bytes > {limits.max_attachment_bytes}")
            continue
        total += len(data)
        attachments.append(AttachmentPart(filename=shown, declared_type=ctype[:100], data=data))
    body = "\n\n".join(t for t in plain if t.strip()) or "\n\n".join(html_to_text(h) for h in htmls)
    body = body.replace("\x00", "").strip()
    refs, action, status = _bounce_details(msg) if kind == "bounce" else ((), None, None)
    return ParsedMail(
        key=key,
        kind=kind,
        message_id=key if key.startswith("<") else None,
        from_address=address,
        from_name=name,
        subject=subject,
        text=trim_quotes(body)[: limits.max_text_chars],
        full_text=body[: limits.max_text_chars],
        in_reply_to=message_ids(header(msg, "In-Reply-To") + " " + header(msg, "References", 4000)),
        date=header(msg, "Date", 100) or None,
        attachments=tuple(attachments),
        skipped_attachments=tuple(skipped),
        bounce_refs=refs,
        bounce_action=action,
        bounce_status=status,
        auto_reason=reason,
        charset_repaired=repaired,
        defects=tuple(type(d).__name__ for d in msg.defects)[:20],
    )


def readable_snippet(raw: bytes, limit: int = 8000) -> tuple[str, str, str | None]:
    """Return (subject, text, from address) read leniently from raw bytes, for releasing a quarantined item."""
    head = header_block(raw)
    subject = ""
    found = re.search(rb"^subject:[ \t]*(.*)$", head[:65536], re.IGNORECASE | re.MULTILINE)
    if found:
        subject = clean_header(found.group(1).decode("utf-8", "replace"), 200)
    frm = re.search(rb"^from:[ \t]*(.*)$", head[:65536], re.IGNORECASE | re.MULTILINE)
    address = None
    if frm:
        address = valid_address(email.utils.parseaddr(clean_header(frm.group(1).decode("utf-8", "replace")))[1])
    body = raw[len(head) : len(head) + limit * 4].decode("utf-8", "replace")
    text = _CONTROL.sub(lambda m: "\n" if "\n" in m.group(0) else " ", body)
    return subject, text[:limit].strip(), address
