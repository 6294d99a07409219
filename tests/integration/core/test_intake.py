"""Intake on SQLite and PostgreSQL: one path for every channel, nothing lost, nothing doubled."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.bootstrap import Core
from core.db.models import Citizen, InboundItem, Message, OutboxItem, StatusChange, Ticket
from core.messages import Channel, ReceiveReport
from core.ports import RecordingLivePush
from core.services.intake import ReportTooLarge, receive
from tests.fakes import FixedClock


def report(text: str, **kw: object) -> ReceiveReport:
    """Build an SMS report from the seed's mobile number unless told otherwise."""
    fields: dict[str, object] = {"channel": Channel.SMS, "text": text, "phone": "065 435 411"}
    fields.update(kw)
    return ReceiveReport(**fields)  # type: ignore[arg-type]


def count(core: Core, model: type) -> int:
    """Count rows of a table."""
    with core.uow() as uow:
        return int(uow.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def ticket(core: Core, code: str) -> Ticket:
    """Load a ticket by code (closing the session keeps its loaded state readable)."""
    with core.session_factory() as session:
        return session.scalars(sa.select(Ticket).where(Ticket.code == code)).one()


def test_sms_complaint_becomes_routed_ticket_with_deadlines(
    core: Core, clock: FixedClock, live: RecordingLivePush
) -> None:
    """A Cyrillic SMS about water goes to JP Vodovod with 48 h answer and 72 h resolution deadlines."""
    result = receive(core.uow(), report("Нема воде у Масловарама од јутрос", source_key="a"))
    assert result.created
    assert result.ticket_code == "48-2026-000001"
    t = ticket(core, result.ticket_code)
    assert t.category is not None and t.category.code == "voda"
    assert t.organisation is not None and t.organisation.code == "vodovod"
    assert t.status == "assigned"
    assert t.place == "Масловаре"
    assert t.answer_due - t.created_at == timedelta(hours=48)
    assert t.resolve_due - t.created_at == timedelta(hours=72)
    assert t.created_at == clock.now()
    assert [e["type"] for e in live.events] == ["ticket.created"]
    assert live.events[0]["seq"] >= 1


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("nema vode u Maslovarama", "voda"),
        ("НЕМА ВОДЕ", "voda"),
        ("ne radi ulicna rasvjeta kod skole", "rasvjeta"),
        ("не ради улична расвјета", "rasvjeta"),
        ("nije odvezeno smece vec 10 dana", "smece"),
        ("није одвезено смеће", "smece"),
        ("velika udarna rupa na putu za Šiprage", "putevi"),
        ("nestalo struje u cijelom naselju", "struja"),
        ("pas lutalica ujeo dijete", "psi"),
    ],
)
def test_classification_is_script_insensitive(core: Core, text: str, category: str) -> None:
    """Keyword rules match Cyrillic, Latin with and without diacritics alike."""
    t = ticket(core, receive(core.uow(), report(text, phone=None)).ticket_code)
    assert t.category is not None
    assert t.category.code == category


def test_not_our_competence_is_referred_with_explanation(core: Core) -> None:
    """Electricity goes to the external distributor: status referred, explained, answered, never dropped."""
    code = receive(core.uow(), report("Нестало струје у Шипрагама")).ticket_code
    t = ticket(core, code)
    assert t.status == "referred"
    assert t.answered_at is not None
    with core.uow() as uow:
        notes = uow.session.scalars(sa.select(StatusChange.public_note).where(StatusChange.ticket_id == t.id)).all()
        bodies = uow.session.scalars(sa.select(OutboxItem.payload)).all()
    assert any("није у надлежности" in (n or "") for n in notes)
    assert any("Електродистрибуција" in b["body"] for b in bodies if b.get("channel") == "sms")


def test_one_phone_three_spellings_is_one_citizen(core: Core) -> None:
    """051/785-266, 051 785 266 and +387 51 785 266 are one citizen."""
    for raw in ("051/785-266", "051 785 266", "+387 51 785 266"):
        receive(core.uow(), report("rupa na putu", phone=raw, channel=Channel.PHONE))
    assert count(core, Citizen) == 1


def test_same_message_twice_is_one_ticket_and_one_ack(core: Core) -> None:
    """A re-read of the same inbound item is recognised by its natural key."""
    first = receive(core.uow(), report("Пукла цијев", source_key="sms:+38765435411:2026-11-02T09:00:abc"))
    second = receive(core.uow(), report("Пукла цијев", source_key="sms:+38765435411:2026-11-02T09:00:abc"))
    assert second.duplicate and second.ticket_code == first.ticket_code
    assert count(core, Ticket) == 1
    assert count(core, InboundItem) == 1
    with core.session_factory() as session:
        acks = session.scalars(sa.select(OutboxItem.payload).where(OutboxItem.kind == "notify_citizen")).all()
    assert len(acks) == 1
    assert first.ticket_code in acks[0]["body"]


