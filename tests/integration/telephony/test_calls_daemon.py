"""The telephony daemon end to end: real loopback AMI server, real connector, real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from core.bootstrap import Core
from core.db.models import Call, Citizen, OutboxItem, StatusChange, Ticket, Voicemail
from core.messages import Channel, ReceiveReport
from core.ports import RecordingLivePush
from core.services import calls
from core.services.health import component_states
from core.services.intake import receive
from tests.fakes import FixedClock
from tests.integration.telephony.daemon_support import add_operators, put_message, rig, spool_state
from tests.support.fake_ami import FakeAmi

pytestmark = pytest.mark.integration

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one scenario in a fresh event loop."""
    return asyncio.run(coro)


def one_call(core: Core) -> Call:
    """Return the only call row."""
    with core.session_factory() as db:
        rows = db.scalars(sa.select(Call)).all()
    assert len(rows) == 1
    return rows[0]


def test_queue_ringall_pops_three_operators_with_history_and_closes_losers(core: Core, live: RecordingLivePush) -> None:
    """Ringall to 201-203: three pops with history to ext rooms, 202 answers, the others are told."""
    add_operators(core, "201", "202", "203")
    known = receive(core.uow(), ReceiveReport(channel=Channel.SMS, text="Нема воде у Шипрагама", phone="0651234567"))

    async def scenario() -> None:
        async with rig(core, live) as r:
            await r.server.play("queue_ringall_answered")
            await r.until(lambda: len(r.events("call.answered")) == 1 and len(r.events("call.withdrawn")) == 2)
            ringing = r.events("call.ringing")
            assert [e["audience"] for e in ringing] == ["ext:201", "ext:202", "ext:203"]
            for pop in ringing:
                assert pop["linkedid"] == "1764310000.1"
                assert pop["call"]["caller"]["name"] == "Petar Petrović"
                assert pop["call"]["caller"]["phone"] == "+387651234567"
                assert [t["code"] for t in pop["history"]["open_tickets"]] == [known.ticket_code]
                assert pop["history"]["recent_messages"]
            (answered,) = r.events("call.answered")
            assert answered["audience"] == "operators"
            assert answered["extension"] == "202"
            assert answered["operator"]["name"] == "Оператер 202"
            assert {e["extension"] for e in r.events("call.withdrawn")} == {"201", "203"}
            await r.server.play("queue_ringall_hangup")
            await r.until(lambda: bool(r.events("call.ended")))
            assert not r.events("call.missed")

    run(scenario())
    call = one_call(core)
    assert (call.state, call.outcome, call.operator_ext, call.queue) == ("ended", "answered", "202", "operators")
    assert call.operator_id is not None and call.citizen_id is not None
    assert call.callback_due_at is None


def test_direct_dial(core: Core, live: RecordingLivePush) -> None:
    """A direct Dial(PJSIP/201): one pop, answered, ended, one row."""
    add_operators(core, "201")

    async def scenario() -> None:
        async with rig(core, live) as r:
            await r.server.play("direct_dial")
            await r.until(lambda: bool(r.events("call.ended")))
            assert [e["audience"] for e in r.events("call.ringing")] == ["ext:201"]
            assert [e["extension"] for e in r.events("call.answered")] == ["201"]

    run(scenario())
    call = one_call(core)
    assert (call.outcome, call.operator_ext, call.caller_raw) == ("answered", "201", "+38765111222")


@pytest.mark.parametrize(("transcript", "final"), [("blind_transfer", "202"), ("attended_transfer", "203")])
def test_transfers_keep_one_call_row(core: Core, live: RecordingLivePush, transcript: str, final: str) -> None:
    """Blind and attended transfers keep the Linkedid: one row, the operator follows the call."""
    add_operators(core, "201", "202", "203")

    async def scenario() -> None:
        async with rig(core, live) as r:
            await r.server.play(transcript)
            await r.until(lambda: bool(r.events("call.ended")))
            assert r.events("call.transferred")

    run(scenario())
    call = one_call(core)
    assert (call.outcome, call.operator_ext) == ("answered", final)
    assert call.meta is not None and call.meta["transfers"]


