"""The console's own endpoints over the real app and database: CSRF, roles, audit, clusters, costs, stats."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from callcenter_ui.sockets import NAMESPACE, init_socketio
from callcenter_ui.views.console import IDLE_SECONDS
from core.bootstrap import Core
from core.db.models import AuditEvent, Call, KeywordRule, Ticket, User
from core.messages import Channel, ReceiveReport
from core.services import stats
from core.services.accounts import add_user
from core.services.intake import receive
from core.services.tickets import change_status
from tests.fakes import FixedClock

Login = Callable[..., tuple[FlaskClient, str]]


def report(core: Core, text: str, phone: str, category: str, **kw: Any) -> str:
    """Record an SMS report; return its code."""
    cmd = ReceiveReport(channel=Channel.SMS, text=text, phone=phone, category=category, **kw)
    return receive(core.uow(), cmd, core.intake_policy).ticket_code


def actions(core: Core, code: str) -> list[str]:
    """Return the audit actions recorded for a ticket, oldest first."""
    with core.session_factory() as db:
        return list(
            db.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_id == code).order_by(AuditEvent.id))
        )


def test_console_page_is_cyrillic_and_needs_login(app: Flask, login: Login) -> None:
    """Anonymous visitors go to the login form; staff get the shell in Serbian Cyrillic."""
    assert app.test_client().get("/console").headers["Location"].endswith("/login")
    client, _ = login("operator", extension="201")
    page = client.get("/console").text
    assert '<html lang="sr-Cyrl">' in page and "Пропуштени позиви" in page
    assert "<script>" not in page  # no inline code: the CSP allows only our static files


def test_posts_need_the_csrf_header(core: Core, login: Login) -> None:
    """A session POST without the token is refused; with the X-CSRFToken header it passes."""
    code = report(core, "Цури вода", "065 100 100", "voda")
    client, token = login("operator", extension="201")
    body = {"hours": "1", "amount": "10"}
    assert client.post(f"/console/api/tickets/{code}/costs", json=body).status_code == 400
    response = client.post(f"/console/api/tickets/{code}/costs", json=body, headers={"X-CSRFToken": token})
    assert response.status_code == 201
    assert response.json is not None and response.json["total_amount"] == "10.00"


def test_department_sees_masked_contact_and_reveal_is_audited(core: Core, login: Login) -> None:
    """Department staff see the number masked; showing it is a logged action; other organisations get 403."""
    ours = report(core, "Нема воде", "065 200 300", "voda")
    theirs = report(core, "Смеће", "065 200 301", "smece")
    client, token = login("department", organisation="vodovod")
    detail = client.get(f"/console/api/tickets/{ours}").json
    assert detail is not None and detail["citizen"]["phone"] == "•••300" and detail["citizen"]["masked"]
    revealed = client.post(f"/console/api/tickets/{ours}/reveal", headers={"X-CSRFToken": token}).json
    assert revealed == {"phone": "+38765200300", "email": None}
    assert actions(core, ours) == ["ticket.view", "ticket.reveal_contact"]
    assert client.get(f"/console/api/tickets/{theirs}").status_code == 403
    assert client.post(f"/console/api/tickets/{theirs}/reveal", headers={"X-CSRFToken": token}).status_code == 403
    assert actions(core, theirs) == []


def test_resolution_needs_a_public_note_and_answers_the_cluster(core: Core, login: Login) -> None:
    """Resolving the primary of three linked reports resolves all three and answers each reporter."""
    codes = [report(core, f"Нема воде у Вагану {n}", f"065 300 30{n}", "voda") for n in range(3)]
    client, token = login("department", organisation="vodovod")
    headers = {"X-CSRFToken": token}
    for member in codes[1:]:
        view = client.post(f"/console/api/tickets/{member}/cluster", json={"primary": codes[0]}, headers=headers).json
    assert view is not None and view["reporters"] == 3 and view["primary"] == codes[0]
    refused = client.post(f"/console/api/tickets/{codes[0]}/status", json={"status": "resolved"}, headers=headers)
    assert refused.status_code == 409 and refused.json is not None
    assert refused.json["error"]["code"] == "public_note_required"
    done = client.post(
        f"/console/api/tickets/{codes[0]}/status",
        json={"status": "resolved", "public_note": "Вода је пуштена.", "internal_note": "екипа 1"},
        headers=headers,
    )
    assert done.status_code == 200 and done.json is not None
    assert sorted(done.json["cluster_members_changed"]) == sorted(codes[1:])
    with core.session_factory() as db:
        assert set(db.scalars(sa.select(Ticket.status).where(Ticket.code.in_(codes)))) == {"resolved"}
    answered = [o for o in core.live.events if o["type"] == "ticket.updated"]  # type: ignore[attr-defined]
    assert {e["ticket"]["code"] for e in answered} >= set(codes)


def test_suggest_gives_category_organisation_place_and_duplicates(core: Core, login: Login) -> None:
    """Typing a description suggests category and organisation, and lists recent reports of the same place."""
    earlier = report(core, "Нема воде у Масловарама", "065 400 400", "voda", place="Масловаре")
    client, _ = login("operator", extension="201")
    data = client.get("/console/api/suggest", query_string={"text": "Pukla cijev u Maslovarama, nema vode"}).json
    assert data is not None
    assert data["category"]["code"] == "voda" and data["organisation"]["code"] == "vodovod"
    assert data["place"]["name"] == "Масловаре"
    assert [d["code"] for d in data["duplicates"]] == [earlier]


def test_admin_rule_takes_effect_at_once(core: Core, login: Login) -> None:
    """A keyword rule added by an admin changes the next suggestion (the classifier cache is dropped)."""
    client, token = login("admin")
    operator, _ = login("operator", extension="202")
    before = operator.get("/console/api/suggest", query_string={"text": "бехатон плоче попуцале"}).json
    assert before is not None and before["category"] is None
    page = client.get("/admin")
    assert page.status_code == 200 and "Категорије" in page.text
    response = client.post(
        "/admin/categories/putevi/rules", data={"pattern": "бехатон", "weight": "2", "csrf_token": token}
    )
    assert response.status_code == 302
    after = operator.get("/console/api/suggest", query_string={"text": "бехатон плоче попуцале"}).json
    assert after is not None and after["category"]["code"] == "putevi"
    with core.session_factory() as db:
        assert db.scalar(sa.select(AuditEvent.action).where(AuditEvent.action == "rule.create")) == "rule.create"
    assert operator.get("/admin").headers["Location"].endswith("/console")


def test_admin_changes_are_saved_audited_or_refused(core: Core, login: Login) -> None:
    """Every admin form commits and audits its change; a bad value is "not saved"; other staff are sent away."""
    client, token = login("admin")
    created = client.post(
        "/admin/users",
        data={
            "username": "operater9",
            "role": "operator",
            "password": "dovoljno-duga-lozinka",
            "extension": "209",
            "csrf_token": token,
        },  # fmt: skip
    )
    assert created.headers["Location"].endswith("/admin#users")
    bad_hours = client.post(
        "/admin/categories/putevi", data={"name": "Путеви", "resolve_hours": "дуго", "csrf_token": token}
    )
    assert bad_hours.headers["Location"].endswith("/admin#categories")
    client.post("/admin/categories/putevi/rules", data={"pattern": "шахта", "weight": "1", "csrf_token": token})
    with core.session_factory() as db:
        user = db.scalars(sa.select(User).where(User.username == "operater9")).one()
        assert user.extension == "209"
        rule_id = db.scalars(sa.select(KeywordRule.id).where(KeywordRule.pattern == "шахта")).one()
    client.post(f"/admin/rules/{rule_id}/delete", data={"csrf_token": token})
    with core.session_factory() as db:
        audited = db.execute(sa.select(AuditEvent.action, AuditEvent.object_id).order_by(AuditEvent.id)).all()
        assert db.get(KeywordRule, rule_id) is None
    assert [a for a, _ in audited if a.startswith(("user.", "category.", "rule."))] == [
        "user.create", "rule.create", "rule.delete"
    ]  # fmt: skip
    assert ("user.create", str(user.id)) in [(a, str(o)) for a, o in audited]
    operator, operator_token = login("operator", extension="201")
    refused = operator.post(f"/admin/users/{user.id}", data={"role": "admin", "csrf_token": operator_token})
    assert refused.headers["Location"].endswith("/console")
    with core.session_factory() as db:
        assert db.get(User, user.id).role == "operator"  # type: ignore[union-attr]


def test_language_switch_is_remembered_and_never_redirects_away(app: Flask, login: Login) -> None:
    """The switch stores User.language; ``next`` may only name our own screens."""
    client, token = login("operator", extension="201")
    response = client.post(
        "/console/language", data={"language": "sr-Latn", "next": "https://evil.example/", "csrf_token": token}
    )
    assert response.headers["Location"] == "/console"
    page = client.get("/console").text
    assert '<html lang="sr-Latn">' in page and "Propušteni pozivi" in page
    client.post("/console/language", data={"language": "en", "csrf_token": token})
    assert "Missed calls and callbacks" in client.get("/console").text


def test_idle_session_ends(app: Flask, login: Login) -> None:
    """A session unused for longer than the idle limit is cleared: the API answers 401."""
    client, _ = login("operator", extension="201")
    assert client.get("/console/api/deadlines").status_code == 200
    with client.session_transaction() as session:
        session["seen"] = int(time.time()) - IDLE_SECONDS - 5
    assert client.get("/console/api/deadlines").status_code == 401
    assert client.get("/console").headers["Location"].endswith("/login")


def test_socket_refuses_anonymous_connections(app: Flask, core: Core, login: Login) -> None:
    """The /operator namespace accepts a logged-in session and refuses a visitor without one."""
    socketio = init_socketio(app, core)
    anonymous = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=app.test_client())
    assert not anonymous.is_connected(NAMESPACE)
    client, _ = login("operator", extension="201")
    staff = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=client)
    assert staff.is_connected(NAMESPACE)
    staff.disconnect(namespace=NAMESPACE)


def test_supervisor_figures_follow_the_minimum_sample_rule(core: Core, clock: FixedClock, login: Login) -> None:
    """No on-time percentage below five decided tickets; calls today count answered, missed and the wait."""
    with core.session_factory() as db:
        supervisor = add_user(db, "sef", "supervisor", "lozinka-sefa", clock.now())
        db.commit()
        db.refresh(supervisor)
        db.expunge(supervisor)
    codes = [report(core, f"Рупа на путу {n}", f"065 500 50{n}", "putevi") for n in range(5)]
    for code in codes[:4]:
        change_status(core.uow(), code, "in_progress", supervisor, public_note="Примљено, излазимо на терен.")
    with core.session_factory() as db:
        now = clock.now()
        db.add_all([
            Call(linkedid="a1", state="ended", outcome="answered", started_at=now - timedelta(minutes=5),
                 answered_at=now - timedelta(minutes=5) + timedelta(seconds=12), ended_at=now),
            Call(linkedid="a2", state="ended", outcome="missed", started_at=now - timedelta(minutes=3), ended_at=now),
        ])  # fmt: skip
        db.commit()
        figures = stats.supervisor_overview(db, now=now, timezone="Europe/Sarajevo")
    [prostorno] = [o for o in figures["on_time"] if o["organisation"] == "prostorno"]
    assert prostorno["decided"] == 4 and prostorno["rate"] is None
    assert figures["calls_today"]["answered"] == 1 and figures["calls_today"]["missed"] == 1
    assert figures["calls_today"]["average_wait_s"] == 12.0
    change_status(core.uow(), codes[4], "in_progress", supervisor, public_note="Излазимо на терен.")
    with core.session_factory() as db:
        [prostorno] = [o for o in stats.on_time_rates(db, now=clock.now()) if o["organisation"] == "prostorno"]
    assert prostorno["rate"] == 100.0
    client, _ = login("supervisor", username="nadzor")
    assert client.get("/console/api/supervisor").status_code == 200
    operator, _ = login("operator", extension="203")
    assert operator.get("/console/api/supervisor").status_code == 403
    assert operator.get("/console/api/audit").status_code == 403


def test_catalogues_are_complete_and_up_to_date() -> None:
    """Every console string has a Serbian Cyrillic translation and the Latin/English files are regenerated."""
    from callcenter_ui.translations import make_catalogues

    assert make_catalogues.missing() == []
    assert make_catalogues.main(["--check"]) == 0


@pytest.mark.parametrize("payload", ['"><svg onload=alert(1)>', "<script>alert(1)</script>"])
def test_ticket_text_is_json_not_markup(core: Core, login: Login, payload: str) -> None:
    """The console API returns caller text as JSON strings; the page shell never embeds it."""
    code = report(core, payload, "065 600 600", "ostalo")
    client, _ = login("operator", extension="201")
    detail = client.get(f"/console/api/tickets/{code}").json
    assert detail is not None and detail["description"] == payload
    assert payload not in client.get("/console").text
