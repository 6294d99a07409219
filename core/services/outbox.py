"""Outbox delivery: claim an item once, perform its effect through a port, mark it done.

Workers receive only an outbox id. Claiming is a conditional UPDATE, so a task delivered twice
(broker redelivery, a re-drive racing the original) performs its effect once. A claim that is
never finished (worker killed) expires after a lease and the sweeper publishes the item again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import Message, OutboxItem
from core.db.uow import UnitOfWork
from core.ports import Notification, Notifier, TaskQueue

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ERROR = 2000


@dataclass(frozen=True)
class Delivery:
    """The outcome of one delivery attempt."""

    outbox_id: int
    state: str  # done|skipped|retry|dead


Handler = Callable[[so.Session, OutboxItem, datetime], None]


def notification_handler(notifier: Notifier) -> Handler:
    """Build the handler for notify_* items: record the outgoing message and send it."""

    def handle(session: so.Session, item: OutboxItem, now: datetime) -> None:
        payload: dict[str, Any] = item.payload
        message = session.scalar(sa.select(Message).where(Message.outbox_id == item.id))
        if message is None:
            message = Message(
                ticket_id=payload.get("ticket_id"),
                direction="out",
                channel=str(payload.get("channel") or "log"),
                address=payload.get("address"),
                body=str(payload.get("body") or ""),
                at=now,
                delivery_state="queued",
                outbox_id=item.id,
            )
            session.add(message)
            session.flush()
        state = notifier.send(
            Notification(
                channel=message.channel,
                address=message.address,
                subject=str(payload.get("subject") or ""),
                body=message.body,
                idempotency_key=f"outbox:{item.id}",
            )
        )
        message.delivery_state = state

    return handle


def _unknown_kind(session: so.Session, item: OutboxItem, now: datetime) -> None:
    """Fail an item nobody handles, so it ends in the dead letters instead of looping."""
    raise LookupError(f"no handler for outbox kind {item.kind!r}")


def deliver(uow: UnitOfWork, outbox_id: int, handlers: dict[str, Handler], *, max_attempts: int = 8) -> Delivery:
    """Deliver one outbox item exactly once (claim → effect → done), with bounded retries."""
    now = uow.clock.now()
    with uow:
        claimed = uow.session.execute(
            sa.update(OutboxItem)
            .where(
                OutboxItem.id == outbox_id,
                sa.or_(
                    OutboxItem.state == "pending",
                    sa.and_(OutboxItem.state == "sending", OutboxItem.claimed_at < now - LEASE),
                ),
                OutboxItem.available_at <= now,
            )
            .values(state="sending", claimed_at=now, attempts=OutboxItem.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        uow.commit()
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return Delivery(outbox_id, "skipped")
    with uow:
        item = uow.session.get_one(OutboxItem, outbox_id)
        handler = handlers.get(item.kind, _unknown_kind)
        try:
            handler(uow.session, item, now)
        except Exception as exc:  # noqa: BLE001  one bad item must not stop the worker
            uow.session.rollback()
            return _failed(uow, outbox_id, exc, now, max_attempts)
        item.state = "done"
        item.done_at = now
        uow.commit()
    return Delivery(outbox_id, "done")


def _failed(uow: UnitOfWork, outbox_id: int, exc: Exception, now: datetime, max_attempts: int) -> Delivery:
    """Record a failure: retry later with backoff, or dead-letter after max_attempts."""
    item = uow.session.get_one(OutboxItem, outbox_id)
    item.last_error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
    if item.attempts >= max_attempts:
        item.state = "dead"
        log.error("outbox item %s dead after %d attempts: %s", outbox_id, item.attempts, item.last_error)
    else:
        item.state = "pending"
        item.available_at = now + timedelta(seconds=min(3600, 2**item.attempts * 5))
        log.warning("outbox item %s failed (attempt %d): %s", outbox_id, item.attempts, item.last_error)
    uow.commit()
    return Delivery(outbox_id, item.state if item.state == "dead" else "retry")


def redrive(uow: UnitOfWork, tasks: TaskQueue, now: datetime, *, older_than: timedelta) -> list[int]:
    """Publish again the items a worker never finished: broker down at commit, lost task, dead worker."""
    with uow:
        rows = uow.session.execute(
            sa.select(OutboxItem.id, OutboxItem.kind)
            .where(
                sa.or_(
                    sa.and_(OutboxItem.state == "pending", OutboxItem.available_at <= now - older_than),
                    sa.and_(OutboxItem.state == "sending", OutboxItem.claimed_at < now - LEASE),
                )
            )
            .order_by(OutboxItem.id)
            .limit(1000)
        ).all()
    sent: list[int] = []
    for outbox_id, kind in rows:
        try:
            tasks.enqueue(outbox_id, kind)
        except Exception:  # noqa: BLE001  broker still down: try again next sweep
            log.warning("broker unavailable; %d outbox items wait", len(rows) - len(sent))
            break
        sent.append(outbox_id)
    return sent


def pending_ids(uow: UnitOfWork, now: datetime) -> list[tuple[int, str]]:
    """Return items ready for delivery now (for the in-process relay of the embedded default)."""
    with uow:
        return [
            (row[0], row[1])
            for row in uow.session.execute(
                sa.select(OutboxItem.id, OutboxItem.kind)
                .where(OutboxItem.state == "pending", OutboxItem.available_at <= now)
                .order_by(OutboxItem.id)
                .limit(1000)
            ).all()
        ]
