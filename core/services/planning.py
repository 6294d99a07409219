"""Long-term planning figures: hotspots, seasonality, repeat problems and budget versus actual.

Pure core, numbers only. Places are the coarse settlements of the ``place`` table (``place_id``): the
free-text place a citizen gave may be a home address and never appears in planning output. A problem
reported by many people is one problem: duplicates share a ``cluster_id``, so "problems" count
``coalesce(cluster_id, id)`` while "reports" count tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import BudgetLine, Category, CostEntry, Organisation, Place, Ticket
from core.services.reports import CENT, CURRENCY, ReportError, bucket, local_midnight, organisation_budget, spent

REPEAT_THRESHOLD = 3  # the same problem at the same place this many times in the window is a repeat
REPEAT_WINDOW_DAYS = 365
HOTSPOT_LIMIT = 20
CODES_LISTED = 10
PLAN_STEP = Decimal(100)  # next year's proposal is rounded up to whole hundreds of KM


@dataclass(frozen=True)
class CategoryCount:
    """A category and how many tickets it had."""

    code: str
    label: str
    count: int


@dataclass(frozen=True)
class Hotspot:
    """A place where requests recur."""

    place_id: int
    name_cyrl: str
    name_latn: str
    reports: int
    problems: int
    top_categories: list[CategoryCount]


def _problem_key() -> sa.ColumnElement[int]:
    """Return the SQL key of a distinct problem (the cluster head, else the ticket itself)."""
    return sa.func.coalesce(Ticket.cluster_id, Ticket.id)


def hotspots(
    session: so.Session,
    start: datetime,
    end: datetime,
    *,
    organisation_id: int | None = None,
    limit: int = HOTSPOT_LIMIT,
) -> list[Hotspot]:
    """Return the places with the most distinct problems in ``[start, end)``, with their top categories."""
    scope = [Ticket.place_id.is_not(None), Ticket.created_at >= start, Ticket.created_at < end]
    if organisation_id is not None:
        scope.append(Ticket.organisation_id == organisation_id)
    problems = sa.func.count(sa.distinct(_problem_key()))
    top = session.execute(
        sa.select(Ticket.place_id, sa.func.count(), problems)
        .where(*scope)
        .group_by(Ticket.place_id)
        .order_by(problems.desc(), sa.func.count().desc(), Ticket.place_id)
        .limit(max(1, min(limit, 200)))
    ).all()
    if not top:
        return []
    ids = [int(pid) for pid, _, _ in top if pid is not None]
    places = {p.id: p for p in session.scalars(sa.select(Place).where(Place.id.in_(ids)))}
    cats = {c.id: c for c in session.scalars(sa.select(Category))}
    per_place: dict[int, list[CategoryCount]] = {pid: [] for pid in ids}
    for pid, cid, n in session.execute(
        sa.select(Ticket.place_id, Ticket.category_id, sa.func.count())
        .where(*scope, Ticket.place_id.in_(ids))
        .group_by(Ticket.place_id, Ticket.category_id)
        .order_by(Ticket.place_id, sa.func.count().desc(), Ticket.category_id)
    ):
        if pid is not None and len(per_place[pid]) < 3:
            cat = cats.get(cid) if cid is not None else None
            per_place[pid].append(CategoryCount(cat.code if cat else "-", cat.name if cat else "—", n))
    return [
        Hotspot(pid, places[pid].name_cyrl, places[pid].name_latn, reports, n_problems, per_place[pid])
        for pid, reports, n_problems in top
        if pid is not None and pid in places
    ]


@dataclass(frozen=True)
class RepeatProblem:
    """The same kind of problem at the same place, again and again."""

    place_id: int
    name_cyrl: str
    name_latn: str
    category_code: str
    category_label: str
    problems: int
    reports: int
    first: datetime
    last: datetime
    codes: list[str]


def repeat_problems(
    session: so.Session,
    *,
    now: datetime,
    window_days: int = REPEAT_WINDOW_DAYS,
    threshold: int = REPEAT_THRESHOLD,
    organisation_id: int | None = None,
    limit: int = 100,
) -> list[RepeatProblem]:
    """Return (place, category) pairs with at least ``threshold`` distinct problems in the last window."""
    start = now - timedelta(days=window_days)
    scope = [
        Ticket.place_id.is_not(None),
        Ticket.category_id.is_not(None),
        Ticket.created_at >= start,
        Ticket.created_at < now,
    ]
    if organisation_id is not None:
        scope.append(Ticket.organisation_id == organisation_id)
    problems = sa.func.count(sa.distinct(_problem_key()))
    rows = session.execute(
        sa.select(
            Ticket.place_id,
            Ticket.category_id,
            problems,
            sa.func.count(),
            sa.func.min(Ticket.created_at),
            sa.func.max(Ticket.created_at),
        )
        .where(*scope)
        .group_by(Ticket.place_id, Ticket.category_id)
        .having(problems >= threshold)
        .order_by(problems.desc(), Ticket.place_id, Ticket.category_id)
        .limit(max(1, min(limit, 1000)))
    ).all()
    places = {p.id: p for p in session.scalars(sa.select(Place))}
    cats = {c.id: c for c in session.scalars(sa.select(Category))}
    out = []
    for pid, cid, n_problems, reports, first, last in rows:
        if pid is None or cid is None:
            continue
        codes = list(
            session.scalars(
                sa.select(Ticket.code)
                .where(*scope, Ticket.place_id == pid, Ticket.category_id == cid)
                .order_by(Ticket.created_at.desc(), Ticket.id.desc())
                .limit(CODES_LISTED)
            )
        )
        place, cat = places[pid], cats[cid]
        out.append(
            RepeatProblem(
                pid,
                place.name_cyrl,
                place.name_latn,
                cat.code,
                cat.name,
                n_problems,
                reports,
                _aware(first),
                _aware(last),
                codes,
            )
        )
    return out


def _aware(value: object) -> datetime:
    """Return min/max results as aware UTC datetimes, whatever the backend hands back."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Seasonality:
    """Requests per month of the year, per category, over whole years."""

    years: list[int]
    categories: list[tuple[str, str]]  # (code, label), most frequent first
    counts: dict[tuple[str, int], int]  # (category code, month 1..12) → tickets
    totals: dict[int, int]  # month → tickets

    def mean(self, month: int) -> float:
        """Return the average number of tickets in this month over the years."""
        return self.totals.get(month, 0) / len(self.years)


