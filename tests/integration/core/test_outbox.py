"""Outbox delivery: claimed once, retried with backoff, dead-lettered, re-driven after broker loss."""

from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.bootstrap import Core
from core.db.models import Message, OutboxItem
from core.messages import Channel, ReceiveReport
from core.services.intake import receive
from core.services.outbox import deliver, redrive
from tests.fakes import FixedClock, RecordingNotifier, RecordingTasks


def ack_id(core: Core) -> int:
    """Open a ticket by SMS and return its acknowledgement's outbox id."""
    receive(core.uow(), ReceiveReport(channel=Channel.SMS, text="нема воде", phone="065435411"))
    with core.session_factory() as session:
        return session.scalars(sa.select(OutboxItem.id).where(OutboxItem.kind == "notify_citizen")).one()


def test_committed_items_are_published_after_commit(core: Core, tasks: RecordingTasks) -> None:
    """Intake publishes its outbox ids only once the transaction has committed."""
    item = ack_id(core)
    assert (item, "notify_citizen") in tasks.enqueued


def test_delivery_sends_once_even_if_delivered_twice(core: Core, notifier: RecordingNotifier) -> None:
    """Two workers given the same item (redelivery) send one SMS and record one outgoing message."""
    item = ack_id(core)
    results = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        results.append(deliver(core.uow(), item, core.handlers).state)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert sorted(results) == ["done", "skipped", "skipped", "skipped"]
    assert len(notifier.sent) == 1
    assert notifier.sent[0].address == "+38765435411"
    assert "48-2026-000001" in notifier.sent[0].body
    with core.session_factory() as session:
        out = session.scalars(sa.select(Message).where(Message.direction == "out")).all()
        assert [(m.channel, m.delivery_state) for m in out] == [("sms", "sent")]


def test_failures_back_off_then_dead_letter(core: Core, clock: FixedClock) -> None:
    """A failing handler is retried later, and after max attempts the item is dead, others unaffected."""
    item = ack_id(core)

    def boom(session: so.Session, item: OutboxItem, now: object) -> None:
        raise RuntimeError("modem on fire")

    handlers = {**core.handlers, "notify_citizen": boom}
    assert deliver(core.uow(), item, handlers, max_attempts=3).state == "retry"
    assert deliver(core.uow(), item, handlers, max_attempts=3).state == "skipped"  # not yet due
    for _ in range(2):
        clock.advance(hours=2)
        last = deliver(core.uow(), item, handlers, max_attempts=3).state
    assert last == "dead"
    with core.session_factory() as session:
        row = session.get_one(OutboxItem, item)
        assert (row.state, row.attempts) == ("dead", 3)
        assert row.last_error is not None and "modem on fire" in row.last_error
        others = session.scalars(sa.select(OutboxItem.id).where(OutboxItem.kind == "notify_org")).all()
    assert deliver(core.uow(), others[0], core.handlers).state == "done"


def test_broker_down_at_commit_then_redriven_exactly_once(
    core: Core, tasks: RecordingTasks, clock: FixedClock, notifier: RecordingNotifier
) -> None:
    """F4: with the broker down the ticket still commits; the sweeper publishes it later, and it is sent once."""
    tasks.down = True
    result = receive(core.uow(), ReceiveReport(channel=Channel.SMS, text="смеће", phone="066111222"))
    assert result.created and tasks.enqueued == []
    assert redrive(core.uow(), tasks, clock.now(), older_than=timedelta(seconds=60)) == []
    tasks.down = False
    assert redrive(core.uow(), tasks, clock.now(), older_than=timedelta(seconds=60)) == []  # too fresh to re-drive
    clock.advance(seconds=61)
    published = redrive(core.uow(), tasks, clock.now(), older_than=timedelta(seconds=60))
    assert len(published) == 2  # the acknowledgement and the notice to the company
    for outbox_id in published + published:  # and a duplicate of each
        deliver(core.uow(), outbox_id, core.handlers)
    assert [n.address for n in notifier.sent].count("+38766111222") == 1


def test_abandoned_claim_is_redriven_after_the_lease(core: Core, tasks: RecordingTasks, clock: FixedClock) -> None:
    """F7: a worker killed mid-task leaves a claim; after the lease the sweeper hands it out again."""
    item = ack_id(core)
    with core.session_factory() as session:
        row = session.get_one(OutboxItem, item)
        row.state, row.claimed_at = "sending", clock.now()
        session.commit()
    tasks.enqueued.clear()
    assert item not in redrive(core.uow(), tasks, clock.advance(minutes=1), older_than=timedelta(seconds=60))
    clock.advance(minutes=10)
    assert item in redrive(core.uow(), tasks, clock.now(), older_than=timedelta(seconds=60))
    assert deliver(core.uow(), item, core.handlers).state == "done"
