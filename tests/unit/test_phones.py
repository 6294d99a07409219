"""Phone numbers: one citizen however the number is written; odd numbers kept, never refused."""

import pytest

from core.phones import is_mobile, parse_phone


@pytest.mark.parametrize("raw", ["065 435 411", "+387 65 435 411", "065/435-411", "65435411", "00387 65 435 411"])
def test_mobile_spellings_are_one_number(raw: str) -> None:
    """All spellings of the seed's mobile number give one E.164."""
    phone = parse_phone(raw)
    assert phone is not None
    assert phone.e164 == "+38765435411"
    assert phone.valid


def test_a_possible_number_outside_the_assigned_ranges_is_not_valid() -> None:
    """+387 69 is no BiH range: the number keeps its E.164 form (it is a citizen's identity) but is not valid."""
    phone = parse_phone("+387 69 123 456")
    assert phone is not None
    assert phone.e164 == "+38769123456"
    assert not phone.valid
    garbage = parse_phone("x;touch PWNED")
    assert garbage is not None
    assert not garbage.valid


def test_landline_with_slash() -> None:
    """051/785-266 is the landline of the seed."""
    phone = parse_phone("051/785-266")
    assert phone is not None
    assert phone.e164 == "+38751785266"
    assert not is_mobile(phone.e164)
    assert is_mobile("+38765435411")


@pytest.mark.parametrize(
    ("raw", "key"),
    [("M:tel", "M:tel"), ("A1 BiH", "A1 BiH"), ("122", "122"), ("x;touch PWNED", "x;touch PWNED"), ("anonymous", None)],
)
def test_unparseable_numbers_are_kept_as_given(raw: str, key: str | None) -> None:
    """Unparseable senders keep their raw form; withheld numbers identify nobody."""
    phone = parse_phone(raw)
    assert phone is not None
    assert phone.e164 is None
    assert phone.raw == raw
    assert phone.key == key


def test_bidi_override_is_ignored_for_parsing_but_kept_raw() -> None:
    """U+202E does not change the number but stays in the raw string."""
    phone = parse_phone("\u202e065435411")
    assert phone is not None
    assert phone.e164 == "+38765435411"
    assert phone.raw.startswith("\u202e")


def test_empty_is_anonymous() -> None:
    """No number at all is an anonymous reporter."""
    assert parse_phone("") is None
    assert parse_phone(None) is None
