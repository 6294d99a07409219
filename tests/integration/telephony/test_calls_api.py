"""The calls API with the Flask test client: missed-call list, call detail, logging a complaint, click-to-call."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from core.bootstrap import Core
from core.db.models import Call, OutboxItem, Ticket
from core.messages import Channel, ReceiveReport
from core.services import calls
from core.services.intake import receive
from tests.fakes import FixedClock
from tests.integration.web.conftest import Staff, bearer

pytestmark = pytest.mark.integration


def make_call(core: Core, linkedid: str, caller: str, *, answered: str | None = None, end: str | None = None) -> int:
    """Create a call through the core services, optionally answered and/or ended."""
    now = core.clock.now()
    call_id = calls.call_started(core.uow(), linkedid=linkedid, caller_raw=caller, caller_name="<b>Петар</b>",
                                 did="051785266", at=now)  # fmt: skip
    if answered:
        calls.call_answered(core.uow(), linkedid=linkedid, extension=answered, leg=f"{linkedid}.2", at=now)
    if end:
        calls.call_ended(core.uow(), linkedid=linkedid, outcome=end, caller_raw=caller, cause="16", at=now)
    return call_id


def test_missed_call_list_and_detail(core: Core, client: FlaskClient, staff: Staff, clock: FixedClock) -> None:
    """missed=1 lists unanswered calls with their 07:00 due time; state= filters; detail shows legs."""
    clock.set(datetime(2026, 11, 6, 19, 0, tzinfo=UTC))  # Friday 20:00 local
    missed = make_call(core, "m.1", "065123456", end="missed")
    make_call(core, "a.1", "066111222", answered="201", end="answered")
    live = make_call(core, "r.1", "anonymous")
    body = client.get("/api/v1/calls?missed=1", headers=bearer(staff.operator)).get_json()
    assert [c["id"] for c in body["calls"]] == [missed]
    assert body["calls"][0]["callback_due_at"] == "2026-11-09T06:00:00+00:00"  # Monday 07:00 local
    assert body["calls"][0]["callback_due"] is False
    assert body["calls"][0]["caller"]["name"] == "<b>Петар</b>"  # data: the browser escapes it
    ringing = client.get("/api/v1/calls?state=ringing", headers=bearer(staff.operator)).get_json()
    assert [c["id"] for c in ringing["calls"]] == [live]
    detail = client.get(f"/api/v1/calls/{missed}", headers=bearer(staff.supervisor))
    assert detail.status_code == 200 and detail.get_json()["linkedid"] == "m.1"
    assert client.get("/api/v1/calls/999999", headers=bearer(staff.operator)).status_code == 404
    assert client.get("/api/v1/calls?state=bogus", headers=bearer(staff.operator)).status_code == 400


def test_access_control(core: Core, client: FlaskClient, staff: Staff) -> None:
    """Anonymous → 401, department staff → 403 on every call endpoint."""
    call_id = make_call(core, "x.1", "065123456")
    assert client.get("/api/v1/calls").status_code == 401
    for method, path in (("get", "/api/v1/calls"), ("get", f"/api/v1/calls/{call_id}"),
                         ("post", f"/api/v1/calls/{call_id}/ticket"), ("post", f"/api/v1/calls/{call_id}/callback")):  # fmt: skip
        response = getattr(client, method)(path, headers=bearer(staff.vodovod), json={})
        assert response.status_code == 403, path


def test_log_complaint_during_call_links_ticket(core: Core, client: FlaskClient, staff: Staff) -> None:
    """POST /calls/<id>/ticket creates a phone ticket with the caller's number, linked to the call."""
    call_id = make_call(core, "t.1", "065123456", answered="201")
    response = client.post(
        f"/api/v1/calls/{call_id}/ticket",
        headers=bearer(staff.operator),
        json={"description": "Нема воде у улици Вука Караџића", "place": "Котор Варош"},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["created"] is True and body["call"]["ticket_code"] == body["ticket_code"]
    with core.session_factory() as db:
        ticket = db.scalars(sa.select(Ticket).where(Ticket.code == body["ticket_code"])).one()
        call = db.get_one(Call, call_id)
    assert ticket.channel == "phone"
    assert ticket.citizen is not None and ticket.citizen.phone_e164 == "+38765123456"
    assert call.ticket_id == ticket.id


def test_link_existing_ticket_by_code(core: Core, client: FlaskClient, staff: Staff) -> None:
    """Passing only ticket_code links the call to a known ticket; an unknown code is 404."""
    known = receive(core.uow(), ReceiveReport(channel=Channel.SMS, text="Рупа на путу", phone="065123456"))
    call_id = make_call(core, "l.1", "065123456", answered="201")
    response = client.post(f"/api/v1/calls/{call_id}/ticket", headers=bearer(staff.operator),
                           json={"ticket_code": known.ticket_code})  # fmt: skip
    assert response.status_code == 200
    assert response.get_json()["call"]["ticket_code"] == known.ticket_code
    missing = client.post(f"/api/v1/calls/{call_id}/ticket", headers=bearer(staff.operator),
                          json={"ticket_code": "48-2026-999999"})  # fmt: skip
    assert missing.status_code == 404
    bad = client.post(f"/api/v1/calls/{call_id}/ticket", headers=bearer(staff.operator), json={"description": 5})
    assert bad.status_code == 400


def test_callback_queues_one_originate(core: Core, client: FlaskClient, staff: Staff) -> None:
    """POST /calls/<id>/callback writes one originate outbox item; a second click while pending is 409."""
    call_id = make_call(core, "c.1", "065123456", end="missed")
    first = client.post(f"/api/v1/calls/{call_id}/callback", headers=bearer(staff.operator))
    assert first.status_code == 202
    queued = first.get_json()
    assert queued["channel_id"].startswith(f"s48cb-{call_id}-")
    again = client.post(f"/api/v1/calls/{call_id}/callback", headers=bearer(staff.operator))
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "in_progress")
    with core.session_factory() as db:
        (item,) = db.scalars(sa.select(OutboxItem).where(OutboxItem.kind == "originate")).all()
    assert item.payload["extension"] == "201" and item.payload["number"] == "+38765123456"
    anonymous = make_call(core, "c.2", "anonymous", end="abandoned")
    refused = client.post(f"/api/v1/calls/{anonymous}/callback", headers=bearer(staff.operator))
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (409, "no_number")
    no_ext = client.post(f"/api/v1/calls/{call_id}/callback", headers=bearer(staff.supervisor))
    assert (no_ext.status_code, no_ext.get_json()["error"]["code"]) == (409, "no_extension")
