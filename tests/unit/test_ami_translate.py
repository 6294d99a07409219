"""Unit tests for the pure AMI → call-event translator (telephony.translate)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telephony.frames import AmiFrame, parse_stream
from telephony.translate import (
    AsteriskShutdown,
    CallAnswered,
    CallEnded,
    CallEvent,
    CallOutcome,
    CallQueued,
    CallRinging,
    CallSnapshot,
    CallStarted,
    CallTransferred,
    CallTranslator,
    LiveChannel,
    OriginateResult,
    ResyncCompleted,
    RingingWithdrawn,
    TransferKind,
    VoicemailNotice,
    WithdrawReason,
    build_snapshot,
    parse_channel,
)
from tests.support.fake_ami import frame_bytes, transcript_frames

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def _run(*names: str, translator: CallTranslator | None = None) -> list[CallEvent]:
    translator = translator or CallTranslator(clock=lambda: NOW)
    events: list[CallEvent] = []
    for name in names:
        for frame in transcript_frames(name):
            events.extend(translator.translate(frame))
    return events


def _of(events: list[CallEvent], kind: type) -> list:  # type: ignore[type-arg]  # any event class
    return [e for e in events if isinstance(e, kind)]


def test_parse_channel_names() -> None:
    """PJSIP/<endpoint>-<hex> yields the endpoint; Local/ channels are not operators."""
    assert parse_channel("PJSIP/201-0000002b") == ("PJSIP", "201")
    assert parse_channel("PJSIP/op-maja-0000002b") == ("PJSIP", "op-maja")
    assert parse_channel("Local/201@from-queue-00000001;1") is None
    assert parse_channel("") is None


def test_queue_ringall_pops_three_and_withdraws_losers() -> None:
    """Ringall to 201/202/203: three pops, 202 answers, 201 and 203 withdrawn, one call."""
    events = _run("queue_ringall_answered", "queue_ringall_hangup")
    assert len(_of(events, CallStarted)) == 1
    started = _of(events, CallStarted)[0]
    assert (started.linkedid, started.caller_raw, started.caller_name, started.did) == (
        "1764310000.1",
        "0651234567",
        "Petar Petrović",
        "051785266",
    )
    assert _of(events, CallQueued)[0].queue == "operators"
    assert [r.extension for r in _of(events, CallRinging)] == ["201", "202", "203"]
    assert [a.extension for a in _of(events, CallAnswered)] == ["202"]
    withdrawn = {w.extension: w.reason for w in _of(events, RingingWithdrawn)}
    assert withdrawn == {"201": WithdrawReason.ANSWERED_ELSEWHERE, "203": WithdrawReason.ANSWERED_ELSEWHERE}
    (ended,) = _of(events, CallEnded)
    assert (ended.outcome, ended.answered_by, ended.cause) == (CallOutcome.ANSWERED, "202", "16")


def test_direct_dial() -> None:
    """A direct Dial(PJSIP/201) rings and is answered by 201, ended by the caller leg only."""
    events = _run("direct_dial")
    assert [type(e).__name__ for e in events] == ["CallStarted", "CallRinging", "CallAnswered", "CallEnded"]
    assert _of(events, CallEnded)[0].outcome is CallOutcome.ANSWERED
    assert _of(events, CallStarted)[0].caller_raw == "+38765111222"


def test_blind_transfer_keeps_one_call() -> None:
    """Blind transfer 201 → 202: one call, transferred, then answered by 202."""
    events = _run("blind_transfer")
    assert len(_of(events, CallStarted)) == 1
    (transfer,) = _of(events, CallTransferred)
    assert (transfer.kind, transfer.from_extension, transfer.to_extension) == (TransferKind.BLIND, "201", "202")
    assert [a.extension for a in _of(events, CallAnswered)] == ["201", "202"]
    (ended,) = _of(events, CallEnded)
    assert ended.answered_by == "202"
    assert {e.linkedid for e in events if hasattr(e, "linkedid")} == {"1764310200.1"}


def test_attended_transfer_keeps_one_call() -> None:
    """Attended transfer via a consultation call (other Linkedid) stays on the citizen's call."""
    events = _run("attended_transfer")
    assert len(_of(events, CallStarted)) == 1
    (transfer,) = _of(events, CallTransferred)
    assert (transfer.kind, transfer.from_extension, transfer.to_extension) == (TransferKind.ATTENDED, "201", "203")
    assert [r.extension for r in _of(events, CallRinging)] == ["201"]  # the consult call is not a citizen call
    (ended,) = _of(events, CallEnded)
    assert (ended.linkedid, ended.answered_by) == ("1764310300.1", "203")


def test_abandon() -> None:
    """The caller hangs up while the queue rings: abandoned, both pops withdrawn."""
    events = _run("queue_abandon")
    (ended,) = _of(events, CallEnded)
    assert ended.outcome is CallOutcome.ABANDONED
    assert ended.caller_raw == "anonymous"
    assert sorted(w.extension for w in _of(events, RingingWithdrawn)) == ["201", "202"]


