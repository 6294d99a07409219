"""Reports for supervisors and the mayor's office: the console page and the downloads.

Supervisors and admins see every organisation; department staff see their own organisation's pack
only (data-level check, 403 otherwise); operators see none. Every download is written to the audit log.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from callcenter_ui import error, get_core
from callcenter_ui.auth import current_user, require
from callcenter_ui.reporting.csv_out import write_csv
from callcenter_ui.reporting.labels import SCRIPTS, Script, channel, fmt_date, fmt_number, fmt_share, label, tr
from callcenter_ui.reporting.ods import write_ods
from callcenter_ui.reporting.pdf import render_pack_pdf
from callcenter_ui.reporting.tabular import comparison_sheets, pack_sheets, planning_sheets
from core.db.models import Organisation, User
from core.services import planning
from core.services.reports import (
    Period,
    ReportError,
    build_pack,
    compare_organisations,
    local_period,
    may_see_pack,
    record_export,
    schedule_for,
)

bp = Blueprint("reports", __name__)

FORMATS = {
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}
SUPERVISORS = ("supervisor", "admin")


class BadRequest(ValueError):
    """A query parameter that cannot be used."""


class Denied(Exception):
    """The report cannot be given to this user: (code, message, HTTP status)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(code, message, status)
        self.code, self.message, self.status = code, message, status


def _script(user: User) -> Script:
    """Return the script asked for, else the user's language."""
    asked = request.args.get("script", "")
    if asked in SCRIPTS:
        return asked
    return "latn" if user.language == "sr-Latn" else "cyrl"


def _day(name: str, default: date) -> date:
    """Parse an ISO date parameter."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        return date.fromisoformat(raw[:10])
    except ValueError as exc:
        raise BadRequest(f"{name} must be a date YYYY-MM-DD") from exc


def _period(tz: str, today: date) -> Period:
    """Return the period of the request; this month by default."""
    first = _day("from", today.replace(day=1))
    last = _day("to", today)
    try:
        return local_period(first, last, tz)
    except ReportError as exc:
        raise BadRequest(str(exc)) from exc


def _today(tz: str) -> date:
    """Return today's local date by the core's clock."""
    core = get_core(current_app)
    return core.clock.now().astimezone(ZoneInfo(tz)).date()


def _safe(text: str) -> str:
    """Return a filename-safe fragment."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)[:40]


def _download(body: bytes, fmt: str, name: str) -> Response:
    """Return a file download that no cache keeps."""
    response = Response(body, mimetype=FORMATS[fmt].split(";")[0])
    response.headers["Content-Type"] = FORMATS[fmt]
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _audit(user: User, report: str, params: dict[str, str]) -> None:
    """Log an export in its own transaction."""
    core = get_core(current_app)
    with core.session_factory() as session:
        record_export(session, user, report, params, core.clock.now(), ip=request.remote_addr)
        session.commit()


def _organisation_for(user: User, code: str | None) -> Organisation:
    """Resolve the organisation asked for and check the user may see its pack."""
    core = get_core(current_app)
    with core.session_factory() as session:
        if not code and user.role == "department" and user.organisation_id is not None:
            org = session.get(Organisation, user.organisation_id)
        else:
            org = session.scalar(sa.select(Organisation).where(Organisation.code == (code or "")))
        if org is None:
            raise Denied("not_found", "Нема такве организације.", 404)
        if not may_see_pack(user, org.id):
            raise Denied("forbidden", "Немате овлашћење за овај извјештај.", 403)
        session.expunge(org)
        return org


@bp.get("/reports/pack.<fmt>")
@require("supervisor", "admin", "department")
def pack_download(fmt: str) -> Response | tuple[Response, int]:
    """Download one organisation's meeting pack as PDF, CSV or ODS."""
    if fmt not in FORMATS:
        return error("not_found", "Непознат формат.", 404)
    user = current_user()
    assert user is not None  # noqa: S101  require() let only staff through
    try:
        org = _organisation_for(user, request.args.get("organisation"))
    except Denied as exc:
        return error(exc.code, exc.message, exc.status)
    core = get_core(current_app)
    tz = core.settings.timezone
    try:
        period = _period(tz, _today(tz))
    except BadRequest as exc:
        return error("bad_request", str(exc), 400)
    script = _script(user)
    with core.session_factory() as session:
        pack = build_pack(session, org.code, period, now=core.clock.now())
    if fmt == "pdf":
        body = render_pack_pdf(pack, script)
    elif fmt == "csv":
        body = write_csv(pack_sheets(pack, script))
    else:
        body = write_ods(pack_sheets(pack, script))
    _audit(
        user,
        "pack",
        {
            "organisation": org.code,
            "from": period.first_day.isoformat(),
            "to": period.last_day.isoformat(),
            "format": fmt,
        },
    )
    name = f"sistem48-{_safe(org.code)}-{period.first_day.isoformat()}-{period.last_day.isoformat()}"
    return _download(body, fmt, name)


