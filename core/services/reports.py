"""Figures for the mayor's public meetings: one organisation's pack, the monthly comparison, the schedule.

Pure core: numbers only, no rendering. Counts and sums are aggregated in SQL (portable between SQLite
and PostgreSQL: months are CASE buckets over UTC instants of local month starts, never ``date_trunc``
on a zone SQLite does not know); only the durations behind medians and the status timelines are
streamed into Python, because percentiles and "who held the ticket" need the individual values.

Definitions (stated once, used by the pack, the comparison and the tests):

* a ticket belongs to the organisation that holds it now (``ticket.organisation_id``); costs belong to
  the organisation that booked them (``cost_entry.organisation_id``, else the ticket's);
* *answered within 48 h*: ``answered_at <= answer_due``; *late*: answered after the due instant, or
  not answered and due before ``now``; *pending*: not answered and not yet due;
* *resolved within the category deadline*: ``resolved_at <= resolve_due``; tickets that ended without
  a resolution (referred to another body, closed) are outside this clock and counted apart;
* *overdue*: still open on the report date and past ``resolve_due``, received before the period end
  (the backlog the meeting must see, however old);
* percentiles interpolate linearly between ranks (PostgreSQL ``percentile_cont``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import AuditEvent, BudgetLine, Category, CostEntry, Organisation, StatusChange, Ticket, User
from core.domain.tickets import OPEN_STATUSES, Status

OPEN = sorted(s.value for s in OPEN_STATUSES)
OVERDUE_LIMIT = 200  # rows listed in a pack; the total is always given
REQUEST_LIMIT = 500  # per-request cost rows listed in a pack; the totals cover all
MIN_SAMPLE = 5  # fewer decided tickets than this in a month: no rate is published (too noisy to be fair)
STREAM_BATCH = 5000
CURRENCY = "BAM"
ZERO = Decimal(0)
CENT = Decimal("0.01")

# Who holds a ticket while it is in a status (the clock is attributed to the holder).
HOLDER_CALL_CENTRE = "call_centre"
HOLDER_ORGANISATION = "organisation"
HOLDER_CITIZEN = "citizen"
HOLDERS: dict[str, str | None] = {
    Status.NEW.value: HOLDER_CALL_CENTRE,
    Status.ASSIGNED.value: HOLDER_ORGANISATION,
    Status.IN_PROGRESS.value: HOLDER_ORGANISATION,
    Status.REOPENED.value: HOLDER_ORGANISATION,
    Status.WAITING.value: HOLDER_CITIZEN,
    Status.RESOLVED.value: None,  # the clock stops
    Status.REFERRED.value: None,
    Status.CLOSED.value: None,
}


class ReportError(ValueError):
    """A report was asked for something that does not exist or makes no sense."""


# --------------------------------------------------------------------------- periods and helpers


@dataclass(frozen=True)
class Period:
    """A span of local calendar days, held as UTC instants ``[start, end)``."""

    first_day: date
    last_day: date  # inclusive
    start: datetime
    end: datetime
    timezone: str

    @property
    def years(self) -> list[int]:
        """Return the calendar years the period touches."""
        return list(range(self.first_day.year, self.last_day.year + 1))


def local_midnight(day: date, tz: str) -> datetime:
    """Return the UTC instant of local midnight at the start of ``day``."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def local_period(first_day: date, last_day: date, tz: str = "Europe/Sarajevo") -> Period:
    """Build a period from local calendar days (both inclusive)."""
    if last_day < first_day:
        raise ReportError("the period ends before it starts")
    if (last_day - first_day).days > 366 * 5:
        raise ReportError("a period may span at most five years")
    return Period(
        first_day, last_day, local_midnight(first_day, tz), local_midnight(last_day + timedelta(days=1), tz), tz
    )


def month_period(year: int, month: int, tz: str = "Europe/Sarajevo") -> Period:
    """Return one local calendar month."""
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return local_period(date(year, month, 1), nxt - timedelta(days=1), tz)


def year_period(year: int, tz: str = "Europe/Sarajevo") -> Period:
    """Return one local calendar year."""
    return local_period(date(year, 1, 1), date(year, 12, 31), tz)


def months_of(period: Period) -> list[tuple[date, datetime, datetime]]:
    """Return the local months the period touches as (first day, start, end), clipped to the period."""
    out: list[tuple[date, datetime, datetime]] = []
    cursor = date(period.first_day.year, period.first_day.month, 1)
    while cursor <= period.last_day:
        nxt = date(cursor.year + (cursor.month == 12), cursor.month % 12 + 1, 1)
        start = max(period.start, local_midnight(cursor, period.timezone))
        end = min(period.end, local_midnight(nxt, period.timezone))
        out.append((cursor, start, end))
        cursor = nxt
    return out


