"""Integration tests: the real panoramisk-based connector against the loopback fake AMI server.

Everything goes over real TCP sockets on 127.0.0.1, usually through the fault proxy. Each test
runs its own event loop with ``asyncio.run`` and bounds every wait with ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from telephony.ami import AmiSettings, LinkDown, LinkState, OriginateUncertain, PanoramiskCallControl
from telephony.translate import (
    AsteriskShutdown,
    CallAnswered,
    CallEnded,
    CallEvent,
    CallOutcome,
    CallRinging,
    CallStarted,
    CallTranslator,
    ResyncCompleted,
    RingingWithdrawn,
)
from tests.support.fake_ami import FakeAmi, transcript_frames
from tests.support.fault_proxy import FaultProxy

pytestmark = pytest.mark.integration

T = TypeVar("T")
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
FAST: dict[str, Any] = {
    "ping_interval": 0.3,
    "ping_timeout": 0.5,
    "reconnect_initial": 0.05,
    "reconnect_max": 0.3,
    "action_timeout": 1.0,
}


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one scenario in a fresh event loop."""
    return asyncio.run(coro)


class Recorder:
    """Collects delivered call events and link-state changes, with bounded waits."""

    def __init__(self) -> None:
        self.events: list[CallEvent] = []
        self.states: list[LinkState] = []
        self._changed = asyncio.Event()

    async def on_event(self, event: CallEvent) -> None:
        """Record one call event."""
        self.events.append(event)
        self._changed.set()

    def on_state(self, state: LinkState) -> None:
        """Record one link-state change."""
        self.states.append(state)
        self._changed.set()

    async def wait(self, predicate: Callable[[], bool], limit: float = 5.0) -> None:
        """Wait until ``predicate()`` holds, at most ``limit`` seconds."""
        async with asyncio.timeout(limit):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    def of(self, kind: type[T]) -> list[T]:
        """Events of one class, in delivery order."""
        return [e for e in self.events if isinstance(e, kind)]

    def calls(self) -> list[CallEvent]:
        """Call events without resync bookkeeping, with times blanked for comparison."""
        return [_untimed(e) for e in self.events if not isinstance(e, ResyncCompleted)]


def _untimed(event: CallEvent) -> CallEvent:
    return dataclasses.replace(event, at=EPOCH)


def expected_events(*names: str) -> list[CallEvent]:
    """Return what the pure translator makes of transcripts: the TCP path must deliver the same."""
    translator = CallTranslator()
    return [_untimed(e) for name in names for f in transcript_frames(name) for e in translator.translate(f)]


@dataclasses.dataclass
class Stack:
    """A fake server, a fault proxy in front of it, and the connector under test."""

    server: FakeAmi
    proxy: FaultProxy
    control: PanoramiskCallControl
    rec: Recorder


@contextlib.asynccontextmanager
async def stack(*, secret: str | None = None, up: bool = True, **overrides: Any) -> AsyncIterator[Stack]:
    """Start server, proxy and connector; wait for the link to be up unless told not to."""
    server = FakeAmi()
    await server.start()
    proxy = FaultProxy(server.port)
    await proxy.start()
    rec = Recorder()
    settings = AmiSettings(
        port=proxy.port, username=server.username, secret=secret or server.secret, **{**FAST, **overrides}
    )
    control = PanoramiskCallControl(settings, on_event=rec.on_event, on_link_state=rec.on_state)
    try:
        await control.start()
        if up:
            async with asyncio.timeout(5):
                await control.wait_for_state(LinkState.UP)
        yield Stack(server, proxy, control, rec)
    finally:
        await control.stop()
        await proxy.stop()
        await server.stop()


async def until_up(s: Stack, logins: int) -> None:
    """Wait for the given total number of logins and the link back up."""
    async with asyncio.timeout(10):
        await s.server.wait_for_logins(logins)
        await s.control.wait_for_state(LinkState.UP)


