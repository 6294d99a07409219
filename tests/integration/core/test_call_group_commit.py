"""The telephony group commit (``calls.open_and_ring``): idempotent, ordered, and safe against a racing writer."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
import sqlalchemy.orm as so

from core.bootstrap import Core
from core.db.models import Call, Citizen, ComponentStatus, Event
from core.ports import RecordingLivePush
from core.services import calls, health
from core.services.call_rows import CallRow

AT = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def opening(n: int) -> calls.Opening:
    """The opening of call ``n`` from its own number."""
    return calls.Opening(linkedid=f"1764310000.{n}", caller_raw=f"065 43{n:04d}", caller_name="Грађанин", did="051785266",
                         at=AT)  # fmt: skip


def ring(n: int, extension: str) -> calls.Ring:
    """Call ``n`` ringing on ``extension``."""
    return calls.Ring(linkedid=f"1764310000.{n}", extension=extension, leg=f"1764310000.{n}-{extension}",
                      caller_raw=f"065 43{n:04d}", caller_name="Грађанин", at=AT)  # fmt: skip


def test_openings_and_ringall_legs_in_one_commit(core: Core, live: RecordingLivePush) -> None:
    """Three calls, one ringing three phones: one row each, one pop per leg, all legs on one row."""
    rings = [ring(1, "201"), ring(1, "202"), ring(1, "203"), ring(2, "201"), ring(3, "202")]
    ids, popped = calls.open_and_ring(core.uow(), [opening(1), opening(2), opening(3)], rings)
    assert popped == [True] * 5
    assert len(set(ids.values())) == 3
    pops = [e for e in live.events if e["type"] == "call.ringing"]
    assert [(p["linkedid"], p["extension"]) for p in pops] == [(r.linkedid, r.extension) for r in rings]
    assert [p["seq"] for p in pops] == sorted(p["seq"] for p in pops)
    with core.session_factory() as db:
        first = db.scalars(sa.select(Call).where(Call.linkedid == "1764310000.1")).one()
        assert sorted(leg["ext"] for leg in (first.meta or {})["legs"].values()) == ["201", "202", "203"]


def test_a_replayed_group_changes_nothing(core: Core, live: RecordingLivePush) -> None:
    """A resync or a duplicated stream repeats openings and legs: no new row, no second pop."""
    group: tuple[Sequence[calls.Opening], Sequence[calls.Ring]] = (
        [opening(1), opening(2)],
        [ring(1, "201"), ring(2, "202")],
    )
    first_ids, _ = calls.open_and_ring(core.uow(), *group)
    again_ids, popped = calls.open_and_ring(core.uow(), *group)
    assert again_ids == first_ids
    assert popped == [False, False]
    with core.session_factory() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Call)) == 2
        assert db.scalar(sa.select(sa.func.count()).select_from(Event).where(Event.type == "call.ringing")) == 2


def test_items_that_arrive_while_a_group_reads_join_its_commit(
    core: Core, live: RecordingLivePush, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ``late`` hook gets the Linkedids the group has read; their rings and queue notes pop in its commit."""
    asked: list[set[str]] = []
    pushes: list[int] = []
    real_push = live.emit_many

    def counting(events: Sequence[Any]) -> None:
        pushes.append(len(events))
        real_push(events)

    monkeypatch.setattr(live, "emit_many", counting)

    def late(linkedids: Collection[str]) -> list[calls.Opening | calls.Queuing | calls.Ring]:
        asked.append(set(linkedids))
        # A repeated opening comes too: its call is in the group already, so it changes nothing.
        return [calls.Queuing(linkedid=opening(1).linkedid, queue="operateri", at=AT), ring(1, "201"), ring(2, "202"),
                opening(2)]  # fmt: skip

    ids, popped = calls.open_and_ring(core.uow(), [opening(1), opening(2)], late=late)
    assert asked == [{opening(1).linkedid, opening(2).linkedid}]
    assert popped == []  # the rings given up front: none
    pops = [e for e in live.events if e["type"] == "call.ringing"]
    assert [(p["call_id"], p["extension"]) for p in pops] == [(ids[opening(1).linkedid], "201"),
                                                               (ids[opening(2).linkedid], "202")]  # fmt: skip
    assert pushes == [2]  # one commit, one push
    with core.session_factory() as db:
        first = db.get_one(Call, ids[opening(1).linkedid])
        assert first.queue == "operateri"
        assert [leg["ext"] for leg in (first.meta or {})["legs"].values()] == ["201"]
        assert db.scalar(sa.select(sa.func.count()).select_from(Call)) == 2


def test_a_pop_shows_what_came_before_the_call_not_the_call(core: Core, live: RecordingLivePush) -> None:
    """The ringing call is not among its caller's recent calls.

    Not when opened and popped at once, not for a later leg, and not when the history is read again
    after the call was written.
    """
    earlier = calls.Opening(linkedid="1764300000.1", caller_raw="065 430001", caller_name=None, did=None, at=AT)
    earlier_ids, _ = calls.open_and_ring(core.uow(), [earlier])
    calls.call_ended(core.uow(), linkedid=earlier.linkedid, outcome="answered", caller_raw="065 430001", cause="16",
                     at=AT)  # fmt: skip
    ids, _ = calls.open_and_ring(core.uow(), [opening(1)], [ring(1, "201")])
    calls.open_and_ring(core.uow(), rings=[ring(1, "202")])  # a later leg: the cached history
    calls._history_cache.clear()  # noqa: SLF001  as if the call had waited past the cache's lifetime
    calls.open_and_ring(core.uow(), rings=[ring(1, "203")])
    pops = [e for e in live.events if e["type"] == "call.ringing"]
    assert [p["extension"] for p in pops] == ["201", "202", "203"]
    for pop in pops:
        assert [c["id"] for c in pop["history"]["recent_calls"]] == [earlier_ids[earlier.linkedid]]
        assert pop["call_id"] == ids[opening(1).linkedid]


