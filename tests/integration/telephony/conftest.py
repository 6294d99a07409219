"""Telephony test fixtures: the web fixtures (app, client, staff) for the calls API tests."""

from tests.integration.web.conftest import app, client, staff  # noqa: F401  re-exported pytest fixtures
