"""Every figure of the meeting pack against an independent SQL query over the seeded year."""
# ruff: noqa: S608  the statements are assembled from constants in this file, never from input

from __future__ import annotations

import statistics
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
import sqlalchemy.orm as so

from core.bootstrap import Core
from core.db.models import Organisation
from core.services.reports import MeetingPack, Period, build_pack, local_period, month_period, months_of
from tests.integration.reports.seeding import NOW, YEAR, Seeded
from tests.integration.reports.sql import hours, one, q

pytestmark = pytest.mark.usefixtures("seeded")

PERIODS = {
    "year": local_period(date(YEAR, 1, 1), date(YEAR, 12, 31)),
    "march": month_period(YEAR, 3),  # DST starts inside it
    "october": month_period(YEAR, 10),  # and ends inside this one
}
CASES = [("vodovod", "year"), ("vodovod", "march"), ("komunalno", "october"), ("prostorno", "year")]
MINE = "t.organisation_id = :org AND t.created_at >= :s AND t.created_at < :e"


def org_id(session: so.Session, code: str) -> int:
    """Return an organisation's id."""
    return int(session.scalar(sa.select(Organisation.id).where(Organisation.code == code)) or 0)


def pack_for(core: Core, code: str, period: Period) -> MeetingPack:
    """Build the pack under test."""
    with core.session_factory() as session:
        return build_pack(session, code, period, now=NOW)


def p(session: so.Session, code: str, period: Period) -> dict[str, object]:
    """Return the common query parameters."""
    return {"org": org_id(session, code), "s": period.start, "e": period.end, "now": NOW}


def approx_h(value: float | None) -> object:
    """Compare hours to a second."""
    return pytest.approx(value, abs=1 / 3600) if value is not None else None


@pytest.mark.parametrize(("code", "period_name"), CASES)
def test_counts_match_sql(core: Core, code: str, period_name: str) -> None:
    """Received, per channel, per category, per month, reopened and feedback equal plain SQL counts."""
    period = PERIODS[period_name]
    pack = pack_for(core, code, period)
    with core.session_factory() as s:
        args = p(s, code, period)
        assert pack.received == one(s, f"SELECT count(*) FROM ticket t WHERE {MINE}", **args)
        assert pack.received > 0
        channels = q(s, f"SELECT channel, count(*) FROM ticket t WHERE {MINE} GROUP BY channel", **args)
        assert {c.key: c.count for c in pack.by_channel} == dict(channels)
        cats = q(
            s,
            f"SELECT c.code, count(*) FROM ticket t JOIN category c ON c.id = t.category_id WHERE {MINE} GROUP BY c.code",
            **args,
        )
        assert {c.key: c.count for c in pack.by_category} == dict(cats)
        for (first, start, end), counted in zip(months_of(period), pack.by_month, strict=True):
            n = one(
                s,
                "SELECT count(*) FROM ticket t WHERE t.organisation_id = :org AND t.created_at >= :a AND t.created_at < :b",
                org=args["org"],
                a=start,
                b=end,
            )
            assert (counted.key, counted.count) == (first.strftime("%Y-%m"), n)
        reopened = q(
            s,
            f"SELECT count(*), coalesce(sum(reopened_count), 0) FROM ticket t WHERE {MINE} AND reopened_count > 0",
            **args,
        )[0]
        assert (pack.reopened_tickets, pack.reopened_times) == tuple(reopened)
        yes = one(s, f"SELECT count(*) FROM ticket t WHERE {MINE} AND feedback = 'yes'", **args)
        no = one(s, f"SELECT count(*) FROM ticket t WHERE {MINE} AND feedback = 'no'", **args)
        assert (pack.feedback_yes, pack.feedback_no) == (yes, no)


def test_year_totals_match_the_generator(core: Core, seeded: Seeded) -> None:
    """The yearly packs add up to what the generator wrote (tickets and BAM booked)."""
    for code, tickets in seeded.tickets.items():
        pack = pack_for(core, code, PERIODS["year"])
        assert pack.received == tickets
        assert pack.cost_total.amount == seeded.amount[code]
        assert pack.other_currency_entries == (1 if code == "vodovod" else 0)