def bucket(column: Any, bounds: Sequence[datetime]) -> Any:
    """Return a SQL expression giving the index of the ``[bounds[i], bounds[i+1])`` window of ``column``."""
    whens = [(column < upper, i) for i, upper in enumerate(bounds[1:])]
    return sa.case(*whens, else_=-1)


def seconds_between(session: so.Session, later: Any, earlier: Any) -> Any:
    """Return a SQL expression for ``later - earlier`` in seconds, on either backend."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.extract("epoch", later - earlier)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Return the ``q`` quantile with linear interpolation (as PostgreSQL ``percentile_cont``)."""
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _money(value: Any) -> Decimal:
    """Normalise a SQL sum (None, Decimal, float on SQLite) to a two-place Decimal."""
    if value is None:
        return ZERO.quantize(CENT)
    return Decimal(str(value)).quantize(CENT)


def share(part: int | Decimal, whole: int | Decimal) -> float | None:
    """Return part/whole, or None when there is nothing to divide by."""
    return float(part) / float(whole) if whole else None


def find_organisation(session: so.Session, code: str) -> Organisation:
    """Return an organisation by code or raise ReportError."""
    org = session.scalar(sa.select(Organisation).where(Organisation.code == code))
    if org is None:
        raise ReportError(f"no organisation {code!r}")
    return org


# --------------------------------------------------------------------------- status timelines


@dataclass(frozen=True)
class Segment:
    """A stretch of a ticket's life: who held it, for which organisation, from when to when."""

    holder: str
    organisation_id: int | None
    start: datetime
    end: datetime


def timeline(
    created_at: datetime, changes: Iterable[tuple[datetime, str | None, int | None]], until: datetime
) -> list[Segment]:
    """Cut a ticket's life into holder segments from its ordered status changes, up to ``until``.

    Each change is ``(at, to_status, organisation_id)``. The ticket starts as "new" with the call
    centre; a change without an organisation keeps the previous holder organisation (routing is
    recorded on the change that made it).
    """
    segments: list[Segment] = []
    status: str | None = Status.NEW.value
    org: int | None = None
    since = created_at
    for at, to_status, org_id in changes:
        moment = min(max(at, since), until)
        holder = HOLDERS.get(status or "")
        if holder is not None and moment > since:
            segments.append(Segment(holder, org, since, moment))
        since = moment
        status = to_status
        if org_id is not None:
            org = org_id
    holder = HOLDERS.get(status or "")
    if holder is not None and until > since:
        segments.append(Segment(holder, org, since, until))
    return segments


def state_at(
    created_at: datetime, changes: Sequence[tuple[datetime, str | None, int | None]], moment: datetime
) -> tuple[str, int | None] | None:
    """Return (status, organisation) of a ticket at an instant, or None when it did not exist yet."""
    if created_at >= moment:
        return None
    status = Status.NEW.value
    org: int | None = None
    for at, to_status, org_id in changes:
        if at >= moment:
            break
        status = to_status or status
        if org_id is not None:
            org = org_id
    return status, org


def stream_timelines(
    session: so.Session, ticket_filter: Any
) -> Iterator[tuple[int, datetime, int | None, list[tuple[datetime, str | None, int | None]]]]:
    """Yield (ticket id, created_at, current organisation, ordered status changes) for filtered tickets.

    Rows are streamed in batches ordered by ticket, so memory holds one ticket's history at a time.
    """
    query = (
        sa.select(
            Ticket.id,
            Ticket.created_at,
            Ticket.organisation_id,
            StatusChange.at,
            StatusChange.to_status,
            StatusChange.organisation_id,
        )
        .select_from(Ticket)
        .outerjoin(StatusChange, sa.and_(StatusChange.ticket_id == Ticket.id, StatusChange.kind == "status"))
        .where(ticket_filter)
        .order_by(Ticket.id, StatusChange.at, StatusChange.id)
        .execution_options(yield_per=STREAM_BATCH)
    )
    current: tuple[int, datetime, int | None] | None = None
    changes: list[tuple[datetime, str | None, int | None]] = []
    for row in session.execute(query):
        if current is None or row[0] != current[0]:
            if current is not None:
                yield current[0], current[1], current[2], changes
            current, changes = (row[0], row[1], row[2]), []
        if row[3] is not None:
            changes.append((row[3], row[4], row[5]))
    if current is not None:
        yield current[0], current[1], current[2], changes


