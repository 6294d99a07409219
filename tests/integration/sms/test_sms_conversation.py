"""Two-way SMS through the daemon: status queries, "fixed? 1/0" answers and reopening, outbound pacing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.bootstrap import Core
from core.db.models import Citizen, Message, Organisation, OutboxItem, User
from core.services.accounts import add_user
from core.services.tickets import change_status
from core.text import fold
from sms_modem.daemon import SmsDaemon
from tests.fakes import FixedClock

from .dummy_modem import DummyModem
from .helpers import CITIZEN, OTHER, drain_outbox, history, messages, sim_time, tickets

pytestmark = pytest.mark.integration

T_ROWS = FixedClock().now()


def operator(core: Core) -> User:
    """Create an operator to change statuses."""
    with core.session_factory() as s:
        user = add_user(s, "operater", "operator", "lozinka-operatera", core.clock.now())
        s.commit()
        return user


def receive(core: Core, dummy: DummyModem, daemon: SmsDaemon, sender: str, text: str) -> None:
    """Put one SMS on the SIM and let the daemon take it."""
    dummy.inject(sender, text, when=sim_time(core))
    assert daemon.tick().committed == 1
    core.clock.advance(minutes=1)  # type: ignore[attr-defined]


def resolve(core: Core, code: str) -> None:
    """Resolve a ticket as an operator, with the public note the citizen reads."""
    change_status(core.uow(), code, "resolved", operator(core), public_note="Екипа је поправила квар.")


def replies(core: Core) -> list[str]:
    """Return the bodies of outgoing SMS answers (not acknowledgements), oldest first."""
    return [m.body for m in messages(core, direction="out") if (m.meta or {}).get("sms_kind") in ("status", "feedback")]


def test_status_query_latin_and_cyrillic(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """STATUS/СТАЊЕ/STANJE with a code answers that ticket's status in the script of the question."""
    receive(sms_core, dummy, daemon, CITIZEN, "Нема воде у улици Вука Караџића")
    [ticket] = tickets(sms_core)
    receive(sms_core, dummy, daemon, OTHER, f"STATUS {ticket.code}")
    receive(sms_core, dummy, daemon, OTHER, f"стање {ticket.code}")
    receive(sms_core, dummy, daemon, CITIZEN, f"Stanje {ticket.code.replace('-', ' ')}")
    assert len(tickets(sms_core)) == 1  # queries open no tickets
    latin, cyrillic, spaced = replies(sms_core)
    assert latin.startswith(f"Sistem 48, {ticket.code}: Proslijeđena nadležnima")
    assert cyrillic.startswith(f"Систем 48, {ticket.code}: Прослијеђена надлежнима")
    assert spaced.startswith(f"Sistem 48, {ticket.code}:")
    with sms_core.session_factory() as s:
        assert s.scalar(sa.select(Citizen.script).where(Citizen.phone_e164 == OTHER)) == "sr-Cyrl"