@pytest.mark.parametrize(("code", "period_name"), CASES)
def test_clocks_match_sql(core: Core, code: str, period_name: str) -> None:
    """Answer and resolution clocks, medians and 90th percentiles equal independent SQL."""
    period = PERIODS[period_name]
    pack = pack_for(core, code, period)
    with core.session_factory() as s:
        args = p(s, code, period)
        open_ = "('new','assigned','in_progress','waiting','reopened')"
        answer = q(
            s,
            f"""SELECT
                sum(CASE WHEN answered_at IS NOT NULL AND answered_at <= answer_due THEN 1 ELSE 0 END),
                sum(CASE WHEN (answered_at IS NOT NULL AND answered_at > answer_due)
                           OR (answered_at IS NULL AND answer_due <= :now) THEN 1 ELSE 0 END),
                sum(CASE WHEN answered_at IS NULL AND answer_due > :now THEN 1 ELSE 0 END)
              FROM ticket t WHERE {MINE}""",
            **args,
        )[0]
        assert (pack.answer.on_time, pack.answer.late, pack.answer.pending) == tuple(int(x or 0) for x in answer)
        resolve = q(
            s,
            f"""SELECT
                sum(CASE WHEN resolved_at IS NOT NULL AND resolved_at <= resolve_due THEN 1 ELSE 0 END),
                sum(CASE WHEN (resolved_at IS NOT NULL AND resolved_at > resolve_due)
                           OR (resolved_at IS NULL AND status IN {open_} AND resolve_due <= :now) THEN 1 ELSE 0 END),
                sum(CASE WHEN resolved_at IS NULL AND status IN {open_} AND resolve_due > :now THEN 1 ELSE 0 END),
                sum(CASE WHEN resolved_at IS NULL AND status NOT IN {open_} THEN 1 ELSE 0 END)
              FROM ticket t WHERE {MINE}""",
            **args,
        )[0]
        got = (pack.resolve.on_time, pack.resolve.late, pack.resolve.pending, pack.ended_unresolved)
        assert got == tuple(int(x or 0) for x in resolve)
        for clock, column in ((pack.answer, "answered_at"), (pack.resolve, "resolved_at")):
            if s.get_bind().dialect.name == "postgresql":
                median, p90 = q(
                    s,
                    f"""SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY {hours(s, column, "created_at")}),
                               percentile_cont(0.9) WITHIN GROUP (ORDER BY {hours(s, column, "created_at")})
                        FROM ticket t WHERE {MINE} AND {column} IS NOT NULL""",
                    **args,
                )[0]
            else:
                values = [
                    r[0]
                    for r in q(
                        s,
                        f"SELECT {hours(s, column, 'created_at')} FROM ticket t WHERE {MINE} AND {column} IS NOT NULL",
                        **args,
                    )
                ]
                median = statistics.median(values) if values else None
                p90 = (
                    statistics.quantiles(values, n=10, method="inclusive")[8]
                    if len(values) > 1
                    else (values[0] if values else None)
                )
            assert clock.median_h == approx_h(median)
            assert clock.p90_h == approx_h(p90)


@pytest.mark.parametrize(("code", "period_name"), CASES)
def test_overdue_list_matches_sql(core: Core, code: str, period_name: str) -> None:
    """The overdue list is every open request past its deadline, oldest deadline first, with days overdue."""
    period = PERIODS[period_name]
    pack = pack_for(core, code, period)
    with core.session_factory() as s:
        args = p(s, code, period)
        rows = q(
            s,
            f"""SELECT code, {hours(s, ":now", "resolve_due")} / 24.0 FROM ticket t
                WHERE t.organisation_id = :org AND t.created_at < :e AND resolved_at IS NULL
                  AND status IN ('new','assigned','in_progress','waiting','reopened') AND resolve_due <= :now
                ORDER BY resolve_due, id""",
            **args,
        )
    assert pack.overdue_total == len(rows)
    assert [i.code for i in pack.overdue] == [r[0] for r in rows][:200]
    assert [i.days_overdue for i in pack.overdue] == [pytest.approx(float(r[1]), abs=0.051) for r in rows][:200]