def test_missed_when_nobody_answers() -> None:
    """Two ring timeouts (retry with new Uniqueid) then caller hangs up: missed."""
    events = _run("queue_missed")
    ringing = _of(events, CallRinging)
    assert [r.extension for r in ringing] == ["201", "201"]
    assert ringing[0].leg != ringing[1].leg
    assert {w.reason for w in _of(events, RingingWithdrawn)} == {WithdrawReason.NO_ANSWER}
    assert _of(events, CallEnded)[0].outcome is CallOutcome.MISSED


def test_voicemail_message_waiting_links_to_call() -> None:
    """MessageWaiting carries the caller's Linkedid and the mailbox counts."""
    events = _run("voicemail")
    (notice,) = _of(events, VoicemailNotice)
    assert (notice.mailbox, notice.new_messages, notice.old_messages) == ("100@complaints", 1, 0)
    assert notice.linkedid == "1764310600.1"
    assert notice.caller_raw == "0657778889"
    assert _of(events, CallEnded)[0].outcome is CallOutcome.MISSED


def test_message_waiting_without_channel() -> None:
    """An MWI after a message was listened to has no channel fields: still a notice, no call."""
    events = CallTranslator().translate(
        AmiFrame.of(("Event", "MessageWaiting"), ("Mailbox", "100@complaints"), ("New", "0"), ("Old", "3"))
    )
    assert events[0] == VoicemailNotice(
        mailbox="100@complaints",
        new_messages=0,
        old_messages=3,
        linkedid=None,
        uniqueid=None,
        caller_raw=None,
        at=events[0].at,
    )


@pytest.mark.parametrize(
    ("name", "success", "code", "reason"),
    [("originate_ok", True, 4, "answered"), ("originate_busy", False, 5, "busy")],
)
def test_originate_response(name: str, success: bool, code: int, reason: str) -> None:
    """OriginateResponse becomes an OriginateResult correlated by ActionID and ChannelId."""
    frames = transcript_frames(
        name, {"ActionID": "a-1", "ChannelId": "s48-x", "Context": "callback", "Exten": "1", "Channel": "PJSIP/201"}
    )
    translator = CallTranslator()
    results = [e for f in frames for e in translator.translate(f) if isinstance(e, OriginateResult)]
    (result,) = results
    assert (result.action_id, result.success, result.reason_code, result.reason) == ("a-1", success, code, reason)
    if success:
        assert result.channel_id == "s48-x"
    assert not translator.open_calls  # an outbound callback is not an inbound call


def test_shutdown_event() -> None:
    """Shutdown is surfaced so the daemon can log the restart."""
    events = _run("shutdown_restart")
    assert isinstance(events[-1], AsteriskShutdown)
    assert events[-1].restart is True


def test_cp1250_caller_name_keeps_letters() -> None:
    """Frames sent in cp1250 by the trunk give the caller name with every letter."""
    parsed = parse_stream(b"".join(frame_bytes(f.headers, "cp1250") for f in transcript_frames("cp1250_caller")))
    translator = CallTranslator()
    events = [e for f in parsed if isinstance(f, AmiFrame) for e in translator.translate(f)]
    assert _of(events, CallStarted)[0].caller_name == "Čaršija"


def test_duplicates_are_idempotent() -> None:
    """Every event delivered twice gives exactly the events of a clean stream."""
    translator = CallTranslator(clock=lambda: NOW)
    events: list[CallEvent] = []
    for frame in transcript_frames("queue_ringall_answered") + transcript_frames("queue_ringall_hangup"):
        events.extend(translator.translate(frame))
        events.extend(translator.translate(frame))
    assert events == _run("queue_ringall_answered", "queue_ringall_hangup")


def test_hangup_before_newchannel_is_still_one_missed_call() -> None:
    """A trunk Hangup arriving first opens and closes one missed call; the late Newchannel is ignored."""
    frames = transcript_frames("voicemail")
    hangup = frames[-1]
    translator = CallTranslator()
    first = translator.translate(hangup)
    later = [e for f in frames[:-1] for e in translator.translate(f)]
    assert [type(e) for e in first] == [CallStarted, CallEnded]
    assert not _of(later, CallStarted)
    assert not translator.open_calls


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_reordered_and_duplicated_stream_one_call_per_linkedid(seed: int) -> None:
    """Property: shuffled neighbours and duplicates never create a second call or lose the end."""
    rng = random.Random(seed)
    frames = transcript_frames("queue_ringall_answered") + transcript_frames("queue_ringall_hangup")
    mutated: list[AmiFrame] = []
    for frame in frames:
        mutated.append(frame)
        if rng.random() < 0.3:
            mutated.append(frame)
    for index in range(len(mutated) - 1):
        if rng.random() < 0.2:
            mutated[index], mutated[index + 1] = mutated[index + 1], mutated[index]
    translator = CallTranslator()
    events = [e for f in mutated for e in translator.translate(f)]
    assert len(_of(events, CallStarted)) <= 1
    assert len(_of(events, CallEnded)) == 1
    assert not translator.open_calls
    answered = _of(events, CallAnswered)
    assert len({a.extension for a in answered}) == len(answered)


