"""The missed-call list becomes a callback queue at the next 07:00 local on a working day."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from core.services.calls import is_working_day, next_callback_at, orthodox_easter

SARAJEVO = ZoneInfo("Europe/Sarajevo")


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """Return a Europe/Sarajevo local time."""
    return datetime(year, month, day, hour, minute, tzinfo=SARAJEVO)


@pytest.mark.parametrize(
    ("missed", "due"),
    [
        (local(2026, 11, 3, 14, 0), local(2026, 11, 4, 7, 0)),  # Tuesday 14:00 -> Wednesday 07:00
        (local(2026, 11, 3, 6, 30), local(2026, 11, 3, 7, 0)),  # Tuesday 06:30 -> same morning
        (local(2026, 11, 3, 7, 0), local(2026, 11, 4, 7, 0)),  # at 07:00 the queue is already open
        (local(2026, 11, 6, 20, 0), local(2026, 11, 9, 7, 0)),  # Friday evening -> Monday (weekend closed)
        (local(2026, 11, 7, 6, 30), local(2026, 11, 9, 7, 0)),  # Saturday morning -> Monday
        (local(2026, 11, 20, 16, 0), local(2026, 11, 23, 7, 0)),  # Fri 20 Nov; 21 Nov is a Saturday anyway
        (local(2026, 12, 31, 12, 0), local(2027, 1, 4, 7, 0)),  # 1-2 Jan holidays, 3 Jan Sunday
        (local(2026, 4, 9, 15, 0), local(2026, 4, 14, 7, 0)),  # Orthodox Good Friday + Easter Monday 2026
        (local(2026, 3, 27, 16, 0), local(2026, 3, 30, 7, 0)),  # DST starts on Sunday 29 March
        (local(2026, 10, 23, 16, 0), local(2026, 10, 26, 7, 0)),  # DST ends on Sunday 25 October
    ],
)
def test_next_callback_is_next_working_morning(missed: datetime, due: datetime) -> None:
    """The due time is 07:00 local of the next working day, returned in UTC."""
    got = next_callback_at(missed.astimezone(UTC))
    assert got.tzinfo is UTC
    assert got == due
    assert got.astimezone(SARAJEVO).hour == 7


def test_orthodox_easter_dates_match_the_dialplan() -> None:
    """Orthodox Easter 2026 and 2027 (asterisk_conf lists Good Friday and Easter Monday)."""
    assert orthodox_easter(2026) == date(2026, 4, 12)
    assert orthodox_easter(2027) == date(2027, 5, 2)
    assert not is_working_day(date(2027, 4, 30))
    assert not is_working_day(date(2027, 5, 3))
    assert is_working_day(date(2027, 5, 4))