@pytest.mark.parametrize(("transcript", "outcome"), [("queue_abandon", "abandoned"), ("queue_missed", "missed")])
def test_abandoned_and_missed_calls_join_the_callback_list(
    core: Core, live: RecordingLivePush, clock: FixedClock, transcript: str, outcome: str
) -> None:
    """Unanswered calls are missed-call list entries due at the next 07:00 local (Mon 10:00 → Tue 07:00)."""
    add_operators(core, "201", "202")
    clock.set(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))  # Monday 10:00 in Sarajevo

    async def scenario() -> None:
        async with rig(core, live) as r:
            await r.server.play(transcript)
            await r.until(lambda: bool(r.events("call.missed")))
            assert len(r.events("call.ringing")) == 2
            assert len(r.events("call.withdrawn")) == 2

    run(scenario())
    call = one_call(core)
    assert call.outcome == outcome
    assert call.callback_due_at == datetime(2026, 11, 3, 6, 0, tzinfo=UTC)
    with core.session_factory() as db:
        missed = calls.list_calls(db, now=clock.now(), missed=True)
        citizens = db.scalar(sa.select(sa.func.count()).select_from(Citizen))
    assert [m["id"] for m in missed] == [call.id]
    if outcome == "abandoned":
        assert call.citizen_id is None and citizens == 0  # anonymous: no citizen invented


def test_voicemail_via_message_waiting_then_reconnect_ingests_once(
    core: Core, live: RecordingLivePush, tmp_path: Path
) -> None:
    """MessageWaiting ingests the spool message, linked to its call; rescans after a reconnect add nothing."""
    spool = tmp_path / "spool"
    spool.mkdir()

    async def scenario() -> None:
        async with rig(core, live, spool=spool) as r:
            put_message(spool, "100@complaints", "INBOX", "msg0000")
            before = spool_state(spool)
            await r.server.play("voicemail")
            await r.until(lambda: bool(r.events("call.ended")) and bool(r.events("voicemail.new")))
            await r.proxy.reset()
            await r.up(2)
            await r.daemon.scan_spool()
            assert spool_state(spool) == before
            (event,) = r.events("voicemail.new")
            assert event["voicemail"]["caller"] == {"name": "Čaršija Đurđević", "number": "0657778889"}
            assert event["ticket"]["channel"] == "voicemail"

    run(scenario())
    with core.session_factory() as db:
        (vm,) = db.scalars(sa.select(Voicemail)).all()
        (item,) = db.scalars(sa.select(OutboxItem).where(OutboxItem.kind == "transcribe")).all()
        ticket = db.get_one(Ticket, vm.ticket_id)
        call = db.scalars(sa.select(Call)).one()
    assert item.payload == {"voicemail_id": vm.id} and item.dedup_key == f"transcribe:{vm.id}"
    assert ticket.description == "Говорна порука (чека транскрипцију)"
    assert ticket.citizen is not None and ticket.citizen.phone_e164 == "+387657778889"
    assert (vm.call_id, vm.duration_s, vm.msg_key) == (call.id, 23, "id:1793596327-00000003")
    assert (call.outcome, call.ticket_id, call.callback_due_at) == ("voicemail", ticket.id, None)


