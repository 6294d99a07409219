"""Turn AMI frames into call-domain events (pure: no I/O, no database, no panoramisk).

One call per caller-leg ``Linkedid`` (telephony.md §4): the trunk leg's ``Newchannel`` opens it,
``DialBegin``/``AgentCalled`` to ``PJSIP/<ext>-…`` ring an operator, ``DialEnd``/``AgentConnect``
answer, ``DialEnd CANCEL``/``Hangup Cause=26`` withdraw ringall losers, and the caller leg's
``Hangup`` ends the call as answered, missed or abandoned. Every transition is idempotent and the
input is de-duplicated, because AMI streams repeat and reorder events (reliability.md F13).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar

from telephony.frames import AmiFrame

DEFAULT_TRUNK_ENDPOINTS = frozenset({"trunk"})
_CHANNEL_RE = re.compile(r"^(?P<tech>PJSIP|SIP|IAX2)/(?P<endpoint>[^;/]+)-(?P<seq>[0-9A-Fa-f]+)$")
_CAUSE_ANSWERED_ELSEWHERE = "26"
_RINGING_STATE = "5"
_UP_STATE = "6"

# OriginateResponse ``Reason`` = the last control frame seen (telephony.md §4).
ORIGINATE_REASONS = {
    0: "failed",
    1: "hangup",
    3: "ring_timeout",
    4: "answered",
    5: "busy",
    8: "congestion",
}


class CallOutcome(StrEnum):
    """How a call ended, from the citizen's point of view."""

    ANSWERED = "answered"
    MISSED = "missed"
    ABANDONED = "abandoned"


class WithdrawReason(StrEnum):
    """Why a ringing pop was closed on one operator's screen."""

    ANSWERED_ELSEWHERE = "answered_elsewhere"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"
    CANCELLED = "cancelled"
    CALLER_HUNG_UP = "caller_hung_up"
    RESYNC = "resync"


class TransferKind(StrEnum):
    """Blind (transferer hangs up at once) or attended (after a consultation call)."""

    BLIND = "blind"
    ATTENDED = "attended"


@dataclass(frozen=True, kw_only=True)
class CallStarted:
    """An inbound call arrived on the trunk."""

    linkedid: str
    caller_raw: str
    caller_name: str
    did: str
    channel: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class CallQueued:
    """The caller joined a queue."""

    linkedid: str
    queue: str
    position: int | None
    at: datetime


@dataclass(frozen=True, kw_only=True)
class CallRinging:
    """An operator's phone rings for this call: open the screen pop on that operator's console."""

    linkedid: str
    caller_raw: str
    caller_name: str
    extension: str
    leg: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RingingWithdrawn:
    """An operator's phone stopped ringing without that operator answering: close the pop."""

    linkedid: str
    extension: str
    leg: str
    reason: WithdrawReason
    at: datetime


@dataclass(frozen=True, kw_only=True)
class CallAnswered:
    """An operator answered (or took over, after a transfer)."""

    linkedid: str
    extension: str
    leg: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class CallTransferred:
    """The call moved to another extension; it keeps its Linkedid and its record."""

    linkedid: str
    kind: TransferKind
    from_extension: str | None
    to_extension: str | None
    at: datetime


@dataclass(frozen=True, kw_only=True)
class CallEnded:
    """The caller leg hung up (or vanished while the link was down, ``via_resync``)."""

    linkedid: str
    outcome: CallOutcome
    answered_by: str | None
    caller_raw: str
    cause: str
    at: datetime
    via_resync: bool = False


@dataclass(frozen=True, kw_only=True)
class VoicemailNotice:
    """A mailbox's counts changed (``MessageWaiting``); scan the spool for complete messages."""

    mailbox: str
    new_messages: int
    old_messages: int
    linkedid: str | None
    uniqueid: str | None
    caller_raw: str | None
    at: datetime


@dataclass(frozen=True, kw_only=True)
class OriginateResult:
    """Outcome of an Async Originate, correlated by our ActionID and ChannelId."""

    action_id: str
    channel_id: str
    success: bool
    reason_code: int | None
    reason: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class AsteriskShutdown:
    """Asterisk announced it is stopping (``Shutdown``): treat as a link loss, resync later."""

    restart: bool
    at: datetime


