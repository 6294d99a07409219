"""Port fakes for core tests: they record what the core asked of the outside world."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.ports import Notification


class FixedClock:
    """A clock the test moves by hand (forwards or backwards)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """Return the current fake time."""
        return self.current

    def advance(self, **kwargs: float) -> datetime:
        """Move the clock by a timedelta's keyword arguments (negative to jump back)."""
        self.current = self.current + timedelta(**kwargs)
        return self.current

    def set(self, moment: datetime) -> None:
        """Jump to a moment."""
        self.current = moment


class RecordingTasks:
    """A task queue that remembers what was enqueued, or fails like a dead broker."""

    def __init__(self) -> None:
        self.enqueued: list[tuple[int, str]] = []
        self.down = False

    def enqueue(self, outbox_id: int, kind: str) -> None:
        """Record the item, or raise when the broker is 'down'."""
        if self.down:
            raise ConnectionError("broker down")
        self.enqueued.append((outbox_id, kind))


class RecordingNotifier:
    """A notifier that records what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> str:
        """Record the notification."""
        self.sent.append(notification)
        return "sent"
