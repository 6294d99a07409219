"""Gammu SMS dicts → typed inbound messages, and the multipart assembly state machine.

Pure: no gammu import, no I/O; the clock is a parameter. Untyped gammu dicts stop here.

Everything a sender controls (number, text, UDH) is data: it is hashed, JSON-escaped and compared,
never used as a file name, a shell argument or a format string.

Modem memory is the durable spool: a message is deleted from the SIM only after its ticket is
committed, so the daemon re-reads everything still on the SIM on every poll and hands the whole
snapshot to :meth:`MultipartAssembler.collect`. ``collect`` is therefore idempotent: what it returns
and the daemon fails to commit comes back on the next poll with the same ``source_key``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from core.messages import Channel, ReceiveReport
from core.text import strip_invisible
from sms_modem.encoding import join_utf16

GammuSms = Mapping[str, object]

# 3GPP TS 23.040 §9.2.3.15 TP-Status ranges.
_TP_ST_TEMPORARY = 0x20
_TP_ST_PERMANENT = 0x40
_TP_ST_TEMPORARY_STOPPED = 0x60

GAP = "[…]"


class SmsDataError(ValueError):
    """A gammu dict that cannot be an inbound SMS (wrong type or shape)."""


@dataclass(frozen=True, kw_only=True)
class InboundSms:
    """One physical SMS as stored in modem memory (one part of a concatenated message)."""

    sender: str
    text: str
    smsc_time: datetime | None
    smsc: str = ""
    location: int | None = None
    ref: int | None = None
    part: int | None = None
    total: int | None = None
    message_class: int | None = None
    binary: bool = False
    data: bytes = b""
    udh: bytes = b""
    udh_error: str | None = None

    @property
    def flash(self) -> bool:
        """Tell whether this is a class 0 ("flash") SMS, shown on the phone screen without being stored."""
        return self.message_class == 0

    @property
    def concatenated(self) -> bool:
        """Tell whether this SMS is one part of a longer message."""
        return self.total is not None and self.total > 1

    @property
    def content_hash(self) -> str:
        """SHA-256 of the text (or of the user data of a binary SMS)."""
        payload = self.data if self.binary else self.text.encode("utf-8", "surrogatepass")
        return hashlib.sha256(payload).hexdigest()

    @property
    def source_key(self) -> str:
        """Natural key of this physical SMS: sender + SMSC time + SHA-256(text) + concatenation ref/part."""
        return _key(self.sender, self.smsc_time, self.content_hash, self.ref, self.total, (self.part,))


@dataclass(frozen=True, kw_only=True)
class JoinedSms:
    """One logical inbound message: the parts of a concatenated SMS joined, or a single SMS."""

    parts: tuple[InboundSms, ...]
    total: int
    source_key: str
    duplicates: tuple[InboundSms, ...] = ()
    late_for: str | None = None

    @property
    def first(self) -> InboundSms:
        """The part with the lowest part number (its sender and time stand for the message)."""
        return self.parts[0]

    @property
    def sender(self) -> str:
        """The sender exactly as the network gave it (may be alphanumeric or hostile)."""
        return self.first.sender

    @property
    def smsc_time(self) -> datetime | None:
        """SMSC time stamp of the first part present, UTC."""
        return self.first.smsc_time

    @property
    def ref(self) -> int | None:
        """Concatenation reference from the UDH, or None for a single SMS."""
        return self.first.ref

    @property
    def part_numbers(self) -> tuple[int, ...]:
        """Part numbers present (1 for a single SMS)."""
        return tuple(p.part or 1 for p in self.parts)

    @property
    def missing(self) -> tuple[int, ...]:
        """Part numbers still missing from this message."""
        present = set(self.part_numbers)
        return tuple(n for n in range(1, self.total + 1) if n not in present)

    @property
    def complete(self) -> bool:
        """Tell whether every part is present."""
        return not self.missing

    @property
    def text(self) -> str:
        """The joined text of the parts present; surrogate halves split across parts are re-paired."""
        return join_utf16("".join(p.text for p in self.parts))

    @property
    def text_with_gaps(self) -> str:
        """The joined text with a visible marker where parts are missing, for operators."""
        if self.complete or self.late_for is not None:
            return self.text
        out: list[str] = []
        by_number = {p.part or 1: p.text for p in self.parts}
        for n in range(1, self.total + 1):
            out.append(by_number.get(n, GAP))
        return join_utf16("".join(out))

    @property
    def data(self) -> bytes:
        """The joined user data of a binary message."""
        return b"".join(p.data for p in self.parts)

    @property
    def binary(self) -> bool:
        """Tell whether any part is binary (8-bit data, no text)."""
        return any(p.binary for p in self.parts)

    @property
    def flash(self) -> bool:
        """Tell whether the message is a flash (class 0) SMS."""
        return any(p.flash for p in self.parts)

    @property
    def locations(self) -> tuple[int, ...]:
        """Every modem location to delete once this message is committed, duplicates included."""
        return tuple(p.location for p in (*self.parts, *self.duplicates) if p.location is not None)

    def to_report(self) -> ReceiveReport:
        """Build the core's intake command; invisible characters are stripped, the raw form is kept."""
        attrs: dict[str, str] = {}
        if self.ref is not None:
            attrs["sms_ref"] = str(self.ref)
            attrs["sms_total"] = str(self.total)
            attrs["sms_parts"] = ",".join(map(str, self.part_numbers))
        if self.missing:
            attrs["sms_missing"] = ",".join(map(str, self.missing))
        if self.late_for is not None:
            attrs["sms_late_for"] = self.late_for
        if self.flash:
            attrs["sms_flash"] = "1"
        if self.binary:
            attrs["sms_binary"] = "1"
        if self.duplicates:
            attrs["sms_duplicates"] = str(len(self.duplicates))
        errors = [p.udh_error for p in self.parts if p.udh_error]
        if errors:
            attrs["sms_udh_error"] = "; ".join(errors)
        return ReceiveReport(
            channel=Channel.SMS,
            text=strip_invisible(self.text_with_gaps),
            source_key=self.source_key,
            phone=strip_invisible(self.sender),
            received_at=self.smsc_time,
            raw=self.raw_json(),
            attrs=attrs,
        )

    def raw_json(self) -> str:
        """Everything the modem gave, as ASCII-only JSON (NUL and lone surrogates escaped, not lost)."""
        parts = [
            {
                "location": p.location,
                "sender": p.sender,
                "smsc": p.smsc,
                "smsc_time": p.smsc_time.isoformat() if p.smsc_time else None,
                "ref": p.ref,
                "part": p.part,
                "total": p.total,
                "class": p.message_class,
                "text": p.text,
                "data": p.data.hex() if p.binary else None,
                "udh": p.udh.hex(),
            }
            for p in self.parts
        ]
        return json.dumps({"parts": parts}, ensure_ascii=True, sort_keys=True)


