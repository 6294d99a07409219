"""Serbian text helpers: script conversion and the folded form used for matching and search.

Serbian is written in Cyrillic and Latin interchangeably, often without diacritics on a phone keypad
("ulica" for "улица", "smece" for "смеће"). Everything that matches or searches compares the *folded*
form, so вода, voda and VODA are one word, and ђ/đ/dj are one letter.
"""

from __future__ import annotations

import re
import unicodedata

_CYR_TO_LAT: dict[str, str] = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "đ", "е": "e", "ж": "ž", "з": "z", "и": "i",
    "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n", "њ": "nj", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "ћ": "ć", "у": "u", "ф": "f", "х": "h", "ц": "c", "ч": "č", "џ": "dž", "ш": "š",
}  # fmt: skip

# Latin → Cyrillic: digraphs first. lj/nj/dž are nearly always one letter (see module docstring of
# kotor_varos data: "injekcija" is the rare exception, and folding makes both spellings match anyway).
# "dj" is not read as ђ: proper Latin writes đ, and "nadjačati" is надјачати.
_LAT_DIGRAPHS: dict[str, str] = {"lj": "љ", "nj": "њ", "dž": "џ"}
_LAT_TO_CYR: dict[str, str] = {lat: cyr for cyr, lat in _CYR_TO_LAT.items() if len(lat) == 1}
_LAT_TO_CYR.update({"q": "к", "w": "в", "x": "кс", "y": "ј"})

# Folding: every letter to plain ASCII Latin, so keypad spellings match. đ/ђ/dj → "dj", č/ć → "c".
_FOLD_EXTRA: dict[str, str] = {"đ": "dj", "ð": "dj", "ł": "l", "ß": "ss", "æ": "ae", "ø": "o"}

_INVISIBLE = re.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_WORD = re.compile(r"[0-9a-z]+")


def _case_like(src: str, out: str) -> str:
    """Give ``out`` the case of ``src`` (for digraphs: Љ → Lj at a word start, LJ inside caps)."""
    if not src.isupper():
        return out
    return out.upper() if len(out) == 1 else out[0].upper() + out[1:]


def to_latin(text: str) -> str:
    """Transliterate Serbian Cyrillic to Serbian Latin (with diacritics), leaving other text as it is."""
    out: list[str] = []
    for i, ch in enumerate(text):
        low = ch.lower()
        lat = _CYR_TO_LAT.get(low)
        if lat is None:
            out.append(ch)
            continue
        if ch.isupper() and len(lat) > 1:
            # "ЉУБИЋ" → "LJUBIĆ", but "Љубић" → "Ljubić".
            nxt = text[i + 1] if i + 1 < len(text) else ""
            out.append(lat.upper() if nxt.isupper() else lat[0].upper() + lat[1:])
        else:
            out.append(_case_like(ch, lat))
    return "".join(out)


def to_cyrillic(text: str) -> str:
    """Transliterate Serbian Latin to Cyrillic; words with foreign letters, URLs and codes stay Latin."""
    out: list[str] = []
    for token in re.split(r"(\s+)", text):
        if not token or token.isspace() or _keeps_latin(token):
            out.append(token)
            continue
        i = 0
        while i < len(token):
            pair = token[i : i + 2]
            if pair.lower() in _LAT_DIGRAPHS:
                out.append(_LAT_DIGRAPHS[pair.lower()].upper() if pair[0].isupper() else _LAT_DIGRAPHS[pair.lower()])
                i += 2
                continue
            ch = token[i]
            cyr = _LAT_TO_CYR.get(ch.lower())
            out.append(ch if cyr is None else (cyr.upper() if ch.isupper() else cyr))
            i += 1
    return "".join(out)


def _keeps_latin(token: str) -> bool:
    """Tell whether a token must not be transliterated (addresses, ticket codes, URLs)."""
    return "@" in token or "://" in token or token.startswith("www.") or bool(re.search(r"\d-\d", token))


def fold(text: str) -> str:
    """Return the matching form: Latin script, lower case, no diacritics, no invisible characters."""
    latin = to_latin(unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))).lower()
    out: list[str] = []
    for ch in latin:
        if ch in _FOLD_EXTRA:
            out.append(_FOLD_EXTRA[ch])
            continue
        base = unicodedata.normalize("NFKD", ch)
        out.append("".join(c for c in base if not unicodedata.combining(c)))
    # Lower again: decomposition can surface capitals (e.g. mathematical letters after NFKD).
    return "".join(out).lower()


def words(text: str) -> list[str]:
    """Split text into folded words (letters and digits)."""
    return _WORD.findall(fold(text))


def strip_invisible(text: str) -> str:
    """Remove NUL, other control characters and bidi overrides that would disguise text on screen.

    PostgreSQL ``text`` rejects U+0000 and a U+202E can reverse what an operator reads; the original
    bytes are kept elsewhere (the inbound item) for anyone who needs them.
    """
    return _INVISIBLE.sub("", text)


def in_script(text: str, script: str) -> str:
    """Render Serbian text written in Cyrillic in the requested script (``sr-Cyrl`` or ``sr-Latn``)."""
    return to_latin(text) if script == "sr-Latn" else text
