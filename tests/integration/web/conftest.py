"""Web fixtures: the real Flask app over a real database, with users and tokens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from callcenter_ui import create_app
from core.bootstrap import Core
from core.services.accounts import add_user, create_token


@dataclass
class Staff:
    """Bearer tokens of one user per role."""

    operator: str
    supervisor: str
    vodovod: str
    komunalno: str


@pytest.fixture
def app(core: Core) -> Flask:
    """The web app wired to the test core."""
    flask_app = create_app(core.settings, core=core)
    flask_app.testing = True
    return flask_app


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    """A test client."""
    with app.test_client() as c:
        yield c


@pytest.fixture
def staff(core: Core) -> Staff:
    """Create an operator, a supervisor and two department users, each with a token."""
    now = core.clock.now()
    with core.session_factory() as session:
        add_user(session, "operater", "operator", "lozinka-operatera", now, extension="201")
        add_user(session, "supervizor", "supervisor", "lozinka-supervizora", now)
        add_user(session, "vodovod", "department", "lozinka-vodovoda", now, organisation_code="vodovod")
        add_user(session, "komunalno", "department", "lozinka-komunalnog", now, organisation_code="komunalno")
        tokens = Staff(
            operator=create_token(session, "operater", "t", now),
            supervisor=create_token(session, "supervizor", "t", now),
            vodovod=create_token(session, "vodovod", "t", now),
            komunalno=create_token(session, "komunalno", "t", now),
        )
        session.commit()
    return tokens


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}