class DeliveryState(StrEnum):
    """Outcome of a sent SMS according to its status report (TP-Status)."""

    DELIVERED = "delivered"
    PENDING = "pending"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class DeliveryReport:
    """A status report for an SMS we sent, matched to it by message reference and recipient."""

    recipient: str
    reference: int
    status: int
    smsc_time: datetime | None
    discharge_time: datetime | None
    location: int | None = None

    @property
    def state(self) -> DeliveryState:
        """Classify the TP-Status code (3GPP TS 23.040 §9.2.3.15)."""
        if self.status < _TP_ST_TEMPORARY:
            return DeliveryState.DELIVERED
        if self.status < _TP_ST_PERMANENT or self.status >= _TP_ST_TEMPORARY_STOPPED:
            return DeliveryState.PENDING
        return DeliveryState.FAILED


def _key(
    sender: str,
    when: datetime | None,
    content_hash: str,
    ref: int | None,
    total: int | None,
    parts: Iterable[int | None],
) -> str:
    """Hash the natural key components; JSON keeps them unambiguous whatever the sender contains."""
    stamp = when.astimezone(UTC).isoformat() if when else None
    blob = json.dumps([sender, stamp, content_hash, ref, total, list(parts)], ensure_ascii=True)
    return "sms:" + hashlib.sha256(blob.encode("ascii")).hexdigest()


def _str(d: GammuSms, key: str) -> str:
    """Read a text field; gammu gives None or a missing key for empty ones."""
    value = d.get(key)
    return value if isinstance(value, str) else ""


