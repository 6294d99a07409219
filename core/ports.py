"""Ports: what the core needs from the outside world, as Protocols. Adapters live outside core/."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol


class Clock(Protocol):
    """Source of the current time (UTC-aware); injectable so SLA tests control time."""

    def now(self) -> datetime:
        """Return the current time in UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current time in UTC."""
        return datetime.now(UTC)


class LivePush(Protocol):
    """Pushes committed events to operators' screens (Socket.IO in production)."""

    def emit(self, event: Mapping[str, Any]) -> None:
        """Send one committed event (``seq``, ``type``, ``at``, data) to its audience."""
        ...


class TaskQueue(Protocol):
    """Hands committed outbox items to workers (Celery in production)."""

    def enqueue(self, outbox_id: int, kind: str) -> None:
        """Ask a worker to deliver one outbox item; may raise when the broker is down."""
        ...


@dataclass(frozen=True, kw_only=True)
class Notification:
    """One message to a citizen, an organisation or a supervisor."""

    channel: str  # sms|email|log
    address: str | None
    subject: str
    body: str
    idempotency_key: str


class Notifier(Protocol):
    """Sends notifications; SMS and e-mail adapters arrive with their channels."""

    def send(self, notification: Notification) -> str:
        """Send (or queue) a notification and return its state (``sent``, ``queued``, ``logged``)."""
        ...


class NullLivePush:
    """Drops live events: for processes without operators' screens attached."""

    def emit(self, event: Mapping[str, Any]) -> None:
        """Do nothing; clients resync from the events table."""


class RecordingLivePush:
    """Keeps emitted events in memory (tests, and the in-process relay of ``sistem48 up``)."""

    def __init__(self) -> None:
        self.events: list[Mapping[str, Any]] = []

    def emit(self, event: Mapping[str, Any]) -> None:
        """Record the event."""
        self.events.append(event)
