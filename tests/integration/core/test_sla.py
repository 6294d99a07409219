"""The 48-hour clock: warning at 24 h, escalation at 40 h, breach at 48 h — each exactly once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from core.bootstrap import Core
from core.db.models import OutboxItem, StatusChange, Ticket
from core.messages import Channel, ReceiveReport
from core.services.accounts import add_user
from core.services.intake import receive
from core.services.sla import sweep
from core.services.tickets import change_status
from tests.fakes import FixedClock

SARAJEVO = ZoneInfo("Europe/Sarajevo")


def open_ticket(core: Core, text: str = "нема воде", phone: str = "065435411") -> str:
    """Open a routed ticket now."""
    return receive(core.uow(), ReceiveReport(channel=Channel.SMS, text=text, phone=phone)).ticket_code


def kinds(core: Core, code: str) -> list[str]:
    """Return the history kinds of a ticket, in order."""
    with core.session_factory() as session:
        tid = session.scalar(sa.select(Ticket.id).where(Ticket.code == code))
        return list(
            session.scalars(
                sa.select(StatusChange.kind).where(StatusChange.ticket_id == tid).order_by(StatusChange.id)
            ).all()
        )


def history_at(core: Core, code: str, kind: str) -> list[datetime]:
    """Return when the sweeper recorded a step."""
    with core.session_factory() as session:
        tid = session.scalar(sa.select(Ticket.id).where(Ticket.code == code))
        return list(
            session.scalars(
                sa.select(StatusChange.at).where(StatusChange.ticket_id == tid, StatusChange.kind == kind)
            ).all()
        )


def test_steps_happen_at_their_hours_and_only_once(core: Core, clock: FixedClock) -> None:
    """Sweeps every hour for three days: one warning at 24 h, one escalation at 40 h, one breach at 48 h."""
    start = clock.now()
    code = open_ticket(core)
    for hour in range(0, 73):
        clock.set(start + timedelta(hours=hour))
        sweep(core.uow(), clock.now())
    assert history_at(core, code, "warning") == [start + timedelta(hours=24)]
    assert history_at(core, code, "escalation") == [start + timedelta(hours=40)]
    assert history_at(core, code, "breach") == [start + timedelta(hours=48)]
    assert history_at(core, code, "resolve_breach") == [start + timedelta(hours=72)]
    with core.session_factory() as session:
        kinds_out = session.scalars(sa.select(OutboxItem.kind)).all()
    assert kinds_out.count("notify_supervisor") == 2  # escalation + breach
    assert kinds_out.count("notify_org") == 2  # new ticket + warning


def test_never_early_one_second_before(core: Core, clock: FixedClock) -> None:
    """At 47:59:59 there is no breach; at 48:00:00 there is."""
    start = clock.now()
    code = open_ticket(core)
    report = sweep(core.uow(), start + timedelta(hours=48) - timedelta(seconds=1))
    assert code not in report.breached
    assert code in report.warned and code in report.escalated
    assert code in sweep(core.uow(), start + timedelta(hours=48)).breached


@pytest.mark.parametrize(
    "local_start",
    [datetime(2026, 3, 28, 10, 0, tzinfo=SARAJEVO), datetime(2026, 10, 24, 10, 0, tzinfo=SARAJEVO)],
    ids=["spring-forward", "fall-back"],
)
def test_breach_after_exactly_48_elapsed_hours_across_dst(core: Core, clock: FixedClock, local_start: datetime) -> None:
    """Across both DST changes the breach comes after 48 real hours, not 47 or 49."""
    clock.set(local_start.astimezone(UTC))
    code = open_ticket(core)
    wall_clock_48h = (local_start + timedelta(hours=48)).astimezone(UTC)  # the classic wrong answer
    exact = local_start.astimezone(UTC) + timedelta(hours=48)
    assert wall_clock_48h != exact
    early = min(wall_clock_48h, exact - timedelta(minutes=1))
    assert code not in sweep(core.uow(), early).breached
    assert code in sweep(core.uow(), exact).breached


def test_clock_jumping_backwards_repeats_nothing(core: Core, clock: FixedClock) -> None:
    """After a jump back in time the sweeper neither repeats nor undoes a step."""
    start = clock.now()
    code = open_ticket(core)
    sweep(core.uow(), start + timedelta(hours=41))
    sweep(core.uow(), start + timedelta(hours=30))  # NTP correction backwards
    sweep(core.uow(), start + timedelta(hours=25))
    assert kinds(core, code).count("warning") == 1
    assert kinds(core, code).count("escalation") == 1
    sweep(core.uow(), start + timedelta(hours=49))
    sweep(core.uow(), start + timedelta(hours=47))
    sweep(core.uow(), start + timedelta(hours=50))
    assert kinds(core, code).count("breach") == 1


def test_answered_ticket_is_not_warned(core: Core, clock: FixedClock) -> None:
    """A department's public answer within 24 h stops the answer clock."""
    start = clock.now()
    code = open_ticket(core)
    with core.uow() as uow:
        user = add_user(uow.session, "vodovod1", "department", "lozinka123", start, organisation_code="vodovod")
        uow.session.commit()
    clock.set(start + timedelta(hours=3))
    change_status(core.uow(), code, "in_progress", user, public_note="Екипа излази на терен.")
    report = sweep(core.uow(), start + timedelta(hours=49))
    assert code not in report.warned + report.escalated + report.breached


def test_two_sweepers_at_once_warn_once(core: Core, clock: FixedClock) -> None:
    """Concurrent sweepers (two beats by mistake) record each step once."""
    start = clock.now()
    codes = [open_ticket(core, f"rupa na putu {i}", phone=f"06543540{i}") for i in range(10)]
    assert len(set(codes)) == 10
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            sweep(core.uow(), start + timedelta(hours=49))
        except BaseException as exc:  # noqa: BLE001  collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert errors == []
    for code in codes:
        assert kinds(core, code).count("warning") == 1
        assert kinds(core, code).count("breach") == 1
    with core.session_factory() as session:
        assert session.scalar(
            sa.select(sa.func.count()).select_from(OutboxItem).where(OutboxItem.kind == "notify_supervisor")
        ) == 2 * len(codes)
