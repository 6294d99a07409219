"""Caller history for the screen pop: open tickets are never hidden behind newer closed ones."""

from __future__ import annotations

import sqlalchemy as sa

from core.bootstrap import Core
from core.db.models import Ticket
from core.messages import Channel, ReceiveReport
from core.services.history import MAX_OPEN, RECENT, caller_histories, caller_history
from core.services.intake import receive
from tests.fakes import FixedClock


def test_old_open_ticket_shows_behind_many_closed_ones(core: Core, clock: FixedClock) -> None:
    """A citizen with more tickets than fit the first query still sees their oldest open ticket."""
    codes = []
    for i in range(MAX_OPEN + 3):
        codes.append(
            receive(core.uow(), ReceiveReport(channel=Channel.WALK_IN, text=f"рупа {i}", phone="065435411")).ticket_code
        )
        clock.advance(minutes=1)
    with core.session_factory() as session:
        session.execute(sa.update(Ticket).where(Ticket.code != codes[0]).values(status="closed"))
        session.commit()
        history = caller_history(session, "+387 65 435 411")
    assert [t["code"] for t in history["open_tickets"]] == [codes[0]]
    assert [t["code"] for t in history["recent_tickets"]] == list(reversed(codes))[:RECENT]
    assert history["citizen"] is not None


def test_unknown_and_anonymous_numbers_have_empty_history(core: Core) -> None:
    """No citizen, no lists; the raw number is echoed for the operator."""
    with core.session_factory() as session:
        unknown = caller_history(session, "066 999 999")
        anonymous = caller_history(session, "anonymous")
    assert unknown["citizen"] is None
    assert unknown["phone"] == "+38766999999"
    assert anonymous["phone"] is None
    assert anonymous["open_tickets"] == []


def test_batched_histories_equal_one_by_one(core: Core, clock: FixedClock) -> None:
    """The burst lookup gives every caller exactly what the single lookup gives (both dialects)."""
    phones = ["065435411", "066111222", "051785266"]
    for n, phone in enumerate(phones):
        for i in range(n * 4 + 1):  # 1, 5 and 9 tickets: below and above RECENT
            receive(core.uow(), ReceiveReport(channel=Channel.WALK_IN, text=f"улица {n} рупа {i}", phone=phone))
            clock.advance(minutes=1)
    numbers = ["+387 65 435 411", "066 111 222", "051/785-266", "066 999 999", "anonymous", None, "065435411"]
    with core.session_factory() as session:
        together = caller_histories(session, numbers)
        alone = {number: caller_history(session, number) for number in numbers}
    assert together == alone
    assert [len(together[n]["recent_tickets"]) for n in numbers[:3]] == [1, RECENT, RECENT]
    assert together["066 999 999"]["citizen"] is None
    assert together["+387 65 435 411"]["citizen"] == together["065435411"]["citizen"]
    assert len(together["066 111 222"]["recent_messages"]) == RECENT  # each report keeps its message


def test_tickets_of_the_same_moment_are_cut_at_the_same_place_everywhere(core: Core) -> None:
    """Seven tickets in one second (a walk-in batch): the five newest ids, on both databases, alone or batched."""
    codes = [
        receive(core.uow(), ReceiveReport(channel=Channel.WALK_IN, text=f"рупа {i}", phone="065435411")).ticket_code
        for i in range(RECENT + 2)
    ]  # the fixed clock does not move: every ticket has the same created_at
    receive(core.uow(), ReceiveReport(channel=Channel.WALK_IN, text="сијалица", phone="066111222"))
    with core.session_factory() as session:
        alone = caller_history(session, "065435411")
        batched = caller_histories(session, ["065435411", "066111222"])["065435411"]
    newest = list(reversed(codes))[:RECENT]  # codes grow with ids
    assert [t["code"] for t in alone["recent_tickets"]] == newest
    assert [t["code"] for t in batched["recent_tickets"]] == newest