def test_a_first_time_callers_pop_shows_nobody_known_on_both_databases(core: Core, live: RecordingLivePush) -> None:
    """A number never seen becomes a citizen with its call, but its pop (read before) knows nobody yet."""
    calls.open_and_ring(core.uow(), [opening(7)], [ring(7, "201")])
    (pop,) = [e for e in live.events if e["type"] == "call.ringing"]
    assert pop["history"]["citizen"] is None
    assert pop["history"]["phone"] == "+38765430007"
    assert pop["call"]["citizen_id"] is not None


# SQLite transactions here begin IMMEDIATE (one writer at a time), so this race exists only on PostgreSQL.
def race_call_one(core: Core, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make another writer commit call 1 right after the group's first lookup; return the list it marks."""
    real = calls._group_calls
    raced: list[int] = []

    def racing(*args: Any, **kwargs: Any) -> tuple[dict[str, CallRow], list[Sequence[Any]]]:
        found = real(*args, **kwargs)
        if not raced:
            with core.session_factory() as other:
                other.add(Call(linkedid=opening(1).linkedid, direction="in", caller_raw="065 430001", state="ringing",
                               started_at=AT, meta={"legs": {}}))  # fmt: skip
                other.commit()
                raced.append(1)
        return found

    monkeypatch.setattr(calls, "_group_calls", racing)
    return raced


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_call_opened_by_another_writer_meanwhile_is_reused(
    core: Core, live: RecordingLivePush, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between our lookup and our insert another writer commits the same Linkedid: no duplicate, no loss."""
    race_call_one(core, monkeypatch)
    ids, popped = calls.open_and_ring(core.uow(), [opening(1), opening(2)], [ring(1, "201")])
    assert popped == [True]
    with core.session_factory() as db:
        rows = db.scalars(sa.select(Call).order_by(Call.id)).all()
        assert [c.linkedid for c in rows] == ["1764310000.1", "1764310000.2"]
        assert ids["1764310000.1"] == rows[0].id
        assert list((rows[0].meta or {})["legs"]) == ["1764310000.1-201"]
    assert [e["call_id"] for e in live.events if e["type"] == "call.ringing"] == [rows[0].id]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_items_taken_late_survive_the_retry_after_a_racing_writer(
    core: Core, live: RecordingLivePush, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook hands its items over once; when the first pass loses a Linkedid race, the retry still pops them."""
    raced = race_call_one(core, monkeypatch)
    handed: list[int] = []

    def late(_linkedids: Collection[str]) -> list[calls.Opening | calls.Queuing | calls.Ring]:
        handed.append(1)
        return [ring(1, "201"), ring(2, "202")] if len(handed) == 1 else []

    calls.open_and_ring(core.uow(), [opening(1), opening(2)], late=late)
    assert raced == [1]
    assert handed == [1, 1]  # asked again on the retry, with nothing new
    pops = [e for e in live.events if e["type"] == "call.ringing"]
    assert [(p["linkedid"], p["extension"]) for p in pops] == [(opening(1).linkedid, "201"),
                                                               (opening(2).linkedid, "202")]  # fmt: skip
    with core.session_factory() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Call)) == 2


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_link_status_written_by_another_daemon_meanwhile_is_updated(
    core: Core, live: RecordingLivePush, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two daemons start at once: both find no AMI status row; the one that loses the insert updates it."""
    real = health.report_status
    raced: list[int] = []

    def racing(session: so.Session, *args: Any, **kwargs: Any) -> bool:
        changed = real(session, *args, **kwargs)
        if not raced:
            with core.session_factory() as other:
                other.add(ComponentStatus(name="ami", state="down", detail="повезивање", updated_at=AT))
                other.commit()
                raced.append(1)
        return changed

    monkeypatch.setattr(health, "report_status", racing)
    changed = calls.link_status(core.uow(), state="up", health_state="ok", detail=None, at=AT)
    assert changed  # the other daemon's row said "down"
    with core.session_factory() as db:
        (row,) = db.scalars(sa.select(ComponentStatus)).all()
        assert (row.name, row.state) == ("ami", "ok")
    assert [e["state"] for e in live.events if e["type"] == "link.status"] == ["up"]


def test_new_callers_become_citizens_in_phone_key_order(core: Core) -> None:
    """Calls from new numbers, in any order: their citizens are inserted in phone-key order.

    Two lanes creating the same two new callers in opposite orders would otherwise wait on each
    other's inserts (a deadlock, broken by PostgreSQL only after a second).
    """
    calls.open_and_ring(core.uow(), [opening(3), opening(1), opening(2)])
    with core.session_factory() as db:
        keys = db.scalars(
            sa.select(Citizen.phone_key).where(Citizen.phone_key.like("+3876543000%")).order_by(Citizen.id)
        ).all()
    assert keys == ["+38765430001", "+38765430002", "+38765430003"]
