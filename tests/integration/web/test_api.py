"""The JSON API against a real database: tickets, status changes, events, roles, errors."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from core.bootstrap import Core
from core.db.models import OutboxItem
from tests.fakes import FixedClock
from tests.integration.web.conftest import Staff, bearer


def create(client: FlaskClient, token: str, **body: object) -> dict[str, object]:
    """POST a ticket and return the JSON."""
    payload: dict[str, object] = {
        "channel": "phone",
        "description": "Пукла цијев у Масловарама",
        "phone": "065 435 411",
    }
    payload.update(body)
    response = client.post("/api/v1/tickets", json=payload, headers=bearer(token))
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    data = response.get_json()
    assert isinstance(data, dict)
    return data


def test_create_ticket_returns_code_routing_and_deadlines(client: FlaskClient, staff: Staff, clock: FixedClock) -> None:
    """201 with code, status, channel, category, organisation, citizen E.164 and UTC deadlines."""
    data = create(client, staff.operator)
    assert re.fullmatch(r"48-\d{4}-\d{6}", str(data["code"]))
    assert data["status"] == "assigned"
    assert data["channel"] == "phone"
    assert data["category"] == {"code": "voda", "name": data["category"]["name"]}  # type: ignore[index]
    assert data["organisation"]["code"] == "vodovod"  # type: ignore[index]
    assert data["citizen"]["phone"] == "+38765435411"  # type: ignore[index]
    created = datetime.fromisoformat(str(data["created_at"]))
    assert datetime.fromisoformat(str(data["answer_due"])) - created == timedelta(hours=48)
    assert datetime.fromisoformat(str(data["resolve_due"])) - created == timedelta(hours=72)
    assert str(data["answer_due"]).endswith("+00:00")


def test_idempotency_key_returns_the_same_ticket(client: FlaskClient, staff: Staff) -> None:
    """A retried POST with the same Idempotency-Key gives the first ticket, 200 not 201."""
    headers = {**bearer(staff.operator), "Idempotency-Key": "abc-1"}
    body = {"channel": "web", "description": "smeće nije odvezeno"}
    first = client.post("/api/v1/tickets", json=body, headers=headers)
    again = client.post("/api/v1/tickets", json=body, headers=headers)
    assert first.status_code == 201
    assert again.status_code == 200
    assert first.get_json()["code"] == again.get_json()["code"]


def test_validation_errors_are_clear(client: FlaskClient, staff: Staff) -> None:
    """Bad channel, missing description, unknown fields and non-text values are 400 with a message."""
    h = bearer(staff.operator)
    cases = [
        {"channel": "fax", "description": "x"},
        {"channel": "phone"},
        {"channel": "phone", "description": "x", "is_admin": True},
        {"channel": "phone", "description": ["x"]},
    ]
    for body in cases:
        response = client.post("/api/v1/tickets", json=body, headers=h)
        assert response.status_code == 400
        assert response.get_json()["error"]["message"]
    assert client.post("/api/v1/tickets", data="not json", headers=h).status_code == 400


def test_too_large_report_is_413(client: FlaskClient, staff: Staff, app: object) -> None:
    """Over a million characters is refused with 413, before anything is stored."""
    big = "ж" * 1_000_001
    response = client.post(
        "/api/v1/tickets", json={"channel": "web", "description": big}, headers=bearer(staff.operator)
    )
    assert response.status_code == 413


def test_list_filters_and_cross_script_search(client: FlaskClient, staff: Staff) -> None:
    """Filter by phone (any spelling), status, channel; search matches Cyrillic with Latin."""
    create(client, staff.operator)
    create(client, staff.operator, channel="sms", description="не ради расвјета у Варјачама", phone="066 111 222")
    h = bearer(staff.operator)
    by_phone = client.get("/api/v1/tickets?phone=%2B387%2065%20435%20411", headers=h).get_json()
    assert [t["category"] for t in by_phone["tickets"]] == ["voda"]
    assert client.get("/api/v1/tickets?channel=sms", headers=h).get_json()["count"] == 1
    assert client.get("/api/v1/tickets?status=assigned", headers=h).get_json()["count"] == 2
    found = client.get("/api/v1/tickets?q=rasvjeta", headers=h).get_json()["tickets"]
    assert [t["category"] for t in found] == ["rasvjeta"]
    assert client.get("/api/v1/tickets?q=%25", headers=h).get_json()["count"] == 0  # LIKE wildcard is literal


def test_status_change_records_who_when_and_both_notes(client: FlaskClient, staff: Staff, core: Core) -> None:
    """The department answers with public and internal notes; the citizen is notified via the outbox."""
    code = create(client, staff.operator)["code"]
    response = client.post(
        f"/api/v1/tickets/{code}/status",
        json={"status": "in_progress", "public_note": "Екипа је на терену.", "internal_note": "Бригада 2"},
        headers=bearer(staff.vodovod),
    )
    assert response.status_code == 200
    data = response.get_json()
    assert data["answered_at"] is not None
    last = data["history"][-1]
    assert last["actor"] == "vodovod"
    assert (last["public_note"], last["internal_note"]) == ("Екипа је на терену.", "Бригада 2")
    with core.session_factory() as session:
        bodies = [
            p["body"] for p in session.scalars(sa.select(OutboxItem.payload).where(OutboxItem.kind == "notify_citizen"))
        ]
    assert any("Екипа је на терену." in b for b in bodies)


def test_resolution_without_public_note_is_409(client: FlaskClient, staff: Staff) -> None:
    """Resolving needs a public note for the citizen."""
    code = create(client, staff.operator)["code"]
    response = client.post(f"/api/v1/tickets/{code}/status", json={"status": "resolved"}, headers=bearer(staff.vodovod))
    assert response.status_code == 409


def test_department_sees_only_its_own_tickets(client: FlaskClient, staff: Staff) -> None:
    """Another organisation's staff get 403 on read and write, and an empty list."""
    code = create(client, staff.operator)["code"]
    assert client.get(f"/api/v1/tickets/{code}", headers=bearer(staff.komunalno)).status_code == 403
    assert (
        client.post(
            f"/api/v1/tickets/{code}/status", json={"status": "in_progress"}, headers=bearer(staff.komunalno)
        ).status_code
        == 403
    )
    assert client.get("/api/v1/tickets", headers=bearer(staff.komunalno)).get_json()["count"] == 0
    assert client.get(f"/api/v1/tickets/{code}", headers=bearer(staff.vodovod)).status_code == 200
    assert client.post("/api/v1/tickets", json={"channel": "web", "description": "x"},
                       headers=bearer(staff.vodovod)).status_code == 403  # fmt: skip


