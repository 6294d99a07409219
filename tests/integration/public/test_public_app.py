"""The public node's app (``create_app(public_only=True)``) and what every response carries.

The public node (``sistem48 public``) faces the internet: it must serve the portal, tracking pages and
Open311 exactly as the operators' web node does, and nothing a member of staff logs in to.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from flask import Flask
from itsdangerous import BadSignature

from callcenter_ui import SECURITY_HEADERS, create_app
from core.bootstrap import Core
from tests.integration.public.conftest import report

CONSOLE = "http://konzola.example"


@pytest.fixture
def public_app(core: Core) -> Flask:
    """The public node's app, with the staff console somewhere else."""
    settings = dataclasses.replace(core.settings, console_url=CONSOLE)
    flask_app = create_app(settings, core=dataclasses.replace(core, settings=settings), public_only=True)
    flask_app.testing = True
    return flask_app


def test_public_node_serves_the_public_face(core: Core, public_app: Flask, partner_token: str) -> None:
    """Portal, tracking page, feed, Open311 read and partner post all work on the public node."""
    code = report(core, "Пукла цијев у Шибовима, вода тече низ улицу.", category="voda")
    client = public_app.test_client()

    page = client.get(f"/t/{code}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert code in html
    assert f'href="{CONSOLE}/login"' in html  # the staff link leads to the console, not to a 404 here

    assert client.get("/").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/feed.atom").status_code == 200
    services = client.get("/open311/v2/services.json")
    assert services.status_code == 200
    assert any(s["service_code"] == "voda" for s in json.loads(services.get_data(as_text=True)))
    one = client.get(f"/open311/v2/requests/{code}.json")
    assert one.status_code == 200
    assert json.loads(one.get_data(as_text=True))[0]["service_request_id"] == code

    # Partners post to the public node with their api_key (no cookie, so no CSRF token either).
    posted = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": partner_token,
            "service_code": "rasvjeta",
            "description": "Не ради сијалица у Вагану.",
            "address_string": "Ваган",
        },  # fmt: skip
    )
    assert posted.status_code == 200, posted.get_data(as_text=True)
    new_id = json.loads(posted.get_data(as_text=True))[0]["service_request_id"]
    assert client.get(f"/t/{new_id}").status_code == 200


@pytest.mark.parametrize(
    "path", ["/console", "/login", "/api/v1/tickets", "/api/v1/openapi.json", "/admin", "/readyz", "/metrics"]
)
def test_public_node_has_no_staff_pages(public_app: Flask, path: str) -> None:
    """Nothing a member of staff logs in to, nor the operations endpoints, is reachable from the internet."""
    assert public_app.test_client().get(path).status_code == 404


def test_security_headers_are_set_once_on_every_kind_of_response(core: Core, app: Flask, public_app: Flask) -> None:
    """Pages, not-found pages, static files and JSON carry each security header exactly once."""
    code = report(core, "Смеће није одвезено у Грабовици.", category="smece")
    for flask_app in (app, public_app):
        client = flask_app.test_client()
        for path in (f"/t/{code}", "/t/48-2026-999999", "/static/public/portal.css", "/open311/v2/services.json"):
            response = client.get(path)
            response.close()  # a static file answer holds the file open until closed
            assert response.status_code in (200, 404), path
            for name, value in SECURITY_HEADERS:
                assert response.headers.getlist(name) == [value], (path, name)


def test_session_signer_is_built_once_and_follows_the_key(app: Flask) -> None:
    """The cached signer is reused, and a rotated key (with or without fallbacks) is honoured at once."""
    interface = app.session_interface
    first = interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert first is not None
    assert interface.get_signing_serializer(app) is first  # type: ignore[attr-defined]
    cookie = first.dumps({"user": "operater"})

    app.secret_key = "a-new-key-after-rotation"
    rotated = interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert rotated is not None
    assert rotated is not first
    with pytest.raises(BadSignature):
        rotated.loads(cookie)  # a cookie signed with the old key is refused once the key changes

    app.config["SECRET_KEY_FALLBACKS"] = [first.secret_keys[-1]]
    assert interface.get_signing_serializer(app).loads(cookie) == {"user": "operater"}  # type: ignore[attr-defined]
