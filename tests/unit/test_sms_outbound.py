from datetime import UTC, datetime, timedelta

import pytest

from sms_modem.outbound import OutboundScheduler, OutboundSms, Outcome

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
CYRILLIC_300 = (
    "Поштовани, ваша пријава о квару расвете у улици Краља Петра I је заведена под бројем 48-2026-000123. " * 3
)[:300]


def msg(key: str, text: str = "Vasa prijava je primljena: 48-2026-000123", **kw: bool) -> OutboundSms:
    """Build an outgoing SMS."""
    return OutboundSms(key=key, recipient="+38765123456", text=text, **kw)


def drain(s: OutboundScheduler, start: datetime, until: datetime, step: timedelta) -> list[tuple[datetime, str]]:
    """Send everything due on a simulated clock, every send succeeding; return (time, key) pairs."""
    out = []
    now = start
    while now <= until:
        sms = s.next_due(now)
        if sms is not None:
            s.sent(sms.key)
            out.append((now, sms.key))
            continue
        now += step
    return out


def test_rate_limit_spaces_single_part_messages() -> None:
    """At 6 parts/min, single-part messages go out 10 s apart, in FIFO order."""
    s = OutboundScheduler(parts_per_minute=6)
    for i in range(4):
        s.enqueue(msg(f"m{i}"), T0)
    sends = drain(s, T0, T0 + timedelta(minutes=1), timedelta(seconds=1))
    assert [k for _, k in sends] == ["m0", "m1", "m2", "m3"]
    assert [t - T0 for t, _ in sends] == [timedelta(seconds=10 * i) for i in range(4)]


def test_rate_counts_parts_not_messages() -> None:
    """A 5-part Cyrillic reply takes five slots; transliterated it takes two."""
    s = OutboundScheduler(parts_per_minute=6)
    s.enqueue(msg("long", CYRILLIC_300), T0)
    s.enqueue(msg("plain", CYRILLIC_300, transliterate=True), T0)
    s.enqueue(msg("next"), T0)
    sends = drain(s, T0, T0 + timedelta(minutes=2), timedelta(seconds=1))
    assert [(t - T0, k) for t, k in sends] == [
        (timedelta(0), "long"),
        (timedelta(seconds=50), "plain"),
        (timedelta(seconds=70), "next"),
    ]


def test_wait_reports_time_to_next_slot() -> None:
    """wait() tells the daemon how long to sleep: none when empty, the slot gap after a send."""
    s = OutboundScheduler(parts_per_minute=12)
    assert s.wait(T0) is None
    s.enqueue(msg("a"), T0)
    s.enqueue(msg("b"), T0)
    assert s.wait(T0) == timedelta(0)
    first = s.next_due(T0)
    assert first is not None
    s.sent(first.key)
    assert s.next_due(T0 + timedelta(seconds=4)) is None
    assert s.wait(T0 + timedelta(seconds=1)) == timedelta(seconds=4)


def test_retries_back_off_exponentially_then_give_up() -> None:
    """Failures retry after 30 s, 60 s, 120 s …; after max_attempts the message is given up."""
    s = OutboundScheduler(parts_per_minute=60, max_attempts=4, base_delay=timedelta(seconds=30))
    s.enqueue(msg("a"), T0)
    now = T0
    delays = []
    for _ in range(3):
        sms = s.next_due(now)
        assert sms is not None
        attempt = s.failed(sms.key, now, "ERR_TIMEOUT")
        assert attempt.outcome is Outcome.RETRY
        assert attempt.retry_at is not None
        delays.append(attempt.retry_at - now)
        assert s.next_due(attempt.retry_at - timedelta(seconds=1)) is None
        now = attempt.retry_at
    assert delays == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    sms = s.next_due(now)
    assert sms is not None
    final = s.failed(sms.key, now, "ERR_TIMEOUT")
    assert (final.outcome, final.attempts, s.pending) == (Outcome.FAILED, 4, 0)


def test_backoff_is_capped() -> None:
    """The retry delay never exceeds max_delay."""
    s = OutboundScheduler(parts_per_minute=60, max_attempts=20, max_delay=timedelta(minutes=5))
    s.enqueue(msg("a"), T0)
    now = T0
    for _ in range(10):
        sms = s.next_due(now)
        assert sms is not None
        attempt = s.failed(sms.key, now, "busy")
        assert attempt.retry_at is not None
        assert attempt.retry_at - now <= timedelta(minutes=5)
        now = attempt.retry_at


def test_permanent_failure_is_not_retried() -> None:
    """An invalid recipient fails at once."""
    s = OutboundScheduler()
    s.enqueue(msg("a"), T0)
    sms = s.next_due(T0)
    assert sms is not None
    assert s.failed(sms.key, T0, "invalid recipient", permanent=True).outcome is Outcome.FAILED
    assert s.pending == 0


def test_retry_does_not_block_others() -> None:
    """A message in backoff lets the rest of the queue through."""
    s = OutboundScheduler(parts_per_minute=60)
    s.enqueue(msg("bad"), T0)
    s.enqueue(msg("good"), T0)
    bad = s.next_due(T0)
    assert bad is not None
    s.failed(bad.key, T0, "ERR_TIMEOUT")
    good = s.next_due(T0 + timedelta(seconds=1))
    assert good is not None
    assert good.key == "good"
    assert s.sent("good").outcome is Outcome.SENT


def test_enqueue_is_idempotent() -> None:
    """The same key queued twice (a re-enqueue after restart) is sent once."""
    s = OutboundScheduler()
    assert s.enqueue(msg("a"), T0)
    assert not s.enqueue(msg("a"), T0)
    sms = s.next_due(T0)
    assert sms is not None
    assert not s.enqueue(msg("a"), T0)
    assert s.pending == 1


@pytest.mark.parametrize(("rate", "attempts"), [(0, 1), (-1, 1), (6, 0)])
def test_invalid_settings_refused(rate: float, attempts: int) -> None:
    """A non-positive rate or zero attempts is a configuration error."""
    with pytest.raises(ValueError, match="must be"):
        OutboundScheduler(parts_per_minute=rate, max_attempts=attempts)