def _snapshot(*channels: LiveChannel) -> CallSnapshot:
    return CallSnapshot(channels=channels, queue_entries=(), at=NOW)


def _live(channel: str, uniqueid: str, linkedid: str, state: str, caller: str = "0651234567") -> LiveChannel:
    return LiveChannel(
        channel=channel,
        uniqueid=uniqueid,
        linkedid=linkedid,
        state=state,
        caller_raw=caller,
        caller_name="",
        exten="051785266",
        application="Dial",
        bridge_id="",
    )


def test_reconcile_closes_vanished_call_and_opens_unknown_one() -> None:
    """After login: a call gone from CoreShowChannels ends (via_resync), a new live one opens."""
    translator = CallTranslator(clock=lambda: NOW)
    for frame in transcript_frames("queue_ringall_answered"):
        translator.translate(frame)
    translator.begin_resync()
    events = translator.reconcile(
        _snapshot(
            _live("PJSIP/trunk-000000f1", "9.1", "9.1", "6"),
            _live("PJSIP/204-000000f2", "9.2", "9.1", "5"),
        )
    )
    ended = _of(events, CallEnded)
    assert [(e.linkedid, e.via_resync, e.outcome) for e in ended] == [("1764310000.1", True, CallOutcome.ANSWERED)]
    assert [s.linkedid for s in _of(events, CallStarted)] == ["9.1"]
    assert [r.extension for r in _of(events, CallRinging)] == ["204"]
    assert _of(events, ResyncCompleted)[0].live_calls == ("9.1",)


def test_reconcile_keeps_live_call_and_does_not_duplicate() -> None:
    """A call still up after the reconnect is neither ended nor announced again."""
    translator = CallTranslator(clock=lambda: NOW)
    for frame in transcript_frames("queue_ringall_answered"):
        translator.translate(frame)
    translator.begin_resync()
    events = translator.reconcile(
        _snapshot(
            _live("PJSIP/trunk-00000001", "1764310000.1", "1764310000.1", "6"),
            _live("PJSIP/202-00000003", "1764310000.3", "1764310000.1", "6"),
        )
    )
    assert [type(e) for e in events] == [ResyncCompleted]


def test_reconcile_spares_calls_opened_after_login() -> None:
    """Calls first seen after begin_resync are live on the new link, not vanished."""
    translator = CallTranslator()
    translator.begin_resync()
    for frame in transcript_frames("direct_dial")[:3]:
        translator.translate(frame)
    events = translator.reconcile(_snapshot())
    assert not _of(events, CallEnded)
    assert translator.open_calls == ("1764310100.1",)


def test_build_snapshot_reads_list_events() -> None:
    """CoreShowChannel and QueueEntry list events become typed snapshot rows."""
    snapshot = build_snapshot(
        [
            AmiFrame.of(("Response", "Success"), ("EventList", "start")),
            AmiFrame.of(
                ("Event", "CoreShowChannel"), ("Channel", "PJSIP/trunk-1"), ("Uniqueid", "1.1"), ("Linkedid", "1.1")
            ),
            AmiFrame.of(("Event", "QueueEntry"), ("Queue", "operators"), ("Position", "2"), ("Uniqueid", "1.1")),
            AmiFrame.of(("Event", "CoreShowChannelsComplete")),
        ],
        NOW,
    )
    assert [c.uniqueid for c in snapshot.channels] == ["1.1"]
    assert snapshot.queue_entries[0].position == 2


def test_hostile_caller_names_pass_verbatim() -> None:
    """XSS, 10 KB and control characters in CallerIDName are data, passed through untouched."""
    for name in ("<img src=x onerror=alert(1)>", "A" * 10_240, "a\x00b\x1b[2Jc\x07\rd"):
        frame = AmiFrame.of(
            ("Event", "Newchannel"),
            ("Channel", "PJSIP/trunk-00000001"),
            ("CallerIDNum", "065"),
            ("CallerIDName", name),
            ("Uniqueid", "5.1"),
            ("Linkedid", "5.1"),
        )
        (started,) = CallTranslator().translate(frame)
        assert isinstance(started, CallStarted)
        assert started.caller_name == name


def test_timestamp_header_sets_event_time() -> None:
    """With timestampevents=yes the event time comes from the frame, not the clock."""
    frame = AmiFrame.of(
        ("Event", "Newchannel"),
        ("Channel", "PJSIP/trunk-00000001"),
        ("Uniqueid", "5.1"),
        ("Linkedid", "5.1"),
        ("Timestamp", "1795842727.500000"),
    )
    (started,) = CallTranslator(clock=lambda: NOW).translate(frame)
    assert started.at == datetime.fromtimestamp(1795842727.5, UTC)