@dataclass(frozen=True, kw_only=True)
class LiveChannel:
    """One channel from a ``CoreShowChannel`` list event."""

    channel: str
    uniqueid: str
    linkedid: str
    state: str
    caller_raw: str
    caller_name: str
    exten: str
    application: str
    bridge_id: str


@dataclass(frozen=True, kw_only=True)
class QueueEntry:
    """One waiting caller from a ``QueueEntry`` list event."""

    queue: str
    position: int | None
    channel: str
    uniqueid: str
    caller_raw: str


@dataclass(frozen=True, kw_only=True)
class CallSnapshot:
    """What Asterisk reports as live right after a login (``CoreShowChannels`` + ``QueueStatus``)."""

    channels: tuple[LiveChannel, ...]
    queue_entries: tuple[QueueEntry, ...]
    at: datetime


@dataclass(frozen=True, kw_only=True)
class ResyncCompleted:
    """The call table was reconciled with a snapshot; ``live_calls`` are the calls still up."""

    live_calls: tuple[str, ...]
    snapshot: CallSnapshot
    at: datetime


CallEvent = (
    CallStarted
    | CallQueued
    | CallRinging
    | RingingWithdrawn
    | CallAnswered
    | CallTransferred
    | CallEnded
    | VoicemailNotice
    | OriginateResult
    | AsteriskShutdown
    | ResyncCompleted
)


def utc_now() -> datetime:
    """Return the current UTC time (the default clock)."""
    return datetime.now(UTC)


def parse_channel(channel: str) -> tuple[str, str] | None:
    """Split ``PJSIP/201-0000002b`` into ``("PJSIP", "201")``; None for Local/ or odd names."""
    match = _CHANNEL_RE.match(channel)
    if match is None:
        return None
    return match.group("tech"), match.group("endpoint")


