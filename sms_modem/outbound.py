"""Outbound SMS scheduling: keep the modem busy but not flooded, retry failures with backoff.

Pure: the caller passes the time and does the sending. A real modem sends about 6–15 SMS parts a
minute and operators block fast senders, so the rate is counted in *parts* (a 5-part Cyrillic reply
uses five slots), spaced evenly rather than in bursts. Failed sends come back after an exponential
backoff; after ``max_attempts`` the message is given up and reported, never retried forever.

The queue lives in memory; the durable outbound table (the core's) is the source of truth, so a
restarted daemon re-enqueues what the table says is unsent.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sms_modem.encoding import plan


class Outcome(StrEnum):
    """What became of a send attempt."""

    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class OutboundSms:
    """A message to send; ``key`` is the caller's id (the outbound row), unique in the queue."""

    key: str
    recipient: str
    text: str
    transliterate: bool = False
    flash: bool = False

    @property
    def segments(self) -> int:
        """How many SMS parts this message costs in the coding it will be sent in."""
        return plan(self.text, transliterate=self.transliterate).segments


@dataclass(kw_only=True)
class _Entry:
    """A queued message with its retry bookkeeping."""

    sms: OutboundSms
    not_before: datetime
    order: int
    attempts: int = 0
    last_error: str | None = None


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """The result of reporting a send: the outcome and, for a retry, when it will be tried again."""

    key: str
    outcome: Outcome
    attempts: int
    retry_at: datetime | None = None
    error: str | None = None


@dataclass
class OutboundScheduler:
    """Rate-limited FIFO of outgoing SMS with exponential-backoff retries."""

    parts_per_minute: float = 6.0
    max_attempts: int = 5
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(minutes=30)
    _queue: dict[str, _Entry] = field(default_factory=dict)
    _in_flight: dict[str, _Entry] = field(default_factory=dict)
    _free_at: datetime | None = None
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        if self.parts_per_minute <= 0:
            raise ValueError("parts_per_minute must be positive")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    @property
    def pending(self) -> int:
        """Messages waiting or being sent."""
        return len(self._queue) + len(self._in_flight)

    def enqueue(self, sms: OutboundSms, now: datetime) -> bool:
        """Queue a message; return False when its key is already queued (enqueue is idempotent)."""
        if sms.key in self._queue or sms.key in self._in_flight:
            return False
        self._queue[sms.key] = _Entry(sms=sms, not_before=now, order=next(self._counter))
        return True

    def next_due(self, now: datetime) -> OutboundSms | None:
        """Take the next message to send now, or None when the rate limit or backoff says wait."""
        if self._free_at is not None and now < self._free_at:
            return None
        due = [e for e in self._queue.values() if e.not_before <= now]
        if not due:
            return None
        entry = min(due, key=lambda e: (e.not_before, e.order))
        del self._queue[entry.sms.key]
        entry.attempts += 1
        self._in_flight[entry.sms.key] = entry
        # Reserve the modem for every part of this message, whatever the outcome.
        self._free_at = now + self._interval * entry.sms.segments
        return entry.sms

    def wait(self, now: datetime) -> timedelta | None:
        """How long until something can be sent (zero if now), or None when nothing is queued."""
        if not self._queue:
            return None
        earliest = min(e.not_before for e in self._queue.values())
        if self._free_at is not None:
            earliest = max(earliest, self._free_at)
        return max(earliest - now, timedelta(0))

    def sent(self, key: str) -> Attempt:
        """Record a successful send."""
        entry = self._in_flight.pop(key)
        return Attempt(key=key, outcome=Outcome.SENT, attempts=entry.attempts)

    def failed(self, key: str, now: datetime, error: str, *, permanent: bool = False) -> Attempt:
        """Record a failed send: retry after a backoff, or give up (permanent error or attempts used up)."""
        entry = self._in_flight.pop(key)
        entry.last_error = error
        if permanent or entry.attempts >= self.max_attempts:
            return Attempt(key=key, outcome=Outcome.FAILED, attempts=entry.attempts, error=error)
        delay = min(self.base_delay * (2 ** (entry.attempts - 1)), self.max_delay)
        entry.not_before = now + delay
        self._queue[key] = entry
        return Attempt(key=key, outcome=Outcome.RETRY, attempts=entry.attempts, retry_at=entry.not_before, error=error)

    @property
    def _interval(self) -> timedelta:
        """Time one SMS part occupies at the configured rate."""
        return timedelta(minutes=1) / self.parts_per_minute