@pytest.mark.parametrize(
    "names",
    [
        ("queue_ringall_answered", "queue_ringall_hangup"),
        ("direct_dial",),
        ("blind_transfer",),
        ("attended_transfer",),
        ("queue_abandon",),
        ("queue_missed",),
        ("voicemail",),
    ],
    ids=["ringall", "direct", "blind", "attended", "abandon", "missed", "voicemail"],
)
def test_transcript_over_tcp_matches_pure_translation(names: tuple[str, ...]) -> None:
    """Each scenario replayed over TCP yields exactly the events of the pure translator."""

    async def scenario() -> None:
        async with stack() as s:
            for name in names:
                await s.server.play(name)
            await s.rec.wait(lambda: bool(s.rec.of(CallEnded)))
            assert s.rec.calls() == expected_events(*names)
            assert s.server.logins == 1

    run(scenario())


def test_ringall_pops_only_rung_operators_and_closes_losers() -> None:
    """Ringall to three operators: three pops, one answer, two withdrawn as answered elsewhere."""

    async def scenario() -> None:
        async with stack() as s:
            await s.server.play("queue_ringall_answered")
            await s.rec.wait(lambda: len(s.rec.of(RingingWithdrawn)) == 2)
            assert [r.extension for r in s.rec.of(CallRinging)] == ["201", "202", "203"]
            assert [a.extension for a in s.rec.of(CallAnswered)] == ["202"]
            assert {w.extension for w in s.rec.of(RingingWithdrawn)} == {"201", "203"}

    run(scenario())


def test_split_at_every_byte_yields_same_events() -> None:
    """With the proxy writing one byte at a time, the events are unchanged."""

    async def scenario() -> None:
        async with stack() as s:
            s.proxy.set_mode("slice", 1)
            await s.server.play("direct_dial")
            await s.rec.wait(lambda: bool(s.rec.of(CallEnded)))
            assert s.rec.calls() == expected_events("direct_dial")

    run(scenario())


@pytest.mark.parametrize(
    ("transcript", "success", "code"),
    [("originate_ok", True, 4), ("originate_busy", False, 5)],
)
def test_originate_result_correlated(transcript: str, success: bool, code: int) -> None:
    """Originate uses our ChannelId and Async, and returns the OriginateResponse outcome."""

    async def scenario() -> None:
        async with stack() as s:
            s.server.originate_transcript = transcript
            async with asyncio.timeout(5):
                result = await s.control.originate(
                    channel="PJSIP/201",
                    context="callback",
                    exten="0651234567",
                    caller_id='"Callback" <201>',
                    variables={"COMPLAINT_ID": "1234"},
                    channel_id="cb-42-op",
                )
            assert (result.success, result.reason_code) == (success, code)
            (sent,) = [a for a in s.server.actions if a.get("Action") == "Originate"]
            assert (sent.get("Async"), sent.get("ChannelId"), sent.get("Variable")) == (
                "true",
                "cb-42-op",
                "COMPLAINT_ID=1234",
            )
            assert result.action_id == sent.action_id
            if success:
                assert result.channel_id == "cb-42-op"
            assert not [e for e in s.rec.events if isinstance(e, CallStarted)]

    run(scenario())


def test_originate_refused_while_down_and_never_resent_after_reconnect() -> None:
    """A reset while an Originate waits → OriginateUncertain, and no second Originate after login."""

    async def scenario() -> None:
        async with stack() as s:
            s.server.hold_originate = True
            task = asyncio.ensure_future(s.control.originate(channel="PJSIP/201", context="callback", exten="1"))
            async with asyncio.timeout(5):
                await s.server.wait_for_action("Originate")
            await s.proxy.reset()
            with pytest.raises(OriginateUncertain):
                async with asyncio.timeout(5):
                    await task
            await until_up(s, 2)
            await asyncio.sleep(0.5)
            assert s.server.count_actions("Originate") == 1
            s.proxy.set_mode("blackhole")
            await s.rec.wait(lambda: s.control.link_state is LinkState.DOWN)
            with pytest.raises(LinkDown):
                await s.control.originate(channel="PJSIP/201", context="callback", exten="1")

    run(scenario())


