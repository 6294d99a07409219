"""The ``sistem48`` command: one subcommand per process, plus database, seed, users and tokens."""

from __future__ import annotations

import getpass
import logging
import os
import secrets
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import click
import sqlalchemy as sa

from core.config import Settings, load_settings
from core.db import migrate
from core.db.base import create_engine
from core.db.models import User
from core.ports import SystemClock
from core.seed import seed as seed_data
from core.services.accounts import AccountError, add_user, create_token
from sistem48.runtime import build_core, configure_logging

log = logging.getLogger("sistem48")


@click.group()
def main() -> None:
    """Систем 48 — every citizen's report answered within 48 hours."""
    configure_logging()


@main.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    settings = load_settings()
    engine = _engine(settings)
    migrate.upgrade(engine, revision)
    click.echo(f"database at {migrate.current(engine)}")


@main.command()
def seed() -> None:
    """Insert Kotor Varoš organisations, categories, keyword rules and settlements (idempotent)."""
    settings = load_settings()
    added = _seed(settings)
    click.echo(", ".join(f"{k}: +{v}" for k, v in added.items()))


@main.group()
def user() -> None:
    """Manage staff accounts."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["operator", "department", "supervisor", "admin"]), required=True)
@click.option("--organisation", default=None, help="organisation code (required for department staff)")
@click.option("--extension", default=None, help="the operator's phone extension, e.g. 201")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def user_add(name: str, role: str, organisation: str | None, extension: str | None, password_stdin: bool) -> None:
    """Create a staff user; the password comes from a prompt or standard input."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Лозинка / password: ")
        if getpass.getpass("Поновите / repeat: ") != password:
            raise click.ClickException("passwords differ")
    settings = load_settings()
    engine = _engine(settings)
    with sa.orm.Session(engine) as session:
        try:
            created = add_user(
                session, name, role, password, SystemClock().now(), organisation_code=organisation, extension=extension
            )
        except AccountError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
        click.echo(f"user {created.username} ({created.role}) created")


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.argument("name")
@click.option("--label", default="cli", help="what the token is for")
def token_create(name: str, label: str) -> None:
    """Print a new API token for user NAME on stdout (only its hash is stored)."""
    settings = load_settings()
    with sa.orm.Session(_engine(settings)) as session:
        try:
            value = create_token(session, name, label, SystemClock().now())
        except AccountError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
    click.echo(value)


@main.command()
def web() -> None:
    """Serve the web console, API and Socket.IO."""
    from sistem48.web import serve

    serve(load_settings())


@main.command()
def public() -> None:
    """Serve the public pages and Open311 (uWSGI; several processes)."""
    from sistem48.public import serve

    serve(load_settings())


@main.command()
@click.option("--queues", default="default", show_default=True)
@click.option("--concurrency", default=2, show_default=True)
@click.option("--pool", default="prefork", show_default=True, type=click.Choice(["prefork", "solo", "threads"]))
def worker(queues: str, concurrency: int, pool: str) -> None:
    """Run a Celery worker that delivers outbox items."""
    from sistem48.worker import run_worker

    run_worker(load_settings(), queues=queues, concurrency=concurrency, pool=pool)


@main.command()
def beat() -> None:
    """Run the periodic sweeper: 48-hour clock and outbox re-drive."""
    from sistem48.sweeper import run_forever
    from sistem48.worker import live_for

    settings = load_settings()
    run_forever(build_core(settings, live=live_for(settings)))


@main.command()
def telephony() -> None:
    """Run the Asterisk (AMI) connector: calls, screen pops, voicemail, callbacks."""
    from telephony.daemon import run_telephony

    run_telephony(load_settings())


@main.command()
def sms() -> None:
    """Run the GSM-modem daemon: inbound SMS to tickets, outbound queue."""
    from sms_modem.daemon import run_sms

    run_sms(load_settings())


@main.command()
@click.option("--concurrency", default=1, show_default=True)
def transcribe(concurrency: int) -> None:
    """Run the transcription worker (its own Celery queue; the model loads once per process)."""
    from transcription.worker import run_transcribe

    run_transcribe(load_settings(), concurrency=concurrency)


