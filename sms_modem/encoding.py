"""SMS text encoding: GSM 03.38 / UCS-2 choice, segment counts, packing, and Serbian transliteration.

Pure: no gammu, no I/O. The numbers follow 3GPP TS 23.038/23.040 and agree with Gammu's own
``EncodeSMS`` (cross-checked in ``tests/integration/sms/test_sms_encoding_gammu.py``):

* GSM-7: 160 septets in one SMS, 153 per part of a concatenated one (the 6-octet UDH eats 7 septets);
  the extension characters ``^ { } [ ~ ] | €``, backslash and form feed cost two septets (ESC + code), and an
  ESC pair is never split across two parts.
* UCS-2: 70 UTF-16 code units in one SMS, 67 per part; characters outside the BMP (emoji) are a
  surrogate pair = two units, and a pair is never split across two parts.

Serbian Latin needs č ć ž š đ, none of which is in GSM 03.38 (there is no Serbian national shift
table), so one ``š`` makes the whole message UCS-2: a 300-character reply costs 5 segments instead of
2 (or 3 when љ/њ/џ/ђ, which become two Latin letters, push it past 306). ``plan(text,
transliterate=True)`` trades the diacritics for plain Latin when the citizen or the organisation
asked for it.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from core.text import to_latin

# The default alphabet in code order; index = septet value. 0x1B is the escape to the extension
# table and never stands for a character itself, so it holds a placeholder that no text contains.
_ESC = 0x1B
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x00ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table (ESC + code): each costs two septets.
GSM7_EXTENSION: dict[str, int] = {
    "\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F,
    "[": 0x3C, "~": 0x3D, "]": 0x3E, "|": 0x40, "€": 0x65,
}  # fmt: skip

_BASIC_CODE: dict[str, int] = {ch: i for i, ch in enumerate(GSM7_BASIC) if i != _ESC}
_EXT_CHAR: dict[int, str] = {code: ch for ch, code in GSM7_EXTENSION.items()}

GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67

# Characters that are not letters but still force UCS-2 in everyday Serbian text (word processors and
# phones produce them); transliteration replaces them with their plain look-alikes.
_PUNCTUATION: dict[str, str] = {
    "„": '"', "“": '"', "”": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "‚": "'",
    "–": "-", "—": "-", "−": "-", "…": "...", "\u00a0": " ", "\u202f": " ", "•": "*",
}  # fmt: skip
# Letters NFKD does not decompose into a base letter plus marks.
_LETTERS: dict[str, str] = {"đ": "dj", "Đ": "Dj", "ð": "d", "Ð": "D", "ł": "l", "Ł": "L", "ı": "i"}


class Coding(StrEnum):
    """The data coding of an outgoing SMS."""

    GSM7 = "gsm7"
    UCS2 = "ucs2"


@dataclass(frozen=True, kw_only=True)
class SmsPlan:
    """How a text will be sent: the text actually sent, its coding and how many SMS it costs."""

    text: str
    coding: Coding
    segments: int
    transliterated: bool


@dataclass(frozen=True, kw_only=True)
class EncodedPart:
    """One segment's user data: packed octets and the TP-UDL length (septets for GSM-7, octets for UCS-2)."""

    data: bytes
    length: int


def is_gsm7(text: str) -> bool:
    """Tell whether every character of ``text`` exists in GSM 03.38 (default alphabet or extension)."""
    return all(ch in _BASIC_CODE or ch in GSM7_EXTENSION for ch in text)


def gsm7_septets(text: str) -> int:
    """Count the septets ``text`` needs in GSM-7 (extension characters count two)."""
    return sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)


def ucs2_units(text: str) -> int:
    """Count UTF-16 code units: what UCS-2 SMS length limits are measured in (emoji count two)."""
    return len(text.encode("utf-16-be", "surrogatepass")) // 2


def split_gsm7(text: str) -> list[str]:
    """Split a GSM-7 text into the parts it is sent as, never separating ESC from its character."""
    if gsm7_septets(text) <= GSM7_SINGLE:
        return [text]
    parts: list[str] = []
    start, used = 0, 0
    for i, ch in enumerate(text):
        cost = 2 if ch in GSM7_EXTENSION else 1
        if used + cost > GSM7_PART:
            parts.append(text[start:i])
            start, used = i, 0
        used += cost
    parts.append(text[start:])
    return parts


def split_ucs2(text: str) -> list[str]:
    """Split a text into UCS-2 parts by UTF-16 code units, never separating a surrogate pair."""
    if ucs2_units(text) <= UCS2_SINGLE:
        return [text]
    parts: list[str] = []
    start, used = 0, 0
    for i, ch in enumerate(text):
        cost = 2 if ord(ch) > 0xFFFF else 1
        if used + cost > UCS2_PART:
            parts.append(text[start:i])
            start, used = i, 0
        used += cost
    parts.append(text[start:])
    return parts


def split(text: str, coding: Coding) -> list[str]:
    """Split ``text`` into the parts it is sent as in ``coding`` (an empty text is still one SMS)."""
    if coding is Coding.GSM7:
        return split_gsm7(text)
    return split_ucs2(text)


def segments(text: str, coding: Coding) -> int:
    """Count how many SMS ``text`` costs in ``coding``."""
    return len(split(text, coding))


def cheapest_coding(text: str) -> Coding:
    """Choose the cheapest coding that keeps ``text`` exactly: GSM-7 when it can, else UCS-2."""
    return Coding.GSM7 if is_gsm7(text) else Coding.UCS2