def test_tcp_reset_mid_call_reconnects_and_resyncs() -> None:
    """RST mid-call: reconnect, resync keeps the live call; a call ended in the gap is closed."""

    async def scenario() -> None:
        async with stack() as s:
            await s.server.play("queue_ringall_answered")
            await s.rec.wait(lambda: bool(s.rec.of(CallAnswered)))
            await s.proxy.reset()
            await until_up(s, 2)
            # The call is still up on the PBX: not ended, not announced twice.
            assert not s.rec.of(CallEnded)
            assert len(s.rec.of(CallStarted)) == 1
            await s.proxy.reset()
            await s.server.play("queue_ringall_hangup")  # lost: nobody is logged in
            await until_up(s, 3)
            await s.rec.wait(lambda: bool(s.rec.of(CallEnded)))
            (ended,) = s.rec.of(CallEnded)
            assert (ended.via_resync, ended.outcome, ended.answered_by) == (True, CallOutcome.ANSWERED, "202")
            assert s.rec.states.count(LinkState.DOWN) >= 2

    run(scenario())


def test_half_open_link_detected_by_watchdog() -> None:
    """A black-holed link is noticed within ping_interval + ping_timeout, then recovers."""

    async def scenario() -> None:
        async with stack() as s:
            s.proxy.set_mode("blackhole")
            started = time.monotonic()
            await s.rec.wait(lambda: s.control.link_state is LinkState.DOWN, limit=5)
            detected = time.monotonic() - started
            assert detected <= FAST["ping_interval"] + FAST["ping_timeout"] + 0.5
            s.proxy.set_mode("pass")
            await until_up(s, 2)
            await s.server.play("direct_dial")
            await s.rec.wait(lambda: bool(s.rec.of(CallEnded)))

    run(scenario())


def test_half_open_detection_with_production_defaults_is_within_15_seconds() -> None:
    """The default watchdog settings bound detection by 15 s (10 s interval + 5 s timeout)."""
    settings = AmiSettings(username="u", secret="s")
    assert settings.ping_interval + settings.ping_timeout <= 15


def test_asterisk_restart_ends_calls_and_reads_new_banner() -> None:
    """Shutdown then a new banner: link down, reconnect, the in-progress call ends via resync."""

    async def scenario() -> None:
        async with stack() as s:
            assert s.control.asterisk_version == "9.0.0"
            await s.server.play("shutdown_restart")
            await until_up(s, 2)
            await s.rec.wait(lambda: bool(s.rec.of(CallEnded)))
            assert s.control.asterisk_version == "11.0.0"
            assert s.rec.of(AsteriskShutdown)
            (ended,) = s.rec.of(CallEnded)
            assert ended.via_resync

    run(scenario())


def test_megabyte_frame_without_terminator_aborts_and_loses_nothing_after() -> None:
    """A 1 MB unterminated frame aborts the link; after reconnect the call continues and ends."""

    async def scenario() -> None:
        async with stack() as s:
            await s.server.play("queue_ringall_answered")
            await s.rec.wait(lambda: bool(s.rec.of(CallAnswered)))
            await s.server.broadcast(b"Event: Junk\r\nX: " + b"A" * (1024 * 1024))
            await until_up(s, 2)
            await s.server.play("queue_ringall_hangup")
            await s.rec.wait(lambda: bool(s.rec.of(CallEnded)))
            (ended,) = s.rec.of(CallEnded)
            assert (ended.via_resync, ended.answered_by) == (False, "202")
            assert len(s.rec.of(CallStarted)) == 1

    run(scenario())


