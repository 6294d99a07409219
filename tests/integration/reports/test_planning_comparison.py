"""Planning figures and the monthly comparison of organisations against independent SQL."""
# ruff: noqa: S608  the statements are assembled from constants in this file, never from input

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core.bootstrap import Core
from core.services import planning
from core.services.reports import compare_organisations, local_period, schedule_for
from tests.integration.reports.seeding import NOW, YEAR, Seeded
from tests.integration.reports.sql import one, q

pytestmark = pytest.mark.usefixtures("seeded")
SARAJEVO = ZoneInfo("Europe/Sarajevo")
OPEN = "('assigned','in_progress','waiting','reopened')"


def local(y: int, m: int) -> datetime:
    """Return the UTC instant of local midnight on the first of a month (written apart from the core)."""
    if m == 13:
        y, m = y + 1, 1
    return datetime(y, m, 1, tzinfo=SARAJEVO).astimezone(UTC)


def test_hotspots_and_repeats_match_sql(core: Core, seeded: Seeded) -> None:
    """The top recurring places and the repeat problems (same place and category ≥ 3 in 12 months)."""
    start, end = local(YEAR, 1), local(YEAR, 13)
    with core.session_factory() as s:
        spots = planning.hotspots(s, start, end)
        expected = q(
            s,
            """SELECT place_id, count(DISTINCT coalesce(cluster_id, id)), count(*) FROM ticket
               WHERE place_id IS NOT NULL AND created_at >= :s AND created_at < :e
               GROUP BY place_id ORDER BY 2 DESC, 3 DESC, place_id LIMIT 20""",
            s=start,
            e=end,
        )
        repeats = planning.repeat_problems(s, now=NOW)
        expected_repeats = q(
            s,
            """SELECT place_id, category_id, count(DISTINCT coalesce(cluster_id, id)), count(*) FROM ticket
               WHERE place_id IS NOT NULL AND category_id IS NOT NULL AND created_at >= :s AND created_at < :e
               GROUP BY place_id, category_id HAVING count(DISTINCT coalesce(cluster_id, id)) >= 3
               ORDER BY 3 DESC, place_id, category_id""",
            s=NOW - timedelta(days=365),
            e=NOW,
        )
    assert [(h.place_id, h.problems, h.reports) for h in spots] == [tuple(r) for r in expected]
    assert spots[0].place_id == seeded.hot_place_id
    assert spots[0].reports > spots[0].problems  # duplicates are reports, not new problems
    assert spots[0].top_categories[0].code == seeded.hot_category
    assert [(r.place_id, r.problems, r.reports) for r in repeats] == [(r[0], r[2], r[3]) for r in expected_repeats]
    assert any(r.place_id == seeded.hot_place_id and r.category_code == "voda" for r in repeats)
    assert all(len(r.codes) <= 10 for r in repeats)


def test_seasonality_matches_sql(core: Core) -> None:
    """Tickets per local month of the year equal counts between independently computed boundaries."""
    with core.session_factory() as s:
        season = planning.seasonality(s, YEAR, YEAR, tz="Europe/Sarajevo")
        for m in range(1, 13):
            n = one(
                s,
                "SELECT count(*) FROM ticket WHERE created_at >= :a AND created_at < :b",
                a=local(YEAR, m),
                b=local(YEAR, m + 1),
            )
            assert season.totals.get(m, 0) == n
            voda = one(
                s,
                "SELECT count(*) FROM ticket t JOIN category c ON c.id = t.category_id WHERE c.code = 'voda' AND created_at >= :a AND created_at < :b",
                a=local(YEAR, m),
                b=local(YEAR, m + 1),
            )
            assert season.counts.get(("voda", m), 0) == voda
    assert season.mean(1) == season.totals.get(1, 0)


