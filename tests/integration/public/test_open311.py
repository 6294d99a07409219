"""Open311 GeoReport v2: every endpoint, both formats, and the error bodies, as an outside client sees them."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from core.bootstrap import Core
from core.db.models import InboundItem, Ticket, User
from tests.integration.public.conftest import move, report

FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
}  # fmt: skip


def parse_xml(data: bytes) -> ET.Element:
    """Parse XML produced by our own server under test."""
    return ET.fromstring(data)  # noqa: S314  trusted input: the app's own response in a test


def _json(client: FlaskClient, path: str, **kwargs: object) -> tuple[int, Any]:
    """GET a JSON endpoint and return (status, body)."""
    res = client.get(path, **kwargs)
    assert res.mimetype == "application/json"
    return res.status_code, json.loads(res.get_data(as_text=True))


def _xml(client: FlaskClient, path: str) -> tuple[int, ET.Element]:
    """GET an XML endpoint and return (status, parsed root)."""
    res = client.get(path)
    assert res.mimetype == "application/xml"
    return res.status_code, parse_xml(res.get_data())


def _post(client: FlaskClient, fmt: str = "json", **form: str) -> tuple[int, bytes]:
    """POST a form to requests.<fmt>."""
    res = client.post(f"/open311/v2/requests.{fmt}", data=form)
    return res.status_code, res.get_data()


def test_services_json_and_xml(core: Core, client: FlaskClient) -> None:
    """The service list carries the spec's fields for every category."""
    status, body = _json(client, "/open311/v2/services.json")
    assert status == 200 and isinstance(body, list)
    water = next(s for s in body if s["service_code"] == "voda")
    assert set(water) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
    assert water["metadata"] is False and water["type"] == "realtime"
    assert "Водовод" in water["group"]
    status, root = _xml(client, "/open311/v2/services.xml")
    assert status == 200 and root.tag == "services"
    codes = [s.findtext("service_code") for s in root.findall("service")]
    assert "voda" in codes and len(codes) == len(body)
    assert root.findtext("service/metadata") == "false"


def test_service_definition(core: Core, client: FlaskClient) -> None:
    """A definition lists no attributes; an unknown code is a 404 error body."""
    status, body = _json(client, "/open311/v2/services/voda.json")
    assert status == 200 and body == {"service_code": "voda", "attributes": []}
    status, root = _xml(client, "/open311/v2/services/voda.xml")
    assert root.tag == "service_definition" and root.findtext("service_code") == "voda"
    assert root.find("attributes") is not None
    status, body = _json(client, "/open311/v2/services/nema.json")
    assert status == 404 and body[0]["code"] == 404
    status, root = _xml(client, "/open311/v2/services/nema.xml")
    assert status == 404 and root.tag == "errors" and root.findtext("error/code") == "404"


def test_post_get_round_trip(core: Core, client: FlaskClient, partner_token: str) -> None:
    """A partner posts a request, gets its id, and reads it back; personal fields never come back."""
    status, raw = _post(
        client, api_key=partner_token, service_code="voda", lat="44.6213456", long="17.3712345",
        description="Пукла цијев", email="petar@example.com", phone="065 111 222", first_name="Петар", last_name="Перић",
    )  # fmt: skip
    assert status == 200, raw
    body = json.loads(raw)
    assert set(body[0]) == {"service_request_id", "service_notice", "account_id"}
    sid = body[0]["service_request_id"]
    assert body[0]["account_id"] is None
    status, rows = _json(client, f"/open311/v2/requests/{sid}.json")
    assert status == 200 and len(rows) == 1
    row = rows[0]
    assert set(row) == FIELDS
    assert row["status"] == "open" and row["service_code"] == "voda" and "Водовод" in row["agency_responsible"]
    assert row["lat"] == 44.621 and row["long"] == 17.371
    assert row["requested_datetime"].endswith("+01:00")
    text = json.dumps(rows, ensure_ascii=False)
    for secret in ("petar@example.com", "065", "111 222", "Петар", "Перић", "Пукла цијев"):
        assert secret not in text
    status, root = _xml(client, f"/open311/v2/requests/{sid}.xml")
    assert root.tag == "service_requests" and root.findtext("request/service_request_id") == sid
    first = root.find("request")
    assert first is not None and {c.tag for c in first} == FIELDS
    assert (
        parse_xml(
            _post(client, "xml", api_key=partner_token, service_code="rasvjeta", address_string="Улица Цара Душана")[1]
        ).tag
        == "service_requests"
    )


def test_post_xml_answer(core: Core, client: FlaskClient, partner_token: str) -> None:
    """The XML answer to a POST has service_request_id, service_notice and an empty account_id."""
    status, raw = _post(client, "xml", api_key=partner_token, service_code="smece", address_string="Шипраге")
    assert status == 200
    root = parse_xml(raw)
    request = root.find("request")
    assert request is not None and request.findtext("service_request_id", "").startswith("48-")
    assert request.find("account_id") is not None and not request.findtext("account_id")


