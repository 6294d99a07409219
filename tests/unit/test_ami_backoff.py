"""Unit tests for the connector's pure helpers (backoff, frame → panoramisk message)."""

from __future__ import annotations

import random

from telephony.ami import FORGETTABLE_ACTIONS, AmiSettings, Backoff, _to_message
from telephony.frames import AmiFrame


def test_backoff_grows_to_the_cap_with_jitter_and_resets() -> None:
    """Delays double up to the maximum, jitter only shortens them, and reset starts over."""
    backoff = Backoff(1.0, 30.0, 0.25, random.Random(7))
    delays = [backoff.next() for _ in range(8)]
    bases = [1, 2, 4, 8, 16, 30, 30, 30]
    for delay, base in zip(delays, bases, strict=True):
        assert 0.75 * base <= delay <= base
    backoff.reset()
    assert backoff.next() <= 1.0


def test_jitter_spreads_reconnects() -> None:
    """Two connectors with different random sources do not retry in lockstep."""
    first = Backoff(1.0, 30.0, 0.25, random.Random(1)).next()
    second = Backoff(1.0, 30.0, 0.25, random.Random(2)).next()
    assert first != second


def test_originate_is_forgettable_so_never_resent() -> None:
    """Originate is in the forgettable list, so panoramisk never re-sends it after a reconnect (D4)."""
    assert "originate" in FORGETTABLE_ACTIONS


def test_duplicate_event_header_becomes_single_value_for_panoramisk() -> None:
    """Duplicate Event/ActionID headers are coerced to the first value; others stay lists (D1)."""
    frame = AmiFrame.of(
        ("Event", "UserEvent"),
        ("Event", "Hangup"),
        ("ActionID", "a1"),
        ("ActionID", "a2"),
        ("ChanVariable", "A=1"),
        ("ChanVariable", "B=2"),
    )
    message = _to_message(frame)
    assert message["event"] == "UserEvent"
    assert message["actionid"] == "a1"
    assert message["chanvariable"] == ["A=1", "B=2"]
    assert message.frame is frame


def test_frame_without_event_or_response_is_not_a_message() -> None:
    """Garbage frames never reach panoramisk's handler."""
    assert _to_message(AmiFrame.of(("Foo", "bar"))) is None


def test_settings_hide_the_secret() -> None:
    """The AMI secret never appears in logs of the settings object."""
    assert "hunter2" not in repr(AmiSettings(username="u", secret="hunter2"))