def test_budget_versus_actual_matches_sql(core: Core, seeded: Seeded) -> None:
    """Budget, actual, resolved and the rounded proposal for next year, per organisation and category."""
    with core.session_factory() as s:
        rows = planning.budget_vs_actual(s, YEAR, now=NOW, tz="Europe/Sarajevo")
        whole = {r.organisation_code: r for r in rows if r.category_code is None}
        for code in ("vodovod", "komunalno", "prostorno"):
            actual = one(
                s,
                """SELECT coalesce(sum(ce.amount), 0) FROM cost_entry ce JOIN ticket t ON t.id = ce.ticket_id
                   JOIN organisation o ON o.id = coalesce(ce.organisation_id, t.organisation_id)
                   WHERE o.code = :c AND ce.at >= :s AND ce.at < :e AND ce.currency = 'BAM'""",
                c=code,
                s=local(YEAR, 1),
                e=local(YEAR, 13),
            )
            assert whole[code].actual == Decimal(str(actual)).quantize(Decimal("0.01")) == seeded.amount[code]
            resolved = one(
                s,
                "SELECT count(*) FROM ticket t JOIN organisation o ON o.id = t.organisation_id WHERE o.code = :c AND resolved_at >= :s AND resolved_at < :e",
                c=code,
                s=local(YEAR, 1),
                e=local(YEAR, 13),
            )
            assert whole[code].resolved == resolved
            assert whole[code].projected == whole[code].actual  # the year is over: nothing to extrapolate
            assert whole[code].proposal == Decimal(math.ceil(whole[code].actual / 100) * 100).quantize(Decimal("0.01"))
    assert whole["vodovod"].budget == Decimal("25000.00")
    assert whole["komunalno"].budget == Decimal("4000.00")  # only a category line: the sum of lines
    assert whole["prostorno"].budget is None
    cats = {(r.organisation_code, r.category_code): r for r in rows if r.category_code}
    assert cats[("vodovod", "voda")].budget == Decimal("15000.00")
    assert (
        sum((r.actual for r in rows if r.organisation_code == "vodovod" and r.category_code), Decimal(0))
        == whole["vodovod"].actual
    )


def test_comparison_matches_sql(core: Core) -> None:
    """Per organisation and month: received, on-time answers, resolved, cost, backlog at month end."""
    period = local_period(date(YEAR, 1, 1), date(YEAR, 12, 31))
    with core.session_factory() as s:
        result = compare_organisations(s, period, now=NOW, min_sample=5)
        for code in ("vodovod", "komunalno", "prostorno"):
            org = one(s, "SELECT id FROM organisation WHERE code = :c", c=code)
            for m in range(1, 13):
                a, b = local(YEAR, m), local(YEAR, m + 1)
                row = result.row(code, date(YEAR, m, 1))
                received, decided, on_time = q(
                    s,
                    """SELECT count(*),
                              sum(CASE WHEN answered_at IS NOT NULL OR answer_due <= :now THEN 1 ELSE 0 END),
                              sum(CASE WHEN answered_at IS NOT NULL AND answered_at <= answer_due THEN 1 ELSE 0 END)
                       FROM ticket WHERE organisation_id = :o AND created_at >= :a AND created_at < :b""",
                    o=org,
                    a=a,
                    b=b,
                    now=NOW,
                )[0]
                assert (row.received, row.answer_decided, row.answer_on_time) == (received, decided or 0, on_time or 0)
                if (decided or 0) < 5:
                    assert row.answer_rate is None
                resolved = one(
                    s,
                    "SELECT count(*) FROM ticket WHERE organisation_id = :o AND resolved_at >= :a AND resolved_at < :b",
                    o=org,
                    a=a,
                    b=b,
                )
                assert row.resolved == resolved
                cost = one(
                    s,
                    """SELECT coalesce(sum(ce.amount), 0) FROM cost_entry ce JOIN ticket t ON t.id = ce.ticket_id
                       WHERE coalesce(ce.organisation_id, t.organisation_id) = :o AND ce.at >= :a AND ce.at < :b
                         AND ce.currency = 'BAM'""",
                    o=org,
                    a=a,
                    b=b,
                )
                assert row.cost_amount == Decimal(str(cost)).quantize(Decimal("0.01"))
                backlog = one(
                    s,
                    f"""SELECT count(*) FROM status_change sc
                        WHERE sc.id = (SELECT sc2.id FROM status_change sc2
                                       WHERE sc2.ticket_id = sc.ticket_id AND sc2.kind = 'status' AND sc2.at < :b
                                       ORDER BY sc2.at DESC, sc2.id DESC LIMIT 1)
                          AND sc.to_status IN {OPEN} AND sc.organisation_id = :o""",
                    o=org,
                    b=b,
                )
                assert row.backlog_end == backlog
    total_org_hours = sum(r.hours_organisation for r in result.rows)
    assert total_org_hours > 0


def test_schedule_skips_organisations_without_tickets(core: Core) -> None:
    """Only the three organisations with tickets this year take turns."""
    with core.session_factory() as s:
        plan = schedule_for(s, date(2026, 1, 12), 2, 6, now=NOW)
    assert [code for _, code in plan] == ["vodovod", "komunalno", "prostorno"] * 2
