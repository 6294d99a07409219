"""The weekly overview of a seeded week: figures computed by hand, page, PDF and radio script."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from core.bootstrap import Core
from core.db.models import User
from core.messages import Channel
from core.services.weekly import compute_week, radio_script
from tests.fakes import FixedClock
from tests.integration.public.conftest import move, report

TZ = ZoneInfo("Europe/Sarajevo")
VODOVOD = "ЈП „Водовод“ Котор Варош"
KOMUNALNO = "Комунално предузеће Котор Варош"


def local(month: int, day: int, hour: int) -> datetime:
    """Return a local wall-clock time of 2026 as a UTC instant."""
    return datetime(2026, month, day, hour, tzinfo=TZ).astimezone(UTC)


def seed_week_45(core: Core, user: User) -> None:
    """Seed ISO week 2026-W45 (Mon 2 Nov – Sun 8 Nov) with tickets whose figures are known by hand."""
    t1 = report(core, "Пукла цијев", channel=Channel.PHONE, category="voda", at=local(11, 2, 10))
    move(core, user, t1, "in_progress", local(11, 2, 15), public="Екипа излази.")  # answered after 5 h
    move(core, user, t1, "resolved", local(11, 4, 10), public="Цијев поправљена.")  # resolved within 72 h
    t2 = report(core, "Не ради расвјета", channel=Channel.SMS, category="rasvjeta", at=local(11, 3, 10))
    move(core, user, t2, "in_progress", local(11, 5, 12), public="Прегледамо.")  # answered after 50 h: late
    report(core, "Смеће", channel=Channel.EMAIL, category="smece", at=local(11, 4, 10))  # never answered; overdue
    report(core, "Молим информацију", channel=Channel.WEB, at=local(11, 8, 22))  # Sunday night: still pending
    report(core, "Нема струје", channel=Channel.PHONE, category="struja", at=local(11, 6, 9))  # referred: on time
    report(core, "Пукла цијев", channel=Channel.PHONE, category="voda", at=local(10, 30, 10))  # last week, overdue
    report(core, "Пукла цијев", channel=Channel.PHONE, category="voda", at=local(11, 9, 10))  # next week
    t8 = report(core, "Рупа на путу", channel=Channel.WALK_IN, category="putevi", at=local(10, 20, 10))
    move(core, user, t8, "resolved", local(11, 5, 10), public="Рупа закрпљена.")  # resolved this week


def test_week_figures(core: Core, clock: FixedClock, supervisor: User) -> None:
    """Received, on-time, pending, resolved and overdue match the hand count; small samples give no rate."""
    seed_week_45(core, supervisor)
    clock.set(local(11, 11, 12))
    with core.session_factory() as db:
        week = compute_week(db, 2026, 45, clock.now(), "Europe/Sarajevo")
    assert week.complete and week.start == local(11, 2, 0) and week.end == local(11, 9, 0)
    t = week.total
    assert (t.received, t.decided, t.on_time, t.late, t.pending, t.resolved, t.overdue) == (5, 4, 2, 2, 1, 2, 2)
    assert t.on_time_rate is None  # 4 decided < 5: counts only
    assert week.by_channel == {"phone": 2, "voicemail": 0, "sms": 1, "email": 1, "walk-in": 0, "web": 1, "open311": 0}
    water = week.by_organisation[VODOVOD]
    assert (water.received, water.on_time, water.resolved, water.overdue) == (1, 1, 1, 1)
    communal = week.by_organisation[KOMUNALNO]
    assert (communal.received, communal.decided, communal.on_time, communal.overdue) == (2, 2, 0, 1)
    assert week.by_organisation[""].pending == 1
    assert week.by_organisation["Одјељење за просторно уређење и стамбено-комуналне послове"].resolved == 1
    script = radio_script(week)
    for sentence in (
        "Преглед пријава грађана за седмицу од другог до осмог новембра.",
        "Примљено је пет пријава.",
        "Телефоном: двије пријаве.",
        "Двије пријаве добиле су одговор у року од четрдесет осам сати.",
        "Двије пријаве нису добиле одговор на вријеме.",
        "Једна пријава још чека одговор, а рок није истекао.",
        "Ове седмице ријешене су двије пријаве.",
        "Двије пријаве још нису ријешене, а рок за рјешавање је истекао.",
        f"{KOMUNALNO}: двије пријаве. Одговор у року: нула од двије.",
    ):
        assert sentence in script, sentence
    assert "одсто" not in script and not any(ch.isdigit() for ch in script.replace("48", ""))
    assert "Primljeno je pet prijava." in radio_script(week, "sr-Latn")


def test_rate_published_from_five(core: Core, clock: FixedClock, supervisor: User) -> None:
    """With five or more decided tickets the on-time share is published, in words on the radio."""
    codes = [report(core, "Пукла цијев", category="voda", at=local(11, 9 + i, 10)) for i in range(6)]
    move(core, supervisor, codes[0], "in_progress", local(11, 11, 22), public="Ради се.")  # after 60 h: late
    for i, code in enumerate(codes[1:], start=1):
        move(core, supervisor, code, "in_progress", local(11, 9 + i, 15), public="Ради се.")  # after 5 h
    clock.set(local(11, 20, 12))
    with core.session_factory() as db:
        week = compute_week(db, 2026, 46, clock.now(), "Europe/Sarajevo")
    assert (week.total.decided, week.total.on_time) == (6, 5)
    assert week.total.on_time_rate == pytest.approx(500 / 6)
    assert "То је осамдесет три одсто" in radio_script(week)


def test_week_page_pdf_and_radio(
    core: Core, clock: FixedClock, client: FlaskClient, supervisor: User, tmp_path: Path
) -> None:
    """The page, the PDF (text extracted with pdftotext) and the radio text carry the same figures."""
    seed_week_45(core, supervisor)
    clock.set(local(11, 11, 12))
    html = client.get("/sedmica/2026-W45?pismo=cir").get_data(as_text=True)
    assert "2 од 4" in html and VODOVOD.replace("„", "&#34;") not in html
    assert client.get("/sedmica/2026-W99").status_code == 404
    assert client.get("/sedmica").status_code == 200
    res = client.get("/sedmica/2026-W45.pdf?pismo=cir")
    assert res.status_code == 200 and res.mimetype == "application/pdf" and res.data.startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    pdf = tmp_path / "week.pdf"
    pdf.write_bytes(res.data)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True, text=True).stdout
    assert "2026-W45" in text and "Примљено" in text and "2 од 4" in text
    assert "Примљено је пет пријава." in text
    latin = client.get("/sedmica/2026-W45.pdf?pismo=lat").data
    pdf.write_bytes(latin)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True, text=True).stdout
    assert "Primljeno" in text
    radio = client.get("/sedmica/2026-W45/radio.txt?pismo=lat")
    assert radio.mimetype == "text/plain" and "Primljeno je pet prijava." in radio.get_data(as_text=True)
