"""The rotating meeting schedule."""

from __future__ import annotations

from datetime import date

import pytest

from core.services.reports import ReportError, meeting_schedule


def test_rotation_follows_the_order_every_n_weeks() -> None:
    """Each meeting focuses on the next organisation, two weeks apart, wrapping around."""
    plan = meeting_schedule(date(2026, 1, 5), 2, ["vodovod", "komunalno", "prostorno"], meetings=5)
    assert plan == [
        (date(2026, 1, 5), "vodovod"),
        (date(2026, 1, 19), "komunalno"),
        (date(2026, 2, 2), "prostorno"),
        (date(2026, 2, 16), "vodovod"),
        (date(2026, 3, 2), "komunalno"),
    ]


def test_organisations_without_tickets_are_skipped() -> None:
    """An organisation nobody wrote to gets no meeting; duplicates in the order count once."""
    plan = meeting_schedule(
        date(2026, 1, 5),
        1,
        ["vodovod", "inspekcija", "komunalno", "vodovod"],
        meetings=3,
        with_tickets={"vodovod", "komunalno"},
    )
    assert [code for _, code in plan] == ["vodovod", "komunalno", "vodovod"]


def test_nobody_with_tickets_means_no_meetings() -> None:
    """With no active organisation the schedule is empty, not an endless loop."""
    assert meeting_schedule(date(2026, 1, 5), 2, ["vodovod"], meetings=4, with_tickets=set()) == []


@pytest.mark.parametrize(("weeks", "meetings"), [(0, 3), (2, -1), (2, 10_000)])
def test_nonsense_is_refused(weeks: int, meetings: int) -> None:
    """Zero-week spacing and absurd counts are errors."""
    with pytest.raises(ReportError):
        meeting_schedule(date(2026, 1, 5), weeks, ["vodovod"], meetings=meetings)
