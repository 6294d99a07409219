"""Ticket rules: statuses and their transitions, public codes, deadlines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class Status(StrEnum):
    """Where a ticket stands. Labels for people live in ``core.i18n``."""

    NEW = "new"  # received, not yet routed (the operator triages)
    ASSIGNED = "assigned"  # routed to the responsible organisation
    IN_PROGRESS = "in_progress"
    WAITING = "waiting"  # waiting for the citizen (more details, access)
    RESOLVED = "resolved"
    REFERRED = "referred"  # not our competence: forwarded with an explanation, never dropped
    CLOSED = "closed"
    REOPENED = "reopened"


OPEN_STATUSES = frozenset({Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING, Status.REOPENED})
FINAL_STATUSES = frozenset({Status.RESOLVED, Status.REFERRED, Status.CLOSED})

# Which status may follow which. A resolved ticket can be reopened (the citizen answers 0).
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING, Status.RESOLVED, Status.REFERRED}),
    Status.ASSIGNED: frozenset({Status.IN_PROGRESS, Status.WAITING, Status.RESOLVED, Status.REFERRED, Status.NEW}),
    Status.IN_PROGRESS: frozenset({Status.WAITING, Status.RESOLVED, Status.REFERRED, Status.ASSIGNED}),
    Status.WAITING: frozenset({Status.IN_PROGRESS, Status.RESOLVED, Status.REFERRED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.REOPENED}),
    Status.REFERRED: frozenset({Status.CLOSED, Status.REOPENED}),
    Status.CLOSED: frozenset({Status.REOPENED}),
    Status.REOPENED: frozenset({Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING, Status.RESOLVED, Status.REFERRED}),
}

# A public note is what the citizen and the public read: closing a ticket without one is refused.
NEEDS_PUBLIC_NOTE = frozenset({Status.RESOLVED, Status.REFERRED})

ANSWER_HOURS = 48
CODE_PREFIX = "48"
_CODE_IN_TEXT = re.compile(r"(?<![\d])48\s*[-–./ ]\s*(20\d\d)\s*[-–./ ]\s*(\d{1,6})(?![\d])")
_CODE_EXACT = re.compile(r"^48-(\d{4})-(\d{6})$")


class TransitionError(ValueError):
    """A status change that the rules do not allow."""


def check_transition(current: str, new: str, public_note: str | None) -> Status:
    """Validate a status change and return the new status."""
    try:
        target = Status(new)
        source = Status(current)
    except ValueError as exc:
        raise TransitionError(f"unknown status {new!r}") from exc
    if target not in TRANSITIONS[source]:
        raise TransitionError(f"{source.value} → {target.value} is not allowed")
    if target in NEEDS_PUBLIC_NOTE and not (public_note and public_note.strip()):
        raise TransitionError(f"{target.value} needs a public note for the citizen")
    return target


def format_code(year: int, number: int) -> str:
    """Return the public code, e.g. ``48-2026-000123``."""
    return f"{CODE_PREFIX}-{year:04d}-{number:06d}"


def find_codes(text: str) -> list[str]:
    """Find ticket codes quoted in free text, tolerating spaces, dots and short numbers."""
    return [format_code(int(y), int(n)) for y, n in _CODE_IN_TEXT.findall(text)]


def is_code(text: str) -> bool:
    """Tell whether a string is exactly a well-formed public code."""
    return bool(_CODE_EXACT.match(text))


@dataclass(frozen=True)
class Deadlines:
    """The two clocks of a ticket, both absolute UTC instants."""

    answer_due: datetime
    resolve_due: datetime


def compute_deadlines(received_at: datetime, resolve_hours: int, answer_hours: int = ANSWER_HOURS) -> Deadlines:
    """Compute deadlines as exact elapsed hours in UTC.

    Adding 48 h to an aware Europe/Sarajevo datetime is wall-clock arithmetic and yields 47 or 49
    real hours across a DST change; converting to UTC first makes the promise exact.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    start = received_at.astimezone(UTC)
    return Deadlines(
        answer_due=start + timedelta(hours=answer_hours), resolve_due=start + timedelta(hours=resolve_hours)
    )
