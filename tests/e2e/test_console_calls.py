"""The live call screen in a real Chromium: a call rings through the loopback PBX and the telephony daemon."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from core.db.models import Call, Event, Ticket
from core.messages import Channel, ReceiveReport
from core.services.intake import receive
from tests.e2e.conftest import CODE, Browsing, Site, shot, wait_until

pytestmark = pytest.mark.e2e


def _report(site: Site, text: str, phone: str, **kw: Any) -> str:
    """Record an earlier report of this caller through intake; return its code."""
    cmd = ReceiveReport(channel=Channel.SMS, text=text, phone=phone, **kw)
    return receive(site.core.uow(), cmd, site.core.intake_policy).ticket_code


def test_ringing_call_pops_with_history_and_logs_a_complaint(site: Site, browsing: Browsing) -> None:
    """The pop shows the caller's history; a complaint typed in it becomes a ticket linked to the call."""
    operator = site.user("operator", extension="301")
    earlier = _report(site, "Не ради улична расвјета код цркве", "065 111 222")
    neighbour = _report(site, "Нема воде у Масловарама од јутрос", "065 999 000", place="Масловаре")
    page = browsing.login(operator)
    shot(page, "queues")
    call = site.pbx.script("065111222", "Марко Марковић")
    site.pbx.ring(call, "301")
    page.wait_for_selector("#pop:not([hidden])", timeout=10_000)
    assert page.inner_text("#pop-number") == "+38765111222"
    assert page.text_content("#pop-state") == "Звони"
    assert earlier in page.inner_text("#pop-open")
    assert page.evaluate("document.activeElement.id") == "pop-description"
    # A few keystrokes: type, let the category be suggested, Ctrl+Enter.
    page.keyboard.type("Пукла цијев код школе у Масловарама, вода тече улицом")
    page.wait_for_selector("#pop-suggestion:has-text('Водоснабдијевање')")
    assert page.input_value("#pop-category") == "voda"
    assert neighbour in page.inner_text("#pop-dups")  # same category and place, reported recently
    shot(page, "pop")
    site.pbx.answer(call, "301")
    page.wait_for_selector("#pop[data-state='answered']")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#pop-result[data-code]")
    code = page.get_attribute("#pop-result", "data-code")
    assert code is not None and CODE.fullmatch(code) and code not in (earlier, neighbour)
    shot(page, "pop-saved")
    with site.core.session_factory() as db:
        row = db.scalar(sa.select(Call).where(Call.linkedid == call.linkedid))
        assert row is not None and row.ticket_id is not None
        ticket = db.get(Ticket, row.ticket_id)
        assert ticket is not None and ticket.code == code and ticket.channel == "phone"
        assert ticket.category is not None and ticket.category.code == "voda"
    site.pbx.hang_up(call, "301")
    page.wait_for_selector("#pop[data-state='ended']")
    assert page.is_visible("#pop")  # the operator who answered keeps the form until they close it
    page.keyboard.press("Escape")
    assert page.is_hidden("#pop")


def test_add_to_existing_ticket_with_alt_number(site: Site, browsing: Browsing) -> None:
    """Alt+1 picks the caller's first open ticket; saving adds the call to it instead of a new ticket."""
    operator = site.user("operator", extension="302")
    earlier = _report(site, "Не ради улична расвјета у Ободнику", "065 222 333")
    page = browsing.login(operator)
    call = site.pbx.script("065222333", "Јована")
    site.pbx.ring(call, "302")
    page.wait_for_selector("#pop:not([hidden])", timeout=10_000)
    page.keyboard.press("Alt+1")
    assert earlier in page.inner_text("#pop-target")
    page.keyboard.type("Зове поново, и даље не ради")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#pop-result[data-code]")
    assert page.get_attribute("#pop-result", "data-code") == earlier
    site.pbx.answer(call, "302")
    site.pbx.hang_up(call, "302")


