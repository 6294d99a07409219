"""The weekly overview: what came in, what was answered within 48 hours, what was resolved, what is late.

A week is an ISO week in the municipality's time zone, Monday 00:00 to the next Monday 00:00. The
figures are computed "as of" the end of the week (or now, for the running week):

- **received**: tickets created in the week, per channel, category and organisation;
- **answer decided**: tickets of the week whose 48-hour answer is known — answered (at any time) or
  past ``answer_due`` unanswered; tickets still inside their 48 hours are **pending**, neither good nor bad;
- **answered on time**: decided tickets answered at or before ``answer_due``;
- **resolved**: tickets whose ``resolved_at`` falls in the week, whenever they were received;
- **overdue**: tickets open past their resolution deadline at the as-of instant.

Fair statistics (FixMyStreet #1630, #1957): an on-time *rate* is published only from ``MIN_SAMPLE``
decided tickets up; below that the page shows the counts ("3 of 4"), never "75 %".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import Category, Organisation, StatusChange, Ticket
from core.domain.tickets import Status
from core.messages import Channel
from core.text import to_latin

MIN_SAMPLE = 5
_WEEK_RE = re.compile(r"^(\d{4})-?W(\d{2})$")
_NOT_OVERDUE = (Status.REFERRED.value, Status.CLOSED.value, Status.RESOLVED.value)


@dataclass
class Tally:
    """Counts for one slice (all tickets, one organisation, one category)."""

    received: int = 0
    decided: int = 0
    on_time: int = 0
    pending: int = 0
    resolved: int = 0
    overdue: int = 0

    @property
    def late(self) -> int:
        """Return decided tickets that missed the 48-hour answer."""
        return self.decided - self.on_time

    @property
    def on_time_rate(self) -> float | None:
        """Return the on-time share (0–100), or None when the sample is too small to publish."""
        if self.decided < MIN_SAMPLE:
            return None
        return 100.0 * self.on_time / self.decided


@dataclass
class WeeklyReport:
    """The figures of one ISO week."""

    year: int
    week: int
    start: datetime  # UTC instant of Monday 00:00 local
    end: datetime  # UTC instant of the next Monday 00:00 local
    as_of: datetime
    timezone: str
    total: Tally = field(default_factory=Tally)
    by_channel: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, Tally] = field(default_factory=dict)  # category name (or "") → tally
    by_organisation: dict[str, Tally] = field(default_factory=dict)  # organisation name (or "") → tally

    @property
    def complete(self) -> bool:
        """Tell whether the week is over (figures of a running week still move)."""
        return self.as_of >= self.end

    @property
    def label(self) -> str:
        """Return the ISO label, e.g. ``2026-W03``."""
        return f"{self.year}-W{self.week:02d}"

    @property
    def first_day(self) -> date:
        """Return the local Monday."""
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def last_day(self) -> date:
        """Return the local Sunday."""
        return date.fromisocalendar(self.year, self.week, 7)


def parse_week(text: str) -> tuple[int, int] | None:
    """Parse ``2026-W03`` (or ``2026W03``) into (year, week); None when malformed or out of range."""
    match = _WEEK_RE.match(text.strip())
    if not match:
        return None
    year, week = int(match.group(1)), int(match.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        return None
    return year, week


def week_of(moment: datetime, timezone: str) -> tuple[int, int]:
    """Return the ISO (year, week) that contains ``moment`` in the local time zone."""
    iso = moment.astimezone(ZoneInfo(timezone)).isocalendar()
    return iso.year, iso.week


def week_bounds(year: int, week: int, timezone: str) -> tuple[datetime, datetime]:
    """Return the UTC instants of local Monday 00:00 of this week and of the next.

    Computed from local midnights, so a week with a DST change is 167 or 169 hours long, as the
    calendar says.
    """
    tz = ZoneInfo(timezone)
    monday = date.fromisocalendar(year, week, 1)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=tz)
    nxt = monday + timedelta(days=7)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def compute_week(session: so.Session, year: int, week: int, now: datetime, timezone: str) -> WeeklyReport:
    """Compute the overview of one ISO week as of ``min(now, end of week)``."""
    start, end = week_bounds(year, week, timezone)
    as_of = min(now, end)
    report = WeeklyReport(year=year, week=week, start=start, end=end, as_of=as_of, timezone=timezone)
    report.by_channel = {c.value: 0 for c in Channel}
    categories = {c.id: c.name for c in session.scalars(sa.select(Category))}
    organisations = {o.id: o.name for o in session.scalars(sa.select(Organisation))}

    def slices(category_id: int | None, organisation_id: int | None) -> list[Tally]:
        """Return the tallies one ticket counts in."""
        cat = report.by_category.setdefault(categories.get(category_id, "") if category_id else "", Tally())
        org = report.by_organisation.setdefault(
            organisations.get(organisation_id, "") if organisation_id else "", Tally()
        )
        return [report.total, cat, org]

    received = session.execute(
        sa.select(
            Ticket.channel, Ticket.category_id, Ticket.organisation_id, Ticket.answered_at, Ticket.answer_due
        ).where(Ticket.created_at >= start, Ticket.created_at < end, Ticket.created_at <= as_of)
    ).all()
    for channel, category_id, organisation_id, answered_at, answer_due in received:
        report.by_channel[channel] = report.by_channel.get(channel, 0) + 1
        answered_by_now = answered_at is not None and answered_at <= as_of
        on_time = answered_at is not None and answered_at <= answer_due
        for tally in slices(category_id, organisation_id):
            tally.received += 1
            if answered_by_now:
                tally.decided += 1
                tally.on_time += int(on_time)
            elif answer_due <= as_of:
                tally.decided += 1  # unanswered past the deadline: a miss
            else:
                tally.pending += 1

    resolved = session.execute(
        sa.select(Ticket.category_id, Ticket.organisation_id).where(
            Ticket.resolved_at >= start, Ticket.resolved_at < end, Ticket.resolved_at <= as_of
        )
    ).all()
    for category_id, organisation_id in resolved:
        for tally in slices(category_id, organisation_id):
            tally.resolved += 1

    for category_id, organisation_id in _overdue(session, as_of):
        for tally in slices(category_id, organisation_id):
            tally.overdue += 1
    return report


def _overdue(session: so.Session, as_of: datetime) -> list[tuple[int | None, int | None]]:
    """Return (category, organisation) of tickets open past their resolution deadline at ``as_of``.

    A ticket whose final state (referred, closed, resolved) was reached before ``as_of`` is not
    late; for the rest the status at ``as_of`` is read back from the history.
    """
    candidates = session.execute(
        sa.select(Ticket.id, Ticket.category_id, Ticket.organisation_id, Ticket.status, Ticket.updated_at).where(
            Ticket.created_at <= as_of,
            Ticket.resolve_due < as_of,
            sa.or_(Ticket.resolved_at.is_(None), Ticket.resolved_at > as_of),
            sa.not_(sa.and_(Ticket.status.in_(_NOT_OVERDUE), Ticket.updated_at <= as_of)),
        )
    ).all()
    late: list[tuple[int | None, int | None]] = []
    for ticket_id, category_id, organisation_id, status, updated_at in candidates:
        if updated_at > as_of:
            then = session.scalar(
                sa.select(StatusChange.to_status)
                .where(
                    StatusChange.ticket_id == ticket_id,
                    StatusChange.to_status.is_not(None),
                    StatusChange.at <= as_of,
                )
                .order_by(StatusChange.at.desc(), StatusChange.id.desc())
                .limit(1)
            )
            status = then or Status.NEW.value
        if status not in _NOT_OVERDUE:
            late.append((category_id, organisation_id))
    return late


# --- Serbian numbers in words (radio script) ------------------------------------------------------

_UNITS_M = ("", "један", "два", "три", "четири", "пет", "шест", "седам", "осам", "девет")
_TEENS = (
    "десет",
    "једанаест",
    "дванаест",
    "тринаест",
    "четрнаест",
    "петнаест",
    "шеснаест",
    "седамнаест",
    "осамнаест",
    "деветнаест",
)
_TENS = ("", "", "двадесет", "тридесет", "четрдесет", "педесет", "шездесет", "седамдесет", "осамдесет", "деведесет")
# Ijekavian, as written in Republika Srpska: двјеста, двије.
_HUNDREDS = ("", "сто", "двјеста", "триста", "четиристо", "петсто", "шестсто", "седамсто", "осамсто", "деветсто")
_ORDINAL_GEN = ("", "првог", "другог", "трећег", "четвртог", "петог", "шестог", "седмог", "осмог", "деветог")
MONTHS_GEN = (
    "",
    "јануара",
    "фебруара",
    "марта",
    "априла",
    "маја",
    "јуна",
    "јула",
    "августа",
    "септембра",
    "октобра",
    "новембра",
    "децембра",
)


def _unit(n: int, gender: str) -> str:
    """Return 1–9 in the given gender (m, f, n): један/једна/једно, два/двије."""
    if n == 1:
        return {"m": "један", "f": "једна", "n": "једно"}[gender]
    if n == 2:
        return "двије" if gender == "f" else "два"
    return _UNITS_M[n]


def _below_thousand(n: int, gender: str) -> list[str]:
    """Return the words of 1–999."""
    out: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        out.append(_HUNDREDS[hundreds])
    tens, units = divmod(rest, 10)
    if tens == 1:
        out.append(_TEENS[units])
    else:
        if tens:
            out.append(_TENS[tens])
        if units:
            out.append(_unit(units, gender))
    return out


def plural_form(n: int) -> int:
    """Return which noun form a count takes: 0 for 1 (21, 101…), 1 for 2–4 (22…), 2 for the rest (5–20, 11–14)."""
    n = abs(n)
    if 11 <= n % 100 <= 14:
        return 2
    if n % 10 == 1:
        return 0
    if 2 <= n % 10 <= 4:
        return 1
    return 2


def number_words(n: int, gender: str = "m") -> str:
    """Write a whole number in Serbian words (Cyrillic, Ijekavian), agreeing with a noun's gender.

    ``gender`` is m, f or n: 1 → један/једна/једно, 2 → два/двије/два; thousands are feminine
    (двије хиљаде, пет хиљада) and millions masculine (два милиона).
    """
    if n == 0:
        return "нула"
    if n < 0:
        return "минус " + number_words(-n, gender)
    parts: list[str] = []
    millions, rest = divmod(n, 1_000_000)
    thousands, units = divmod(rest, 1000)
    if millions:
        if millions >= 1000:
            parts.append(
                number_words(millions // 1000, "f") + " хиљада"
            )  # beyond any weekly count; still correct enough
            millions %= 1000
        if millions:
            parts.extend(_below_thousand(millions, "m"))
            parts.append(("милион", "милиона", "милиона")[plural_form(millions)])
    if thousands:
        if thousands == 1:
            parts.append("хиљаду")
        else:
            parts.extend(_below_thousand(thousands, "f"))
            parts.append(("хиљада", "хиљаде", "хиљада")[plural_form(thousands)])
    if units:
        parts.extend(_below_thousand(units, gender))
    return " ".join(parts)


def count_words(n: int, forms: tuple[str, str, str] = ("пријава", "пријаве", "пријава"), gender: str = "f") -> str:
    """Write a count with its noun: једна пријава, двије пријаве, пет пријава, двадесет једна пријава."""
    return f"{number_words(n, gender)} {forms[plural_form(n)]}"


def ordinal_day(day: int) -> str:
    """Write a day of the month as a genitive ordinal: 1 → првог, 12 → дванаестог, 21 → двадесет првог."""
    tens, units = divmod(day, 10)
    if tens == 1 or units == 0:
        return (_TEENS[units] if tens == 1 else _TENS[tens] if tens >= 2 else "") + "ог"
    return (_TENS[tens] + " " if tens >= 2 else "") + _ORDINAL_GEN[units]


def _agree(n: int, one: str, few: str, many: str) -> str:
    """Pick the verb form that agrees with a count of feminine nouns."""
    return (one, few, many)[plural_form(n)]


def _cap(text: str) -> str:
    """Capitalise the first letter of a sentence."""
    return text[:1].upper() + text[1:]


_CHANNEL_HOW = {
    "phone": "телефоном",
    "voicemail": "говорном поштом",
    "sms": "СМС порукама",
    "email": "електронском поштом",
    "walk-in": "лично, у Центру за културу и информисање",
    "web": "преко интернет странице",
    "open311": "преко партнерских апликација",
}


def radio_script(report: WeeklyReport, script: str = "sr-Cyrl") -> str:
    """Write the overview as short plain sentences for a radio presenter, numbers in words.

    Percentages are read only when the sample is large enough (``MIN_SAMPLE``); otherwise the
    counts are read, so a single late ticket never sounds like "zero per cent on time".
    """
    first, last = report.first_day, report.last_day
    if first.month == last.month:
        span = f"од {ordinal_day(first.day)} до {ordinal_day(last.day)} {MONTHS_GEN[last.month]}"
    else:
        span = (
            f"од {ordinal_day(first.day)} {MONTHS_GEN[first.month]} до {ordinal_day(last.day)} {MONTHS_GEN[last.month]}"
        )
    lines = [f"Систем 48. Преглед пријава грађана за седмицу {span}."]
    if not report.complete:
        lines.append("Седмица још траје, па се бројеви могу промијенити.")
    total = report.total
    if total.received == 0:
        lines.append("Ове седмице није примљена ниједна пријава.")
    else:
        verb = _agree(total.received, "Примљена је", "Примљене су", "Примљено је")
        lines.append(f"{verb} {count_words(total.received)}.")
        for channel, count in sorted(report.by_channel.items(), key=lambda kv: -kv[1]):
            if count:
                how = _CHANNEL_HOW.get(channel, channel)
                lines.append(f"{_cap(how)}: {count_words(count)}.")
    if total.decided:
        if total.on_time:
            verb = _agree(total.on_time, "добила је", "добиле су", "добило је")
            lines.append(f"{_cap(count_words(total.on_time))} {verb} одговор у року од четрдесет осам сати.")
        if total.late:
            verb = _agree(total.late, "није добила", "нису добиле", "није добило")
            lines.append(f"{_cap(count_words(total.late))} {verb} одговор на вријеме.")
        rate = total.on_time_rate
        if rate is not None:
            lines.append(f"То је {number_words(round(rate))} одсто пријава којима је рок истекао.")
    if total.pending:
        verb = _agree(total.pending, "чека", "чекају", "чека")
        lines.append(f"{_cap(count_words(total.pending))} још {verb} одговор, а рок није истекао.")
    if total.resolved:
        verb = _agree(total.resolved, "ријешена је", "ријешене су", "ријешено је")
        lines.append(f"Ове седмице {verb} {count_words(total.resolved)}.")
    if total.overdue:
        verb = _agree(total.overdue, "није ријешена", "нису ријешене", "није ријешено")
        lines.append(f"{_cap(count_words(total.overdue))} још {verb}, а рок за рјешавање је истекао.")
    for name, tally in sorted(report.by_organisation.items(), key=lambda kv: (-kv[1].received, kv[0])):
        if not name or not tally.received:
            continue
        sentence = f"{name}: {count_words(tally.received)}."
        if tally.on_time_rate is not None:
            sentence += f" Одговор у року: {number_words(round(tally.on_time_rate))} одсто."
        elif tally.decided:
            sentence += f" Одговор у року: {number_words(tally.on_time, 'f')} од {number_words(tally.decided, 'f')}."
        lines.append(sentence)
    lines.append("Сваку пријаву можете пратити на страници општине, уз број који сте добили.")
    lines.append("Систем 48. Одговор у року од четрдесет осам сати.")
    text = "\n".join(lines) + "\n"
    return to_latin(text) if script == "sr-Latn" else text