# --------------------------------------------------------------------------- the meeting pack


@dataclass(frozen=True)
class Count:
    """A labelled count (channel, category, month)."""

    key: str
    label: str
    count: int


@dataclass(frozen=True)
class ClockStats:
    """One clock (answer or resolution) over the tickets of a pack."""

    on_time: int
    late: int
    pending: int
    rate: float | None  # on_time / (on_time + late)
    measured: int  # tickets with an answer (or a resolution) behind the percentiles
    median_h: float | None
    p90_h: float | None


@dataclass(frozen=True)
class OverdueItem:
    """One overdue request: no personal data, only what the public may know."""

    code: str
    category: str
    status: str
    days_overdue: float


@dataclass(frozen=True)
class CostLine:
    """Hours, material entries and money for one category (or in total)."""

    key: str
    label: str
    entries: int
    tickets: int
    hours: Decimal
    amount: Decimal
    material_entries: int
    budget: Decimal | None = None

    @property
    def per_request(self) -> Decimal | None:
        """Return the average amount per request with costs."""
        return (self.amount / self.tickets).quantize(CENT) if self.tickets else None


@dataclass(frozen=True)
class RequestCost:
    """Costs of one request."""

    code: str
    category: str
    entries: int
    hours: Decimal
    amount: Decimal
    materials: str


@dataclass(frozen=True)
class BudgetView:
    """One year's budget line of the organisation against what it spent."""

    year: int
    budget: Decimal | None
    spent_period: Decimal
    spent_year_to_date: Decimal

    @property
    def used_share(self) -> float | None:
        """Return the share of the budget spent so far this year."""
        return share(self.spent_year_to_date, self.budget) if self.budget else None


@dataclass(frozen=True)
class HolderTime:
    """Where the clock of the pack's tickets went, in hours (totals; divide by ``tickets`` for means)."""

    tickets: int
    call_centre_h: float
    organisation_h: float
    other_organisation_h: float
    citizen_h: float

    def mean(self, hours: float) -> float | None:
        """Return hours per ticket."""
        return hours / self.tickets if self.tickets else None


@dataclass(frozen=True)
class MeetingPack:
    """Everything shown at one meeting about one organisation and one period."""

    organisation_code: str
    organisation_name: str
    period: Period
    now: datetime
    received: int
    by_channel: list[Count]
    by_category: list[Count]
    by_month: list[Count]
    answer: ClockStats
    resolve: ClockStats
    ended_unresolved: int  # referred to another body or closed without a resolution
    resolved_in_period: int
    overdue: list[OverdueItem]
    overdue_total: int
    reopened_tickets: int
    reopened_times: int
    feedback_yes: int
    feedback_no: int
    costs_by_category: list[CostLine]
    cost_total: CostLine
    cost_requests: list[RequestCost]
    cost_requests_total: int
    other_currency_entries: int
    budget: list[BudgetView]
    clock: HolderTime

    @property
    def feedback_rate(self) -> float | None:
        """Return the share of "yes, fixed" among the citizens who answered."""
        return share(self.feedback_yes, self.feedback_yes + self.feedback_no)

    @property
    def cost_per_resolved(self) -> Decimal | None:
        """Return money spent in the period per request resolved in the period."""
        return (self.cost_total.amount / self.resolved_in_period).quantize(CENT) if self.resolved_in_period else None


Progress = Callable[[int, int], None]


def _no_progress(done: int, total: int) -> None:
    """Ignore progress."""