def test_anonymous_and_bad_tokens_are_401(client: FlaskClient) -> None:
    """No credentials, a forged token or a garbage header give 401."""
    assert client.get("/api/v1/tickets").status_code == 401
    assert client.get("/api/v1/tickets", headers=bearer("s48_forged")).status_code == 401
    assert client.get("/api/v1/tickets", headers={"Authorization": "Bearer " + "x" * 5000}).status_code == 401


def test_events_after_cursor_in_order(client: FlaskClient, staff: Staff) -> None:
    """Events come back strictly after the cursor, in seq order, with type and UTC time."""
    h = bearer(staff.operator)
    start = client.get("/api/v1/events", headers=h).get_json()["last_seq"]
    codes = [create(client, staff.operator, phone=f"06611122{i}", description=f"rupa {i}")["code"] for i in range(3)]
    data = client.get(f"/api/v1/events?after={start}", headers=h).get_json()
    seqs = [e["seq"] for e in data["events"]]
    assert seqs == sorted(seqs) and len(seqs) == 3 and seqs[0] > start
    assert [e["ticket"]["code"] for e in data["events"]] == codes
    assert all(e["type"] == "ticket.created" and e["at"].endswith("+00:00") for e in data["events"])
    tail = client.get(f"/api/v1/events?after={seqs[1]}", headers=h).get_json()["events"]
    assert [e["seq"] for e in tail] == [seqs[2]]


