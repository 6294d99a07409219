"""Reports as tables (sheets of typed cells), shared by the CSV and ODS writers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from callcenter_ui.reporting.labels import Script, channel, fmt_date, fmt_moment, label, month_name, tr
from core.i18n import status_label
from core.services.planning import BudgetActual, Hotspot, RepeatProblem, Seasonality
from core.services.reports import Comparison, MeetingPack

Cell = str | int | float | Decimal | None
Row = list[Cell]


@dataclass(frozen=True)
class Sheet:
    """One named table: a header row and data rows."""

    name: str
    header: Row
    rows: list[Row]


def _pct(value: float | None) -> float | None:
    """Return a share as a percentage with one decimal (numbers stay numbers for Excel)."""
    return None if value is None else round(value * 100, 1)


def _h(value: float | None) -> float | None:
    """Round hours to one decimal."""
    return None if value is None else round(value, 1)


def pack_sheets(pack: MeetingPack, script: Script) -> list[Sheet]:
    """Lay out a meeting pack as sheets, the mayor's summary first."""

    def lb(key: str) -> str:
        return label(key, script)

    budget = pack.budget[-1] if pack.budget else None
    summary: list[Row] = [
        [lb("organisation"), tr(pack.organisation_name, script)],
        [lb("period"), f"{fmt_date(pack.period.first_day, script)} – {fmt_date(pack.period.last_day, script)}"],
        [lb("generated"), fmt_moment(pack.now, pack.period.timezone)],
        [lb("received"), pack.received],
        [lb("answered_48") + " (%)", _pct(pack.answer.rate)],
        [lb("resolved_on_time") + " (%)", _pct(pack.resolve.rate)],
        [lb("median_answer"), _h(pack.answer.median_h)],
        [lb("p90_answer"), _h(pack.answer.p90_h)],
        [lb("median_resolve"), _h(pack.resolve.median_h)],
        [lb("p90_resolve"), _h(pack.resolve.p90_h)],
        [lb("overdue_total"), pack.overdue_total],
        [lb("reopened"), pack.reopened_tickets],
        [lb("feedback_yes"), pack.feedback_yes],
        [lb("feedback_no"), pack.feedback_no],
        [lb("feedback_rate"), _pct(pack.feedback_rate)],
        [lb("cost_total"), pack.cost_total.amount],
        [lb("hours"), pack.cost_total.hours],
        [lb("cost_per_request"), pack.cost_total.per_request],
        [lb("cost_per_resolved"), pack.cost_per_resolved],
        [lb("budget") + (f" {budget.year}" if budget else ""), budget.budget if budget else None],
        [lb("budget_used"), _pct(budget.used_share) if budget else None],
    ]
    clocks: list[Row] = [
        [lb(name), c.on_time, c.late, c.pending, _pct(c.rate), _h(c.median_h), _h(c.p90_h)]
        for name, c in (("answer_clock", pack.answer), ("resolve_clock", pack.resolve))
    ]
    clocks.append([lb("ended_unresolved"), pack.ended_unresolved, None, None, None, None, None])
    clock = pack.clock
    holders: list[Row] = [
        [lb(key), _h(hours), _h(clock.mean(hours))]
        for key, hours in (
            ("call_centre", clock.call_centre_h),
            ("with_organisation", clock.organisation_h),
            ("other_organisation", clock.other_organisation_h),
            ("citizen", clock.citizen_h),
        )
    ]
    per_cat: list[Row] = [
        [
            tr(c.label, script),
            c.entries,
            c.tickets,
            c.hours,
            c.amount,
            c.material_entries,
            c.per_request,
            c.budget,
            _pct(float(c.amount) / float(c.budget)) if c.budget else None,
        ]
        for c in pack.costs_by_category
    ]
    t = pack.cost_total
    per_cat.append(
        [lb("total"), t.entries, t.tickets, t.hours, t.amount, t.material_entries, t.per_request, None, None]
    )
    if pack.other_currency_entries:
        per_cat.append([lb("other_currency"), pack.other_currency_entries, None, None, None, None, None, None, None])
    return [
        Sheet(lb("summary"), [lb("pack_title"), ""], summary),
        Sheet(
            lb("channels"), [lb("channel"), lb("count")], [[channel(c.key, script), c.count] for c in pack.by_channel]
        ),
        Sheet(
            lb("categories"), [lb("category"), lb("count")], [[tr(c.label, script), c.count] for c in pack.by_category]
        ),
        Sheet(lb("months"), [lb("month"), lb("count")], [[c.key, c.count] for c in pack.by_month]),
        Sheet(
            lb("clocks"),
            [lb("clock"), lb("on_time"), lb("late"), lb("pending"), lb("rate"), lb("median_h"), lb("p90_h")],
            clocks,
        ),
        Sheet(lb("holders"), [lb("holder"), lb("hours_total"), lb("hours_mean")], holders),
        Sheet(
            lb("overdue"),
            [lb("code"), lb("category"), lb("status"), lb("days_overdue")],
            [
                [o.code, tr(o.category, script), tr(status_label(o.status), script), o.days_overdue]
                for o in pack.overdue
            ],
        ),
        Sheet(
            lb("costs_by_category"),
            [
                lb("category"),
                lb("entries"),
                lb("requests"),
                lb("hours"),
                lb("amount"),
                lb("material_entries"),
                lb("per_request"),
                lb("budget"),
                lb("budget_used"),
            ],
            per_cat,
        ),
        Sheet(
            lb("costs_by_request"),
            [lb("code"), lb("category"), lb("entries"), lb("hours"), lb("amount"), lb("materials")],
            [
                [r.code, tr(r.category, script), r.entries, r.hours, r.amount, tr(r.materials, script)]
                for r in pack.cost_requests
            ],
        ),
        Sheet(
            lb("budget"),
            [lb("year"), lb("budget"), lb("spent_period"), lb("spent_ytd"), lb("budget_used")],
            [[b.year, b.budget, b.spent_period, b.spent_year_to_date, _pct(b.used_share)] for b in pack.budget],
        ),
    ]


