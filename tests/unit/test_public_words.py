"""Serbian numbers in words, weeks, coarse places and scrubbing: the pure parts of the public face."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.services.public import Private, coarse_place, scrub
from core.services.weekly import count_words, number_words, ordinal_day, parse_week, week_bounds, week_of


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "једна пријава"),
        (2, "двије пријаве"),
        (3, "три пријаве"),
        (4, "четири пријаве"),
        (5, "пет пријава"),
        (11, "једанаест пријава"),
        (12, "дванаест пријава"),
        (14, "четрнаест пријава"),
        (20, "двадесет пријава"),
        (21, "двадесет једна пријава"),
        (22, "двадесет двије пријаве"),
        (25, "двадесет пет пријава"),
        (100, "сто пријава"),
        (101, "сто једна пријава"),
        (111, "сто једанаест пријава"),
        (112, "сто дванаест пријава"),
        (122, "сто двадесет двије пријаве"),
        (200, "двјеста пријава"),
        (1000, "хиљаду пријава"),
        (1001, "хиљаду једна пријава"),
        (2000, "двије хиљаде пријава"),
        (5000, "пет хиљада пријава"),
        (21000, "двадесет једна хиљада пријава"),
        (1_000_000, "један милион пријава"),
        (2_000_002, "два милиона двије пријаве"),
    ],
)
def test_count_words(n: int, expected: str) -> None:
    """Counts of the feminine noun "пријава" agree in gender and case."""
    assert count_words(n) == expected


def test_number_words_genders() -> None:
    """One and two agree with masculine, feminine and neuter nouns."""
    assert number_words(1, "m") == "један" and number_words(1, "f") == "једна" and number_words(1, "n") == "једно"
    assert number_words(2, "m") == "два" and number_words(2, "f") == "двије"
    assert number_words(0) == "нула" and number_words(83) == "осамдесет три"


@pytest.mark.parametrize(("day", "word"), [(1, "првог"), (2, "другог"), (10, "десетог"), (12, "дванаестог"),
                                           (20, "двадесетог"), (21, "двадесет првог"), (31, "тридесет првог")])  # fmt: skip
def test_ordinal_days(day: int, word: str) -> None:
    """Days of the month read as genitive ordinals."""
    assert ordinal_day(day) == word


def test_weeks_follow_local_midnight() -> None:
    """A week runs Monday 00:00 to Monday 00:00 local; the DST week is 167 hours long."""
    start, end = week_bounds(2026, 13, "Europe/Sarajevo")
    assert start == datetime(2026, 3, 22, 23, 0, tzinfo=UTC)
    assert (end - start).total_seconds() == 167 * 3600
    assert week_of(datetime(2026, 3, 22, 23, 30, tzinfo=UTC), "Europe/Sarajevo") == (2026, 13)
    assert parse_week("2026-W05") == (2026, 5) and parse_week("2026-W54") is None and parse_week("x") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Улица Светог Саве 12", "Улица Светог Саве"),
        ("ul. Cara Dušana 7a, Kotor Varoš", "ul Cara Dušana"),
        ("код куће Марка Марковића", None),
        ("12", None),
        (None, None),
    ],
)
def test_coarse_place(raw: str | None, expected: str | None) -> None:
    """Free text becomes a street without a number, or nothing; a known settlement is the fallback."""
    assert coarse_place(raw, None) == expected
    assert coarse_place("код куће Марка", "Шипраге") == "Шипраге"


def test_scrub_removes_personal_data_keeps_codes() -> None:
    """Phones, e-mails, JMBG and the reporter's inflected name go; ticket codes and plain words stay."""
    private = Private(names=("Драгана Петровић",), phrases=("+38766987654", "Улица Светог Саве 12"))
    text = "Драгану Petrović звали на 066/987-654, pisati na a.b@example.ba, JMBG 0101990175001, Светог Саве 12, 48-2026-000123."
    out = scrub(text, private)
    for gone in ("Драгану", "Petrović", "987", "example", "0101990175001", "Саве 12"):
        assert gone not in out
    assert "48-2026-000123" in out and "звали на" in out