@main.command("transcribe-backlog")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), default=None, help="local time")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), default=None, help="local time")
@click.option("--id", "ids", type=int, multiple=True, help="a voicemail id (repeatable)")
@click.option("--force", is_flag=True, help="transcribe again even if already done")
@click.option("--no-progress", is_flag=True)
def transcribe_backlog(
    since: datetime | None, until: datetime | None, ids: tuple[int, ...], force: bool, no_progress: bool
) -> None:
    """(Re)transcribe a range of voicemails now, with a progress bar and a summary."""
    from zoneinfo import ZoneInfo

    from transcription.backlog import retranscribe

    settings = load_settings()
    tz = ZoneInfo(settings.timezone)
    summary = retranscribe(
        settings,
        since=since.replace(tzinfo=tz) if since else None,
        until=until.replace(tzinfo=tz) if until else None,
        ids=list(ids) or None,
        force=force,
        progress=not no_progress,
    )
    click.echo(summary.render())
    if summary.counts.get("failed", 0) > 0:
        sys.exit(1)


@main.command()
def mail() -> None:
    """Run the mailbox intake (IMAP) for the e-mail channel."""
    from email_channel.daemon import run_mail

    run_mail(load_settings())


@main.group()
def report() -> None:
    """Write reports for the mayor's meetings, the finance office and planning."""


def _month_bounds() -> tuple[date, date]:
    """Return the first and last day of the current month."""
    today = SystemClock().now().date()
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def _dates(start: datetime | None, end: datetime | None) -> tuple[date, date]:
    """Turn click's datetimes into dates, defaulting to this month."""
    first, last = _month_bounds()
    return (start.date() if start else first), (end.date() if end else last)


def _bar(label: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """Return a progress callback driving a click progress bar, and a function that closes it."""
    state: dict[str, Any] = {}

    def progress(done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = click.progressbar(length=max(total, 1), label=label, file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)

    def close() -> None:
        if "bar" in state:
            state["bar"].__exit__(None, None, None)

    return progress, close


DATE = click.DateTime(formats=["%Y-%m-%d"])


def _script(value: str) -> Literal["cyrl", "latn"]:
    """Narrow the --script choice to the reporting type."""
    return "latn" if value == "latn" else "cyrl"


SCRIPT = click.Choice(["cyrl", "latn"])


@report.command("pack")
@click.option("--organisation", default=None, help="organisation code, e.g. vodovod")
@click.option("--all", "all_orgs", is_flag=True, help="a pack for every organisation (OUTPUT is a folder)")
@click.option("--from", "start", type=DATE, default=None, help="first day (default: this month)")
@click.option("--to", "end", type=DATE, default=None, help="last day (default: this month)")
@click.option("--format", "fmt", type=click.Choice(["pdf", "csv", "ods"]), default="pdf", show_default=True)
@click.option("--script", type=SCRIPT, default="cyrl", show_default=True)
@click.option("--output", type=click.Path(path_type=Path), required=True)
def report_pack(
    organisation: str | None, all_orgs: bool, start: datetime | None, end: datetime | None, fmt: str, script: str,
    output: Path,
) -> None:  # fmt: skip
    """Write the meeting pack of one organisation (or all) for a period."""
    from callcenter_ui.reporting import cli as reporting

    if not all_orgs and not organisation:
        raise click.UsageError("--organisation CODE or --all")
    first, last = _dates(start, end)
    core = build_core(load_settings())
    progress, close = _bar("пакет / pack")
    try:
        if all_orgs:
            paths = reporting.write_all_packs(core, first, last, fmt, _script(script), output, progress=progress)
        else:
            paths = [
                reporting.write_pack(
                    core, organisation or "", first, last, fmt, _script(script), output, progress=progress
                )
            ]
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        close()
    for path in paths:
        click.echo(str(path))


@report.command("comparison")
@click.option("--from", "start", type=DATE, default=None)
@click.option("--to", "end", type=DATE, default=None)
@click.option("--format", "fmt", type=click.Choice(["csv", "ods"]), default="csv", show_default=True)
@click.option("--script", type=SCRIPT, default="cyrl", show_default=True)
@click.option("--output", type=click.Path(path_type=Path), required=True)
def report_comparison(start: datetime | None, end: datetime | None, fmt: str, script: str, output: Path) -> None:
    """Write the month-by-month comparison of organisations."""
    from callcenter_ui.reporting import cli as reporting

    first, last = _dates(start, end)
    progress, close = _bar("поређење / comparison")
    try:
        path = reporting.write_comparison(
            build_core(load_settings()), first, last, fmt, _script(script), output, progress=progress
        )
    finally:
        close()
    click.echo(str(path))


@report.command("planning")
@click.option("--year", type=int, default=None, help="default: this year")
@click.option("--format", "fmt", type=click.Choice(["csv", "ods"]), default="csv", show_default=True)
@click.option("--script", type=SCRIPT, default="cyrl", show_default=True)
@click.option("--output", type=click.Path(path_type=Path), required=True)
def report_planning(year: int | None, fmt: str, script: str, output: Path) -> None:
    """Write the planning workbook: budget versus actual, hotspots, repeat problems, seasonality."""
    from callcenter_ui.reporting import cli as reporting

    progress, close = _bar("планирање / planning")
    try:
        path = reporting.write_planning(
            build_core(load_settings()),
            year or SystemClock().now().year,
            fmt,
            _script(script),
            output,
            progress=progress,
        )
    finally:
        close()
    click.echo(str(path))


@report.command("schedule")
@click.option("--start", type=DATE, required=True)
@click.option("--every-weeks", type=int, default=2, show_default=True)
@click.option("--meetings", type=int, default=12, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "ods"]), default="csv", show_default=True)
@click.option("--script", type=SCRIPT, default="cyrl", show_default=True)
@click.option("--output", type=click.Path(path_type=Path), required=True)
def report_schedule(start: datetime, every_weeks: int, meetings: int, fmt: str, script: str, output: Path) -> None:
    """Write the rotating schedule of focus departments for the public meetings."""
    from callcenter_ui.reporting import cli as reporting

    path = reporting.write_schedule(
        build_core(load_settings()), start.date(), every_weeks, meetings, fmt, _script(script), output
    )
    click.echo(str(path))


