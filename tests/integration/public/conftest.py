"""Fixtures of the public face: the real app, a partner token, and helpers that make tickets."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from core.bootstrap import Core
from core.db.models import User
from core.messages import Channel, ReceiveReport
from core.services.accounts import add_user, create_token
from core.services.intake import receive
from core.services.tickets import change_status

# The app and its test client are the web suite's own fixtures.
from tests.integration.web.conftest import app, client  # noqa: F401  re-exported fixtures


@pytest.fixture
def partner_token(core: Core) -> str:
    """An API token of a partner account (Open311 api_key)."""
    now = core.clock.now()
    with core.session_factory() as session:
        add_user(session, "partner", "operator", "lozinka-partnera", now)
        token = create_token(session, "partner", "open311", now)
        session.commit()
    return token


@pytest.fixture
def supervisor(core: Core) -> User:
    """A supervisor who changes statuses in the tests."""
    with core.session_factory() as session:
        user = add_user(session, "supervizor", "supervisor", "lozinka-supervizora", core.clock.now())
        session.commit()
        session.refresh(user)
        session.expunge(user)
    return user


def report(
    core: Core,
    text: str,
    *,
    channel: Channel = Channel.PHONE,
    at: datetime | None = None,
    category: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    name: str | None = None,
    place: str | None = None,
) -> str:
    """Record a report through intake and return its ticket code."""
    cmd = ReceiveReport(
        channel=channel,
        text=text,
        received_at=at,
        category=category,
        phone=phone,
        email=email,
        name=name,
        place=place,
    )
    return receive(core.uow(), cmd, core.intake_policy).ticket_code


def move(
    core: Core, user: User, code: str, status: str, at: datetime, public: str | None = None, internal: str | None = None
) -> None:
    """Change a ticket's status at a given instant."""
    with core.session_factory() as session:
        fresh = session.scalar(sa.select(User).where(User.id == user.id))
        assert fresh is not None
        session.expunge(fresh)
    change_status(core.uow(), code, status, fresh, public_note=public, internal_note=internal, now=at)
