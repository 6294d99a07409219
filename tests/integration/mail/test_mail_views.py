"""Operators see quarantined mail and can release it into a ticket."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from core.bootstrap import Core
from core.db.models import InboundItem, Ticket
from core.services.mail import quarantine
from tests.integration.web.conftest import Staff, app, bearer, client, staff

pytestmark = pytest.mark.integration
__all__ = ["app", "client", "staff"]  # fixtures shared with the web tests

RAW = (
    "From: Ana <ana@example.org>\r\nSubject: Rupa <script>alert(1)</script>\r\nMessage-ID: <q@example.org>\r\n"
    "Content-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\n\r\nRupa na putu kod mosta.\r\n"
)


def quarantined_item(core: Core) -> int:
    """Quarantine one message as the daemon would."""
    item_id = quarantine(core.uow(), key="<q@example.org>", raw=RAW, error="mime_bomb: test", now=core.clock.now())
    assert item_id is not None
    return item_id


def test_quarantine_listed_for_operators(core: Core, client: FlaskClient, staff: Staff) -> None:
    """Operators get the reason and a preview; departments may not look."""
    item_id = quarantined_item(core)
    response = client.get("/api/v1/mail/quarantine", headers=bearer(staff.operator))
    assert response.status_code == 200
    [item] = response.get_json()["items"]
    assert (item["id"], item["error"], item["from"]) == (item_id, "mime_bomb: test", "ana@example.org")
    assert "Rupa na putu" in item["preview"]
    assert response.headers["Content-Type"].startswith("application/json")
    assert client.get("/api/v1/mail/quarantine", headers=bearer(staff.vodovod)).status_code == 403
    assert client.get("/api/v1/mail/quarantine").status_code == 401


def test_release_makes_one_ticket(core: Core, client: FlaskClient, staff: Staff) -> None:
    """Releasing makes a ticket once; a second release gives the same ticket; unknown ids are 404."""
    item_id = quarantined_item(core)
    first = client.post(f"/api/v1/mail/quarantine/{item_id}/release", headers=bearer(staff.operator))
    assert first.status_code == 201
    again = client.post(f"/api/v1/mail/quarantine/{item_id}/release", headers=bearer(staff.operator))
    assert again.status_code == 200
    assert again.get_json()["ticket_code"] == first.get_json()["ticket_code"]
    with core.session_factory() as db:
        assert db.scalar(sa.select(sa.func.count(Ticket.id))) == 1
        item = db.get_one(InboundItem, item_id)
        assert (item.state, item.raw) == ("released", RAW)
    assert client.post("/api/v1/mail/quarantine/99999/release", headers=bearer(staff.operator)).status_code == 404
    assert client.get("/api/v1/mail/quarantine", headers=bearer(staff.operator)).get_json()["count"] == 0