def _int(d: Mapping[str, object], key: str, default: int = -1) -> int:
    """Read an integer field, tolerating absence."""
    value = d.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _utc(value: object) -> datetime | None:
    """Make a gammu datetime UTC-aware (python-gammu 3.5 gives UTC-aware, 3.2 gave naive UTC)."""
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def decode_sms(d: GammuSms) -> InboundSms:
    """Turn one gammu SMS dict of type ``Deliver`` into an :class:`InboundSms`."""
    if d.get("Type") != "Deliver":
        raise SmsDataError(f"not an inbound SMS: Type={d.get('Type')!r}")
    smsc = d.get("SMSC")
    smsc_number = _str(smsc, "Number") if isinstance(smsc, Mapping) else ""
    raw_text = d.get("Text")
    binary = isinstance(raw_text, bytes) or d.get("Coding") == "8bit"
    data = raw_text if isinstance(raw_text, bytes) else b""
    text = "" if binary else _str(d, "Text")
    udh = d.get("UDH")
    udh_map: Mapping[str, object] = udh if isinstance(udh, Mapping) else {}
    udh_bytes = udh_map.get("Text")
    ref, part, total, udh_error = _concat(udh_map)
    klass = _int(d, "Class")
    location = _int(d, "Location")
    return InboundSms(
        sender=_str(d, "Number"),
        text=text,
        smsc_time=_utc(d.get("DateTime")),
        smsc=smsc_number,
        location=location if location >= 0 else None,
        ref=ref,
        part=part,
        total=total,
        message_class=klass if klass >= 0 else None,
        binary=binary,
        data=data,
        udh=udh_bytes if isinstance(udh_bytes, bytes) else b"",
        udh_error=udh_error,
    )


def _concat(udh: Mapping[str, object]) -> tuple[int | None, int | None, int | None, str | None]:
    """Read the concatenation ref/part/total; impossible numbers make the SMS a standalone one."""
    kind = udh.get("Type")
    if not isinstance(kind, str) or not kind.startswith("Concatenated"):
        return None, None, None, None
    ref16 = _int(udh, "ID16bit")
    ref = ref16 if ref16 >= 0 else _int(udh, "ID8bit")
    part, total = _int(udh, "PartNumber"), _int(udh, "AllParts")
    if total < 1 or part < 1 or part > total or ref < 0:
        # A phone or a forger sent nonsense; keep the text as a message of its own.
        return None, None, None, f"bad concatenation header: ref {ref} part {part} of {total}"
    if total == 1:
        return None, None, None, None
    return ref, part, total, None


def decode_report(d: GammuSms) -> DeliveryReport:
    """Turn one gammu SMS dict of type ``Status_Report`` into a :class:`DeliveryReport`."""
    if d.get("Type") != "Status_Report":
        raise SmsDataError(f"not a status report: Type={d.get('Type')!r}")
    location = _int(d, "Location")
    return DeliveryReport(
        recipient=_str(d, "Number"),
        reference=_int(d, "MessageReference", 0),
        status=_int(d, "DeliveryStatus", 0),
        smsc_time=_utc(d.get("DateTime")),
        discharge_time=_utc(d.get("SMSCDateTime")),
        location=location if location >= 0 else None,
    )


GroupKey = tuple[str, int, int]


@dataclass
class _Flushed:
    """What the assembler remembers about an incomplete message it already handed out.

    ``emissions`` maps each key handed out for this group to its part numbers and ``late_for``, so a
    part re-read because its commit failed comes back under the key it was first handed out with.
    """

    base_key: str
    emissions: dict[str, tuple[dict[int, str], str | None]]
    at: datetime

    def handed_out(self) -> dict[int, str]:
        """Content hash of every part number already handed out, under whichever key."""
        return {n: h for parts, _ in self.emissions.values() for n, h in parts.items()}

    def conflicts(self, parts: Iterable[InboundSms]) -> bool:
        """Tell whether a present part differs from the one handed out: a new message reusing the ref."""
        seen = self.handed_out()
        return any(seen.get(p.part or 1, p.content_hash) != p.content_hash for p in parts)


def _single(sms: InboundSms, copies: list[InboundSms]) -> JoinedSms:
    """Wrap a single (non-concatenated) SMS and its identical copies."""
    return JoinedSms(parts=(sms,), total=1, source_key=sms.source_key, duplicates=tuple(copies))


def _joined_key(parts: list[InboundSms], total: int) -> str:
    """Key a set of parts: sender, first part's SMSC time, hash of the joined content, ref, parts."""
    first = parts[0]
    content = hashlib.sha256("".join(p.content_hash for p in parts).encode("ascii")).hexdigest()
    return _key(first.sender, first.smsc_time, content, first.ref, total, (p.part for p in parts))


