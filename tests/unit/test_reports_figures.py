"""Pure pieces of the report figures: periods in local time, percentiles, holder timelines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core.services.reports import local_period, month_period, months_of, percentile, state_at, timeline


def test_local_periods_follow_sarajevo_midnight_across_dst() -> None:
    """March starts at 23:00 UTC the day before and ends at 22:00 UTC (summer time began)."""
    march = month_period(2026, 3)
    assert march.start == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert march.end == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)
    year = local_period(date(2026, 1, 15), date(2026, 3, 10))
    assert [m[0] for m in months_of(year)] == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    assert months_of(year)[0][1] == year.start
    assert months_of(year)[-1][2] == year.end


def test_percentile_interpolates_like_percentile_cont() -> None:
    """Linear interpolation between ranks; none for no values."""
    assert percentile([], 0.5) is None
    assert percentile([4.0], 0.9) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([float(i) for i in range(11)], 0.9) == pytest.approx(9.0)


T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    """Return T0 plus hours."""
    return T0 + timedelta(hours=hours)


def test_timeline_gives_each_stretch_to_its_holder() -> None:
    """Call centre until routed, the company while it works, the citizen while waited for, nobody after."""
    changes = [
        (at(0), "new", None),
        (at(2), "assigned", 7),
        (at(5), "in_progress", 7),
        (at(10), "waiting", 7),
        (at(30), "in_progress", 7),
        (at(40), "resolved", 7),
    ]
    segments = timeline(T0, changes, at(100))
    spent: dict[str, float] = {}
    for seg in segments:
        spent[seg.holder] = spent.get(seg.holder, 0) + (seg.end - seg.start).total_seconds() / 3600
    assert spent == {"call_centre": 2, "organisation": 18, "citizen": 20}
    assert {seg.organisation_id for seg in segments if seg.holder == "organisation"} == {7}


def test_timeline_runs_to_now_for_open_tickets_and_follows_reassignment() -> None:
    """An open ticket's clock runs until the report instant; a move gives later time to the new holder."""
    changes = [(at(0), "new", None), (at(1), "assigned", 3), (at(4), "assigned", 9)]
    segments = timeline(T0, changes, at(10))
    assert [(s.holder, s.organisation_id, (s.end - s.start).total_seconds() / 3600) for s in segments] == [
        ("call_centre", None, 1.0),
        ("organisation", 3, 3.0),
        ("organisation", 9, 6.0),
    ]
    assert state_at(T0, changes, at(2)) == ("assigned", 3)
    assert state_at(T0, changes, at(5)) == ("assigned", 9)
    assert state_at(T0, changes, T0) is None


def test_timeline_ignores_time_after_the_report_instant() -> None:
    """Changes later than ``until`` do not count."""
    segments = timeline(T0, [(at(0), "new", None), (at(50), "assigned", 1)], at(10))
    assert [(s.holder, s.end) for s in segments] == [("call_centre", at(10))]