def build_pack(
    session: so.Session,
    organisation_code: str,
    period: Period,
    *,
    now: datetime,
    progress: Progress = _no_progress,
) -> MeetingPack:
    """Compute the meeting pack of one organisation for one period, as of ``now``."""
    org = find_organisation(session, organisation_code)
    steps = 8
    mine = sa.and_(Ticket.organisation_id == org.id, Ticket.created_at >= period.start, Ticket.created_at < period.end)
    categories = {c.id: c for c in session.scalars(sa.select(Category))}

    def cat_label(cid: int | None) -> str:
        return categories[cid].name if cid in categories else "—"

    def cat_key(cid: int | None) -> str:
        return categories[cid].code if cid in categories else "-"

    received = session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(mine)) or 0
    by_channel = [
        Count(ch, ch, n)
        for ch, n in session.execute(
            sa.select(Ticket.channel, sa.func.count())
            .where(mine)
            .group_by(Ticket.channel)
            .order_by(sa.func.count().desc(), Ticket.channel)
        )
    ]
    by_category = [
        Count(cat_key(cid), cat_label(cid), n)
        for cid, n in session.execute(
            sa.select(Ticket.category_id, sa.func.count())
            .where(mine)
            .group_by(Ticket.category_id)
            .order_by(sa.func.count().desc(), Ticket.category_id)
        )
    ]
    months = months_of(period)
    bounds = [m[1] for m in months] + [months[-1][2]]
    month_counts: dict[int, int] = dict(
        session.execute(
            sa.select(bucket(Ticket.created_at, bounds).label("b"), sa.func.count()).where(mine).group_by("b")
        ).all()
    )
    by_month = [
        Count(m[0].strftime("%Y-%m"), m[0].strftime("%m/%Y"), int(month_counts.get(i, 0))) for i, m in enumerate(months)
    ]
    progress(1, steps)

    answer = _answer_clock(session, mine, now)
    progress(2, steps)
    resolve, ended_unresolved = _resolve_clock(session, mine, now)
    progress(3, steps)

    overdue_filter = sa.and_(
        Ticket.organisation_id == org.id,
        Ticket.created_at < period.end,
        Ticket.status.in_(OPEN),
        Ticket.resolved_at.is_(None),
        Ticket.resolve_due <= now,
    )
    overdue_total = session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(overdue_filter)) or 0
    overdue = [
        OverdueItem(code, cat_label(cid), status, round((now - due).total_seconds() / 86400, 1))
        for code, cid, status, due in session.execute(
            sa.select(Ticket.code, Ticket.category_id, Ticket.status, Ticket.resolve_due)
            .where(overdue_filter)
            .order_by(Ticket.resolve_due, Ticket.id)
            .limit(OVERDUE_LIMIT)
        )
    ]
    reopened_tickets, reopened_times, yes, no = session.execute(
        sa.select(
            sa.func.count().filter(Ticket.reopened_count > 0),
            sa.func.coalesce(sa.func.sum(Ticket.reopened_count), 0),
            sa.func.count().filter(Ticket.feedback == "yes"),
            sa.func.count().filter(Ticket.feedback == "no"),
        ).where(mine)
    ).one()
    resolved_in_period = (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(Ticket)
            .where(
                Ticket.organisation_id == org.id, Ticket.resolved_at >= period.start, Ticket.resolved_at < period.end
            )
        )
        or 0
    )
    progress(4, steps)

    cost_lines, cost_total, requests, requests_total, other_currency = _costs(
        session, org.id, period, cat_key, cat_label
    )
    progress(5, steps)
    budget = _budget(session, org.id, period)
    if len(period.years) == 1:
        per_cat = {cat_key(cid): amount for cid, amount in _category_budgets(session, org.id, period.years[0]).items()}
        labels = {cat_key(cid): cat_label(cid) for cid in categories}
        cost_lines = [replace(line, budget=per_cat.get(line.key)) for line in cost_lines]
        known = {line.key for line in cost_lines}
        for key, amount in per_cat.items():
            if key not in known:  # a budgeted category with no spending is still shown
                cost_lines.append(CostLine(key, labels.get(key, key), 0, 0, _money(0), _money(0), 0, amount))
    progress(6, steps)
    clock = _holder_time(session, mine, org.id, now)
    progress(7, steps)
    pack = MeetingPack(
        organisation_code=org.code,
        organisation_name=org.name,
        period=period,
        now=now,
        received=received,
        by_channel=by_channel,
        by_category=by_category,
        by_month=by_month,
        answer=answer,
        resolve=resolve,
        ended_unresolved=ended_unresolved,
        resolved_in_period=resolved_in_period,
        overdue=overdue,
        overdue_total=overdue_total,
        reopened_tickets=int(reopened_tickets),
        reopened_times=int(reopened_times),
        feedback_yes=int(yes),
        feedback_no=int(no),
        costs_by_category=cost_lines,
        cost_total=cost_total,
        cost_requests=requests,
        cost_requests_total=requests_total,
        other_currency_entries=other_currency,
        budget=budget,
        clock=clock,
    )
    progress(steps, steps)
    return pack


def _sorted_hours(session: so.Session, seconds: Any, where: Any) -> list[float]:
    """Fetch durations in hours, sorted."""
    values = session.scalars(sa.select(seconds).where(where).order_by(seconds)).all()
    return [float(v) / 3600.0 for v in values]