@dataclass
class MultipartAssembler:
    """Join concatenated SMS across polls: wait for missing parts, give up after a timeout, join late parts.

    * complete message → returned at once;
    * parts missing after ``timeout`` → the parts present are returned, marked incomplete;
    * a part arriving after that → returned alone with ``late_for`` = the incomplete message's key,
      for ``memory`` after the flush (after a restart it is matched by ``sms_ref``/``sms_total``);
    * the same part twice (same part number and text) → one part, the copy's location still deleted;
    * the same part number with different text (a recycled 8-bit reference) → its own message.
    """

    timeout: timedelta = timedelta(minutes=10)
    memory: timedelta = timedelta(days=2)
    _first_seen: dict[GroupKey, datetime] = field(default_factory=dict)
    _flushed: dict[GroupKey, _Flushed] = field(default_factory=dict)

    def collect(self, snapshot: Iterable[InboundSms], now: datetime) -> list[JoinedSms]:
        """Return the messages ready to commit from everything currently in modem memory."""
        out: list[JoinedSms] = []
        singles: dict[str, list[InboundSms]] = {}
        groups: dict[GroupKey, list[InboundSms]] = {}
        for sms in sorted(snapshot, key=lambda s: (s.location is None, s.location or 0)):
            if sms.concatenated and sms.ref is not None and sms.total is not None:
                groups.setdefault((sms.sender, sms.ref, sms.total), []).append(sms)
            else:
                singles.setdefault(sms.source_key, []).append(sms)
        for copies in singles.values():
            out.append(_single(copies[0], copies[1:]))
        for key, members in groups.items():
            out.extend(self._group(key, members, now))
        # Groups no longer on the SIM were committed and deleted; forget them.
        for gone in set(self._first_seen) - set(groups):
            del self._first_seen[gone]
        for old in [k for k, f in self._flushed.items() if now - f.at > self.memory]:
            del self._flushed[old]
        return out

    def _group(self, key: GroupKey, members: list[InboundSms], now: datetime) -> list[JoinedSms]:
        """Decide what to hand out for one concatenation group."""
        total = key[2]
        by_part: dict[int, InboundSms] = {}
        duplicates: list[InboundSms] = []
        strays: list[JoinedSms] = []
        for sms in members:
            number = sms.part or 1
            kept = by_part.get(number)
            if kept is None:
                by_part[number] = sms
            elif kept.content_hash == sms.content_hash:
                duplicates.append(sms)
            else:
                strays.append(JoinedSms(parts=(sms,), total=total, source_key=sms.source_key))
        parts = [by_part[n] for n in sorted(by_part)]
        flushed = self._flushed.get(key)
        if flushed is not None and flushed.conflicts(parts):
            # The 8-bit reference wrapped around: this is a new message, not late parts of the old one.
            del self._flushed[key]
            flushed = None
        if flushed is not None:
            return strays + self._after_flush(flushed, parts, duplicates, total)
        if len(parts) == total:
            self._first_seen.pop(key, None)
            return [*strays, self._joined(parts, duplicates, total)]
        started = self._first_seen.setdefault(key, now)
        if now - started < self.timeout:
            return strays
        self._first_seen.pop(key, None)
        msg = self._joined(parts, duplicates, total)
        hashes = {p.part or 1: p.content_hash for p in parts}
        self._flushed[key] = _Flushed(base_key=msg.source_key, emissions={msg.source_key: (hashes, None)}, at=now)
        return [*strays, msg]

    def _after_flush(
        self, flushed: _Flushed, parts: list[InboundSms], duplicates: list[InboundSms], total: int
    ) -> list[JoinedSms]:
        """Split a group already handed out incomplete into re-read parts and late parts."""
        out: list[JoinedSms] = []
        for key, (numbers, late_for) in flushed.emissions.items():
            # Not deleted yet (commit failed or still pending): hand it out again under the same key.
            again = [p for p in parts if (p.part or 1) in numbers]
            if again:
                dups = tuple(d for d in duplicates if (d.part or 1) in numbers)
                out.append(
                    JoinedSms(parts=tuple(again), total=total, source_key=key, duplicates=dups, late_for=late_for)
                )
        seen = flushed.handed_out()
        late = [p for p in parts if (p.part or 1) not in seen]
        if late:
            msg = JoinedSms(
                parts=tuple(late),
                total=total,
                source_key=_joined_key(late, total),
                duplicates=tuple(d for d in duplicates if (d.part or 1) not in seen),
                late_for=flushed.base_key,
            )
            flushed.emissions[msg.source_key] = ({p.part or 1: p.content_hash for p in late}, flushed.base_key)
            out.append(msg)
        return out

    @staticmethod
    def _joined(parts: list[InboundSms], duplicates: list[InboundSms], total: int) -> JoinedSms:
        """Build the joined message for the parts present."""
        return JoinedSms(
            parts=tuple(parts), total=total, source_key=_joined_key(parts, total), duplicates=tuple(duplicates)
        )


def now_utc() -> datetime:
    """Return the current UTC time (the daemon's clock; tests pass their own)."""
    return datetime.now(UTC)