def test_voicemail_spool_scan_at_start_and_after_move_to_old(
    core: Core, live: RecordingLivePush, tmp_path: Path
) -> None:
    """Messages left during an outage are found at start; INBOX→Old renumbering is not a new message."""
    spool = tmp_path / "spool"
    put_message(spool, "4800@sistem48", "INBOX", "msg0000")
    put_message(spool, "4800@sistem48", "INBOX", "msg0001", info="incomplete.txt")  # still recording
    put_message(spool, "4800@sistem48", "INBOX", "msg0002", info="hostile.txt")

    async def scenario() -> None:
        async with rig(core, live, spool=spool) as r:
            await r.until(lambda: len(r.events("voicemail.new")) == 2)
            old = spool / "sistem48" / "4800" / "Old"
            old.mkdir()
            inbox = spool / "sistem48" / "4800" / "INBOX"
            for suffix in (".txt", ".wav"):  # what Asterisk does when the supervisor listens
                (inbox / f"msg0000{suffix}").rename(old / f"msg0003{suffix}")
            await r.daemon.scan_spool()
            await r.server.play("voicemail")  # MessageWaiting for another mailbox: nothing new here
            await r.until(lambda: bool(r.events("call.ended")))
            assert len(r.events("voicemail.new")) == 2

    run(scenario())
    with core.session_factory() as db:
        rows = db.scalars(sa.select(Voicemail).order_by(Voicemail.id)).all()
        jobs = db.scalar(sa.select(sa.func.count()).select_from(OutboxItem).where(OutboxItem.kind == "transcribe"))
        tickets = db.scalar(sa.select(sa.func.count()).select_from(Ticket).where(Ticket.channel == "voicemail"))
    assert len(rows) == 2 and jobs == 2 and tickets == 2
    assert rows[0].audio_path is not None and rows[0].audio_path.endswith("Old/msg0003.wav")
    assert rows[1].meta is not None and rows[1].meta["caller_name"] == "<img src=x onerror=alert(1)>%(x)s"


def _callback_call(core: Core) -> tuple[int, int]:
    """Create an ended missed call with a ticket and queue a click-to-call by operator 201."""
    add_operators(core, "201")
    uow = core.uow()
    calls.call_started(uow, linkedid="cb.1", caller_raw="065123456", caller_name="Петар", did="051785266",
                       at=core.clock.now())  # fmt: skip
    calls.call_ended(uow, linkedid="cb.1", outcome="missed", caller_raw="065123456", cause="16", at=core.clock.now())
    with core.session_factory() as db:
        call = db.scalars(sa.select(Call)).one()
        from core.db.models import User

        user = db.scalars(sa.select(User).where(User.extension == "201")).one()
    result = receive(core.uow(), ReceiveReport(channel=Channel.PHONE, text="Рупа на путу", phone="065123456",
                                               call_id=call.id))  # fmt: skip
    queued = calls.request_callback(core.uow(), call_id=call.id, user=user)
    return queued["outbox_id"], result.ticket_id


@pytest.mark.parametrize(("transcript", "success"), [("originate_ok", True), ("originate_busy", False)])
def test_click_to_call_result_is_logged(core: Core, live: RecordingLivePush, transcript: str, success: bool) -> None:
    """The daemon claims the originate item, sends one Originate and logs the outcome on call and ticket."""
    outbox_id, ticket_id = _callback_call(core)

    async def scenario() -> None:
        server = FakeAmi(originate_transcript=transcript)
        await server.start()
        try:
            async with rig(core, live, server=server) as r:
                await r.until(lambda: bool(r.events("call.callback")))
                (sent,) = [a for a in server.actions if a.get("Action") == "Originate"]
                assert (sent.get("Channel"), sent.get("Context"), sent.get("Exten")) == (
                    "PJSIP/201",
                    "sistem48-povratni",
                    "+38765123456",
                )
                assert sent.get("ChannelId").startswith("s48cb-")
        finally:
            await server.stop()

    run(scenario())
    with core.session_factory() as db:
        item = db.get_one(OutboxItem, outbox_id)
        call = db.scalars(sa.select(Call)).one()
        notes = db.scalars(sa.select(StatusChange.internal_note).where(StatusChange.ticket_id == ticket_id)).all()
    assert item.state == "done"
    assert call.meta is not None and call.meta["callbacks"][0]["success"] is success
    assert (call.callback_done_at is not None) is success
    assert any(n and n.startswith("Повратни позив " + ("успио" if success else "није успио")) for n in notes)