@main.command()
@click.option("--demo", is_flag=True, help="also play simulated calls, voicemails and SMS")
def up(demo: bool) -> None:
    """Run the whole system on this machine (embedded defaults: no servers needed)."""
    from sistem48.supervisor import run_all

    settings = load_settings()
    prepare(settings)
    if demo:
        demo_users(settings)
    run_all(settings, demo=demo)


DEMO_USERS = (
    ("operater1", "operator", "201", None),
    ("operater2", "operator", "202", None),
    ("vodovod", "department", None, "vodovod"),
    ("supervizor", "supervisor", None, None),
)
DEMO_PASSWORD = "sistem48-demo"  # noqa: S105  demo accounts only exist with --demo, on loopback


def demo_users(settings: Settings) -> None:
    """Create the demo's operators (phones 201, 202), a Vodovod clerk and a supervisor, once."""
    with sa.orm.Session(_engine(settings)) as session:
        created = []
        for name, role, extension, org in DEMO_USERS:
            if session.scalar(sa.select(User.id).where(User.username == name)) is None:
                add_user(
                    session, name, role, DEMO_PASSWORD, SystemClock().now(), organisation_code=org, extension=extension
                )
                created.append(name)
        session.commit()
    if created:
        click.echo(f"Демо корисници / demo users: {', '.join(created)} — лозинка / password: {DEMO_PASSWORD}")


def prepare(settings: Settings) -> None:
    """Migrate, seed an empty database, and create a first admin when there is no user at all."""
    engine = _engine(settings)
    migrate.upgrade(engine)
    _seed(settings)
    with sa.orm.Session(engine) as session:
        if session.scalar(sa.select(sa.func.count()).select_from(User)):
            return
        password = secrets.token_urlsafe(12)
        add_user(session, "admin", "admin", password, SystemClock().now())
        session.commit()
    path = settings.var_dir / "initial-admin-password.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(password + "\n")
    click.echo(f"Први администратор / first admin: admin / {password}  (saved in {path})")


def _engine(settings: Settings) -> sa.Engine:
    """Return an engine, creating var/ for the embedded SQLite file."""
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return create_engine(settings.database_url)


def _seed(settings: Settings) -> dict[str, int]:
    """Seed and commit."""
    with sa.orm.Session(_engine(settings)) as session:
        added = seed_data(session)
        session.commit()
    return added