def test_concurrent_intake_of_same_message_gives_one_ticket(core: Core) -> None:
    """Eight threads submitting one message at once create one ticket."""
    results = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def submit() -> None:
        barrier.wait()
        try:
            results.append(receive(core.uow(), report("nema vode", source_key="same-key")))
        except BaseException as exc:  # noqa: BLE001  collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert errors == []
    assert len({r.ticket_code for r in results}) == 1
    assert sum(1 for r in results if r.created) == 1
    assert count(core, Ticket) == 1


def test_concurrent_distinct_reports_get_distinct_codes(core: Core) -> None:
    """Parallel intake never hands out a code twice."""
    codes: list[str] = []

    def submit(i: int) -> None:
        codes.append(
            receive(core.uow(), report(f"rupa broj {i}", phone=f"06543541{i}", channel=Channel.PHONE)).ticket_code
        )

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert sorted(codes) == [f"48-2026-00000{i}" for i in range(1, 7)]


def test_reply_quoting_code_joins_that_ticket(core: Core, clock: FixedClock) -> None:
    """A message quoting a ticket code goes to that ticket, days later and from any channel."""
    first = receive(core.uow(), report("рупа на путу"))
    clock.advance(days=3)
    follow = receive(
        core.uow(), report(f"STANJE {first.ticket_code}?", channel=Channel.EMAIL, phone=None, email="a@b.ba")
    )
    assert not follow.created
    assert follow.ticket_code == first.ticket_code
    assert count(core, Message) == 2


def test_follow_up_within_window_continues_single_open_ticket(core: Core, clock: FixedClock) -> None:
    """A second SMS soon after, about the same thing, continues the ticket; a later or different one does not."""
    first = receive(core.uow(), report("нема воде"))
    clock.advance(minutes=20)
    assert receive(core.uow(), report("и даље нема")).ticket_code == first.ticket_code
    clock.advance(minutes=5)
    other = receive(core.uow(), report("и смеће није одвезено"))
    assert other.created  # a different problem
    clock.advance(hours=5)
    assert receive(core.uow(), report("hvala")).created  # two open tickets now: not a clear continuation


@pytest.mark.parametrize(
    "text",
    ["", "   ", "a\x00b nema vode", "\u202eedov amen", "<script>alert(1)</script> смеће", "x" * 200_000],
)
def test_hostile_texts_are_accepted_and_kept(core: Core, text: str) -> None:
    """Empty, NUL, bidi, HTML and long texts still become tickets; the raw original is kept."""
    result = receive(core.uow(), report(text, source_key=f"k{len(text)}{text[:3]!r}"))
    t = ticket(core, result.ticket_code)
    assert "\x00" not in t.description and "\u202e" not in t.description
    assert len(t.description) <= 8000
    with core.uow() as uow:
        raw = uow.session.scalars(sa.select(InboundItem.raw)).one()
    assert raw is not None
    assert len(raw) == len(text)


def test_one_megabyte_report_is_accepted_and_larger_refused(core: Core) -> None:
    """1 MB is the limit: kept whole in the raw item; beyond it a clear error."""
    receive(core.uow(), report("ж" * 1_000_000, source_key="big"))
    with pytest.raises(ReportTooLarge):
        receive(core.uow(), report("ж" * 1_000_001))
    assert count(core, Ticket) == 1


@pytest.mark.parametrize("raw", ["anonymous", "", "M:tel", "x;touch PWNED", "$(id)", "9" * 64])
def test_odd_caller_ids_never_refuse_a_complaint(core: Core, raw: str) -> None:
    """Unparseable numbers are kept as given; the complaint is always taken."""
    result = receive(core.uow(), report("rupa", phone=raw, channel=Channel.PHONE))
    t = ticket(core, result.ticket_code)
    if raw in ("anonymous", ""):
        assert t.citizen_id is None
    else:
        assert t.citizen is not None
        assert t.citizen.phone_raw == raw
        assert t.citizen.phone_e164 is None


def test_walk_in_ticket_by_operator_with_category_and_place(core: Core) -> None:
    """An operator's walk-in ticket uses the same path, with an explicit category and place."""
    result = receive(
        core.uow(),
        ReceiveReport(channel=Channel.WALK_IN, text="Grana pala na trotoar", category="zelene", place="Varjače",
                      name="Петар Петровић", phone="066 123 456", operator_id=None),
    )  # fmt: skip
    t = ticket(core, result.ticket_code)
    assert t.category is not None and t.category.code == "zelene"
    assert t.place == "Varjače"
    assert t.citizen is not None and t.citizen.name == "Петар Петровић"


def test_codes_restart_each_local_year(core: Core, clock: FixedClock) -> None:
    """The counter is per local year: 31 Dec 23:30 UTC is already the new year in Sarajevo."""
    from datetime import UTC, datetime

    clock.set(datetime(2026, 12, 31, 22, 0, tzinfo=UTC))
    assert receive(core.uow(), report("a", phone=None)).ticket_code == "48-2026-000001"
    clock.set(datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
    assert receive(core.uow(), report("b", phone=None)).ticket_code == "48-2027-000001"