def _answer_clock(session: so.Session, mine: Any, now: datetime) -> ClockStats:
    """Compute the 48-hour status-answer clock."""
    on_time, late, pending = session.execute(
        sa.select(
            sa.func.count().filter(Ticket.answered_at.is_not(None), Ticket.answered_at <= Ticket.answer_due),
            sa.func.count().filter(
                sa.or_(
                    sa.and_(Ticket.answered_at.is_not(None), Ticket.answered_at > Ticket.answer_due),
                    sa.and_(Ticket.answered_at.is_(None), Ticket.answer_due <= now),
                )
            ),
            sa.func.count().filter(Ticket.answered_at.is_(None), Ticket.answer_due > now),
        ).where(mine)
    ).one()
    hours = _sorted_hours(
        session,
        seconds_between(session, Ticket.answered_at, Ticket.created_at),
        sa.and_(mine, Ticket.answered_at.is_not(None)),
    )
    return ClockStats(
        on_time,
        late,
        pending,
        share(on_time, on_time + late),
        len(hours),
        percentile(hours, 0.5),
        percentile(hours, 0.9),
    )


def _resolve_clock(session: so.Session, mine: Any, now: datetime) -> tuple[ClockStats, int]:
    """Compute the category resolution clock and count tickets that ended unresolved."""
    still_open = Ticket.status.in_(OPEN)
    on_time, late, pending, ended = session.execute(
        sa.select(
            sa.func.count().filter(Ticket.resolved_at.is_not(None), Ticket.resolved_at <= Ticket.resolve_due),
            sa.func.count().filter(
                sa.or_(
                    sa.and_(Ticket.resolved_at.is_not(None), Ticket.resolved_at > Ticket.resolve_due),
                    sa.and_(Ticket.resolved_at.is_(None), still_open, Ticket.resolve_due <= now),
                )
            ),
            sa.func.count().filter(Ticket.resolved_at.is_(None), still_open, Ticket.resolve_due > now),
            sa.func.count().filter(Ticket.resolved_at.is_(None), sa.not_(still_open)),
        ).where(mine)
    ).one()
    hours = _sorted_hours(
        session,
        seconds_between(session, Ticket.resolved_at, Ticket.created_at),
        sa.and_(mine, Ticket.resolved_at.is_not(None)),
    )
    stats = ClockStats(
        on_time,
        late,
        pending,
        share(on_time, on_time + late),
        len(hours),
        percentile(hours, 0.5),
        percentile(hours, 0.9),
    )
    return stats, int(ended)


def _cost_scope(org_id: int, start: datetime, end: datetime) -> Any:
    """Return the filter of cost entries booked by the organisation in ``[start, end)`` in BAM."""
    return sa.and_(
        sa.func.coalesce(CostEntry.organisation_id, Ticket.organisation_id) == org_id,
        CostEntry.at >= start,
        CostEntry.at < end,
        CostEntry.currency == CURRENCY,
    )


def _has_materials() -> Any:
    """Return a SQL predicate: the entry names some materials."""
    return sa.and_(CostEntry.materials.is_not(None), sa.func.trim(CostEntry.materials) != "")


def _costs(
    session: so.Session,
    org_id: int,
    period: Period,
    cat_key: Callable[[int | None], str],
    cat_label: Callable[[int | None], str],
) -> tuple[list[CostLine], CostLine, list[RequestCost], int, int]:
    """Sum costs per category, in total and per request."""
    scope = _cost_scope(org_id, period.start, period.end)
    joined = sa.select().select_from(CostEntry).join(Ticket, Ticket.id == CostEntry.ticket_id)
    sums = (
        sa.func.count(),
        sa.func.count(sa.distinct(CostEntry.ticket_id)),
        sa.func.sum(CostEntry.hours),
        sa.func.sum(CostEntry.amount),
        sa.func.count().filter(_has_materials()),
    )
    lines = [
        CostLine(cat_key(cid), cat_label(cid), n, t, _money(h), _money(a), m)
        for cid, n, t, h, a, m in session.execute(
            joined.add_columns(Ticket.category_id, *sums)
            .where(scope)
            .group_by(Ticket.category_id)
            .order_by(sa.func.sum(CostEntry.amount).desc(), Ticket.category_id)
        )
    ]
    n, t, h, a, m = session.execute(joined.add_columns(*sums).where(scope)).one()
    total = CostLine("total", "", n, t, _money(h), _money(a), m)
    requests = [
        RequestCost(code, cat_label(cid), entries, _money(hours), _money(amount), (materials or "")[:300])
        for code, cid, entries, hours, amount, materials in session.execute(
            joined.add_columns(
                Ticket.code,
                Ticket.category_id,
                sa.func.count(),
                sa.func.sum(CostEntry.hours),
                sa.func.sum(CostEntry.amount),
                sa.func.aggregate_strings(sa.func.coalesce(CostEntry.materials, ""), "; "),
            )
            .where(scope)
            .group_by(Ticket.id, Ticket.code, Ticket.category_id)
            .order_by(sa.func.sum(CostEntry.amount).desc(), Ticket.code)
            .limit(REQUEST_LIMIT)
        )
    ]
    other = session.scalar(
        sa.select(sa.func.count())
        .select_from(CostEntry)
        .join(Ticket, Ticket.id == CostEntry.ticket_id)
        .where(
            sa.func.coalesce(CostEntry.organisation_id, Ticket.organisation_id) == org_id,
            CostEntry.at >= period.start,
            CostEntry.at < period.end,
            CostEntry.currency != CURRENCY,
        )
    )
    return lines, total, [_tidy_materials(r) for r in requests], int(t), int(other or 0)


