"""Phone numbers: E.164 normalisation with Bosnia and Herzegovina as the default region."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import phonenumbers

from core.text import strip_invisible

DEFAULT_REGION = "BA"
MAX_RAW = 256
ANONYMOUS = frozenset({"anonymous", "unknown", "restricted", "private", "withheld"})


@dataclass(frozen=True)
class Phone:
    """A number as given, plus its E.164 form when it parses."""

    raw: str
    e164: str | None

    @functools.cached_property
    def valid(self) -> bool:
        """Tell whether the number is in an assigned range (not only of a possible length).

        Worked out when first asked: a screen pop only needs the E.164 form, and libphonenumber's
        range check was a third of the cost of parsing a new caller's number.
        """
        return _in_assigned_range(self.e164) if self.e164 else False

    @property
    def key(self) -> str | None:
        """Return the identity used to find the citizen: E.164, else the trimmed raw sender."""
        if self.e164:
            return self.e164
        if self.raw.strip().lower() in ANONYMOUS:
            return None  # every withheld number is a different person
        trimmed = " ".join(self.raw.split())[:64]
        return trimmed or None


def parse_phone(raw: str | None, region: str = DEFAULT_REGION) -> Phone | None:
    """Normalise a caller ID or SMS sender (see ``_parse``); the result is cached.

    The pop of one call parses the same number several times, and libphonenumber costs about a
    quarter of a millisecond a go.
    """
    if raw is None:
        return None
    return _parse(raw[:MAX_RAW], region)


@functools.lru_cache(maxsize=4096)  # bounded: Phone is immutable, and hostile senders cannot grow it
def _parse(raw: str, region: str) -> Phone | None:
    """Normalise a caller ID or SMS sender; never refuse one (an odd number is still a citizen).

    ``051/785-266``, ``065 435 411`` and ``+387 65 435 411`` all become ``+387…``. "anonymous",
    alphanumeric senders and garbage keep their raw form with no E.164.
    """
    text = strip_invisible(raw).strip()
    if not text or text.lower() in ANONYMOUS:
        return Phone(raw=raw, e164=None) if text else None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return Phone(raw=raw, e164=None)
    if not phonenumbers.is_possible_number(number):
        return Phone(raw=raw, e164=None)
    return Phone(raw=raw, e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


@functools.lru_cache(maxsize=4096)
def _in_assigned_range(e164: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:  # our own E.164 text; never seen, but never a crash
        return False


def is_mobile(e164: str | None) -> bool:
    """Tell whether a number can receive SMS (mobile ranges; a landline cannot)."""
    if not e164:
        return False
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    kind = phonenumbers.number_type(number)
    return kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
