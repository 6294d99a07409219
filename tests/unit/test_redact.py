"""Redaction: no phone number, e-mail address or known name survives; ordinary text does."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.redact import EMAIL_LABEL, NAME_LABEL, PHONE_LABEL, redact
from core.text import fold, to_latin

DIGIT_WORDS = ["нула", "један", "два", "три", "четири", "пет", "шест", "седам", "осам", "девет"]
# Words with no digits, no number words, no name triggers: redaction must leave them alone.
SAFE_WORDS = ["нема", "воде", "у", "улици", "Баштина", "рупа", "на", "путу", "smeće", "nije", "odvezeno", "молим",
              "хитно", "kod", "škole", "већ", "данима", "struja", "rasvjeta", "не", "ради"]  # fmt: skip

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@st.composite
def phone_numbers(draw: st.DrawFn) -> str:
    """Draw a BiH-style number in one of the ways people write or say it."""
    number = (
        "0"
        + draw(st.sampled_from(["51", "65", "66", "61", "62", "63"]))
        + "".join(draw(st.lists(digits, min_size=6, max_size=7)))
    )
    style = draw(st.integers(0, 6))
    if style == 0:
        return number
    if style == 1:
        return f"{number[:3]}/{number[3:6]}-{number[6:]}"
    if style == 2:
        return f"+387 {number[1:3]} {number[3:6]} {number[6:]}"
    if style == 3:
        return f"({number[:3]}) {number[3:6]}-{number[6:]}"
    if style == 4:
        return f"{number[:3]} {number[3:6]} {number[6:]}"
    spoken = " ".join(DIGIT_WORDS[int(d)] for d in number)
    return spoken if style == 5 else to_latin(spoken)


emails = st.builds(
    lambda user, host, tld: f"{user}@{host}.{tld}",
    st.from_regex(r"[a-z][a-z0-9._]{0,12}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True),
    st.sampled_from(["com", "ba", "rs", "org"]),
)
safe_text = st.lists(st.sampled_from(SAFE_WORDS), min_size=0, max_size=8).map(" ".join)
names = st.tuples(
    st.sampled_from(["Петар", "Јована", "Милан", "Dragana", "Đorđe", "Љубица"]),
    st.sampled_from(["Петровић", "Јовановић", "Kovačević", "Ilić", "Savić", "Стојановић"]),
).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(before=safe_text, phone=phone_numbers(), after=safe_text)
def test_no_phone_number_survives(before: str, phone: str, after: str) -> None:
    """Any spelling of a phone number inside ordinary text is replaced by the label."""
    out = redact(f"{before} {phone} {after}")
    assert PHONE_LABEL in out
    assert not re.search(r"\d{3}", out)
    assert sum(fold(out).split().count(fold(w)) for w in DIGIT_WORDS) < 3


@settings(max_examples=100, deadline=None)
@given(before=safe_text, email=emails, after=safe_text)
def test_no_email_survives(before: str, email: str, after: str) -> None:
    """An e-mail address anywhere in the text is replaced."""
    out = redact(f"{before} {email} {after}")
    assert email not in out and "@" not in out
    assert EMAIL_LABEL in out


@settings(max_examples=100, deadline=None)
@given(name=names, before=safe_text, after=safe_text, latin=st.booleans())
def test_names_from_the_record_do_not_survive_in_either_script(name: str, before: str, after: str, latin: bool) -> None:
    """The citizen's name, written in either script in the transcript, is replaced."""
    spoken = to_latin(name) if latin else name
    out = redact(f"{before} {spoken} {after}", names=[name])
    for part in name.split():
        assert fold(part) not in fold(out).split()
    assert NAME_LABEL in out


@settings(max_examples=200, deadline=None)
@given(text=safe_text)
def test_ordinary_text_is_left_alone(text: str) -> None:
    """Text without personal data comes back unchanged."""
    assert redact(text) == text


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300), name=st.one_of(st.none(), st.text(max_size=40)))
def test_redaction_never_fails_and_is_idempotent(text: str, name: str | None) -> None:
    """Any input is handled, and redacting twice changes nothing more."""
    once = redact(text, names=[name])
    assert redact(once, names=[name]) == once


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Зовем се Петар Петровић и нема воде.", "Зовем се [име] [име] и нема воде."),
        ("zovem se marko markovic iz bilica", "zovem se [име] [име] iz bilica"),
        ("Ја сам Јована из Баштине", "Ја сам [име] из Баштине"),
        ("ja sam nezadovoljna, nema vode", "ja sam nezadovoljna, nema vode"),
        ("Moje ime je Ana. Rupa na putu.", "Moje ime je [име]. Rupa na putu."),
        ("pišite na petar at gmail tačka com hvala", "pišite na [е-пошта] hvala"),
        ("Пријава 48-2026-000123 од 12.03.2026. у 10 сати", "Пријава 48-2026-000123 од 12.03.2026. у 10 сати"),
        ("зовите (051) 785-266 или +387 65 123 456", "зовите [телефон] или [телефон]"),
        ("кућни број 12, спрат 3", "кућни број 12, спрат 3"),
    ],
)
def test_examples(text: str, expected: str) -> None:
    """Typical voicemail sentences are redacted as a person would."""
    assert redact(text) == expected


def test_inflected_record_name_is_found() -> None:
    """The inflected "Петровића" is the record's "Петровић" in another case."""
    assert redact("тражим Петровића", names=["Петар Петровић"]) == "тражим [име]"