def test_originate_never_sent_twice_across_a_reconnect(core: Core, live: RecordingLivePush) -> None:
    """The link drops while the Originate waits: outcome 'uncertain', and no second Originate after login."""
    outbox_id, _ = _callback_call(core)

    async def scenario() -> None:
        server = FakeAmi(hold_originate=True)
        await server.start()
        try:
            async with rig(core, live, server=server) as r:
                async with asyncio.timeout(5):
                    await server.wait_for_action("Originate")
                await r.proxy.reset()
                await r.up(2)
                await r.until(lambda: bool(r.events("call.callback")))
                await asyncio.sleep(0.5)
                assert server.count_actions("Originate") == 1
        finally:
            await server.stop()

    run(scenario())
    with core.session_factory() as db:
        item = db.get_one(OutboxItem, outbox_id)
    assert (item.state, item.last_error) == ("done", "originate: uncertain")


def test_tcp_reset_mid_call_reconciles_without_loss_or_duplicates(core: Core, live: RecordingLivePush) -> None:
    """RST while the call is up: no duplicate pop; the hang-up lost in a second outage is repaired by resync."""
    add_operators(core, "201", "202", "203")

    async def scenario() -> None:
        async with rig(core, live) as r:
            await r.server.play("queue_ringall_answered")
            await r.until(lambda: bool(r.events("call.answered")))
            await r.proxy.reset()
            await r.up(2)
            assert not r.events("call.ended")
            await r.proxy.reset()
            await r.server.play("queue_ringall_hangup")  # nobody logged in: lost
            await r.up(3)
            await r.until(lambda: bool(r.events("call.ended")))
            assert len(r.events("call.ringing")) == 3
            assert len(r.events("call.answered")) == 1
            states = [e["state"] for e in r.events("link.status")]
            assert states.count("down") >= 2 and states[-1] == "up"

    run(scenario())
    call = one_call(core)
    assert (call.state, call.outcome, call.operator_ext) == ("ended", "answered", "202")
    assert call.meta is not None and call.meta["via_resync"] is True


def test_asterisk_restart_ends_the_live_call(core: Core, live: RecordingLivePush) -> None:
    """Shutdown and a new banner: after the resync the in-progress call is ended, once."""
    add_operators(core, "201")

    async def scenario() -> None:
        async with rig(core, live) as r:
            await r.server.play("shutdown_restart")
            await r.up(2)
            await r.until(lambda: bool(r.events("call.ended")))
            await asyncio.sleep(0.3)
            assert len(r.events("call.ended")) == 1

    run(scenario())
    assert one_call(core).outcome == "answered"


def test_daemon_restart_reconciles_calls_from_the_database(core: Core, live: RecordingLivePush) -> None:
    """A new daemon (empty memory) ends the calls the DB thinks live but Asterisk no longer has."""
    add_operators(core, "201", "202", "203")

    async def scenario() -> None:
        server = FakeAmi()
        await server.start()
        try:
            async with rig(core, live, server=server) as r:
                await r.server.play("queue_ringall_answered")
                await r.until(lambda: bool(r.events("call.answered")))
            await server.restart("9.0.0")  # while no daemon runs, the PBX restarts and forgets the call
            async with rig(core, live, server=server) as r:
                await r.until(lambda: bool(r.events("call.ended")))
        finally:
            await server.stop()

    run(scenario())
    call = one_call(core)
    assert (call.state, call.outcome) == ("ended", "answered")


