"""The portal and tracking pages: what the public sees, in both scripts and English."""

from __future__ import annotations

from flask.testing import FlaskClient

from core.bootstrap import Core
from core.db.models import User
from core.messages import Channel
from tests.fakes import FixedClock
from tests.integration.public.conftest import move, report


def test_tracking_page_shows_trail(core: Core, client: FlaskClient, supervisor: User) -> None:
    """A citizen with a code sees category, organisation, coarse place, public notes and deadlines."""
    code = report(core, "Нема воде у Масловарама", category="voda", place="Улица Светог Саве 12")
    move(
        core,
        supervisor,
        code,
        "in_progress",
        core.clock.now(),
        public="Екипа је на терену.",
        internal="тајна интерна биљешка",
    )
    res = client.get(f"/t/{code}")
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    assert "Екипа је на терену." in html
    assert "тајна интерна" not in html
    assert "Улица Светог Саве" in html and "Саве 12" not in html
    assert "Водовод" in html
    assert res.headers["Cache-Control"] == "no-store"
    assert res.headers["Referrer-Policy"] == "no-referrer"
    latin = client.get(f"/t/{code}?pismo=lat").get_data(as_text=True)
    assert "Ekipa je na terenu." in latin and 'lang="sr-Latn"' in latin


def test_portal_lists_recent_without_description(core: Core, client: FlaskClient) -> None:
    """The portal lists requests by category, coarse place and status, never the citizen's words."""
    code = report(core, "Сијалица не ради код зграде, тајни опис", category="rasvjeta", place="Котор Варош")
    for path in ("/portal", "/portal?pismo=lat", "/portal?pismo=en"):
        html = client.get(path).get_data(as_text=True)
        assert code in html
        assert "тајни опис" not in html and "tajni opis" not in html
    assert "Јавна расвјета" in client.get("/portal?pismo=cir").get_data(as_text=True)
    assert "Javna rasvjeta" in client.get("/portal?pismo=lat").get_data(as_text=True)
    english = client.get("/portal?pismo=en").get_data(as_text=True)
    assert '<html lang="en">' in english and "Recent reports" in english


def test_portal_filters(core: Core, client: FlaskClient) -> None:
    """Category, status and settlement filters narrow the list."""
    water = report(core, "Пукла цијев", category="voda", place="Масловаре")
    light = report(core, "Не ради расвјета", category="rasvjeta", place="Шипраге")
    html = client.get("/portal?kategorija=voda").get_data(as_text=True)
    assert water in html and light not in html
    html = client.get("/portal?status=closed").get_data(as_text=True)
    assert water not in html and light not in html
    html = client.get("/portal?status=assigned").get_data(as_text=True)
    assert water in html and light in html
    portal = client.get("/portal").get_data(as_text=True)
    assert "Шипраге" in portal
    import re

    match = re.search(r'<option value="(\d+)">Шипраге</option>', portal)
    assert match
    html = client.get(f"/portal?mjesto={match.group(1)}").get_data(as_text=True)
    assert light in html and water not in html
    assert client.get("/portal?mjesto=abc&status=<x>").status_code == 200


def test_language_cookie_is_remembered(core: Core, client: FlaskClient) -> None:
    """Choosing Latin once keeps Latin on the next pages, without JavaScript."""
    client.get("/portal?pismo=lat")
    assert 'lang="sr-Latn"' in client.get("/portal").get_data(as_text=True)
    client.get("/portal?pismo=cir")
    assert 'lang="sr-Cyrl"' in client.get("/portal").get_data(as_text=True)


def test_search_by_code_redirects(core: Core, client: FlaskClient) -> None:
    """A code typed with spaces or a short number finds the tracking page."""
    code = report(core, "Пукла цијев", category="voda")
    res = client.get("/trazi", query_string={"kod": code.replace("-", " ")})
    assert res.status_code == 303 and res.headers["Location"].endswith(f"/t/{code}")
    assert client.get("/trazi?kod=nista").status_code == 404


def test_unknown_code_is_404_and_guessing_is_limited(core: Core, client: FlaskClient) -> None:
    """Unknown codes answer 404; after many misses the address gets 429 even for real codes."""
    code = report(core, "Пукла цијев", category="voda")
    res = client.get("/t/48-2026-999999")
    assert res.status_code == 404 and res.headers["Cache-Control"] == "no-store"
    assert client.get("/t/garbage").status_code == 404
    for _ in range(30):
        client.get("/t/48-2026-888888")
    res = client.get(f"/t/{code}")
    assert res.status_code == 429 and "Retry-After" in res.headers


def test_untriaged_ticket_is_only_received(core: Core, client: FlaskClient) -> None:
    """A ticket without a category shows only "received", with no category or organisation."""
    code = report(core, "Молим вас информацију о нечему")
    html = client.get(f"/t/{code}").get_data(as_text=True)
    assert "Примљена" in html and "Прослијеђена</dt>" not in html


def test_sweeper_steps_are_not_public(core: Core, clock: FixedClock, client: FlaskClient) -> None:
    """The SLA sweeper's warnings and breaches are internal; only the deadline verdict shows."""
    from core.services.sla import sweep

    code = report(core, "Пукла цијев", category="voda")
    clock.advance(hours=49)
    sweep(core.uow(), core.clock.now(), core.sla_policy)
    html = client.get(f"/t/{code}").get_data(as_text=True)
    assert "Упозорење" not in html and "Ескалација" not in html and "пробијен.</p>" not in html
    assert "✘" in html  # the 48-hour answer was missed, and the page says so


def test_cluster_and_transcript(core: Core, client: FlaskClient) -> None:
    """Clustered tickets show how many reported it; a transcript shows only redacted and published."""
    import sqlalchemy as sa

    from core.db.models import Ticket, Voicemail

    first = report(core, "Нема воде", category="voda", channel=Channel.VOICEMAIL)
    second = report(core, "Нема воде ни код нас", category="voda")
    third = report(core, "И код нас нема воде", category="voda")
    with core.session_factory() as db:
        root = db.scalar(sa.select(Ticket).where(Ticket.code == first))
        assert root is not None
        for code in (second, third):
            t = db.scalar(sa.select(Ticket).where(Ticket.code == code))
            assert t is not None
            t.cluster_id = root.id
        db.add(
            Voicemail(
                mailbox="1000", msg_key="m1", ticket_id=root.id, received_at=core.clock.now(),
                transcript_text="Нема воде, зове Јован", transcript_redacted="Нема воде, зове [име]",
                publish_transcript=False,
            )
        )  # fmt: skip
        db.commit()
    html = client.get(f"/t/{second}").get_data(as_text=True)
    assert "грађана: 3" in html
    html = client.get(f"/t/{first}").get_data(as_text=True)
    assert "[име]" not in html and "Јован" not in html
    with core.session_factory() as db:
        vm = db.scalar(sa.select(Voicemail))
        assert vm is not None
        vm.publish_transcript = True
        db.commit()
    html = client.get(f"/t/{first}").get_data(as_text=True)
    assert "Нема воде, зове [име]" in html and "Јован" not in html


def test_public_note_is_escaped(core: Core, client: FlaskClient, supervisor: User) -> None:
    """A note with markup renders inert on the page."""
    code = report(core, "Пукла цијев", category="voda")
    move(
        core,
        supervisor,
        code,
        "in_progress",
        core.clock.now(),
        public='<script>alert("x")</script><img src=x onerror=y>',
    )
    html = client.get(f"/t/{code}").get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html
