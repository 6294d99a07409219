"""Ports: what the core needs from the outside world, as Protocols. Adapters live outside core/."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

    def emit_many(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Send the events of one commit, in order (an adapter may send them in one write)."""
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

    def emit_many(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Do nothing; clients resync from the events table."""


class RecordingLivePush:
    """Keeps emitted events in memory (tests, and the in-process relay of ``sistem48 up``)."""

    def __init__(self) -> None:
        self.events: list[Mapping[str, Any]] = []

    def emit(self, event: Mapping[str, Any]) -> None:
        """Record the event."""
        self.events.append(event)

    def emit_many(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Record the events."""
        self.events.extend(events)


@dataclass(frozen=True, kw_only=True)
class TranscribedWord:
    """One recognised word with its timing (seconds) and confidence in [0, 1]."""

    word: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True, kw_only=True)
class TranscriptResult:
    """What a speech engine heard in one recording."""

    text: str
    words: tuple[TranscribedWord, ...]
    confidence: float | None
    needs_human: bool
    engine: str
    model: str
    duration_s: float | None = None


class TranscriptionUnavailable(Exception):  # noqa: N818  a state, not a bug: "transcription unavailable"
    """The engine cannot run (model missing or broken); the voicemail stays, marked for a human."""


class AudioRejected(ValueError):
    """The recording cannot be transcribed (empty, truncated, not audio); ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Transcriber(Protocol):
    """A speech-to-text engine (Vosk by default; another engine can be plugged in)."""

    def transcribe(self, audio_path: str) -> TranscriptResult:
        """Transcribe one recording; raises AudioRejected or TranscriptionUnavailable."""
        ...


class CallControl(Protocol):
    """Places calls on the PBX (click-to-call)."""

    def originate(self, *, channel_id: str, extension: str, number: str) -> None:
        """Ring the operator's extension, then dial the citizen; the result arrives as an event."""
        ...