def test_hostile_caller_id_is_stored_and_emitted_as_data(core: Core, live: RecordingLivePush) -> None:
    """XSS markup, 10 KB and control characters in CallerIDName: stored bounded, emitted verbatim, no crash."""
    add_operators(core, "201")
    names = ["<img src=x onerror=alert(1)>", "B" * 10_240, "a\x00b\x1b[2J\x07c\rEvent: Hangup"]

    async def scenario() -> None:
        async with rig(core, live) as r:
            for index, name in enumerate(names):
                uid = f"77.{index}"
                chan = f"PJSIP/trunk-0000770{index}"
                await r.server.broadcast(
                    f"Event: Newchannel\r\nChannel: {chan}\r\nCallerIDNum: 065\r\nCallerIDName: ".encode()
                    + name.encode()
                    + f"\r\nUniqueid: {uid}\r\nLinkedid: {uid}\r\n\r\n".encode()
                )
                await r.server.broadcast(
                    f"Event: DialBegin\r\nChannel: {chan}\r\nUniqueid: {uid}\r\nLinkedid: {uid}\r\n"
                    f"DestChannel: PJSIP/201-0000880{index}\r\nDestUniqueid: 88.{index}\r\n\r\n".encode()
                )
                await r.server.broadcast(
                    f"Event: Hangup\r\nChannel: {chan}\r\nUniqueid: {uid}\r\nCause: 16\r\n\r\n".encode()
                )
            await r.until(lambda: len(r.events("call.ended")) == 3)
            pops = sorted(r.events("call.ringing"), key=lambda e: str(e["linkedid"]))
            popped = [e["call"]["caller"]["name"] for e in pops]
            assert popped[0] == names[0]
            assert popped[1] == "B" * 256
            assert popped[2] == "a\u2400b\x1b[2J\x07c\rEvent: Hangup"

    run(scenario())


def burst_frames(linkedid: str, number: str, extension: str) -> list[list[tuple[str, str]]]:
    """Newchannel, QueueCallerJoin and DialBegin of one queue call from the trunk to ``extension``."""
    seq = linkedid.replace(".", "")[-8:]  # channel names end in a hex sequence
    chan = f"PJSIP/trunk-{seq}"
    caller = [("Channel", chan), ("CallerIDNum", number), ("CallerIDName", "Грађанин"), ("Uniqueid", linkedid),
              ("Linkedid", linkedid), ("Exten", "051785266")]  # fmt: skip
    return [
        [("Event", "Newchannel"), ("ChannelState", "6"), *caller],
        [("Event", "QueueCallerJoin"), *caller, ("Queue", "operateri"), ("Position", "1"), ("Count", "1")],
        [
            ("Event", "DialBegin"),
            *caller,
            ("DestChannel", f"PJSIP/{extension}-{seq}"),
            ("DestUniqueid", linkedid + "9"),
            ("DestLinkedid", linkedid),
        ],  # fmt: skip
    ]


def test_a_burst_of_calls_shares_group_commits(core: Core, live: RecordingLivePush) -> None:
    """Twenty calls at once: each opened once and popped once with its own caller's history.

    The 60 events share far fewer transactions, and a replay of the burst changes nothing.
    """
    add_operators(core, "201")
    numbers = [f"06543{n:04d}" for n in range(20)]
    for number in numbers[:5]:
        receive(core.uow(), ReceiveReport(channel=Channel.WALK_IN, text=f"Рупа у улици, јавља {number}", phone=number))

    async def scenario() -> None:
        async with rig(core, live) as r:
            frames = [burst_frames(f"1764310{n:03d}.{n}", number, "201") for n, number in enumerate(numbers)]
            before = r.daemon.batches
            for kind in range(3):  # every Newchannel, then every queue join, then every DialBegin
                for call in frames:
                    await r.server.send_frame(call[kind])
            await r.until(lambda: len(r.events("call.ringing")) == 20)
            assert r.daemon.batches - before < 20  # 60 events, grouped
            for call in frames:  # a duplicated stream (a resync, a replay) is idempotent
                for frame in call:
                    await r.server.send_frame(frame)
            await r.daemon.drain()
            await asyncio.sleep(0.2)

    run(scenario())
    pops = [e for e in live.events if e["type"] == "call.ringing"]
    assert len(pops) == 20
    by_number = {p["call"]["caller"]["raw"]: p for p in pops}
    assert sorted(by_number) == sorted(numbers)
    for number in numbers[:5]:
        (ticket,) = by_number[number]["history"]["open_tickets"]
        assert by_number[number]["history"]["citizen"]["id"] == by_number[number]["call"]["citizen_id"]
    assert all(not by_number[n]["history"]["open_tickets"] for n in numbers[5:])
    # Two group-commit lanes ran side by side; their events still reached clients in seq order.
    seqs = [int(e["seq"]) for e in live.events]
    assert seqs == sorted(seqs)
    with core.session_factory() as db:
        rows = db.scalars(sa.select(Call)).all()
        assert len(rows) == 20
        assert {c.queue for c in rows} == {"operateri"}
        assert all(len((c.meta or {})["legs"]) == 1 for c in rows)
        assert db.scalar(sa.select(sa.func.count()).select_from(Citizen)) == 20


