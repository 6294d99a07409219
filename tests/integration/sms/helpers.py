"""Shared helpers for the SMS daemon tests: read the database, drive the outbox like the worker does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core.bootstrap import Core
from core.db.models import Event, InboundItem, Message, OutboxItem, StatusChange, Ticket
from core.services.outbox import deliver, pending_ids

CITIZEN = "+38765123456"
OTHER = "+38766555444"
LONG_CYRILLIC = (
    "Поштовани, у улици Краља Петра I већ недељу дана не ради јавна расвјета. Пре три дана сам звао "
    "и речено ми је да ће екипа доћи, али нико није дошао. Дјеца се враћају из школе по мраку и "
    "бојим се да се не деси несрећа. Молим вас да пошаљете екипу што прије. Хвала! 🙏 Срдачан поздрав, Марко Ђурић."
)


def sim_time(core: Core, seconds: float = 0) -> datetime:
    """Return an SMSC time stamp near the test clock (whole seconds: the SMS format has no fractions)."""
    return (core.clock.now() + timedelta(seconds=seconds)).astimezone(UTC).replace(microsecond=0)


def tickets(core: Core) -> list[Ticket]:
    """Return every ticket, oldest first."""
    with core.session_factory() as s:
        return list(s.scalars(sa.select(Ticket).order_by(Ticket.id)).unique())


def messages(core: Core, **where: Any) -> list[Message]:
    """Return SMS messages matching simple equality filters, oldest first."""
    query = sa.select(Message).where(Message.channel == "sms").order_by(Message.id)
    for name, value in where.items():
        query = query.where(getattr(Message, name) == value)
    with core.session_factory() as s:
        return list(s.scalars(query))


def count(core: Core, model: type[Any]) -> int:
    """Count the rows of a table."""
    with core.session_factory() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def history(core: Core, ticket_id: int) -> list[StatusChange]:
    """Return a ticket's history lines."""
    with core.session_factory() as s:
        return list(
            s.scalars(sa.select(StatusChange).where(StatusChange.ticket_id == ticket_id).order_by(StatusChange.id))
        )


def events(core: Core, type_: str) -> list[dict[str, Any]]:
    """Return stored events of one type."""
    with core.session_factory() as s:
        return [e.payload for e in s.scalars(sa.select(Event).where(Event.type == type_).order_by(Event.seq))]


def drain_outbox(core: Core) -> int:
    """Deliver pending outbox items as the worker would; return how many."""
    done = 0
    for outbox_id, _kind in pending_ids(core.uow(), core.clock.now()):
        deliver(core.uow(), outbox_id, core.handlers)
        done += 1
    return done


def acks(core: Core) -> int:
    """Count acknowledgement outbox items (one per ticket at most)."""
    with core.session_factory() as s:
        return int(
            s.scalar(
                sa.select(sa.func.count()).select_from(OutboxItem).where(OutboxItem.dedup_key.like("citizen:%:ack"))
            )
            or 0
        )


def inbound_items(core: Core) -> int:
    """Count SMS inbound items."""
    with core.session_factory() as s:
        return int(
            s.scalar(sa.select(sa.func.count()).select_from(InboundItem).where(InboundItem.channel == "sms")) or 0
        )
