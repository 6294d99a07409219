"""The SMS API: operators' queue, replies to a ticket's citizen, work orders to duty phones."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from core.bootstrap import Core
from core.db.models import Organisation

# The web fixtures (real app, client, users with tokens) are shared from the web tests' conftest.
from tests.integration.web.conftest import Staff, app, bearer, client, staff  # noqa: F401

__all__ = ["app", "client", "staff"]

pytestmark = pytest.mark.integration


def open_ticket(client: FlaskClient, staff: Staff, phone: str | None = "065 123 456") -> str:
    """Open a ticket through the API; return its code."""
    body = {"channel": "sms", "description": "Нема воде у улици Вука Караџића", "phone": phone}
    resp = client.post("/api/v1/tickets", json=body, headers=bearer(staff.operator))
    assert resp.status_code == 201
    return str(resp.get_json()["code"])


def test_reply_is_queued_and_listed(client: FlaskClient, staff: Staff) -> None:
    """An operator's reply becomes a queued outgoing SMS that the queue lists, escaped as JSON data."""
    code = open_ticket(client, staff)
    resp = client.post(f"/api/v1/tickets/{code}/sms", json={"text": "Екипа стиже <b>сутра</b>."},
                       headers=bearer(staff.operator))  # fmt: skip
    assert resp.status_code == 201
    sent = resp.get_json()
    assert (sent["direction"], sent["delivery_state"], sent["address"]) == ("out", "queued", "+38765123456")
    listed = client.get("/api/v1/sms?direction=out&state=queued", headers=bearer(staff.operator)).get_json()
    assert [m["id"] for m in listed["messages"]] == [sent["id"]]
    assert listed["messages"][0]["body"] == "Екипа стиже <b>сутра</b>."


@pytest.mark.parametrize(
    ("path", "body", "token", "status"),
    [
        ("/api/v1/tickets/48-2026-999999/sms", {"text": "x"}, "operator", 404),
        ("/api/v1/tickets/{code}/sms", {"text": ""}, "operator", 400),
        ("/api/v1/tickets/{code}/sms", {"text": "x"}, "vodovod", 403),
        ("/api/v1/tickets/{code}/sms", {"text": "x" * 1001}, "operator", 413),
        ("/api/v1/organisations/vodovod/work-order", {"text": "Pukla cijev"}, "operator", 409),
        ("/api/v1/organisations/nema/work-order", {"text": "x"}, "operator", 404),
    ],
)
def test_errors(client: FlaskClient, staff: Staff, path: str, body: dict[str, str], token: str, status: int) -> None:
    """Bad requests get clear JSON errors and queue nothing."""
    code = open_ticket(client, staff)
    resp = client.post(path.format(code=code), json=body, headers=bearer(getattr(staff, token)))
    assert resp.status_code == status
    listed = client.get("/api/v1/sms?direction=out&state=queued", headers=bearer(staff.operator)).get_json()
    assert listed["messages"] == []


def test_work_order_to_duty_phone(client: FlaskClient, staff: Staff, core: Core) -> None:
    """A work order goes to the organisation's duty phone, prefixed with the ticket code."""
    code = open_ticket(client, staff)
    with core.session_factory() as s:
        s.execute(sa.update(Organisation).where(Organisation.code == "vodovod").values(duty_phone="065 222 333"))
        s.commit()
    resp = client.post("/api/v1/organisations/vodovod/work-order", json={"text": "Пукла цијев", "ticket": code},
                       headers=bearer(staff.supervisor))  # fmt: skip
    assert resp.status_code == 201
    order = resp.get_json()
    assert order["address"] == "+38765222333"
    assert order["body"] == f"Систем 48, радни налог {code}: Пукла цијев"
    assert order["ticket"] == code


def test_queue_needs_login(client: FlaskClient) -> None:
    """Anonymous callers get 401."""
    assert client.get("/api/v1/sms").status_code == 401
