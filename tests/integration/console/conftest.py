"""Console fixtures: the real app (Flask-Babel wired by the console blueprint) and logged-in session clients."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from callcenter_ui import create_app
from core.bootstrap import Core
from core.services.accounts import add_user

PASSWORD = "lozinka-konzole"  # noqa: S105  throwaway test accounts


@pytest.fixture
def app(core: Core) -> Flask:
    """The web app wired to the test core."""
    flask_app = create_app(core.settings, core=core)
    flask_app.testing = True
    return flask_app


def csrf_of(html: str) -> str:
    """Return the CSRF token embedded in a page."""
    found = re.search(r'name="csrf-token" content="([^"]+)"|name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1) or found.group(2)


@pytest.fixture
def login(app: Flask, core: Core) -> Callable[..., tuple[FlaskClient, str]]:
    """Create a user and return a logged-in client with the console's CSRF token."""

    def _login(role: str, *, username: str | None = None, organisation: str | None = None,
               extension: str | None = None) -> tuple[FlaskClient, str]:  # fmt: skip
        name = username or f"{role}-{organisation or 'x'}"
        with core.session_factory() as db:
            add_user(db, name, role, PASSWORD, core.clock.now(), organisation_code=organisation, extension=extension)
            db.commit()
        client = app.test_client()
        token = csrf_of(client.get("/login").text)
        response = client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 302
        page = client.get("/console")
        assert page.status_code == 200
        return client, csrf_of(page.text)

    return _login
