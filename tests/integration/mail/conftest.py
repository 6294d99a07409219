"""Fixtures of the e-mail tests: a real Dovecot, a real SMTP sink, a mailbox per test, the intake."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from core.bootstrap import Core
from email_channel.daemon import MailIntake, MailOptions
from email_channel.imap import ImapConfig, ImapMailbox
from email_channel.parse import MailLimits

from .servers import PASSWORD, Dovecot, SmtpSink, start_dovecot, start_smtp_sink

_users = itertools.count(1)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One Dovecot for the session; each test logs in as a new user with an empty mailbox."""
    try:
        server = start_dovecot()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A fresh SMTP sink."""
    sink = start_smtp_sink()
    yield sink
    sink.controller.stop()


@pytest.fixture
def imap_config(dovecot: Dovecot) -> ImapConfig:
    """The config of a fresh, empty mailbox."""
    return ImapConfig(
        host="127.0.0.1", port=dovecot.port, username=f"grad{next(_users)}", password=PASSWORD, timeout=10
    )


@pytest.fixture
def mailbox(imap_config: ImapConfig) -> Iterator[ImapMailbox]:
    """A connected mailbox for putting mail in and looking at folders (the test's own connection)."""
    box = ImapMailbox(imap_config)
    box.connect()
    yield box
    box.close()


OPTIONS = MailOptions(wait_seconds=0.5, reconnect_max=0.5, limits=MailLimits(max_bytes=2_000_000))


@pytest.fixture
def make_intake(core: Core) -> Iterator[Callable[..., MailIntake]]:
    """Build intakes (each with its own IMAP connection) and close them after the test."""
    made: list[MailIntake] = []

    def make(config: ImapConfig, *, on: Core | None = None) -> MailIntake:
        intake = MailIntake(on or core, ImapMailbox(config), OPTIONS)
        made.append(intake)
        return intake

    yield make
    for intake in made:
        intake.mailbox.close()