@pytest.mark.parametrize(
    ("form", "status", "needle"),
    [
        ({}, 403, "api_key"),
        ({"api_key": "s48_wrong"}, 403, "api_key"),
        ({"api_key": "TOKEN"}, 400, "service_code"),
        ({"api_key": "TOKEN", "service_code": "nema", "address_string": "x"}, 404, "service_code"),
        ({"api_key": "TOKEN", "service_code": "voda"}, 400, "location"),
        ({"api_key": "TOKEN", "service_code": "voda", "lat": "44.6"}, 400, "together"),
        ({"api_key": "TOKEN", "service_code": "voda", "lat": "abc", "long": "17"}, 400, "lat"),
        ({"api_key": "TOKEN", "service_code": "voda", "lat": "95", "long": "17"}, 400, "range"),
        ({"api_key": "TOKEN", "service_code": "voda", "address_id": "7"}, 400, "address_id"),
        (
            {"api_key": "TOKEN", "service_code": "voda", "address_string": "x", "description": "д" * 4001},
            400,
            "description",
        ),
    ],
)
def test_post_errors(
    core: Core, client: FlaskClient, partner_token: str, form: dict[str, str], status: int, needle: str
) -> None:
    """Each bad POST gets its Open311 error body in both formats, and no ticket is created."""
    form = {k: (partner_token if v == "TOKEN" else v) for k, v in form.items()}
    for fmt in ("json", "xml"):
        code, raw = _post(client, fmt, **form)
        assert code == status
        if fmt == "json":
            body = json.loads(raw)
            assert body[0]["code"] == status and needle in body[0]["description"]
        else:
            root = parse_xml(raw)
            assert root.tag == "errors" and root.findtext("error/code") == str(status)
            assert needle in root.findtext("error/description", "")
    with core.session_factory() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 0
    # The client recovers: the same partner posting a valid request succeeds.
    assert _post(client, api_key=partner_token, service_code="voda", address_string="Масловаре")[0] == 200


def test_list_filters(core: Core, client: FlaskClient, supervisor: User) -> None:
    """GET requests filters by ids, service_code, dates and status; default is the last 90 days."""
    now = core.clock.now()
    old = report(core, "Пукла цијев", category="voda", at=now - timedelta(days=120))
    water = report(core, "Пукла цијев", category="voda", at=now - timedelta(days=2))
    light = report(core, "Расвјета", category="rasvjeta", at=now - timedelta(days=1))
    move(core, supervisor, light, "resolved", now, public="Замијењена сијалица.")
    _, rows = _json(client, "/open311/v2/requests.json")
    ids = [r["service_request_id"] for r in rows]
    assert ids == [light, water]  # newest first, the old one is outside 90 days
    closed = rows[0]
    assert closed["status"] == "closed" and closed["status_notes"] == "Замијењена сијалица."
    _, rows = _json(client, "/open311/v2/requests.json", query_string={"service_code": "voda"})
    assert [r["service_request_id"] for r in rows] == [water]
    _, rows = _json(client, "/open311/v2/requests.json", query_string={"service_code": "voda,rasvjeta"})
    assert [r["service_request_id"] for r in rows] == [light, water]
    _, rows = _json(client, "/open311/v2/requests.json", query_string={"status": "open"})
    assert [r["service_request_id"] for r in rows] == [water]
    _, rows = _json(client, "/open311/v2/requests.json", query_string={"status": "closed"})
    assert [r["service_request_id"] for r in rows] == [light]
    _, rows = _json(client, "/open311/v2/requests.json", query_string={"service_request_id": f"{old},{light},x"})
    assert sorted(r["service_request_id"] for r in rows) == sorted([old, light])
    start = (now - timedelta(days=130)).isoformat()
    end = (now - timedelta(days=100)).isoformat()
    _, rows = _json(client, "/open311/v2/requests.json", query_string={"start_date": start, "end_date": end})
    assert [r["service_request_id"] for r in rows] == [old]
    _, root = _xml(client, "/open311/v2/requests.xml?status=open,closed")
    assert [r.findtext("service_request_id") for r in root.findall("request")] == [light, water]


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2026-13-01"}, "end_date"),
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90 days"),
        ({"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "before"),
        ({"status": "pending"}, "status"),
    ],
)
def test_list_errors(core: Core, client: FlaskClient, query: dict[str, str], needle: str) -> None:
    """Bad filters are 400 error bodies in JSON and XML."""
    status, body = _json(client, "/open311/v2/requests.json", query_string=query)
    assert status == 400 and needle in body[0]["description"]
    res = client.get("/open311/v2/requests.xml", query_string=query)
    assert res.status_code == 400 and parse_xml(res.get_data()).findtext("error/code") == "400"


def test_unknown_request_token_and_format(core: Core, client: FlaskClient, partner_token: str) -> None:
    """Unknown ids and tokens are 404 error bodies; an unknown format is a JSON 404; tokens resolve."""
    status, body = _json(client, "/open311/v2/requests/48-2026-999999.json")
    assert status == 404 and body[0]["code"] == 404
    status, root = _xml(client, "/open311/v2/tokens/nope.xml")
    assert status == 404 and root.tag == "errors"
    status, body = _json(client, "/open311/v2/services.csv")
    assert status == 404
    _, raw = _post(client, api_key=partner_token, service_code="voda", address_string="Масловаре")
    sid = json.loads(raw)[0]["service_request_id"]
    with core.session_factory() as db:
        key = db.scalar(sa.select(InboundItem.source_key).where(InboundItem.channel == "open311"))
    assert key is not None
    token = key.removeprefix("open311:")
    status, body = _json(client, f"/open311/v2/tokens/{token}.json")
    assert status == 200 and body == [{"service_request_id": sid, "token": token}]
    status, root = _xml(client, f"/open311/v2/tokens/{token}.xml")
    assert root.findtext("request/service_request_id") == sid and root.findtext("request/token") == token


def test_discovery(core: Core, client: FlaskClient) -> None:
    """Discovery names the GeoReport v2 endpoint and its formats."""
    status, body = _json(client, "/open311/v2/discovery.json")
    assert status == 200 and body["endpoints"][0]["url"].endswith("/open311/v2")
    status, root = _xml(client, "/open311/v2/discovery.xml")
    assert root.findtext("endpoints/endpoint/specification") == "http://wiki.open311.org/GeoReport_v2"
