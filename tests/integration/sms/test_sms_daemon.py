"""The SMS daemon end to end: the real Gammu dummy driver, the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from core.bootstrap import Core
from core.db.models import Ticket
from core.services.health import component_states
from sms_modem.daemon import SmsDaemon

from .dummy_modem import DummyModem, inject_report
from .helpers import (
    CITIZEN,
    LONG_CYRILLIC,
    OTHER,
    acks,
    count,
    drain_outbox,
    events,
    history,
    inbound_items,
    messages,
    sim_time,
    tickets,
)

pytestmark = pytest.mark.integration


def test_single_sms_becomes_ticket_and_citizen_gets_code(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """A Latin complaint opens one ticket, leaves the SIM, and the acknowledgement with the code is sent."""
    dummy.inject(CITIZEN, "Nema vode u ulici Cara Lazara od jutros", when=sim_time(sms_core))
    stats = daemon.tick()
    assert (stats.committed, stats.deleted) == (1, 1)
    assert dummy.files() == []
    [ticket] = tickets(sms_core)
    assert ticket.channel == "sms"
    assert ticket.description == "Nema vode u ulici Cara Lazara od jutros"
    assert drain_outbox(sms_core) >= 1
    [ack] = messages(sms_core, direction="out")
    assert ack.delivery_state == "queued"
    assert ticket.code in ack.body
    # The citizen wrote Latin, so the acknowledgement is Latin too.
    assert ack.body.startswith("Sistem 48")
    daemon.tick()
    [sent] = messages(sms_core, direction="out")
    assert sent.delivery_state == "sent"
    assert (sent.encoding, sent.segments, sent.attempts) == ("ucs2", 2, 1)  # "dobićete" has ć
    daemon.modem.close()
    assert len(dummy.sends()) == 2
    assert [e["kind"] for e in events(sms_core, "sms.new")] == ["message"]


def test_cyrillic_five_parts_one_ticket(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """A 5-part Cyrillic message with an emoji becomes one ticket with the exact text."""
    assert len(dummy.inject(CITIZEN, LONG_CYRILLIC, when=sim_time(sms_core))) == 5
    stats = daemon.tick()
    assert (stats.committed, stats.deleted) == (1, 5)
    [ticket] = tickets(sms_core)
    assert ticket.description == LONG_CYRILLIC
    assert ticket.category is not None and ticket.category.code == "rasvjeta"


def test_missing_part_flushed_marked_then_late_part_joins(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """Part 3 of 5 missing: kept marked after the timeout; the late part joins the same ticket."""
    when = sim_time(sms_core)
    parts = dummy.inject(CITIZEN, LONG_CYRILLIC, when=when, skip=[3])
    assert daemon.tick().committed == 0  # waiting for part 3
    sms_core.clock.advance(minutes=11)  # type: ignore[attr-defined]
    assert daemon.tick().committed == 1
    [ticket] = tickets(sms_core)
    assert "[…]" in ticket.description
    [first] = messages(sms_core, direction="in")
    assert first.meta is not None and first.meta["sms"]["sms_missing"] == "3"
    dummy.put([parts[2]], CITIZEN, when=when)
    sms_core.clock.advance(minutes=20)  # type: ignore[attr-defined]
    assert daemon.tick().committed == 1
    assert len(tickets(sms_core)) == 1
    late = messages(sms_core, direction="in")[1]
    assert late.ticket_id == ticket.id
    assert late.body == parts[2]["Text"].strip()  # intake trims the ends
    assert any(h.kind == "note" and "закашњели" in (h.internal_note or "") for h in history(sms_core, ticket.id))


def test_late_part_after_daemon_restart_joins_by_ref(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """A restarted daemon has forgotten the flush; the late part still joins by sender + reference."""
    when = sim_time(sms_core)
    parts = dummy.inject(CITIZEN, LONG_CYRILLIC, when=when, skip=[2])
    daemon.tick()
    sms_core.clock.advance(minutes=11)  # type: ignore[attr-defined]
    daemon.tick()
    daemon.assembler.__init__()  # type: ignore[misc]  # a fresh process: empty memory
    dummy.put([parts[1]], CITIZEN, when=when)
    assert daemon.tick().committed == 0  # alone on the SIM: the new assembler waits for its siblings
    sms_core.clock.advance(minutes=11)  # type: ignore[attr-defined]
    assert daemon.tick().committed == 1
    [ticket] = tickets(sms_core)
    assert [m.ticket_id for m in messages(sms_core, direction="in")] == [ticket.id, ticket.id]


def test_duplicate_sms_one_ticket_one_ack(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """The same SMS twice on the SIM, and once more after deletion, is one ticket and one acknowledgement."""
    when = sim_time(sms_core)
    dummy.inject(CITIZEN, "Pas lutalica kod škole", when=when)
    dummy.inject(CITIZEN, "Pas lutalica kod škole", when=when)
    stats = daemon.tick()
    assert (stats.committed, stats.deleted) == (1, 2)
    dummy.inject(CITIZEN, "Pas lutalica kod škole", when=when)  # the network delivered it again
    assert daemon.tick().duplicates == 1
    assert dummy.files() == []
    assert len(tickets(sms_core)) == 1
    assert (inbound_items(sms_core), acks(sms_core)) == (1, 1)


def test_binary_sms_kept_as_data_without_ticket(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """An 8-bit data SMS is kept as an inbound item and a binary message, with no ticket and no reply."""
    dummy.inject_binary("A1 BiH", b"\x00\x01\xff\x7fdata", when=sim_time(sms_core))
    daemon.tick()
    assert tickets(sms_core) == []
    [msg] = messages(sms_core)
    assert (msg.direction, msg.body, msg.ticket_id) == ("in", "", None)
    assert msg.meta is not None and msg.meta["binary"] is True
    assert inbound_items(sms_core) == 1
    assert dummy.files() == []


@pytest.mark.parametrize("sender", ["x;touch PWNED", "$(id)", "../../x", "Opstina48", "1234"])
def test_hostile_or_alphanumeric_sender_is_data(
    sms_core: Core, dummy: DummyModem, daemon: SmsDaemon, sender: str
) -> None:
    """A hostile, alphanumeric or short-code sender gets a ticket but never an SMS back."""
    dummy.inject(sender, "<script>alert(1)</script> smeće", when=sim_time(sms_core))
    daemon.tick()
    [ticket] = tickets(sms_core)
    assert ticket.description == "<script>alert(1)</script> smeće"
    drain_outbox(sms_core)
    daemon.tick()
    assert [m.delivery_state for m in messages(sms_core, direction="out")] in ([], ["blocked"])
    daemon.modem.close()
    assert dummy.sends() == []


def test_modem_vanishes_and_returns(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """Modem gone: reported down with link.status, nothing lost; back: reported ok and messages flow."""
    daemon.tick()
    with sms_core.session_factory() as s:
        assert component_states(s, sms_core.clock.now())["modem"] == "ok"
    dummy.unplug()
    stats = daemon.tick()
    assert stats.modem_down
    with sms_core.session_factory() as s:
        assert component_states(s, sms_core.clock.now())["modem"] == "down"
    dummy.plug_back()
    dummy.inject(CITIZEN, "Poslije povratka modema: rupa na putu", when=sim_time(sms_core))
    assert daemon.tick().committed == 1
    with sms_core.session_factory() as s:
        assert component_states(s, sms_core.clock.now())["modem"] == "ok"
    assert [e["state"] for e in events(sms_core, "link.status")] == ["ok", "down", "ok"]


def test_sim_almost_full_warning(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """A SIM at 80 % is reported degraded with a clear detail, and ok again once emptied."""
    dummy.inject(CITIZEN, "x", when=sim_time(sms_core))
    [name] = dummy.files()
    blob = (dummy.folder(1) / name).read_bytes()
    # The dummy's SIM holds 10,000 messages; fill 80 % by copying one stored SMS file.
    for n in range(2, 8001):
        (dummy.folder(1) / str(n)).write_bytes(blob)
    daemon.check_health(sms_core.clock.now())
    with sms_core.session_factory() as s:
        assert component_states(s, sms_core.clock.now())["modem"] == "degraded"
    [event] = events(sms_core, "link.status")
    assert "SIM memory almost full (8000/10000)" in event["detail"]
    for n in range(2, 8001):
        (dummy.folder(1) / str(n)).unlink()
    sms_core.clock.advance(minutes=1)  # type: ignore[attr-defined]
    daemon.check_health(sms_core.clock.now())
    assert [e["state"] for e in events(sms_core, "link.status")] == ["degraded", "ok"]


def test_delivery_report_marks_delivered(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """A status report from the network marks the acknowledgement delivered and leaves the SIM."""
    dummy.inject(CITIZEN, "Kontejner nije odvezen", when=sim_time(sms_core))
    daemon.tick()
    drain_outbox(sms_core)
    daemon.tick()
    [sent] = messages(sms_core, direction="out")
    assert sent.delivery_state == "sent"
    refs = [int(r) for r in (sent.external_id or "").split(",")]
    for ref in refs:
        inject_report(dummy, CITIZEN, ref, when=sim_time(sms_core, 5))
    stats = daemon.tick()
    assert stats.reports == len(refs)
    [delivered] = messages(sms_core, direction="out")
    assert delivered.delivery_state == "delivered"
    assert dummy.files() == []


def test_two_citizens_two_tickets(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """Different senders never share a ticket."""
    dummy.inject(CITIZEN, "Rupa na putu za Hrvaćane", when=sim_time(sms_core))
    dummy.inject(OTHER, "Rupa na putu za Hrvaćane", when=sim_time(sms_core))
    daemon.tick()
    assert len(tickets(sms_core)) == 2
    assert count(sms_core, Ticket) == 2