def to_plain_latin(text: str) -> str:
    """Turn Cyrillic and diacritics into plain Latin (č→c, ć→c, š→s, ž→z, đ→dj, ж→z …), keeping GSM-7 letters.

    Letters GSM 03.38 already has (é, è, ä, ö, ñ, ü, à …) stay; emoji and scripts with no Latin form
    stay too, so the result is only GSM-7 when the text allows it.
    """
    out: list[str] = []
    latin = to_latin(text)
    for i, ch in enumerate(latin):
        if ch in _BASIC_CODE or ch in GSM7_EXTENSION:
            out.append(ch)
        elif ch in _PUNCTUATION:
            out.append(_PUNCTUATION[ch])
        elif ch in _LETTERS:
            rep = _LETTERS[ch]
            nxt = latin[i + 1] if i + 1 < len(latin) else ""
            prev = latin[i - 1] if i > 0 else ""
            # "ĐURĐEVIĆ" and "ĆUĐ" → "DJURDJEVIC", "CUDJ"; but "Đurđević" → "Djurdjevic".
            shout = nxt.isupper() or (not nxt.isalpha() and prev.isupper())
            out.append(rep.upper() if ch.isupper() and shout else rep)
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            out.append(base if base and is_gsm7(base) else ch)
    return "".join(out)


def plan(text: str, *, transliterate: bool = False) -> SmsPlan:
    """Plan an outgoing SMS: cheapest faithful coding; transliterated only if asked and it saves SMS."""
    coding = cheapest_coding(text)
    best = SmsPlan(text=text, coding=coding, segments=segments(text, coding), transliterated=False)
    if not transliterate:
        return best
    plain = to_plain_latin(text)
    plain_coding = cheapest_coding(plain)
    plain_plan = SmsPlan(text=plain, coding=plain_coding, segments=segments(plain, plain_coding), transliterated=True)
    # Keep the citizen's own letters unless dropping them actually saves an SMS.
    return plain_plan if plain_plan.segments < best.segments else best


def encode_gsm7(text: str) -> EncodedPart:
    """Pack ``text`` into GSM-7 user data (7-bit septets, LSB first, no fill bits)."""
    septets: list[int] = []
    for ch in text:
        if ch in GSM7_EXTENSION:
            septets += [_ESC, GSM7_EXTENSION[ch]]
        else:
            try:
                septets.append(_BASIC_CODE[ch])
            except KeyError:
                raise ValueError(f"character {ch!r} is not in the GSM 03.38 alphabet") from None
    return EncodedPart(data=pack_septets(septets), length=len(septets))


def decode_gsm7(part: EncodedPart) -> str:
    """Unpack GSM-7 user data back into text (the septet count disambiguates the last octet)."""
    septets = unpack_septets(part.data, part.length)
    out: list[str] = []
    escaped = False
    for s in septets:
        if escaped:
            # An unknown extension code shows the basic character, as 23.038 asks receivers to do.
            out.append(_EXT_CHAR.get(s, GSM7_BASIC[s]))
            escaped = False
        elif s == _ESC:
            escaped = True
        else:
            out.append(GSM7_BASIC[s])
    if escaped:
        out.append(" ")  # a dangling ESC is shown as a space (23.038 §6.2.1.1)
    return "".join(out)


def pack_septets(septets: list[int]) -> bytes:
    """Pack 7-bit values into octets, least significant bit first (3GPP TS 23.038 §6.1.2.1.1)."""
    acc, bits = 0, 0
    out = bytearray()
    for s in septets:
        if not 0 <= s < 0x80:
            raise ValueError(f"septet out of range: {s}")
        acc |= s << bits
        bits += 7
        while bits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            bits -= 8
    if bits:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, count: int) -> list[int]:
    """Unpack ``count`` 7-bit values from octets packed least significant bit first."""
    if count < 0 or math.ceil(count * 7 / 8) > len(data):
        raise ValueError(f"{len(data)} octets cannot hold {count} septets")
    acc = int.from_bytes(data, "little")
    return [(acc >> (7 * i)) & 0x7F for i in range(count)]


def encode_ucs2(text: str) -> EncodedPart:
    """Encode ``text`` as UCS-2 user data (UTF-16BE; lone surrogates pass through unchanged)."""
    data = text.encode("utf-16-be", "surrogatepass")
    return EncodedPart(data=data, length=len(data))


def decode_ucs2(part: EncodedPart) -> str:
    """Decode UCS-2 user data (UTF-16BE), keeping a lone surrogate for the caller to join or replace."""
    return part.data[: part.length].decode("utf-16-be", "surrogatepass")


def encode(text: str, coding: Coding) -> list[EncodedPart]:
    """Encode ``text`` into the user data of each SMS it is sent as."""
    if coding is Coding.GSM7:
        return [encode_gsm7(chunk) for chunk in split_gsm7(text)]
    return [encode_ucs2(chunk) for chunk in split_ucs2(text)]


def decode(parts: list[EncodedPart], coding: Coding) -> str:
    """Decode and join the user data of the parts of one message."""
    if coding is Coding.GSM7:
        return "".join(decode_gsm7(p) for p in parts)
    return join_utf16("".join(decode_ucs2(p) for p in parts))


def join_utf16(text: str) -> str:
    """Re-pair surrogate halves that arrived in separate parts; a half still alone becomes U+FFFD."""
    return text.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")
