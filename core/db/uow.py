"""Unit of work: one transaction, rolled back unless committed; events and outbox leave after commit."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
import sqlalchemy.orm as so

from core.db.base import BigId, UtcDateTime
from core.db.fixed import FixedQuery, run_all
from core.db.models import Event, OutboxItem
from core.jsontext import to_json
from core.ports import Clock, LivePush, TaskQueue

log = logging.getLogger(__name__)

T = TypeVar("T")

# Any constant: the transaction-scoped advisory lock that orders event inserts (see commit()).
EVENT_LOCK_KEY = 480_048

_LOCK_EVENTS = FixedQuery(sa.select(sa.func.pg_advisory_xact_lock(EVENT_LOCK_KEY).label("locked")))
# PostgreSQL: the events of a commit in one statement with one fixed text, whatever their number.
# The ORM's multi-row INSERT has a new text for every count, which psycopg parses anew each time (a
# group commit of twenty pops spent more on that than on the insert). The payloads go as one JSON
# array, written in one call and sent as one string (psycopg dumps a list element by element, in
# Python); rows are inserted in ORDER BY order, so seq is handed out in the order the events were
# emitted.
_INSERT_EVENTS = FixedQuery(
    sa.text(
        "INSERT INTO event (type, at, audience, payload)"
        " SELECT u.type, :at, u.audience, u.payload"
        " FROM ROWS FROM (unnest(CAST(:types AS text[])), unnest(CAST(:audiences AS text[])),"
        " json_array_elements(CAST(:payloads AS json)))"
        " WITH ORDINALITY AS u(type, audience, payload, ord) ORDER BY u.ord RETURNING seq"
    )
    .bindparams(sa.bindparam("at", type_=UtcDateTime()))
    .columns(sa.column("seq", BigId)),
)


# Transactions commit their events in seq order (see _store_events), but each pushes them after its
# commit, from its own thread: the telephony daemon's two group-commit lanes, or a hangup beside a
# pop, could publish seq 9 before seq 8, and a client that resyncs after the highest seq it saw
# would never get 8. Within a process, this lock spans event insert, commit and push, so pushes
# leave in seq order too. It is taken before the event lock, never by a thread holding that one, so
# the two cannot deadlock.
_PUSH_ORDER = threading.Lock()


class UnitOfWork:
    """A session plus the side effects it will release once its transaction has committed."""

    def __init__(
        self,
        session_factory: Callable[[], so.Session],
        *,
        clock: Clock,
        live: LivePush,
        tasks: TaskQueue | None,
    ) -> None:
        self._factory = session_factory
        self.clock = clock
        self._live = live
        self._tasks = tasks
        self._events: list[tuple[str, str, dict[str, Any]]] = []
        self._outbox: list[OutboxItem] = []
        self.session: so.Session

    def __enter__(self) -> Self:
        self.session = self._factory()
        self._events = []
        self._outbox = []
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def emit(self, type_: str, data: dict[str, Any], *, audience: str = "operators") -> None:
        """Queue a live event; it is stored in this transaction and pushed only after commit."""
        self._events.append((type_, audience, data))

    def add_outbox(
        self, kind: str, payload: dict[str, Any], *, dedup_key: str | None = None, delay_s: float = 0
    ) -> OutboxItem:
        """Write a side effect to the outbox in this transaction."""
        now = self.clock.now()
        item = OutboxItem(
            kind=kind,
            payload=payload,
            dedup_key=dedup_key,
            state="pending",
            attempts=0,
            created_at=now,
            available_at=now + timedelta(seconds=delay_s),
        )
        self.session.add(item)
        self._outbox.append(item)
        return item

    def commit(self) -> list[dict[str, Any]]:
        """Commit, then push events and publish outbox items; returns the committed events."""
        with _PUSH_ORDER if self._events else contextlib.nullcontext():
            self.session.flush()
            published = [(item.id, item.kind) for item in self._outbox]
            events = self._store_events() if self._events else []
            # With psycopg the events' insert already committed (same round trip); this ends the
            # session's transaction, and commits it wherever that did not happen.
            self.session.commit()
            self._events = []
            self._outbox = []
            self._after_commit(events, published)
        return events

    def _store_events(self) -> list[dict[str, Any]]:
        """Insert the queued events (the session flushed); return them as their wire payloads.

        On PostgreSQL (psycopg) this also commits the transaction: the unit of work's last statement.
        """
        now = self.clock.now()
        if self.session.get_bind().dialect.name != "postgresql":
            rows = [
                Event(type=type_, at=now, audience=audience, payload=data) for type_, audience, data in self._events
            ]
            self.session.add_all(rows)
            self.session.flush()
            return [event_dict(row) for row in rows]
        params = {
            "at": now,
            "types": [type_ for type_, _, _ in self._events],
            "audiences": [audience for _, audience, _ in self._events],
            "payloads": to_json([data for _, _, data in self._events]),
        }
        # Sequence values are handed out at INSERT but become visible at COMMIT, so two concurrent
        # transactions could expose seq 6 before seq 5 and a client resyncing with after=6 would
        # miss 5 for ever. Holding this lock from the event insert to commit makes commit order
        # equal seq order (contracts §4: strictly increasing, none lost). Lock, insert and COMMIT go
        # in one round trip: everything else of this unit of work was flushed before.
        _, stored = run_all(self.session.connection(), [(_LOCK_EVENTS, {}), (_INSERT_EVENTS, params)], commit=True)
        seqs = sorted(row.seq for row in stored)
        return [
            wire_event(seq, type_, now, audience, data)
            for seq, (type_, audience, data) in zip(seqs, self._events, strict=True)
        ]

    def _after_commit(self, events: list[dict[str, Any]], published: list[tuple[int, str]]) -> None:
        """Release side effects; failures here never undo the commit (the sweeper re-drives)."""
        if events:
            try:
                self._live.emit_many(events)
            except Exception:  # noqa: BLE001  a dead push must not fail a committed request
                log.warning("live push failed for events %s..%s; clients resync by seq", events[0]["seq"],
                            events[-1]["seq"])  # fmt: skip
        if self._tasks is None:
            return
        for outbox_id, kind in published:
            try:
                self._tasks.enqueue(outbox_id, kind)
            except Exception:  # noqa: BLE001  broker down (F4): the sweeper publishes it later
                log.warning("broker unavailable; outbox item %s waits for the sweeper", outbox_id)


def once_more_on_conflict(work: Callable[[], T]) -> T:
    """Run a unit of work; if another writer inserted the same unique row first, run it once more.

    The other writer's row is committed by the time our INSERT fails on the unique key, so the
    second pass finds it instead of inserting it again (two daemons opening one call, or writing one
    component's status row at start).
    """
    try:
        return work()
    except sa_exc.IntegrityError:
        return work()


def event_dict(row: Event) -> dict[str, Any]:
    """Render a stored event as the wire payload of contracts §4."""
    return wire_event(row.seq, row.type, row.at, row.audience, row.payload)


def wire_event(seq: int, type_: str, at: datetime, audience: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Return an event's wire payload (contracts §4): its cursor, type, time and audience, then its data."""
    return {"seq": seq, "type": type_, "at": at.isoformat(), "audience": audience, **payload}
