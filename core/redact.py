"""Redaction of personal data in free text (voicemail transcripts) before anything may go public.

What is removed:

* phone numbers in any spelling: ``065/123-456``, ``+387 65 123 456``, ``065123456``, and the way a
  speech engine writes a number read aloud (``нула шест пет један два три …``, ``nula šest pet …``);
* e-mail addresses, written (``ime@mail.com``) or spoken (``petar at gmail tačka com``);
* personal names where they can be detected: the words after "зовем се / моје име је / ime mi je"
  (and, when capitalised, after "ја сам / ovdje je"), and every name known from the citizen's record
  or the caller ID, in either script and inflected ("Петровић", "Petrovića").

It errs on the side of removing too much: a redacted transcript may lose a house number or a date,
but a public page must never show a phone number or a name. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.text import fold

PHONE_LABEL = "[телефон]"
EMAIL_LABEL = "[е-пошта]"
NAME_LABEL = "[име]"

MAX_TEXT = 100_000  # longer input is cut: a voicemail transcript is a few thousand characters
# A run of numbers with at least this many digits is treated as a phone number (BiH numbers have 8-9
# digits with the trunk 0; 6 catches a number read in parts while keeping house numbers and years).
MIN_PHONE_DIGITS = 6

# Folded number words and how many digits each stands for (tens and hundreds count as their digits, so
# "šezdeset pet" counts 3 for 2 real digits: erring towards redaction is the safe side).
_NUMBER_WORDS: dict[str, int] = {
    **dict.fromkeys(
        ("nula", "jedan", "jedna", "jedno", "dva", "dvije", "dve", "tri", "cetiri", "pet", "sest", "sedam", "osam")
        + ("devet", "nule", "jedinica", "dvojka", "trojka", "cetvorka", "petica", "sestica", "sedmica", "osmica"),
        1,
    ),
    **dict.fromkeys(
        ("deset", "jedanaest", "dvanaest", "trinaest", "cetrnaest", "petnaest", "sesnaest", "sedamnaest")
        + ("osamnaest", "devetnaest", "dvadeset", "trideset", "cetrdeset", "pedeset", "sezdeset", "sedamdeset")
        + ("osamdeset", "devedeset"),
        2,
    ),
    **dict.fromkeys(
        ("sto", "stotinu", "dvjesta", "dvesta", "trista", "cetiristo", "petsto", "sesto", "sedamsto", "osamsto")
        + ("devetsto", "hiljadu", "hiljada", "tisucu"),
        3,
    ),
    "plus": 0,  # "plus tri osam sedam …": the country code read aloud
}
_TOKEN = re.compile(r"\+?\w+")
_PHONE_GAP = re.compile(r"[\s\-/.()\[\],]{0,3}")
_DIGITS = re.compile(r"\+?\d+")
# Not personal data, and easily mistaken for numbers: ticket codes and dates stay.
_KEEP = re.compile(r"\b48-\d{4}-\d{6}\b|\b\d{1,2}\.\s?\d{1,2}\.\s?(?:\d{4}|\d{2})\b\.?")

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_SPOKEN_EMAIL = re.compile(
    r"\b[\w.]+\s+(?:at|et|ет|мајмун\w*|majmun\w*|@)\s+[\w-]+(?:\s+(?:tačka|tacka|točka|тачка|dot)\s+[\w-]+)+\b",
    re.IGNORECASE | re.UNICODE,
)

# Phrases that introduce the speaker's name (folded). "Strong" ones are followed by a name even in
# lower case (speech engines write everything in lower case); "weak" ones only by a capitalised word.
_STRONG_TRIGGERS = (
    ("zovem", "se"),
    ("moje", "ime", "je"),
    ("ime", "mi", "je"),
    ("mene", "zovu"),
    ("prezime", "mi", "je"),
    ("moje", "prezime", "je"),
    ("ime", "i", "prezime"),
)
_WEAK_TRIGGERS = (("ja", "sam"), ("ovdje", "je"), ("ovde", "je"), ("ovo", "je"), ("javlja", "se"))
# Words that end a name: a following preposition or verb means the name is over (or never began).
_STOPWORDS = frozenset(
    [
        "i",
        "a",
        "u",
        "na",
        "iz",
        "sa",
        "s",
        "od",
        "do",
        "za",
        "kod",
        "ali",
        "pa",
        "da",
        "ne",
        "ni",
        "jer",
        "zbog",
        "se",
        "sam",
        "je",
        "mi",
        "me",
        "ja",
        "vi",
        "ti",
        "on",
        "ona",
        "smo",
        "ste",
        "su",
        "zovem",
        "imam",
        "bih",
        "bi",
        "bio",
        "bila",
        "molim",
        "hvala",
        "zato",
        "sto",
        "sta",
        "kako",
        "gdje",
        "gde",
        "kad",
        "kada",
        "ovdje",
        "ovde",
        "tu",
        "tamo",
        "nazivam",
        "javljam",
        "ulica",
        "ulici",
        "ulice",
        "selo",
        "selu",
        "naselje",
        "naselju",
        "iz",
    ]
)
_MIN_NAME_STEM = 5  # inflection: "Петровић" also matches "Петровића" (same rule as place names)


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    label: str


def redact(text: str, *, names: Iterable[str | None] = ()) -> str:
    """Return ``text`` with phone numbers, e-mail addresses and detectable names replaced by labels."""
    text = text[:MAX_TEXT]
    spans: list[_Span] = []
    keep = [(m.start(), m.end()) for m in _KEEP.finditer(text)]
    for pattern in (_EMAIL, _SPOKEN_EMAIL):
        spans += [_Span(m.start(), m.end(), EMAIL_LABEL) for m in pattern.finditer(text)]
    tokens = [m for m in _TOKEN.finditer(text) if not _inside(m.start(), keep)]
    spans += _phone_spans(text, tokens)
    spans += _name_spans(text, tokens, _name_parts(names))
    return _apply(text, spans)


def _inside(pos: int, ranges: list[tuple[int, int]]) -> bool:
    """Tell whether a position falls inside one of the ranges."""
    return any(start <= pos < end for start, end in ranges)


def _digit_weight(token: str) -> int | None:
    """Return how many phone digits a token stands for, or None when it is not part of a number."""
    if _DIGITS.fullmatch(token):
        return len(token.lstrip("+"))
    return _NUMBER_WORDS.get(fold(token))


def _phone_spans(text: str, tokens: list[re.Match[str]]) -> list[_Span]:
    """Find runs of number tokens (digits or number words) long enough to be a phone number."""
    spans: list[_Span] = []
    run: list[re.Match[str]] = []
    weight = 0

    def close() -> None:
        if run and weight >= MIN_PHONE_DIGITS:
            start = run[0].start()
            if start > 0 and text[start - 1] == "(":
                start -= 1  # "(051) 785-266": the bracket belongs to the number
            spans.append(_Span(start, run[-1].end(), PHONE_LABEL))

    for token in tokens:
        w = _digit_weight(token.group())
        if w is None:
            close()
            run, weight = [], 0
            continue
        if run and not _PHONE_GAP.fullmatch(text[run[-1].end() : token.start()]):
            close()
            run, weight = [], 0
        run.append(token)
        weight += w
    close()
    return spans


def _name_parts(names: Iterable[str | None]) -> set[str]:
    """Fold the known names into the words to look for ("Petar Petrović-Ilić" → petar, petrovic, ilic)."""
    parts: set[str] = set()
    for name in names:
        if not name:
            continue
        for word in re.findall(r"\w+", fold(name[:200])):
            if len(word) >= 2 and not word.isdigit() and word not in _STOPWORDS:
                parts.add(word)
    return parts


def _is_known_name(folded: str, parts: set[str]) -> bool:
    """Tell whether a folded word is one of the known names, allowing Serbian case endings."""
    for part in parts:
        if folded == part:
            return True
        if len(part) >= _MIN_NAME_STEM and folded.startswith(part[:-1]) and len(folded) <= len(part) + 3:
            return True
    return False


def _name_spans(text: str, tokens: list[re.Match[str]], known: set[str]) -> list[_Span]:
    """Find known names anywhere, and the words that follow a name-introducing phrase."""
    words = [t for t in tokens if not t.group().lstrip("+").isdigit()]
    folded = [fold(t.group()) for t in words]
    spans = [
        _Span(t.start(), t.end(), NAME_LABEL) for t, f in zip(words, folded, strict=True) if _is_known_name(f, known)
    ]
    for i in range(len(words)):
        for trigger, strong in [(t, True) for t in _STRONG_TRIGGERS] + [(t, False) for t in _WEAK_TRIGGERS]:
            end = i + len(trigger)
            if tuple(folded[i:end]) != trigger or not _joined(text, words[i:end]):
                continue
            spans += _following_name(text, words, folded, end, strong=strong)
    return spans


def _joined(text: str, run: list[re.Match[str]]) -> bool:
    """Tell whether consecutive tokens are separated by white space only (one phrase)."""
    return all(text[a.end() : b.start()].isspace() for a, b in zip(run, run[1:], strict=False))


def _following_name(text: str, words: list[re.Match[str]], folded: list[str], at: int, *, strong: bool) -> list[_Span]:
    """Return up to two name words after a trigger: stop at punctuation, a stop word or a number."""
    spans: list[_Span] = []
    previous_end = words[at - 1].end()
    for j in range(at, min(at + 2, len(words))):
        word = words[j]
        gap = text[previous_end : word.start()]
        if not (gap.isspace() or (gap.strip() in (":", ",") and j == at)):
            break
        value = word.group()
        if folded[j] in _STOPWORDS or folded[j] in _NUMBER_WORDS or not value.isalpha():
            break
        capitalised = value[:1].isupper()
        if not capitalised and not (strong and (j == at or not _has_capitals(text))):
            break
        spans.append(_Span(word.start(), word.end(), NAME_LABEL))
        previous_end = word.end()
    return spans


def _has_capitals(text: str) -> bool:
    """Tell whether the text uses capital letters at all (speech engines write only lower case)."""
    return any(ch.isupper() for ch in text)


def _apply(text: str, spans: list[_Span]) -> str:
    """Replace the spans (merging overlaps; the earliest, longest span wins) with their labels."""
    out: list[str] = []
    pos = 0
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if span.end <= pos:
            continue
        if span.start < pos:  # overlaps the previous replacement: extend it, keep its label
            pos = span.end
            continue
        out.append(text[pos : span.start])
        out.append(span.label)
        pos = span.end
    out.append(text[pos:])
    return "".join(out)