def test_hostile_frames_are_data_and_keep_the_link() -> None:
    """XSS, 10 KB and control-character names, duplicate Event, LF-only frames: no reconnect."""
    names = ["<img src=x onerror=alert(1)>", "B" * 10_240, "a\x00b\x1b[2J\x07c\rEvent: Hangup"]

    async def scenario() -> None:
        async with stack() as s:
            for index, name in enumerate(names):
                uid = f"77.{index}"
                raw = (
                    b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/trunk-0000770"
                    + str(index).encode()
                    + b"\r\nCallerIDNum: 065\r\nCallerIDName: "
                    + name.encode()
                    + b"\r\nUniqueid: "
                    + uid.encode()
                    + b"\r\nLinkedid: "
                    + uid.encode()
                    + b"\r\n\r\n"
                )
                await s.server.broadcast(raw)
            await s.server.broadcast(b"Event: UserEvent\r\nEvent: Hangup\r\nUserEvent: x\r\n\r\n")
            await s.server.broadcast(b"Event: Hangup\nChannel: PJSIP/trunk-00007700\nUniqueid: 77.0\nCause: 16\n\n")
            await s.server.broadcast(b"garbage without colon\r\n\r\n")
            # \r\n\n terminator (Asterisk #761)
            await s.server.broadcast(
                b"Event: Hangup\r\nChannel: PJSIP/trunk-00007701\r\nUniqueid: 77.1\r\nCause: 16\r\n\n"
            )
            await s.rec.wait(lambda: len(s.rec.of(CallEnded)) == 2)
            assert [c.caller_name for c in s.rec.of(CallStarted)] == names
            assert s.server.logins == 1
            assert s.control.link_state is LinkState.UP

    run(scenario())


def test_cp1250_trunk_keeps_letters_over_tcp() -> None:
    """A cp1250-encoded caller name arrives as Čaršija, not arija (D8)."""

    async def scenario() -> None:
        async with stack() as s:
            await s.server.play("cp1250_caller")
            await s.rec.wait(lambda: bool(s.rec.of(CallEnded)))
            assert s.rec.of(CallStarted)[0].caller_name == "Čaršija"

    run(scenario())


def test_wrong_credentials_alert_and_stop() -> None:
    """Wrong secret: a few spaced-out attempts, then auth_failed and no further logins."""

    async def scenario() -> None:
        async with stack(secret="wrong", up=False, reconnect_initial=0.1, max_auth_failures=3) as s:
            started = time.monotonic()
            async with asyncio.timeout(5):
                await s.control.wait_for_state(LinkState.AUTH_FAILED)
            elapsed = time.monotonic() - started
            assert s.server.login_attempts == 3
            assert elapsed >= 0.1  # backoff between attempts, not a tight loop
            await asyncio.sleep(0.6)
            assert s.server.login_attempts == 3
            assert s.control.link_state is LinkState.AUTH_FAILED
            await s.rec.wait(lambda: LinkState.AUTH_FAILED in s.rec.states)

    run(scenario())


def test_failing_event_handler_does_not_stop_delivery() -> None:
    """An exception in the event handler is logged; later events are still delivered (D7)."""

    async def scenario() -> None:
        server = FakeAmi()
        await server.start()
        rec = Recorder()

        async def flaky(event: CallEvent) -> None:
            await rec.on_event(event)
            if len(rec.events) == 2:  # the first is the login's ResyncCompleted, then CallStarted
                raise RuntimeError("handler bug")

        settings = AmiSettings(port=server.port, username=server.username, secret=server.secret, **FAST)
        control = PanoramiskCallControl(settings, on_event=flaky)
        try:
            await control.start()
            async with asyncio.timeout(5):
                await control.wait_for_state(LinkState.UP)
            await server.play("direct_dial")
            await rec.wait(lambda: bool(rec.of(CallEnded)))
            assert [type(e).__name__ for e in rec.calls()][:2] == ["CallStarted", "CallRinging"]
        finally:
            await control.stop()
            await server.stop()

    run(scenario())