def _int_or_none(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def originate_result(frame: AmiFrame, at: datetime) -> OriginateResult:
    """Read an ``OriginateResponse`` event; ``Uniqueid`` is our pre-assigned ChannelId."""
    code = _int_or_none(frame.get("Reason"))
    reason = ORIGINATE_REASONS.get(code, "unknown") if code is not None else "unknown"
    return OriginateResult(
        action_id=frame.action_id,
        channel_id=frame.get("Uniqueid") or frame.get("ChannelId"),
        success=frame.response.casefold() == "success",
        reason_code=code,
        reason=reason,
        at=at,
    )


def build_snapshot(frames: Iterable[AmiFrame], at: datetime) -> CallSnapshot:
    """Collect ``CoreShowChannel`` and ``QueueEntry`` list events into a snapshot."""
    channels: list[LiveChannel] = []
    entries: list[QueueEntry] = []
    for frame in frames:
        if frame.is_event("CoreShowChannel"):
            channels.append(
                LiveChannel(
                    channel=frame.get("Channel"),
                    uniqueid=frame.get("Uniqueid"),
                    linkedid=frame.get("Linkedid") or frame.get("Uniqueid"),
                    state=frame.get("ChannelState"),
                    caller_raw=frame.get("CallerIDNum"),
                    caller_name=frame.get("CallerIDName"),
                    exten=frame.get("Exten"),
                    application=frame.get("Application"),
                    bridge_id=frame.get("BridgeId"),
                )
            )
        elif frame.is_event("QueueEntry"):
            entries.append(
                QueueEntry(
                    queue=frame.get("Queue"),
                    position=_int_or_none(frame.get("Position")),
                    channel=frame.get("Channel"),
                    uniqueid=frame.get("Uniqueid"),
                    caller_raw=frame.get("CallerIDNum"),
                )
            )
    return CallSnapshot(channels=tuple(channels), queue_entries=tuple(entries), at=at)


@dataclass
class _Leg:
    uniqueid: str
    extension: str
    state: str  # ringing | answered | withdrawn | ended


@dataclass
class _Call:
    linkedid: str
    caller_uniqueid: str
    channel: str
    caller_raw: str
    caller_name: str
    did: str
    legs: dict[str, _Leg] = field(default_factory=dict)
    answered_by: str | None = None
    abandoned: bool = False


class _BoundedSet:
    """Insertion-ordered set that forgets its oldest members beyond ``limit`` (bounded memory)."""

    def __init__(self, limit: int) -> None:
        self._items: OrderedDict[object, None] = OrderedDict()
        self._limit = limit

    def add(self, item: object) -> bool:
        """Add ``item``; return False when it was already present."""
        if item in self._items:
            return False
        self._items[item] = None
        if len(self._items) > self._limit:
            self._items.popitem(last=False)
        return True

    def __contains__(self, item: object) -> bool:
        return item in self._items


class CallTranslator:
    """Stateful, pure translator: ``translate(frame)`` → call events; ``reconcile(snapshot)`` after login."""

    def __init__(
        self,
        *,
        trunk_endpoints: Iterable[str] = DEFAULT_TRUNK_ENDPOINTS,
        clock: Callable[[], datetime] = utc_now,
        memory: int = 20_000,
    ) -> None:
        self.trunk_endpoints = frozenset(trunk_endpoints)
        self._clock = clock
        self._calls: dict[str, _Call] = {}
        self._leg_owner: dict[str, str] = {}  # operator-leg Uniqueid -> call Linkedid
        self._ended = _BoundedSet(memory)
        self._seen = _BoundedSet(memory)
        self._resync_base: set[str] | None = None

    # -- public API ---------------------------------------------------------------------------

    @property
    def open_calls(self) -> tuple[str, ...]:
        """Linkedids of the calls currently in progress."""
        return tuple(self._calls)

    def translate(self, frame: AmiFrame) -> list[CallEvent]:
        """Apply one AMI event frame and return the call events it causes (often none)."""
        name = frame.event.casefold()
        if not name:
            return []
        # Exact repeats are dropped; Timestamp is ignored so a re-sent copy still matches.
        key = (name, tuple((k.casefold(), v) for k, v in frame.headers if k.casefold() != "timestamp"))
        if not self._seen.add(key):
            return []
        handler = self._handlers.get(name)
        if handler is None:
            return []
        return handler(self, frame, self._at(frame))

    def begin_resync(self) -> None:
        """Mark the calls known at (re)login; only these may be closed by the coming snapshot."""
        self._resync_base = set(self._calls)

    def reconcile(self, snapshot: CallSnapshot) -> list[CallEvent]:
        """Close calls that vanished while the link was down and open those we missed."""
        at = snapshot.at
        events: list[CallEvent] = []
        by_linkedid: dict[str, list[LiveChannel]] = {}
        for channel in snapshot.channels:
            by_linkedid.setdefault(channel.linkedid, []).append(channel)
        live_callers = {
            ch.linkedid: ch for ch in snapshot.channels if ch.uniqueid == ch.linkedid and self._is_trunk(ch.channel)
        }
        # Calls opened after the login were seen live on the new link; never close those here.
        base = self._resync_base if self._resync_base is not None else set(self._calls)
        self._resync_base = None
        for linkedid in list(self._calls):
            if linkedid in base and linkedid not in live_callers:
                events.extend(self._end_call(self._calls[linkedid], "", at, via_resync=True))
        for linkedid, caller in live_callers.items():
            if linkedid in self._ended:
                continue
            call = self._calls.get(linkedid)
            if call is None:
                call = self._open_call(
                    linkedid, caller.uniqueid, caller.channel, caller.caller_raw, caller.caller_name, caller.exten
                )
                events.append(self._started(call, at))
            live_legs: set[str] = set()
            for channel in by_linkedid.get(linkedid, []):
                extension = self._operator_extension(channel.channel)
                if extension is None or channel.uniqueid == call.caller_uniqueid:
                    continue
                live_legs.add(channel.uniqueid)
                if channel.state == _RINGING_STATE:
                    events.extend(self._ring(call, channel.uniqueid, extension, at))
                elif channel.state == _UP_STATE:
                    events.extend(self._answer(call, channel.uniqueid, extension, at))
            for leg in list(call.legs.values()):
                if leg.state == "ringing" and leg.uniqueid not in live_legs:
                    events.extend(self._withdraw(call, leg, WithdrawReason.RESYNC, at))
        events.append(ResyncCompleted(live_calls=tuple(self._calls), snapshot=snapshot, at=at))
        return events

    # -- helpers ------------------------------------------------------------------------------

    def _at(self, frame: AmiFrame) -> datetime:
        stamp = frame.get("Timestamp")
        if stamp:
            try:
                return datetime.fromtimestamp(float(stamp), UTC)
            except (ValueError, OverflowError, OSError):
                pass
        return self._clock()

    def _is_trunk(self, channel: str) -> bool:
        parsed = parse_channel(channel)
        return parsed is not None and parsed[1] in self.trunk_endpoints

    def _operator_extension(self, channel: str) -> str | None:
        parsed = parse_channel(channel)
        if parsed is None or parsed[1] in self.trunk_endpoints:
            return None
        return parsed[1]

    def _open_call(
        self, linkedid: str, uniqueid: str, channel: str, caller_raw: str, caller_name: str, did: str
    ) -> _Call:
        call = _Call(linkedid, uniqueid, channel, caller_raw, caller_name, did)
        self._calls[linkedid] = call
        return call

    @staticmethod
    def _started(call: _Call, at: datetime) -> CallStarted:
        return CallStarted(
            linkedid=call.linkedid,
            caller_raw=call.caller_raw,
            caller_name=call.caller_name,
            did=call.did,
            channel=call.channel,
            at=at,
        )

    def _call_from_caller_fields(self, frame: AmiFrame, at: datetime, events: list[CallEvent]) -> _Call | None:
        """Find the call a frame belongs to, opening it if the frame shows the trunk caller leg."""
        linkedid = frame.get("Linkedid")
        uniqueid = frame.get("Uniqueid")
        call = self._calls.get(linkedid) if linkedid else None
        if call is None and uniqueid in self._leg_owner:
            call = self._calls.get(self._leg_owner[uniqueid])
        if call is not None:
            return call
        # Reordered stream: a later event of the caller leg may arrive before its Newchannel.
        caller_leg = uniqueid and (not linkedid or linkedid == uniqueid)
        if caller_leg and self._is_trunk(frame.get("Channel")) and uniqueid not in self._ended:
            call = self._open_call(
                uniqueid,
                uniqueid,
                frame.get("Channel"),
                frame.get("CallerIDNum"),
                frame.get("CallerIDName"),
                frame.get("Exten"),
            )
            events.append(self._started(call, at))
            return call
        return None

    def _ring(self, call: _Call, leg_id: str, extension: str, at: datetime) -> list[CallEvent]:
        if leg_id in call.legs:
            return []  # AgentCalled and DialBegin both announce the same leg
        call.legs[leg_id] = _Leg(leg_id, extension, "ringing")
        self._leg_owner[leg_id] = call.linkedid
        return [
            CallRinging(
                linkedid=call.linkedid,
                caller_raw=call.caller_raw,
                caller_name=call.caller_name,
                extension=extension,
                leg=leg_id,
                at=at,
            )
        ]

    def _answer(self, call: _Call, leg_id: str, extension: str, at: datetime) -> list[CallEvent]:
        leg = call.legs.get(leg_id)
        if leg is not None and leg.state in ("answered", "ended"):
            return []
        if leg is None:
            leg = call.legs[leg_id] = _Leg(leg_id, extension, "ringing")
            self._leg_owner[leg_id] = call.linkedid
        leg.state = "answered"
        call.answered_by = leg.extension
        events: list[CallEvent] = [CallAnswered(linkedid=call.linkedid, extension=leg.extension, leg=leg_id, at=at)]
        # Close the other ringall pops now, even if their DialEnd CANCEL is late or lost.
        for other in call.legs.values():
            if other.state == "ringing":
                events.extend(self._withdraw(call, other, WithdrawReason.ANSWERED_ELSEWHERE, at))
        return events

    @staticmethod
    def _withdraw(call: _Call, leg: _Leg, reason: WithdrawReason, at: datetime) -> list[CallEvent]:
        if leg.state != "ringing":
            return []
        leg.state = "withdrawn"
        return [
            RingingWithdrawn(linkedid=call.linkedid, extension=leg.extension, leg=leg.uniqueid, reason=reason, at=at)
        ]

    def _end_call(self, call: _Call, cause: str, at: datetime, *, via_resync: bool = False) -> list[CallEvent]:
        events: list[CallEvent] = []
        reason = WithdrawReason.RESYNC if via_resync else WithdrawReason.CALLER_HUNG_UP
        for leg in call.legs.values():
            events.extend(self._withdraw(call, leg, reason, at))
            self._leg_owner.pop(leg.uniqueid, None)
        if call.answered_by is not None:
            outcome = CallOutcome.ANSWERED
        elif call.abandoned:
            outcome = CallOutcome.ABANDONED
        else:
            outcome = CallOutcome.MISSED
        del self._calls[call.linkedid]
        self._ended.add(call.linkedid)
        events.append(
            CallEnded(
                linkedid=call.linkedid,
                outcome=outcome,
                answered_by=call.answered_by,
                caller_raw=call.caller_raw,
                cause=cause,
                at=at,
                via_resync=via_resync,
            )
        )
        return events

    def _find_leg(self, frame: AmiFrame) -> tuple[_Call, _Leg] | None:
        dest = frame.get("DestUniqueid")
        owner = self._leg_owner.get(dest)
        call = self._calls.get(owner) if owner else None
        if call is None or dest not in call.legs:
            return None
        return call, call.legs[dest]

    # -- event handlers -----------------------------------------------------------------------

    def _on_newchannel(self, frame: AmiFrame, at: datetime) -> list[CallEvent]:
        events: list[CallEvent] = []
        uniqueid, linkedid = frame.get("Uniqueid"), frame.get("Linkedid")
        if uniqueid and (not linkedid or uniqueid == linkedid):
            self._call_from_caller_fields(frame, at, events)
        return events

    def _on_newcallerid(self, frame: AmiFrame, at: datetime) -> list[CallEvent]:
        call = self._calls.get(frame.get("Linkedid"))
        if call is not None and frame.get("Uniqueid") == call.caller_uniqueid:
            call.caller_raw = frame.get("CallerIDNum", call.caller_raw)
            call.caller_name = frame.get("CallerIDName", call.caller_name)
        return []

    def _on_queuecallerjoin(self, frame: AmiFrame, at: datetime) -> list[CallEvent]:
        events: list[CallEvent] = []
        call = self._call_from_caller_fields(frame, at, events)
        if call is not None:
            position = _int_or_none(frame.get("Position"))
            events.append(CallQueued(linkedid=call.linkedid, queue=frame.get("Queue"), position=position, at=at))
        return events

    def _on_dial_begin(self, frame: AmiFrame, at: datetime) -> list[CallEvent]:
        extension = self._operator_extension(frame.get("DestChannel"))
        if extension is None:
            return []
        events: list[CallEvent] = []
        call = self._call_from_caller_fields(frame, at, events)
        if call is None:
            return events
        leg_id = frame.get("DestUniqueid") or frame.get("DestChannel")
        events.extend(self._ring(call, leg_id, extension, at))
        return events

    def _on_dial_end(self, frame: AmiFrame, at: datetime) -> list[CallEvent]:
        status = frame.get("DialStatus").upper()
        if status == "ANSWER":
            return self._on_connect(frame, at)
        found = self._find_leg(frame)
        if found is None:
            return []
        call, leg = found
        if status == "CANCEL":
            answered_elsewhere = call.answered_by is not None and call.answered_by != leg.extension
            reason = WithdrawReason.ANSWERED_ELSEWHERE if answered_elsewhere else WithdrawReason.CANCELLED
        elif status == "NOANSWER":
            reason = WithdrawReason.NO_ANSWER
        elif status == "BUSY":
            reason = WithdrawReason.BUSY
        else:
            reason = WithdrawReason.UNAVAILABLE
        return self._withdraw(call, leg, reason, at)

    def _on_connect(self, frame: AmiFrame, at: datetime) -> list[CallEvent]:
        extension = self._operator_extension(frame.get("DestChannel"))
        if extension is None:
            return []
        events: list[CallEvent] = []
        call = self._call_from_caller_fields(frame, at, events)
        if call is None:
            return events
        leg_id = frame.get("DestUniqueid") or frame.get("DestChannel")
        events.extend(self._answer(call, leg_id, extension, at))
        return events

    def _on_ring_no_answer(self, frame: AmiFrame, at: datetime) -> list[CallEvent]:
        found = self._find_leg(frame)
        return [] if found is None else self._withdraw(found[0], found[1], WithdrawReason.NO_ANSWER, at)

    def _on_hangup(self, frame: AmiFrame, at: datetime) -> list[CallEvent]:
        uniqueid = frame.get("Uniqueid")
        cause = frame.get("Cause")
        owner = self._leg_owner.get(uniqueid)
        if owner is not None and owner in self._calls:
            owning = self._calls[owner]
            leg = owning.legs[uniqueid]
            reason = (
                WithdrawReason.ANSWERED_ELSEWHERE if cause == _CAUSE_ANSWERED_ELSEWHERE else WithdrawReason.CANCELLED
            )
            withdrawn = self._withdraw(owning, leg, reason, at)
            leg.state = "ended"
            return withdrawn
        events: list[CallEvent] = []
        call = self._calls.get(uniqueid)
        if call is None and uniqueid not in self._ended:
            # Hangup before any other event of an inbound call: still a (missed) call.
            call = self._call_from_caller_fields(frame, at, events)
        if call is None or call.caller_uniqueid != uniqueid:
            return events
        events.extend(self._end_call(call, cause, at))
        return events

    def _on_abandon(self, frame: AmiFrame, at: datetime) -> list[CallEvent]:
        call = self._calls.get(frame.get("Linkedid")) or self._calls.get(frame.get("Uniqueid"))
        if call is not None:
            call.abandoned = True
        return []

    def _call_for_any(self, frame: AmiFrame, prefixes: tuple[str, ...]) -> _Call | None:
        for prefix in prefixes:
            for suffix in ("Linkedid", "Uniqueid"):
                value = frame.get(prefix + suffix)
                if not value:
                    continue
                call = self._calls.get(value) or self._calls.get(self._leg_owner.get(value, ""))
                if call is not None:
                    return call
        return None

    def _on_blind_transfer(self, frame: AmiFrame, at: datetime) -> list[CallEvent]:
        if frame.get("Result", "Success").casefold() != "success":
            return []
        call = self._call_for_any(frame, ("Transferee", "Transferer"))
        if call is None:
            return []
        from_ext = self._operator_extension(frame.get("TransfererChannel"))
        to_ext = frame.get("Extension") or None
        return [
            CallTransferred(
                linkedid=call.linkedid, kind=TransferKind.BLIND, from_extension=from_ext, to_extension=to_ext, at=at
            )
        ]

    def _on_attended_transfer(self, frame: AmiFrame, at: datetime) -> list[CallEvent]:
        if frame.get("Result", "Success").casefold() != "success":
            return []
        call = self._call_for_any(frame, ("Transferee", "OrigTransferer", "SecondTransferer", "TransferTarget"))
        if call is None:
            return []
        from_ext = self._operator_extension(frame.get("OrigTransfererChannel"))
        to_ext = self._operator_extension(frame.get("TransferTargetChannel"))
        events: list[CallEvent] = [
            CallTransferred(
                linkedid=call.linkedid, kind=TransferKind.ATTENDED, from_extension=from_ext, to_extension=to_ext, at=at
            )
        ]
        target_leg = frame.get("TransferTargetUniqueid")
        if to_ext is not None and target_leg:
            # The target already answered the consultation call; it now talks to the citizen.
            events.extend(self._answer(call, target_leg, to_ext, at))
        return events

    def _on_message_waiting(self, frame: AmiFrame, at: datetime) -> list[CallEvent]:
        # ``New`` is reliable, ``Waiting`` is not (ASTERISK-24272).
        return [
            VoicemailNotice(
                mailbox=frame.get("Mailbox"),
                new_messages=_int_or_none(frame.get("New")) or 0,
                old_messages=_int_or_none(frame.get("Old")) or 0,
                linkedid=frame.get("Linkedid") or None,
                uniqueid=frame.get("Uniqueid") or None,
                caller_raw=frame.get("CallerIDNum") or None,
                at=at,
            )
        ]

    def _on_originate_response(self, frame: AmiFrame, at: datetime) -> list[CallEvent]:
        return [originate_result(frame, at)]

    def _on_shutdown(self, frame: AmiFrame, at: datetime) -> list[CallEvent]:
        return [AsteriskShutdown(restart=frame.get("Restart").casefold() in ("true", "yes"), at=at)]

    _handlers: ClassVar[dict[str, Callable[[CallTranslator, AmiFrame, datetime], list[CallEvent]]]] = {
        "newchannel": _on_newchannel,
        "newcallerid": _on_newcallerid,
        "queuecallerjoin": _on_queuecallerjoin,
        "agentcalled": _on_dial_begin,
        "dialbegin": _on_dial_begin,
        "dialend": _on_dial_end,
        "agentconnect": _on_connect,
        "agentringnoanswer": _on_ring_no_answer,
        "hangup": _on_hangup,
        "queuecallerabandon": _on_abandon,
        "blindtransfer": _on_blind_transfer,
        "attendedtransfer": _on_attended_transfer,
        "messagewaiting": _on_message_waiting,
        "originateresponse": _on_originate_response,
        "shutdown": _on_shutdown,
    }