@pytest.mark.parametrize(("code", "period_name"), CASES)
def test_costs_and_budget_match_sql(core: Core, code: str, period_name: str) -> None:
    """Hours, materials, amounts per category and per request, and the budget line, equal plain SQL."""
    period = PERIODS[period_name]
    pack = pack_for(core, code, period)
    scope = """FROM cost_entry ce JOIN ticket t ON t.id = ce.ticket_id
               WHERE coalesce(ce.organisation_id, t.organisation_id) = :org AND ce.at >= :s AND ce.at < :e
                 AND ce.currency = 'BAM'"""
    with core.session_factory() as s:
        args = p(s, code, period)
        per_cat = q(
            s,
            f"""SELECT c.code, count(*), count(DISTINCT ce.ticket_id), sum(ce.hours), sum(ce.amount),
                       sum(CASE WHEN ce.materials IS NOT NULL AND trim(ce.materials) <> '' THEN 1 ELSE 0 END)
                {scope.replace("JOIN ticket t ON t.id = ce.ticket_id", "JOIN ticket t ON t.id = ce.ticket_id JOIN category c ON c.id = t.category_id")}
                GROUP BY c.code""",
            **args,
        )
        expected = {
            r[0]: (
                r[1],
                r[2],
                Decimal(str(r[3])).quantize(Decimal("0.01")),
                Decimal(str(r[4])).quantize(Decimal("0.01")),
                r[5],
            )
            for r in per_cat
        }
        got = {
            ln.key: (ln.entries, ln.tickets, ln.hours, ln.amount, ln.material_entries)
            for ln in pack.costs_by_category
            if ln.entries
        }
        assert got == expected
        total = q(
            s,
            f"SELECT count(*), count(DISTINCT ce.ticket_id), coalesce(sum(ce.amount), 0), coalesce(sum(ce.hours), 0) {scope}",
            **args,
        )[0]
        assert (pack.cost_total.entries, pack.cost_total.tickets) == (total[0], total[1])
        assert pack.cost_total.amount == Decimal(str(total[2])).quantize(Decimal("0.01"))
        assert pack.cost_total.hours == Decimal(str(total[3])).quantize(Decimal("0.01"))
        assert pack.cost_requests_total == total[1]
        per_request = q(
            s, f"SELECT t.code, sum(ce.amount) {scope} GROUP BY t.code ORDER BY sum(ce.amount) DESC, t.code", **args
        )
        assert [(r.code, r.amount) for r in pack.cost_requests] == [
            (c, Decimal(str(a)).quantize(Decimal("0.01"))) for c, a in per_request
        ][:500]
        resolved = one(
            s,
            "SELECT count(*) FROM ticket WHERE organisation_id = :org AND resolved_at >= :s AND resolved_at < :e",
            **args,
        )
        assert pack.resolved_in_period == resolved
        budget = one(
            s,
            "SELECT sum(amount) FROM budget_line WHERE organisation_id = :org AND year = :y AND category_id IS NULL",
            org=args["org"],
            y=YEAR,
        )
        if budget is None:
            budget = one(
                s,
                "SELECT sum(amount) FROM budget_line WHERE organisation_id = :org AND year = :y",
                org=args["org"],
                y=YEAR,
            )
        view = pack.budget[0]
        assert view.year == YEAR
        assert view.budget == (None if budget is None else Decimal(str(budget)).quantize(Decimal("0.01")))
        year_start = local_period(date(YEAR, 1, 1), date(YEAR, 1, 1)).start
        ytd = one(s, f"SELECT coalesce(sum(ce.amount), 0) {scope.replace(':s', ':ys')}", ys=year_start, **args)
        assert view.spent_year_to_date == Decimal(str(ytd)).quantize(Decimal("0.01"))
        assert view.spent_period == pack.cost_total.amount
        cat_budgets = dict(
            q(
                s,
                "SELECT c.code, b.amount FROM budget_line b JOIN category c ON c.id = b.category_id WHERE b.organisation_id = :org AND b.year = :y",
                org=args["org"],
                y=YEAR,
            )
        )
        assert {ln.key: ln.budget for ln in pack.costs_by_category if ln.budget is not None} == {
            k: Decimal(str(v)).quantize(Decimal("0.01")) for k, v in cat_budgets.items()
        }


@pytest.mark.parametrize(("code", "period_name"), CASES)
def test_clock_attribution_matches_sql(core: Core, code: str, period_name: str) -> None:
    """Hours with the call centre, the organisation, another organisation and the citizen equal a LEAD() query."""
    period = PERIODS[period_name]
    pack = pack_for(core, code, period)
    with core.session_factory() as s:
        args = p(s, code, period)
        rows = q(
            s,
            f"""WITH ch AS (
                  SELECT sc.to_status, sc.organisation_id, sc.at,
                         coalesce(LEAD(sc.at) OVER (PARTITION BY sc.ticket_id ORDER BY sc.at, sc.id), :now) AS next_at
                  FROM status_change sc JOIN ticket t ON t.id = sc.ticket_id
                  WHERE sc.kind = 'status' AND {MINE})
                SELECT CASE WHEN to_status = 'new' THEN 'call_centre'
                            WHEN to_status = 'waiting' THEN 'citizen'
                            WHEN to_status IN ('assigned', 'in_progress', 'reopened') AND organisation_id = :org THEN 'organisation'
                            WHEN to_status IN ('assigned', 'in_progress', 'reopened') THEN 'other' END AS holder,
                       sum({hours(s, "next_at", "at")})
                FROM ch GROUP BY 1""",
            **args,
        )
    spent_hours = {h: float(v) for h, v in rows if h is not None}
    assert pack.clock.call_centre_h == pytest.approx(spent_hours.get("call_centre", 0.0), abs=0.01)
    assert pack.clock.organisation_h == pytest.approx(spent_hours.get("organisation", 0.0), abs=0.01)
    assert pack.clock.other_organisation_h == pytest.approx(spent_hours.get("other", 0.0), abs=0.01)
    assert pack.clock.citizen_h == pytest.approx(spent_hours.get("citizen", 0.0), abs=0.01)
    assert pack.clock.tickets == pack.received
    if code == "vodovod" and period_name == "year":
        assert pack.clock.other_organisation_h > 0  # the misrouted tickets spent time at komunalno