def _tidy_materials(cost: RequestCost) -> RequestCost:
    """Drop the empty pieces that ``aggregate_strings`` leaves for entries without materials."""
    parts = [p.strip() for p in cost.materials.split(";") if p.strip()]
    return RequestCost(cost.code, cost.category, cost.entries, cost.hours, cost.amount, "; ".join(parts)[:300])


def spent(session: so.Session, org_id: int, start: datetime, end: datetime) -> Decimal:
    """Return the money an organisation booked in ``[start, end)`` (BAM)."""
    value = session.scalar(
        sa.select(sa.func.sum(CostEntry.amount))
        .select_from(CostEntry)
        .join(Ticket, Ticket.id == CostEntry.ticket_id)
        .where(_cost_scope(org_id, start, end))
    )
    return _money(value)


def organisation_budget(session: so.Session, org_id: int, year: int) -> Decimal | None:
    """Return the year's budget: the organisation-wide line, else the sum of its category lines."""
    rows = session.execute(
        sa.select(BudgetLine.category_id, BudgetLine.amount).where(
            BudgetLine.organisation_id == org_id, BudgetLine.year == year, BudgetLine.currency == CURRENCY
        )
    ).all()
    whole = [amount for cid, amount in rows if cid is None]
    if whole:
        return _money(sum(whole, ZERO))
    return _money(sum((amount for _, amount in rows), ZERO)) if rows else None


def _category_budgets(session: so.Session, org_id: int, year: int) -> dict[int, Decimal]:
    """Return the year's per-category budget lines."""
    rows = session.execute(
        sa.select(BudgetLine.category_id, BudgetLine.amount).where(
            BudgetLine.organisation_id == org_id,
            BudgetLine.year == year,
            BudgetLine.category_id.is_not(None),
            BudgetLine.currency == CURRENCY,
        )
    ).all()
    return {int(cid): _money(amount) for cid, amount in rows if cid is not None}


def _budget(session: so.Session, org_id: int, period: Period) -> list[BudgetView]:
    """Compare each touched year's budget with money spent in the period and so far that year."""
    views = []
    for year in period.years:
        year_start = local_midnight(date(year, 1, 1), period.timezone)
        year_end = local_midnight(date(year + 1, 1, 1), period.timezone)
        views.append(
            BudgetView(
                year=year,
                budget=organisation_budget(session, org_id, year),
                spent_period=spent(session, org_id, max(year_start, period.start), min(year_end, period.end)),
                spent_year_to_date=spent(session, org_id, year_start, min(year_end, period.end)),
            )
        )
    return views


def _holder_time(session: so.Session, mine: Any, org_id: int, now: datetime) -> HolderTime:
    """Attribute the clock of the pack's tickets to whoever held each ticket, up to ``now``."""
    totals: dict[str, float] = defaultdict(float)
    tickets = 0
    for _tid, created_at, _org, changes in stream_timelines(session, mine):
        tickets += 1
        for seg in timeline(created_at, changes, now):
            hours = (seg.end - seg.start).total_seconds() / 3600.0
            if seg.holder == HOLDER_ORGANISATION and seg.organisation_id not in (None, org_id):
                totals["other"] += hours
            else:
                totals[seg.holder] += hours
    return HolderTime(
        tickets=tickets,
        call_centre_h=totals[HOLDER_CALL_CENTRE],
        organisation_h=totals[HOLDER_ORGANISATION],
        other_organisation_h=totals["other"],
        citizen_h=totals[HOLDER_CITIZEN],
    )


# --------------------------------------------------------------------------- comparison of organisations


