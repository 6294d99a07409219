"""Plain functions behind ``sistem48 report …`` (the click wiring lives in sistem48/cli.py).

Each function takes a wired Core, writes one file and returns its path; ``progress(done, total)`` is
called as work advances so the CLI can draw a bar for long periods.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from callcenter_ui.reporting.csv_out import write_csv
from callcenter_ui.reporting.labels import Script
from callcenter_ui.reporting.ods import write_ods
from callcenter_ui.reporting.pdf import render_pack_pdf
from callcenter_ui.reporting.tabular import Sheet, comparison_sheets, pack_sheets, planning_sheets, schedule_sheet
from core.bootstrap import Core
from core.db.models import Organisation
from core.services import planning
from core.services.reports import build_pack, compare_organisations, local_period, schedule_for

Progress = Callable[[int, int], None]
PACK_FORMATS = ("pdf", "csv", "ods")
TABLE_FORMATS = ("csv", "ods")


def _quiet(done: int, total: int) -> None:
    """Ignore progress."""


def _write(path: Path, body: bytes) -> Path:
    """Write a file atomically (temp + rename: a half-written report never looks finished)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(body)
    tmp.replace(path)
    return path


def _tables(sheets: list[Sheet], fmt: str) -> bytes:
    """Encode sheets as CSV or ODS."""
    if fmt not in TABLE_FORMATS:
        raise ValueError(f"format must be one of {', '.join(TABLE_FORMATS)}")
    return write_csv(sheets) if fmt == "csv" else write_ods(sheets)


def write_pack(
    core: Core,
    organisation: str,
    first: date,
    last: date,
    fmt: str,
    script: Script,
    output: Path,
    *,
    progress: Progress = _quiet,
) -> Path:
    """Write one organisation's meeting pack (pdf, csv or ods)."""
    if fmt not in PACK_FORMATS:
        raise ValueError(f"format must be one of {', '.join(PACK_FORMATS)}")
    period = local_period(first, last, core.settings.timezone)
    with core.session_factory() as session:
        pack = build_pack(session, organisation, period, now=core.clock.now(), progress=progress)
    body = render_pack_pdf(pack, script) if fmt == "pdf" else _tables(pack_sheets(pack, script), fmt)
    return _write(output, body)


def write_all_packs(
    core: Core, first: date, last: date, fmt: str, script: Script, directory: Path, *, progress: Progress = _quiet
) -> list[Path]:
    """Write a pack for every organisation that received tickets in the period."""
    period = local_period(first, last, core.settings.timezone)
    with core.session_factory() as session:
        codes = list(
            session.scalars(
                sa.select(Organisation.code).where(Organisation.kind != "call_centre").order_by(Organisation.id)
            )
        )
    paths = []
    for n, code in enumerate(codes):
        name = f"sistem48-{code}-{period.first_day.isoformat()}-{period.last_day.isoformat()}.{fmt}"
        paths.append(write_pack(core, code, first, last, fmt, script, directory / name))
        progress(n + 1, len(codes))
    return paths


def write_comparison(
    core: Core, first: date, last: date, fmt: str, script: Script, output: Path, *, progress: Progress = _quiet
) -> Path:
    """Write the month-by-month comparison of organisations (csv or ods)."""
    period = local_period(first, last, core.settings.timezone)
    with core.session_factory() as session:
        result = compare_organisations(session, period, now=core.clock.now(), progress=progress)
    return _write(output, _tables(comparison_sheets(result, script), fmt))


def write_planning(
    core: Core, year: int, fmt: str, script: Script, output: Path, *, progress: Progress = _quiet
) -> Path:
    """Write the planning workbook for the finance office: budget versus actual, hotspots, repeats, seasons."""
    tz = core.settings.timezone
    now = core.clock.now()
    span = local_period(date(year, 1, 1), date(year, 12, 31), tz)
    with core.session_factory() as session:
        budget = planning.budget_vs_actual(session, year, now=now, tz=tz)
        progress(1, 4)
        spots = planning.hotspots(session, span.start, span.end)
        progress(2, 4)
        repeats = planning.repeat_problems(session, now=min(now, span.end))
        progress(3, 4)
        season = planning.seasonality(session, max(2000, year - 2), year, tz=tz)
        progress(4, 4)
    sheets = planning_sheets(script, budget=budget, hotspots=spots, repeats=repeats, season=season)
    return _write(output, _tables(sheets, fmt))


def write_schedule(
    core: Core, start: date, every_weeks: int, meetings: int, fmt: str, script: Script, output: Path
) -> Path:
    """Write the rotating meeting schedule (csv or ods)."""
    with core.session_factory() as session:
        plan = schedule_for(session, start, every_weeks, meetings, now=core.clock.now())
        names = {o.code: o.name for o in session.scalars(sa.select(Organisation))}
    return _write(output, _tables([schedule_sheet(plan, names, script)], fmt))