def test_ringall_loser_pop_closes(site: Site, browsing: Browsing) -> None:
    """Two operators ring at once; when one answers, the other's pop closes."""
    first = site.user("operator", extension="311")
    second = site.user("operator", extension="312")
    page1 = browsing.login(first)
    page2 = browsing.login(second)
    call = site.pbx.script("066444555", "Петар")
    site.pbx.ring(call, "311", "312")
    page1.wait_for_selector("#pop:not([hidden])", timeout=10_000)
    page2.wait_for_selector("#pop:not([hidden])", timeout=10_000)
    site.pbx.answer(call, "312")
    page1.wait_for_selector("#pop", state="hidden", timeout=10_000)
    assert page1.get_attribute("#pop", "data-state") in ("answered-elsewhere", "withdrawn")
    page2.wait_for_selector("#pop[data-state='answered']")
    assert page2.is_visible("#pop")
    shot(page2, "pop-answered")
    site.pbx.hang_up(call, "312")


def test_reconnect_resyncs_missed_events_once(site: Site, browsing: Browsing) -> None:
    """Events written while the socket is down arrive after reconnect, each exactly once."""
    operator = site.user("operator", extension="321")
    page = browsing.login(operator)
    page.evaluate("window.S48.socket.disconnect()")
    page.wait_for_selector("#link-socket[data-state='down']")
    with site.core.uow() as uow:
        for n in range(10):
            uow.emit("sms.new", {"n": n, "message_id": None})
        uow.commit()
    with site.core.session_factory() as db:
        seqs = list(
            db.scalars(sa.select(Event.seq).where(Event.type == "sms.new").order_by(Event.seq.desc()).limit(10))
        )
    # A ringing call for this phone while offline: the pop must open from the resync alone.
    call = site.pbx.script("065333444", "Миле")
    site.pbx.ring(call, "321")
    page.evaluate("window.S48.socket.connect()")
    page.wait_for_selector("#pop:not([hidden])", timeout=10_000)
    wait_until(lambda: set(seqs) <= set(page.evaluate("window.S48.log.map(e => e.seq)")), what="resync")
    # Some of these may also arrive live right after the reconnect; none may be applied twice.
    page.wait_for_timeout(500)
    logged = page.evaluate("window.S48.log.map(e => e.seq)")
    assert len(logged) == len(set(logged))
    assert logged == sorted(logged)
    site.pbx.miss(call)
    page.wait_for_selector("#pop", state="hidden", timeout=10_000)


def test_missed_call_callback_click(site: Site, browsing: Browsing) -> None:
    """A missed call appears in the callback queue; the button asks the PBX to ring the operator first."""
    operator = site.user("operator", extension="331")
    page = browsing.login(operator)
    call = site.pbx.script("065777888", "Драгана")
    site.pbx.ring(call, "331")
    page.wait_for_selector("#pop:not([hidden])", timeout=10_000)
    site.pbx.miss(call)
    page.wait_for_selector("#pop", state="hidden", timeout=10_000)
    with site.core.session_factory() as db:
        call_id = db.scalar(sa.select(Call.id).where(Call.linkedid == call.linkedid))
    button = f"#missed-calls [data-callback='{call_id}']"
    page.wait_for_selector(button, timeout=10_000)
    assert "+38765777888" in page.inner_text(f"#missed-calls tr[data-call='{call_id}']")
    before = site.pbx.server.count_actions("Originate")
    page.click(button)
    page.wait_for_selector(f"{button}[data-queued='1']")
    shot(page, "callbacks")
    # The daemon claims the click-to-call and sends Originate to the PBX (operator's phone first).
    wait_until(lambda: site.pbx.server.count_actions("Originate") > before, what="Originate sent to the PBX")
    sent = [a for a in site.pbx.server.actions if a.get("Action") == "Originate"][-1]
    assert "331" in (sent.get("Channel") or "")