@dataclass
class OrgMonth:
    """One organisation in one month."""

    organisation_code: str
    month: date
    received: int = 0
    answer_decided: int = 0
    answer_on_time: int = 0
    resolved: int = 0
    resolved_on_time: int = 0
    cost_amount: Decimal = field(default_factory=lambda: _money(0))
    backlog_end: int = 0
    hours_call_centre: float = 0.0
    hours_organisation: float = 0.0
    hours_citizen: float = 0.0
    min_sample: int = MIN_SAMPLE

    @property
    def answer_rate(self) -> float | None:
        """Return the share answered within 48 h, or None below the minimum sample."""
        return share(self.answer_on_time, self.answer_decided) if self.answer_decided >= self.min_sample else None

    @property
    def resolve_rate(self) -> float | None:
        """Return the share resolved within the category deadline, or None below the minimum sample."""
        return share(self.resolved_on_time, self.resolved) if self.resolved >= self.min_sample else None

    @property
    def cost_per_resolved(self) -> Decimal | None:
        """Return money booked in the month per request resolved in the month."""
        return (self.cost_amount / self.resolved).quantize(CENT) if self.resolved else None


@dataclass(frozen=True)
class Comparison:
    """Organisations side by side, month by month."""

    period: Period
    now: datetime
    months: list[date]
    organisations: list[tuple[str, str]]  # (code, name)
    rows: list[OrgMonth]
    min_sample: int

    def row(self, code: str, month: date) -> OrgMonth:
        """Return one cell row."""
        for r in self.rows:
            if r.organisation_code == code and r.month == month:
                return r
        raise KeyError((code, month))


def compare_organisations(
    session: so.Session,
    period: Period,
    *,
    now: datetime,
    min_sample: int = MIN_SAMPLE,
    organisation_codes: Collection[str] | None = None,
    progress: Progress = _no_progress,
) -> Comparison:
    """Compare organisations month by month: on-time rates, cost per resolved request, backlog, clock."""
    orgs = [
        o
        for o in session.scalars(sa.select(Organisation).order_by(Organisation.id))
        if organisation_codes is None or o.code in organisation_codes
    ]
    by_id = {o.id: o for o in orgs}
    months = months_of(period)
    bounds = [m[1] for m in months] + [months[-1][2]]
    cells = {(o.id, i): OrgMonth(o.code, m[0], min_sample=min_sample) for o in orgs for i, m in enumerate(months)}
    in_period = sa.and_(
        Ticket.created_at >= period.start, Ticket.created_at < period.end, Ticket.organisation_id.in_(list(by_id))
    )
    b = bucket(Ticket.created_at, bounds).label("b")
    for org_id, i, received, decided, on_time in session.execute(
        sa.select(
            Ticket.organisation_id,
            b,
            sa.func.count(),
            sa.func.count().filter(sa.or_(Ticket.answered_at.is_not(None), Ticket.answer_due <= now)),
            sa.func.count().filter(Ticket.answered_at.is_not(None), Ticket.answered_at <= Ticket.answer_due),
        )
        .where(in_period)
        .group_by(Ticket.organisation_id, "b")
    ):
        if (org_id, i) in cells:
            cell = cells[(org_id, i)]
            cell.received, cell.answer_decided, cell.answer_on_time = received, decided, on_time
    progress(1, 4)
    rb = bucket(Ticket.resolved_at, bounds).label("b")
    for org_id, i, resolved, on_time in session.execute(
        sa.select(
            Ticket.organisation_id,
            rb,
            sa.func.count(),
            sa.func.count().filter(Ticket.resolved_at <= Ticket.resolve_due),
        )
        .where(
            Ticket.resolved_at >= period.start, Ticket.resolved_at < period.end, Ticket.organisation_id.in_(list(by_id))
        )
        .group_by(Ticket.organisation_id, "b")
    ):
        if (org_id, i) in cells:
            cells[(org_id, i)].resolved, cells[(org_id, i)].resolved_on_time = resolved, on_time
    cb = bucket(CostEntry.at, bounds).label("b")
    owner = sa.func.coalesce(CostEntry.organisation_id, Ticket.organisation_id)
    for org_id, i, amount in session.execute(
        sa.select(owner, cb, sa.func.sum(CostEntry.amount))
        .select_from(CostEntry)
        .join(Ticket, Ticket.id == CostEntry.ticket_id)
        .where(CostEntry.at >= period.start, CostEntry.at < period.end, CostEntry.currency == CURRENCY)
        .group_by(owner, "b")
    ):
        if (org_id, i) in cells:
            cells[(org_id, i)].cost_amount = _money(amount)
    progress(2, 4)
    # Backlog and clock need the history: tickets created before the period end that were not
    # finished before it began (a final status with an updated_at before the start cannot matter).
    relevant = sa.and_(
        Ticket.created_at < period.end, sa.or_(Ticket.status.in_(OPEN), Ticket.updated_at >= period.start)
    )
    month_ends = [m[2] for m in months]
    until = min(now, period.end)
    for _tid, created_at, current_org, changes in stream_timelines(session, relevant):
        for i, end in enumerate(month_ends):
            state = state_at(created_at, changes, end)
            if state and state[0] in OPEN and state[0] != Status.NEW.value and (state[1], i) in cells:
                cells[(state[1], i)].backlog_end += 1  # type: ignore[index]
        for seg in timeline(created_at, changes, until):
            owner_id = current_org if seg.holder == HOLDER_CALL_CENTRE else seg.organisation_id
            for i, (_m, start, end) in enumerate(months):
                lo, hi = max(seg.start, start), min(seg.end, end)
                if hi > lo and (owner_id, i) in cells:
                    hours = (hi - lo).total_seconds() / 3600.0
                    cell = cells[(owner_id, i)]  # type: ignore[index]
                    if seg.holder == HOLDER_CALL_CENTRE:
                        cell.hours_call_centre += hours
                    elif seg.holder == HOLDER_ORGANISATION:
                        cell.hours_organisation += hours
                    else:
                        cell.hours_citizen += hours
    progress(4, 4)
    return Comparison(
        period=period,
        now=now,
        months=[m[0] for m in months],
        organisations=[(o.code, o.name) for o in orgs],
        rows=[cells[(o.id, i)] for o in orgs for i in range(len(months))],
        min_sample=min_sample,
    )