def seasonality(
    session: so.Session, first_year: int, last_year: int, *, tz: str, organisation_id: int | None = None
) -> Seasonality:
    """Count tickets per local month of the year and category over ``first_year..last_year``."""
    if last_year < first_year or last_year - first_year > 20:
        raise ReportError("seasonality covers 1 to 21 whole years")
    bounds = [local_midnight(date(y, m, 1), tz) for y in range(first_year, last_year + 1) for m in range(1, 13)] + [
        local_midnight(date(last_year + 1, 1, 1), tz)
    ]
    scope = [Ticket.created_at >= bounds[0], Ticket.created_at < bounds[-1]]
    if organisation_id is not None:
        scope.append(Ticket.organisation_id == organisation_id)
    b = bucket(Ticket.created_at, bounds).label("b")
    cats = {c.id: c for c in session.scalars(sa.select(Category))}
    counts: dict[tuple[str, int], int] = {}
    totals: dict[int, int] = {}
    per_cat: dict[str, int] = {}
    labels: dict[str, str] = {}
    for cid, i, n in session.execute(
        sa.select(Ticket.category_id, b, sa.func.count()).where(*scope).group_by(Ticket.category_id, "b")
    ):
        if i < 0:
            continue
        month = i % 12 + 1
        cat = cats.get(cid) if cid is not None else None
        code = cat.code if cat else "-"
        labels[code] = cat.name if cat else "—"
        counts[(code, month)] = counts.get((code, month), 0) + n
        totals[month] = totals.get(month, 0) + n
        per_cat[code] = per_cat.get(code, 0) + n
    order = sorted(per_cat, key=lambda c: (-per_cat[c], c))
    return Seasonality(list(range(first_year, last_year + 1)), [(c, labels[c]) for c in order], counts, totals)


@dataclass(frozen=True)
class BudgetActual:
    """One organisation's (or one of its categories') budget against money spent in a year."""

    organisation_code: str
    organisation_name: str
    year: int
    category_code: str | None  # None: the organisation as a whole
    label: str
    budget: Decimal | None
    actual: Decimal
    resolved: int
    projected: Decimal  # the whole year's spending at this year's pace
    proposal: Decimal  # suggested line for next year

    @property
    def variance(self) -> Decimal | None:
        """Return budget minus actual (negative: overspent)."""
        return None if self.budget is None else (self.budget - self.actual).quantize(CENT)

    @property
    def used_share(self) -> float | None:
        """Return actual / budget."""
        return float(self.actual) / float(self.budget) if self.budget else None

    @property
    def cost_per_resolved(self) -> Decimal | None:
        """Return money per request resolved in the year."""
        return (self.actual / self.resolved).quantize(CENT) if self.resolved else None