def comparison_sheets(comparison: Comparison, script: Script) -> list[Sheet]:
    """Lay out the comparison of organisations: one row per organisation and month."""
    names = dict(comparison.organisations)
    header: Row = [
        label("organisation", script),
        label("month", script),
        label("received", script),
        label("answer_rate", script),
        label("resolved", script),
        label("resolve_rate", script),
        label("cost_month", script),
        label("cost_per_resolved", script),
        label("backlog", script),
        label("hours_call_centre", script),
        label("hours_organisation", script),
        label("hours_citizen", script),
    ]
    rows: list[Row] = [
        [
            tr(names[r.organisation_code], script),
            r.month.strftime("%Y-%m"),
            r.received,
            _pct(r.answer_rate),
            r.resolved,
            _pct(r.resolve_rate),
            r.cost_amount,
            r.cost_per_resolved,
            r.backlog_end,
            _h(r.hours_call_centre),
            _h(r.hours_organisation),
            _h(r.hours_citizen),
        ]
        for r in comparison.rows
    ]
    note: list[Row] = [[label("min_sample_note", script, n=comparison.min_sample)]]
    return [Sheet(label("comparison_title", script), header, rows), Sheet(label("summary", script), [""], note)]


def _place(name_cyrl: str, name_latn: str, script: Script) -> str:
    """Return a place name in the script."""
    return name_latn if script == "latn" else name_cyrl


def planning_sheets(
    script: Script,
    *,
    budget: list[BudgetActual],
    hotspots: list[Hotspot],
    repeats: list[RepeatProblem],
    season: Seasonality | None,
) -> list[Sheet]:
    """Lay out the planning figures for the finance office."""

    def lb(key: str) -> str:
        return label(key, script)

    sheets = [
        Sheet(
            lb("budget_vs_actual"),
            [
                lb("organisation"),
                lb("year"),
                lb("category"),
                lb("budget"),
                lb("actual"),
                lb("variance"),
                lb("budget_used"),
                lb("resolved"),
                lb("cost_per_resolved"),
                lb("projected"),
                lb("proposal"),
            ],
            [
                [
                    tr(b.organisation_name, script),
                    b.year,
                    tr(b.label, script) if b.category_code else lb("whole_organisation"),
                    b.budget,
                    b.actual,
                    b.variance,
                    _pct(b.used_share),
                    b.resolved,
                    b.cost_per_resolved,
                    b.projected,
                    b.proposal,
                ]
                for b in budget
            ],
        ),
        Sheet(
            lb("hotspots"),
            [lb("place"), lb("problems"), lb("reports"), lb("top_categories")],
            [
                [
                    _place(h.name_cyrl, h.name_latn, script),
                    h.problems,
                    h.reports,
                    ", ".join(f"{tr(c.label, script)} ({c.count})" for c in h.top_categories),
                ]
                for h in hotspots
            ],
        ),
        Sheet(
            lb("repeats"),
            [lb("place"), lb("category"), lb("problems"), lb("reports"), lb("first"), lb("last"), lb("codes")],
            [
                [
                    _place(r.name_cyrl, r.name_latn, script),
                    tr(r.category_label, script),
                    r.problems,
                    r.reports,
                    r.first.date().isoformat(),
                    r.last.date().isoformat(),
                    ", ".join(r.codes),
                ]
                for r in repeats
            ],
        ),
    ]
    if season is not None:
        header: Row = [lb("category"), *[month_name(m, script) for m in range(1, 13)]]
        rows: list[Row] = [
            [tr(name, script), *[season.counts.get((code, m), 0) for m in range(1, 13)]]
            for code, name in season.categories
        ]
        rows.append([lb("total"), *[season.totals.get(m, 0) for m in range(1, 13)]])
        rows.append([lb("mean_per_year"), *[round(season.mean(m), 1) for m in range(1, 13)]])
        sheets.append(Sheet(lb("seasonality"), header, rows))
    return sheets


def schedule_sheet(schedule: list[tuple[date, str]], names: dict[str, str], script: Script) -> Sheet:
    """Lay out the meeting schedule."""
    return Sheet(
        label("schedule", script),
        [label("date", script), label("organisation", script)],
        [[day.isoformat(), tr(names.get(code, code), script)] for day, code in schedule],
    )
