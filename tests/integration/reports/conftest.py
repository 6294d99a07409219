"""Report fixtures: a seeded year on the real databases, and the web app with staff tokens."""

from __future__ import annotations

import pytest

from core.bootstrap import Core
from tests.fakes import FixedClock
from tests.integration.reports.seeding import NOW, Seeded, seed_year
from tests.integration.web.conftest import Staff, app, client, staff  # noqa: F401  fixtures shared with web tests

__all__ = ["Staff"]


@pytest.fixture
def seeded(core: Core, clock: FixedClock) -> Seeded:
    """Write the deterministic year and set the clock to the report date."""
    with core.session_factory() as session:
        known = seed_year(session)
        session.commit()
    clock.set(NOW)
    return known