def _project(actual: Decimal, year: int, now: datetime, tz: str) -> Decimal:
    """Scale a year-to-date amount to the whole year (a finished year is taken as it is)."""
    start, end = local_midnight(date(year, 1, 1), tz), local_midnight(date(year + 1, 1, 1), tz)
    if now >= end or now <= start:
        return actual.quantize(CENT)
    elapsed = (now - start).total_seconds()
    return (actual * Decimal((end - start).total_seconds()) / Decimal(elapsed)).quantize(CENT)


def _proposal(projected: Decimal) -> Decimal:
    """Round the projected spending up to whole hundreds: the proposal for next year's line."""
    return ((projected / PLAN_STEP).to_integral_value(rounding=ROUND_CEILING) * PLAN_STEP).quantize(CENT)


def budget_vs_actual(session: so.Session, year: int, *, now: datetime, tz: str) -> list[BudgetActual]:
    """Return budget versus actual for every organisation with a budget or spending in ``year``.

    Each organisation gets a whole line, followed by one line per category that has a budget line or
    spending. ``projected`` scales the year-to-date amount to twelve months; ``proposal`` rounds it
    up to hundreds of KM — a starting point for the finance office, not a decision.
    """
    start, end = local_midnight(date(year, 1, 1), tz), local_midnight(date(year + 1, 1, 1), tz)
    owner = sa.func.coalesce(CostEntry.organisation_id, Ticket.organisation_id)
    cost_rows = session.execute(
        sa.select(owner, Ticket.category_id, sa.func.sum(CostEntry.amount))
        .select_from(CostEntry)
        .join(Ticket, Ticket.id == CostEntry.ticket_id)
        .where(CostEntry.at >= start, CostEntry.at < end, CostEntry.currency == CURRENCY)
        .group_by(owner, Ticket.category_id)
    ).all()
    budget_rows = session.execute(
        sa.select(BudgetLine.organisation_id, BudgetLine.category_id, BudgetLine.amount).where(
            BudgetLine.year == year, BudgetLine.currency == CURRENCY
        )
    ).all()
    resolved_rows = session.execute(
        sa.select(Ticket.organisation_id, Ticket.category_id, sa.func.count())
        .where(Ticket.resolved_at >= start, Ticket.resolved_at < end)
        .group_by(Ticket.organisation_id, Ticket.category_id)
    ).all()
    owners: set[int | None] = {o for o, _c, _a in cost_rows}
    org_ids = {o for o in owners if o is not None} | {r[0] for r in budget_rows}
    orgs = {o.id: o for o in session.scalars(sa.select(Organisation).where(Organisation.id.in_(org_ids)))}
    cats = {c.id: c for c in session.scalars(sa.select(Category))}
    out: list[BudgetActual] = []
    for org_id in sorted(orgs):
        org = orgs[org_id]
        actual = spent(session, org_id, start, end)
        resolved = sum(n for o, _c, n in resolved_rows if o == org_id)
        projected = _project(actual, year, now, tz)
        out.append(
            BudgetActual(
                org.code,
                org.name,
                year,
                None,
                org.name,
                organisation_budget(session, org_id, year),
                actual,
                resolved,
                projected,
                _proposal(projected),
            )
        )
        cat_ids = {c for o, c, _ in cost_rows if o == org_id} | {
            c for o, c, _ in budget_rows if o == org_id and c is not None
        }
        for cid in sorted(cat_ids, key=lambda c: (c is None, c or 0)):
            cat_actual = sum(
                (Decimal(str(a)) for o, c, a in cost_rows if o == org_id and c == cid and a is not None), Decimal(0)
            )
            cat_budget = [Decimal(str(a)) for o, c, a in budget_rows if o == org_id and c == cid and c is not None]
            cat = cats.get(cid) if cid is not None else None
            cat_projected = _project(cat_actual, year, now, tz)
            out.append(
                BudgetActual(
                    org.code,
                    org.name,
                    year,
                    cat.code if cat else "-",
                    cat.name if cat else "—",
                    sum(cat_budget, Decimal(0)).quantize(CENT) if cat_budget else None,
                    cat_actual.quantize(CENT),
                    sum(n for o, c, n in resolved_rows if o == org_id and c == cid),
                    cat_projected,
                    _proposal(cat_projected),
                )
            )
    return out