def test_status_query_without_code_and_unknown_code(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """СТАТУС alone answers the citizen's own tickets; an unknown code is answered and opens nothing."""
    receive(sms_core, dummy, daemon, CITIZEN, "Нема воде у улици Вука Караџића")
    [ticket] = tickets(sms_core)
    receive(sms_core, dummy, daemon, CITIZEN, "СТАТУС")
    receive(sms_core, dummy, daemon, OTHER, "STATUS 48-2026-999999")
    receive(sms_core, dummy, daemon, "+38765777888", "status")
    own, unknown, nothing = replies(sms_core)
    assert ticket.code in own
    assert "48-2026-999999" in unknown and "nije pronađena" in unknown
    assert nothing.startswith("Sistem 48: nemate prijava")
    assert len(tickets(sms_core)) == 1


@pytest.mark.parametrize(("answer", "feedback", "status"), [("1", "yes", "resolved"), ("Da", "yes", "resolved"),
                                                             ("0", "no", "reopened"), ("не", "no", "reopened")])  # fmt: skip
def test_feedback_after_resolution(
    sms_core: Core, dummy: DummyModem, daemon: SmsDaemon, answer: str, feedback: str, status: str
) -> None:
    """After resolution 1/da records yes; 0/не records no, reopens and tells the organisation."""
    receive(sms_core, dummy, daemon, CITIZEN, "Нема воде у улици Вука Караџића")
    [ticket] = tickets(sms_core)
    resolve(sms_core, ticket.code)
    drain_outbox(sms_core)
    sms_core.clock.advance(hours=3)  # type: ignore[attr-defined]
    receive(sms_core, dummy, daemon, CITIZEN, answer)
    [after] = tickets(sms_core)
    assert (after.feedback, after.status) == (feedback, status)
    assert after.reopened_count == (1 if status == "reopened" else 0)
    lines = history(sms_core, ticket.id)
    assert any(h.kind == "feedback" and h.actor_label == "citizen" for h in lines)
    if status == "reopened":
        assert any(h.to_status == "reopened" and h.actor_label == "citizen" for h in lines)
        with sms_core.session_factory() as s:
            org_notes = s.scalars(
                sa.select(OutboxItem).where(OutboxItem.dedup_key.like(f"org:{ticket.id}:%:reopened:%"))
            )
            [note] = list(org_notes)
        assert "није ријешена" in note.payload["body"]
    [reply] = replies(sms_core)
    assert ticket.code in reply


def test_feedback_outside_window_is_just_a_message(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """A 0 eight days after resolution changes nothing: it is an ordinary message (its own ticket)."""
    receive(sms_core, dummy, daemon, CITIZEN, "Нема воде у улици Вука Караџића")
    [ticket] = tickets(sms_core)
    resolve(sms_core, ticket.code)
    sms_core.clock.advance(days=8)  # type: ignore[attr-defined]
    receive(sms_core, dummy, daemon, CITIZEN, "0")
    first = tickets(sms_core)[0]
    assert (first.status, first.feedback, first.reopened_count) == ("resolved", None, 0)


def test_feedback_answer_is_idempotent(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """The same "0" re-read after a crash (before its SIM delete) reopens once and answers once."""
    receive(sms_core, dummy, daemon, CITIZEN, "Нема воде у улици Вука Караџића")
    [ticket] = tickets(sms_core)
    resolve(sms_core, ticket.code)
    when = sim_time(sms_core)
    dummy.inject(CITIZEN, "0", when=when)
    daemon.on_committed = lambda _m: (_ for _ in ()).throw(RuntimeError("killed before delete"))
    with pytest.raises(RuntimeError):
        daemon.tick()
    daemon.on_committed = None
    assert daemon.tick().duplicates == 1
    [after] = tickets(sms_core)
    assert after.reopened_count == 1
    assert len(replies(sms_core)) == 1


def test_resolution_notice_invites_answer(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """The resolution notice sent by SMS ends with the 1/0 question, in the citizen's script."""
    receive(sms_core, dummy, daemon, CITIZEN, "Nema vode u ulici Vuka Karadžića")
    [ticket] = tickets(sms_core)
    resolve(sms_core, ticket.code)
    drain_outbox(sms_core)
    for _ in range(3):
        daemon.tick()
        sms_core.clock.advance(minutes=1)  # type: ignore[attr-defined]
    notice = [m for m in messages(sms_core, direction="out") if "popravila" in fold(m.body)]
    [sent] = notice
    assert sent.delivery_state == "sent"
    assert sent.body.endswith("Odgovorite 1 (da) ili 0 (ne).")


def test_outbound_pacing_counts_parts(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """At 10 parts a minute a 5-part reply holds the modem 30 s; nothing is sent before that."""
    receive(sms_core, dummy, daemon, CITIZEN, "Нема воде у улици Вука Караџића")
    [ticket] = tickets(sms_core)
    drain_outbox(sms_core)
    daemon.tick()  # the acknowledgement (2 UCS-2 parts) goes out now
    with sms_core.session_factory() as s:
        for i in range(2):
            s.add(_out(ticket.id, CITIZEN, ("Поштовани, екипа ЈП Водовод ће доћи сутра ујутро. " * 6)[:300], i))
        s.commit()
    start = sms_core.clock.now()
    sent_at = []
    for _ in range(20):
        before = len([m for m in messages(sms_core, direction="out") if m.delivery_state == "sent"])
        daemon.tick()
        after = len([m for m in messages(sms_core, direction="out") if m.delivery_state == "sent"])
        if after > before:
            sent_at.append((sms_core.clock.now() - start).total_seconds())
        sms_core.clock.advance(seconds=3)  # type: ignore[attr-defined]
    # ack: 2 parts → 12 s; first 5-part reply at 12 s → next not before 42 s.
    assert sent_at[:2] == [12.0, 42.0]
    five = [m for m in messages(sms_core, direction="out") if m.segments == 5]
    assert len(five) == 2


def test_transliteration_choice(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """A citizen who asked for plain Latin gets 2 GSM-7 parts instead of 5 UCS-2; duty phones per organisation."""
    receive(sms_core, dummy, daemon, CITIZEN, "Нема воде у улици Вука Караџића")
    [ticket] = tickets(sms_core)
    text = ("Поштовани, ваша пријава о квару расвјете у улици Краља Петра I је заведена под бројем "
            f"{ticket.code}. ") * 3  # fmt: skip
    with sms_core.session_factory() as s:
        s.execute(sa.update(Citizen).where(Citizen.phone_e164 == CITIZEN).values(sms_transliterate=True))
        s.execute(sa.update(Organisation).where(Organisation.code == "vodovod").values(duty_phone="065 222 333"))
        s.add(_out(ticket.id, CITIZEN, text[:300], 0))
        s.add(_out(None, "+38765222333", text[:300], 1))
        s.commit()
    for _ in range(10):
        daemon.tick()
        sms_core.clock.advance(minutes=1)  # type: ignore[attr-defined]
    by_address = {
        m.address: m for m in messages(sms_core, direction="out") if m.body.startswith(("Pošt", "Пошт", "Post"))
    }
    assert (by_address[CITIZEN].encoding, by_address[CITIZEN].segments) == ("gsm7", 2)
    meta = by_address[CITIZEN].meta or {}
    assert meta["transliterated"] is True
    assert meta["sent_text"].startswith("Postovani, vasa prijava o kvaru rasvjete")
    assert (by_address["+38765222333"].encoding, by_address["+38765222333"].segments) == ("ucs2", 5)


def test_never_send_to_unknown_numbers(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """An outgoing row to a number that never contacted us is blocked, not sent (SMS pumping guard)."""
    with sms_core.session_factory() as s:
        s.add(_out(None, "+38765000111", "Реклама", 0))
        s.commit()
    daemon.tick()
    [row] = messages(sms_core, direction="out")
    assert row.delivery_state == "blocked"
    daemon.modem.close()
    assert dummy.sends() == []


def test_send_failure_retries_with_backoff(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """A modem error on send queues the row again with a growing delay and records the error."""
    from sms_modem.modem import ModemError

    receive(sms_core, dummy, daemon, CITIZEN, "Нема воде у улици Вука Караџића")
    drain_outbox(sms_core)

    def failing(*_args: object) -> object:
        raise ModemError("SendSMS: ERR_GETTING_SMSC", code="ERR_GETTING_SMSC")

    daemon.sender.send = failing  # type: ignore[assignment]
    daemon.tick()
    [row] = messages(sms_core, direction="out")
    assert (row.delivery_state, row.attempts) == ("queued", 1)
    assert row.error is not None and "ERR_GETTING_SMSC" in row.error
    assert row.next_attempt_at == sms_core.clock.now() + timedelta(seconds=30)
    daemon.sender.send = None
    sms_core.clock.advance(seconds=31)  # type: ignore[attr-defined]
    daemon.tick()
    [row] = messages(sms_core, direction="out")
    assert (row.delivery_state, row.attempts) == ("sent", 2)


def _out(ticket_id: int | None, address: str, body: str, n: int) -> Message:
    """Build a queued outgoing SMS row (``n`` orders rows created together)."""
    return Message(ticket_id=ticket_id, direction="out", channel="sms", address=address, body=body,
                   at=T_ROWS + timedelta(seconds=n), delivery_state="queued", meta={})  # fmt: skip