# The hook's bookkeeping only: the database is not touched.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_group_takes_only_its_own_calls_items_in_order_and_within_max_batch(core: Core) -> None:
    """``_take_late`` moves queued items of the group's calls into it, in queue order, up to ``max_batch``."""
    from telephony.daemon import DaemonOptions, TelephonyDaemon

    at = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)

    def ring(linkedid: str, extension: str) -> calls.Ring:
        return calls.Ring(linkedid=linkedid, extension=extension, leg=f"{linkedid}-{extension}", caller_raw=None,
                          caller_name=None, at=at)  # fmt: skip

    async def scenario() -> None:
        daemon = TelephonyDaemon(core, ami=None, spool=None, options=DaemonOptions(max_batch=4))
        loop = asyncio.get_running_loop()
        Entry = tuple[calls.Opening | calls.Queuing | calls.Ring, asyncio.Future[None]]
        entries: list[Entry] = [(item, loop.create_future()) for item in
                   (ring("A", "201"), ring("B", "201"), ring("A", "202"), ring("C", "201"), ring("A", "203"))]  # fmt: skip
        pending = list(entries)
        group: list[Entry] = [(ring("X", "201"), loop.create_future()), (ring("Y", "201"), loop.create_future())]
        taken = await asyncio.to_thread(daemon._take_late(pending, group, threading.Event()), frozenset({"A", "C"}))  # noqa: SLF001
        # Room for two: A's first two items, in order; C's and A's third wait for the next group.
        assert taken == [entries[0][0], entries[2][0]]
        assert group[2:] == [entries[0], entries[2]]
        assert pending == [entries[1], entries[3], entries[4]]
        assert await asyncio.to_thread(daemon._take_late(pending, group, threading.Event()), frozenset({"Z"})) == []  # noqa: SLF001
        settled = threading.Event()
        settled.set()  # the group's futures are resolved: a late worker must not take A's third item
        assert await asyncio.to_thread(daemon._take_late(pending, group, settled), frozenset({"A"})) == []  # noqa: SLF001
        assert pending == [entries[1], entries[3], entries[4]]

    run(scenario())