@bp.get("/reports/planning.<fmt>")
@require(*SUPERVISORS)
def planning_download(fmt: str) -> Response | tuple[Response, int]:
    """Download the planning figures (budget versus actual, hotspots, repeats, seasonality) for a year."""
    if fmt not in ("csv", "ods"):
        return error("not_found", "Непознат формат.", 404)
    user = current_user()
    assert user is not None  # noqa: S101  require() let only staff through
    core = get_core(current_app)
    tz = core.settings.timezone
    now = core.clock.now()
    try:
        year = int(request.args.get("year", "") or _today(tz).year)
    except ValueError:
        return error("bad_request", "year must be a number", 400)
    if not 2000 <= year <= 2100:
        return error("bad_request", "year out of range", 400)
    script = _script(user)
    year_span = local_period(date(year, 1, 1), date(year, 12, 31), tz)
    as_of = min(now, year_span.end)
    with core.session_factory() as session:
        sheets = planning_sheets(
            script,
            budget=planning.budget_vs_actual(session, year, now=now, tz=tz),
            hotspots=planning.hotspots(session, year_span.start, year_span.end),
            repeats=planning.repeat_problems(session, now=as_of),
            season=planning.seasonality(session, max(2000, year - 2), year, tz=tz),
        )
    _audit(user, "planning", {"year": str(year), "format": fmt})
    body = write_csv(sheets) if fmt == "csv" else write_ods(sheets)
    return _download(body, fmt, f"sistem48-plan-{year}")


@bp.get("/reports/comparison")
@bp.get("/reports/comparison.<fmt>")
@require(*SUPERVISORS)
def comparison(fmt: str = "html") -> str | Response | tuple[Response, int]:
    """Compare organisations month by month (HTML page, or CSV/ODS)."""
    if fmt not in ("html", "csv", "ods"):
        return error("not_found", "Непознат формат.", 404)
    fmt = request.args.get("format", fmt) if fmt == "html" else fmt
    user = current_user()
    assert user is not None  # noqa: S101  require() let only staff through
    core = get_core(current_app)
    tz = core.settings.timezone
    today = _today(tz)
    try:
        period = _period(tz, today) if request.args.get("from") else local_period(date(today.year, 1, 1), today, tz)
    except BadRequest as exc:
        return error("bad_request", str(exc), 400)
    script = _script(user)
    with core.session_factory() as session:
        result = compare_organisations(session, period, now=core.clock.now())
    if fmt in ("csv", "ods"):
        sheets = comparison_sheets(result, script)
        _audit(
            user, "comparison", {"from": period.first_day.isoformat(), "to": period.last_day.isoformat(), "format": fmt}
        )
        body = write_csv(sheets) if fmt == "csv" else write_ods(sheets)
        return _download(body, fmt, f"sistem48-comparison-{period.first_day.isoformat()}-{period.last_day.isoformat()}")
    table = comparison_sheets(result, script)[0]
    return render_template(
        "reports/comparison.html",
        t=lambda key, **kw: label(key, script, **kw),
        sheet=table,
        period=period,
        script=script,
        min_sample=result.min_sample,
        fmt_date=fmt_date,
        query={"from": period.first_day.isoformat(), "to": period.last_day.isoformat(), "script": script},
    )


@bp.get("/reports")
def index() -> str | BaseResponse | tuple[str, int]:
    """Show the supervisors' report page: this period's pack summary, downloads, hotspots, schedule."""
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login"))
    if user.role not in (*SUPERVISORS, "department"):
        return render_template("reports/forbidden.html"), 403
    core = get_core(current_app)
    tz = core.settings.timezone
    today = _today(tz)
    now = core.clock.now()
    script = _script(user)
    try:
        period = _period(tz, today)
    except BadRequest as exc:
        return render_template("reports/forbidden.html", message=str(exc)), 400
    with core.session_factory() as session:
        if user.role == "department":
            orgs = list(session.scalars(sa.select(Organisation).where(Organisation.id == (user.organisation_id or -1))))
        else:
            orgs = list(
                session.scalars(
                    sa.select(Organisation).where(Organisation.kind != "call_centre").order_by(Organisation.id)
                )
            )
        asked = request.args.get("organisation") or (orgs[0].code if orgs else "")
        org = next((o for o in orgs if o.code == asked), None)
        if org is None:
            return render_template("reports/forbidden.html"), 403
        pack = build_pack(session, org.code, period, now=now)
        scope = None if user.role in SUPERVISORS else org.id
        year_ago = now - timedelta(days=365)
        spots = planning.hotspots(session, year_ago, now, organisation_id=scope, limit=10)
        repeats = planning.repeat_problems(session, now=now, organisation_id=scope, limit=20)
        schedule = schedule_for(session, today, 2, 6, now=now) if user.role in SUPERVISORS else []
        names = {o.code: o.name for o in session.scalars(sa.select(Organisation))}
    query = {
        "organisation": org.code,
        "from": period.first_day.isoformat(),
        "to": period.last_day.isoformat(),
        "script": script,
    }
    return render_template(
        "reports/index.html",
        t=lambda key, **kw: label(key, script, **kw),
        tr=lambda text: tr(text, script),
        channel=lambda key: channel(key, script),
        num=fmt_number,
        pct=fmt_share,
        fmt_date=fmt_date,
        user=user,
        orgs=orgs,
        org=org,
        pack=pack,
        period=period,
        script=script,
        spots=spots,
        repeats=repeats,
        schedule=schedule,
        names=names,
        query=query,
        supervisor=user.role in SUPERVISORS,
        year=period.last_day.year,
    )