def test_history_for_screen_pop(client: FlaskClient, staff: Staff) -> None:
    """A caller's history shows their open tickets, whatever spelling of the number is asked."""
    code = create(client, staff.operator, name="Марко Марковић")["code"]
    data = client.get("/api/v1/history?phone=065435411", headers=bearer(staff.operator)).get_json()
    assert data["citizen"]["name"] == "Марко Марковић"
    assert [t["code"] for t in data["open_tickets"]] == [code]
    assert data["recent_messages"][0]["channel"] == "phone"
    assert client.get("/api/v1/history?phone=065435411", headers=bearer(staff.vodovod)).status_code == 403


def test_session_login_and_csrf(client: FlaskClient, staff: Staff) -> None:
    """Form login works; a session-authenticated POST without the CSRF token is refused."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    bad = client.post("/login", data={"username": "operater", "password": "wrong", "csrf_token": token})
    assert bad.status_code == 401
    ok = client.post("/login", data={"username": "operater", "password": "lozinka-operatera", "csrf_token": token})
    assert ok.status_code == 302
    assert client.get("/api/v1/tickets").status_code == 200
    forged = client.post("/api/v1/tickets", json={"channel": "web", "description": "x"})
    assert forged.status_code == 400
    assert forged.get_json()["error"]["code"] == "csrf"
    stale = client.post(
        "/api/v1/tickets", json={"channel": "web", "description": "рупа"}, headers={"X-CSRFToken": token}
    )
    assert stale.status_code == 400  # login started a new session: the pre-login token is void
    relogin_page = client.get("/login").get_data(as_text=True)  # any form page carries the new session's token
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', relogin_page).group(1)  # type: ignore[union-attr]
    allowed = client.post(
        "/api/v1/tickets", json={"channel": "web", "description": "рупа"}, headers={"X-CSRFToken": fresh}
    )
    assert allowed.status_code == 201
    listed = client.get("/api/v1/tickets").get_json()["tickets"]
    assert allowed.get_json()["code"] in [t["code"] for t in listed]


def test_login_without_csrf_token_is_refused(client: FlaskClient, staff: Staff) -> None:
    """A cross-site login form post fails."""
    response = client.post("/login", data={"username": "operater", "password": "lozinka-operatera"})
    assert response.status_code == 400


def test_openapi_health_ready_metrics(client: FlaskClient) -> None:
    """The OpenAPI document lists our paths; health, readiness and metrics answer."""
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert {"/tickets", "/tickets/{code}", "/tickets/{code}/status", "/events", "/history"} <= set(doc["paths"])
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["components"] == {
        "database": "ok", "broker": "ok", "ami": "not configured", "modem": "not configured",
        "transcription": "not configured", "mail": "not configured",
    }  # fmt: skip
    assert "s48_tickets" in client.get("/metrics").get_data(as_text=True)


def test_security_headers_on_pages(client: FlaskClient) -> None:
    """Pages forbid framing and sniffing and carry a CSP."""
    response = client.get("/")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "051/785 266" in response.get_data(as_text=True)


def test_openapi_lists_every_api_route(app: Flask) -> None:
    """Every /api/v1 route the app serves is described in the OpenAPI document (it stays true)."""
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    described = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule == "/api/v1/openapi.json":
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        served |= {(path, m.lower()) for m in rule.methods or () if m in ("GET", "POST")}
    assert served - described == set()


def test_operator_resyncs_only_own_extension_pops(client: FlaskClient, staff: Staff, core: Core) -> None:
    """call.ringing for phone 202 is not replayed to the operator at 201; shared events are."""
    with core.uow() as uow:
        uow.emit("call.ringing", {"call_id": 1, "extension": "201"}, audience="ext:201")
        uow.emit("call.ringing", {"call_id": 2, "extension": "202"}, audience="ext:202")
        uow.emit("call.answered", {"call_id": 2}, audience="operators")
        uow.commit()
    mine = client.get("/api/v1/events?after=0", headers=bearer(staff.operator)).get_json()
    assert [(e["type"], e["call_id"]) for e in mine["events"]] == [("call.ringing", 1), ("call.answered", 2)]
    everything = client.get("/api/v1/events?after=0", headers=bearer(staff.supervisor)).get_json()
    assert len(everything["events"]) == 3
    assert mine["last_seq"] == everything["last_seq"]
