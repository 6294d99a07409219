"""The ``sistem48`` command: one subcommand per process, plus database, seed, users and tokens."""

from __future__ import annotations

import getpass
import logging
import os
import secrets
import sys

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


@main.command()
def mail() -> None:
    """Run the mailbox intake (IMAP) for the e-mail channel."""
    from email_channel.daemon import run_mail

    run_mail(load_settings())


@main.command()
@click.option("--demo", is_flag=True, help="also play simulated calls, voicemails and SMS")
def up(demo: bool) -> None:
    """Run the whole system on this machine (embedded defaults: no servers needed)."""
    from sistem48.supervisor import run_all

    settings = load_settings()
    prepare(settings)
    run_all(settings, demo=demo)


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