# --------------------------------------------------------------------------- meeting schedule


def meeting_schedule(
    start: date,
    every_weeks: int,
    organisations: Sequence[str],
    *,
    meetings: int,
    with_tickets: Collection[str] | None = None,
) -> list[tuple[date, str]]:
    """Rotate the focus organisation from meeting to meeting, one meeting every ``every_weeks`` weeks.

    Organisations not in ``with_tickets`` (when given) are skipped: a meeting about nobody's requests
    wastes the collegium's time. The order of ``organisations`` is the rotation order.
    """
    if every_weeks < 1:
        raise ReportError("meetings must be at least one week apart")
    if meetings < 0 or meetings > 520:
        raise ReportError("between 0 and 520 meetings")
    rotation = [code for code in dict.fromkeys(organisations) if with_tickets is None or code in with_tickets]
    if not rotation:
        return []
    return [(start + timedelta(weeks=every_weeks * n), rotation[n % len(rotation)]) for n in range(meetings)]


def organisations_with_tickets(session: so.Session, since: datetime, until: datetime) -> set[str]:
    """Return the codes of organisations that received tickets in ``[since, until)``."""
    return set(
        session.scalars(
            sa.select(Organisation.code)
            .join(Ticket, Ticket.organisation_id == Organisation.id)
            .where(Ticket.created_at >= since, Ticket.created_at < until)
            .distinct()
        )
    )


def schedule_for(
    session: so.Session, start: date, every_weeks: int, meetings: int, *, now: datetime
) -> list[tuple[date, str]]:
    """Plan meetings over the organisations (except the call centre) that had tickets in the last year."""
    codes = list(
        session.scalars(
            sa.select(Organisation.code)
            .where(Organisation.active.is_(True), Organisation.kind != "call_centre")
            .order_by(Organisation.id)
        )
    )
    active = organisations_with_tickets(session, now - timedelta(days=365), now)
    return meeting_schedule(start, every_weeks, codes, meetings=meetings, with_tickets=active)


# --------------------------------------------------------------------------- access and audit


def may_see_pack(user: User, organisation_id: int) -> bool:
    """Supervisors and admins see every pack; department staff only their own organisation's."""
    if user.role in ("supervisor", "admin"):
        return True
    return user.role == "department" and user.organisation_id == organisation_id


def record_export(
    session: so.Session, user: User, report: str, params: dict[str, str], now: datetime, ip: str | None = None
) -> None:
    """Write the audit line of a report export (supervisors' exports are logged, ASVS / role table)."""
    session.add(
        AuditEvent(
            at=now,
            actor_id=user.id,
            role=user.role,
            action="report.export",
            object_type="report",
            object_id=report[:80],
            fields_changed={k: v[:100] for k, v in params.items()},
            ip=ip,
        )
    )