def test_a_failed_group_retries_its_late_items_one_by_one(
    core: Core, live: RecordingLivePush, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group fails after taking a ring late: that ring is applied on its own with the rest, and settled."""
    from telephony.daemon import TelephonyDaemon

    add_operators(core, "201")
    at = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    real = calls.open_and_ring
    failed: list[int] = []

    def failing_once(uow: Any, openings: Any = (), rings: Any = (), queued: Any = (), late: Any = None) -> Any:
        if not failed and late is not None:
            failed.append(len(late({"A"})))  # the ring of call A joins, then the group fails
            raise RuntimeError("simulated failure")
        return real(uow, openings, rings, queued, late=late)

    monkeypatch.setattr(calls, "open_and_ring", failing_once)

    async def scenario() -> None:
        daemon = TelephonyDaemon(core, ami=None, spool=None)
        loop = asyncio.get_running_loop()
        Entry = tuple[calls.Opening | calls.Queuing | calls.Ring, asyncio.Future[None]]
        opening = calls.Opening(linkedid="A", caller_raw="065 430001", caller_name=None, did=None, at=at)
        ring_a = calls.Ring(linkedid="A", extension="201", leg="A-201", caller_raw="065 430001", caller_name=None,
                            at=at)  # fmt: skip
        ring_b = calls.Ring(linkedid="B", extension="201", leg="B-201", caller_raw="065 430002", caller_name=None,
                            at=at)  # fmt: skip
        batch: list[Entry] = [(opening, loop.create_future())]
        pending: list[Entry] = [(ring_a, loop.create_future()), (ring_b, loop.create_future())]
        waiting_b = pending[1]
        await daemon._commit_group(batch, pending)  # noqa: SLF001
        assert failed == [1]
        assert [item for item, _ in batch] == [opening, ring_a]
        assert all(future.done() for _, future in batch)
        assert pending == [waiting_b]  # call B was not the group's: it waits for the next one
        assert not waiting_b[1].done()

    run(scenario())
    pops = [e for e in live.events if e["type"] == "call.ringing"]
    assert [(p["linkedid"], p["extension"]) for p in pops] == [("A", "201")]


def test_one_bad_event_does_not_stop_the_daemon(
    core: Core, live: RecordingLivePush, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A core call that fails (here: queue bookkeeping) is logged; the rest of the call still flows.

    The queue note travels in a group commit with the opening and the pops: the failing group is
    retried item by item, so only the bad item is lost.
    """
    add_operators(core, "201", "202")
    real = calls.open_and_ring

    def broken(uow: Any, openings: Any = (), rings: Any = (), queued: Any = (), late: Any = None) -> Any:
        def guarded(linkedids: Any) -> Any:  # a queue join may also join a group late
            items = late(linkedids)
            if any(isinstance(item, calls.Queuing) for item in items):
                raise RuntimeError("simulated failure")
            return items

        if queued:
            raise RuntimeError("simulated failure")
        return real(uow, openings, rings, queued, late=guarded if late else None)

    monkeypatch.setattr(calls, "open_and_ring", broken)

    async def scenario() -> None:
        async with rig(core, live) as r:
            await r.server.play("queue_missed")
            await r.until(lambda: bool(r.events("call.missed")))

    run(scenario())
    call = one_call(core)
    assert call.queue is None
    assert call.outcome == "missed"
    assert {leg["ext"] for leg in (call.meta or {})["legs"].values()} == {"201"}  # the pops still went out


def test_not_configured_reports_and_idles(core: Core, live: RecordingLivePush) -> None:
    """Without S48_AMI_HOST the daemon reports 'not configured' and waits, without crashing."""
    from telephony.daemon import TelephonyDaemon

    async def scenario() -> None:
        daemon = TelephonyDaemon(core, ami=None, spool=None)
        stop = asyncio.Event()
        task = asyncio.ensure_future(daemon.run(stop))
        await asyncio.sleep(0.3)
        assert not task.done()
        stop.set()
        async with asyncio.timeout(5):
            await task

    run(scenario())
    with core.session_factory() as db:
        assert component_states(db, core.clock.now())["ami"] == "not configured"
    assert [e["state"] for e in live.events if e["type"] == "link.status"] == ["not configured"]


def test_wrong_credentials_alert_and_health(
    core: Core, live: RecordingLivePush, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong secret ends in health auth_failed, an ALERT log line, and a daemon that keeps running."""
    caplog.set_level(logging.ERROR)

    async def scenario() -> None:
        async with rig(core, live, secret="wrong", wait_up=False, max_auth_failures=2) as r:
            await r.until(lambda: r.ami_health() == "auth_failed")
            assert r.server.login_attempts == 2
            assert r.events("link.status")[-1]["state"] == "auth_failed"

    run(scenario())
    assert any("ALERT" in rec.getMessage() for rec in caplog.records)
