"""Asterisk AMI connector: panoramisk 1.4 wrapped with the fixes from telephony.md §3.

This is the only module that imports panoramisk. It keeps panoramisk's reconnect loop, login and
action/response correlation, and replaces or guards the rest:

* D1/D9/D10 - ``_GuardedProtocol`` parses with :mod:`telephony.frames` (bounded, LF-tolerant,
  duplicate headers coerced) and guards ``handle_message``; an oversized frame aborts the link.
* D2 - our own Ping watchdog aborts a silent (half-open) transport; TCP keepalive is switched on.
* D3 - every pending action future is cancelled when the link drops, so nobody waits forever.
* D4 - every action we send is forgettable: nothing (above all no Originate) is re-sent later.
* D5 - failed logins are counted; after ``max_auth_failures`` the link state is ``auth_failed``
  and the connector stops instead of retrying forever.
* D7 - panoramisk callbacks only enqueue; one consumer task translates and delivers, guarded.
* D8 - bytes are decoded per frame by our parser (UTF-8, then cp1250), never with ``ignore``.

After every login it runs ``CoreShowChannels`` and ``QueueStatus`` and feeds the snapshot to the
translator, which closes calls that ended while the link was down. AMI never replays events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from panoramisk import Manager
from panoramisk import utils as panoramisk_utils
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from telephony.frames import (
    DEFAULT_FALLBACK_ENCODING,
    DEFAULT_MAX_FRAME_BYTES,
    AmiBanner,
    AmiFrame,
    FrameParser,
    FrameTooLarge,
    encode_frame,
)
from telephony.translate import (
    DEFAULT_TRUNK_ENDPOINTS,
    CallEvent,
    CallSnapshot,
    CallTranslator,
    OriginateResult,
    build_snapshot,
    originate_result,
    utc_now,
)

logger = logging.getLogger(__name__)

# Everything we send is forgettable: panoramisk would otherwise re-send unanswered actions after a
# reconnect, and a re-sent Originate rings the citizen twice (D4).
FORGETTABLE_ACTIONS = ("ping", "login", "logoff", "originate", "coreshowchannels", "queuestatus", "status")
# Headers whose first value is the only meaningful one; panoramisk breaks if they become lists (D1).
_SINGLE_HEADERS = ("event", "response", "actionid", "commandid", "message", "eventlist")
_NO_PANORAMISK_PING = 10**9  # our watchdog replaces panoramisk's unchecked pinger


class LinkState(StrEnum):
    """State of the AMI link as shown on /readyz and operators' screens (``link.status``)."""

    UP = "up"
    DOWN = "down"
    AUTH_FAILED = "auth_failed"


class LinkDown(Exception):
    """The AMI link is not up (or dropped while we waited for a reply)."""


class OriginateUncertain(Exception):
    """The Originate was sent but its outcome is unknown (link lost or timeout); never retry blindly.

    Look for ``channel_id`` in ``CoreShowChannels`` before any retry (telephony.md D4).
    """

    def __init__(self, channel_id: str) -> None:
        super().__init__(f"Originate {channel_id} outcome unknown")
        self.channel_id = channel_id


class RandomSource(Protocol):
    """Anything with ``random()`` in [0, 1) (tests inject a seeded ``random.Random``)."""

    def random(self) -> float:
        """Return the next float in [0, 1)."""
        ...


@dataclass(frozen=True, kw_only=True)
class AmiSettings:
    """Connection and robustness settings; the intervals are short in tests, defaults in production."""

    host: str = "127.0.0.1"
    port: int = 5038
    username: str
    secret: str = field(repr=False)
    ping_interval: float = 10.0
    ping_timeout: float = 5.0
    reconnect_initial: float = 1.0
    reconnect_max: float = 30.0
    reconnect_jitter: float = 0.25
    max_auth_failures: int = 3
    action_timeout: float = 10.0
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    fallback_encoding: str = DEFAULT_FALLBACK_ENCODING
    trunk_endpoints: frozenset[str] = DEFAULT_TRUNK_ENDPOINTS
    queue_limit: int = 50_000


EventSink = Callable[[CallEvent], Awaitable[None]]
LinkListener = Callable[[LinkState], None]


class Backoff:
    """Exponential reconnect delay with jitter, so many connectors do not reconnect in lockstep."""

    def __init__(self, initial: float, maximum: float, jitter: float, rng: RandomSource) -> None:
        self.initial, self.maximum, self.jitter = initial, maximum, jitter
        self._rng = rng
        self._attempt = 0

    def next(self) -> float:
        """Return the next delay and grow the following one."""
        base = min(self.maximum, self.initial * 2.0 ** min(self._attempt, 30))
        self._attempt += 1
        return base * (1.0 - self.jitter * self._rng.random())

    def reset(self) -> None:
        """Start again from the initial delay (after a successful login)."""
        self._attempt = 0


@dataclass(frozen=True)
class _ResyncBegin:
    """Queue marker: a login happened; calls known now may be closed by the coming snapshot."""


def _to_message(frame: AmiFrame) -> Any:
    """Build a panoramisk Message from our frame, with single-valued control headers (D1)."""
    headers: dict[str, Any] = {}
    for key, value in frame.headers:
        if key in headers:
            if key.casefold() in _SINGLE_HEADERS:
                continue  # first wins: a duplicate Event: must not turn into a list
            previous = headers[key]
            headers[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            headers[key] = value
    if not frame.event and not frame.response:
        return None
    message = Message(headers, "\n".join(frame.extra_lines))
    message.frame = frame
    return message


class _GuardedProtocol(AMIProtocol):  # type: ignore[misc]  # panoramisk is untyped
    """panoramisk protocol reading through our bounded parser, with a guard per message."""

    def __init__(self, owner: PanoramiskCallControl) -> None:
        super().__init__()
        self._owner = owner
        self._parser = FrameParser(
            max_frame_bytes=owner.settings.max_frame_bytes,
            fallback_encoding=owner.settings.fallback_encoding,
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Set up panoramisk's state and enable TCP keepalive as a second half-open detector."""
        super().connection_made(transport)
        self.connected_at = asyncio.get_running_loop().time()
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

    def data_received(self, data: bytes) -> None:
        """Parse bytes with our parser; abort the link when a frame exceeds the bound (D10)."""
        try:
            items = self._parser.feed(data)
        except FrameTooLarge as exc:
            logger.error("AMI frame too large, aborting the link to resync: %s", exc)
            self._deliver(exc.completed)
            self.transport.abort()
            return
        self._deliver(items)

    def _deliver(self, items: list[AmiFrame | AmiBanner]) -> None:
        for item in items:
            if isinstance(item, AmiBanner):
                self.version = item.version
                self._owner._on_banner(item.version)
                continue
            message = _to_message(item)
            if message is None:
                logger.debug("AMI frame without Event/Response ignored: %r", item.headers[:3])
                continue
            try:
                self.handle_message(message)
            except Exception:  # noqa: BLE001  last-resort guard: one bad frame must not drop the link (D1)
                logger.exception("AMI message handling failed; link kept: %r", item.headers[:5])

    def close(self) -> None:
        """Close like panoramisk, then cancel every future still waiting for a reply (D3)."""
        pending = list(self.responses.values()) if getattr(self, "responses", None) else []
        super().close()
        for action in pending:
            if not action.future.done():
                action.future.cancel()


class _HardenedManager(Manager):  # type: ignore[misc]  # panoramisk is untyped
    """panoramisk Manager with backoff, counted auth failures, a stop switch and no blind pings."""

    def __init__(self, owner: PanoramiskCallControl, **config: Any) -> None:
        super().__init__(**config)
        self._owner = owner
        self.stopped = False

    def connect(
        self, run_forever: bool = False, on_startup: Any = None, on_shutdown: Any = None
    ) -> Any:  # panoramisk's signature
        """Connect unless stopped; the delay used if this attempt fails grows with each try."""
        if self.stopped:
            return None
        self.reconnect_timeout = self._owner._backoff.next()
        return super().connect()

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        """Ignore connection results that arrive after stop() or after cancellation."""
        if f.cancelled():
            return
        if self.stopped:
            if f.exception() is None:
                transport, _protocol = f.result()
                transport.close()
            return
        super().connection_made(f)

    def login(self, future: asyncio.Future[Any]) -> bool:
        """Record the Login outcome (counting failures) before panoramisk schedules on_login."""
        if future.cancelled():
            return False
        authenticated = bool(super().login(future))
        self._owner._on_login_result(authenticated, future.result())
        return authenticated

    def ping(self) -> None:
        """Disable panoramisk's pinger: it never checks replies and piles up futures (D2)."""

    def connection_lost(self, exc: object) -> None:
        """Report the loss, then let panoramisk schedule a reconnect unless we are stopped."""
        self._owner._on_link_lost(exc)
        if self.stopped:
            self._connected = False
            return
        super().connection_lost(exc)


class PanoramiskCallControl:
    """Hardened AMI client: delivers translated call events and link-state changes.

    ``on_event`` is awaited for each event by a single consumer task; ``on_link_state`` is called
    from that task too, so ``up`` always follows the resync events it depends on.
    """

    def __init__(
        self,
        settings: AmiSettings,
        *,
        on_event: EventSink,
        on_link_state: LinkListener | None = None,
        translator: CallTranslator | None = None,
        rng: RandomSource | None = None,
    ) -> None:
        self.settings = settings
        self._on_event = on_event
        self._on_link_state = on_link_state
        self.translator = translator or CallTranslator(trunk_endpoints=settings.trunk_endpoints)
        self._backoff = Backoff(
            settings.reconnect_initial,
            settings.reconnect_max,
            settings.reconnect_jitter,
            rng or random.SystemRandom(),
        )
        self._state = LinkState.DOWN
        self._state_changed = asyncio.Event()
        self._queue: asyncio.Queue[AmiFrame | _ResyncBegin | CallSnapshot | LinkState] | None = None
        self._manager: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._resync_task: asyncio.Task[None] | None = None
        self.auth_failures = 0
        self.logins = 0
        self.asterisk_version: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def link_state(self) -> LinkState:
        """The current link state (``up`` only after the post-login resync was delivered)."""
        return self._state

    async def start(self) -> None:
        """Start connecting in the background; returns at once (watch ``on_link_state``)."""
        loop = asyncio.get_running_loop()
        if panoramisk_utils.EOL != "\r\n":
            # panoramisk.testing switches this global to LF (D6); a real session must write CRLF.
            logger.warning("panoramisk.utils.EOL was %r; restoring CRLF", panoramisk_utils.EOL)
            panoramisk_utils.EOL = "\r\n"
        self._queue = asyncio.Queue(maxsize=self.settings.queue_limit)
        self._manager = _HardenedManager(
            self,
            host=self.settings.host,
            port=self.settings.port,
            username=self.settings.username,
            secret=self.settings.secret,
            events="on",
            loop=loop,
            encoding="utf8",
            protocol_factory=lambda: _GuardedProtocol(self),
            forgetable_actions=FORGETTABLE_ACTIONS,
            ping_delay=_NO_PANORAMISK_PING,
            ping_interval=_NO_PANORAMISK_PING,
            reconnect_timeout=1,
        )
        self._manager.register_event("*", self._enqueue_event)
        _ = self._spawn(self._consume(), "ami-consumer")
        _ = self._spawn(self._watchdog(), "ami-watchdog")
        self._manager.connect()

    async def stop(self) -> None:
        """Close the link for good and stop the background tasks."""
        if self._manager is not None:
            self._manager.stopped = True
            self._manager.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._state = LinkState.DOWN

    async def wait_for_state(self, state: LinkState) -> None:
        """Wait until the link reaches ``state`` (bound it with ``asyncio.timeout``)."""
        while self._state is not state:
            self._state_changed.clear()
            await self._state_changed.wait()

    def _spawn(self, coro: Awaitable[None], name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- state --------------------------------------------------------------------------------

    def _set_state(self, state: LinkState) -> None:
        if state is self._state:
            return
        logger.info("AMI link %s -> %s", self._state.value, state.value)
        self._state = state
        self._state_changed.set()
        self._enqueue(state)

    def _on_banner(self, version: str) -> None:
        self.asterisk_version = version
        logger.info("AMI banner: Asterisk Call Manager/%s", version)

    def _on_login_result(self, authenticated: bool, response: Any) -> None:
        if authenticated:
            self.logins += 1
            self.auth_failures = 0
            self._backoff.reset()
            self._manager.reconnect_timeout = self._backoff.next()
            self._resync_task = self._spawn(self._resync(), "ami-resync")
            return
        self.auth_failures += 1
        logger.error(
            "AMI login refused (%d/%d): %s",
            self.auth_failures,
            self.settings.max_auth_failures,
            getattr(response, "message", ""),
        )
        if self.auth_failures >= self.settings.max_auth_failures:
            # Retrying a wrong secret only fills Asterisk's security log; alert and stop (D5).
            self._manager.stopped = True
            self._set_state(LinkState.AUTH_FAILED)
            self._manager.close()
            return
        protocol = self._manager.protocol
        if protocol is not None and not protocol.closed:
            # Asterisk closes after a failed login; close too in case it does not, to reconnect.
            protocol.transport.close()

    def _on_link_lost(self, exc: object) -> None:
        logger.warning("AMI link lost: %r", exc)
        if self._resync_task is not None:
            self._resync_task.cancel()
            self._resync_task = None
        if self._state is not LinkState.AUTH_FAILED:
            self._set_state(LinkState.DOWN)

    # -- inbound path -------------------------------------------------------------------------

    def _enqueue_event(self, _manager: Any, message: Any) -> None:
        frame = getattr(message, "frame", None)
        if isinstance(frame, AmiFrame):
            self._enqueue(frame)

    def _enqueue(self, item: AmiFrame | _ResyncBegin | CallSnapshot | LinkState) -> None:
        if self._queue is None:
            raise RuntimeError("PanoramiskCallControl.start() was not called")
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            # Better a resync than silently dropped events: abort, reconnect, reconcile.
            logger.error("AMI event queue full (%d); aborting the link to resync", self._queue.maxsize)
            protocol = self._manager.protocol if self._manager is not None else None
            if protocol is not None and not protocol.closed:
                protocol.transport.abort()

    async def _consume(self) -> None:
        if self._queue is None:
            raise RuntimeError("PanoramiskCallControl.start() was not called")
        while True:
            item = await self._queue.get()
            try:
                await self._process(item)
            except Exception:  # noqa: BLE001  last-resort guard: the consumer must outlive bad events
                logger.exception("AMI event processing failed for %r", type(item).__name__)

    async def _process(self, item: AmiFrame | _ResyncBegin | CallSnapshot | LinkState) -> None:
        if isinstance(item, LinkState):
            if self._on_link_state is not None:
                self._on_link_state(item)
            return
        if isinstance(item, _ResyncBegin):
            self.translator.begin_resync()
            return
        snapshot = isinstance(item, CallSnapshot)
        events = self.translator.reconcile(item) if isinstance(item, CallSnapshot) else self.translator.translate(item)
        for event in events:
            try:
                await self._on_event(event)
            except Exception:  # noqa: BLE001  one failing handler must not lose the following events
                logger.exception("call event handler failed for %s", type(event).__name__)
        if snapshot and self._state is LinkState.DOWN and self._link_alive():
            self._set_state(LinkState.UP)

    def _link_alive(self) -> bool:
        protocol = self._manager.protocol if self._manager is not None else None
        return protocol is not None and not protocol.closed and bool(self._manager.authenticated)

    # -- actions ------------------------------------------------------------------------------

    async def _await_action(self, future: Any, limit: float) -> Any:
        try:
            async with asyncio.timeout(limit):
                return await future
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            # The future, not this task, was cancelled: the link dropped (D3).
            raise LinkDown("AMI link lost while waiting for a reply") from None

    def _send(self, headers: list[tuple[str, str]]) -> Any:
        encode_frame(headers)  # refuses CR/LF in values before panoramisk formats them unchecked
        action: dict[str, str | list[str]] = {}
        for key, value in headers:
            previous = action.get(key)
            if previous is None:
                action[key] = value
            else:
                action[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        return self._manager.send_action(action)

    async def _list_action(self, name: str) -> list[AmiFrame]:
        result = await self._await_action(self._send([("Action", name)]), self.settings.action_timeout)
        messages = result if isinstance(result, list) else [result]
        frames = [m.frame for m in messages if isinstance(getattr(m, "frame", None), AmiFrame)]
        if frames and frames[0].response.casefold() == "error":
            logger.warning("AMI %s refused: %s", name, frames[0].get("Message"))
        return frames

    async def _resync(self) -> None:
        self._enqueue(_ResyncBegin())
        protocol = self._manager.protocol
        try:
            frames = await self._list_action("CoreShowChannels")
            frames += await self._list_action("QueueStatus")
        except TimeoutError:
            logger.error("AMI resync timed out; aborting the link to try again")
            if not protocol.closed:
                protocol.transport.abort()
            return
        except LinkDown:
            return
        self._enqueue(build_snapshot(frames, utc_now()))

    async def _watchdog(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.settings.ping_interval)
            protocol = self._manager.protocol
            if protocol is None or protocol.closed:
                continue
            if not self._manager.authenticated:
                # panoramisk waits for the Login reply forever; a path that went silent during
                # login would leave us connected but never logged in.
                if loop.time() - protocol.connected_at > self.settings.action_timeout:
                    logger.error("AMI login unanswered for %.1f s; aborting the link", self.settings.action_timeout)
                    protocol.transport.abort()
                continue
            try:
                await self._await_action(self._send([("Action", "Ping")]), self.settings.ping_timeout)
            except TimeoutError:
                # No Pong: the peer is gone or the path is black-holed; only an abort notices (D2).
                logger.error("AMI Ping unanswered for %.1f s; aborting the link", self.settings.ping_timeout)
                if not protocol.closed:
                    protocol.transport.abort()
            except LinkDown:
                continue

    async def originate(
        self,
        *,
        channel: str,
        context: str,
        exten: str,
        priority: int = 1,
        caller_id: str = "",
        ring_timeout: float = 30.0,
        variables: Mapping[str, str] | None = None,
        channel_id: str | None = None,
    ) -> OriginateResult:
        """Place a call with ``Async: true`` and our own ChannelId; never re-sent after a drop.

        Raises LinkDown when the link is not up, and OriginateUncertain when the outcome is
        unknown (link lost or no ``OriginateResponse`` in time).
        """
        if self._state is not LinkState.UP:
            raise LinkDown("AMI link is not up")
        channel_id = channel_id or f"s48-{uuid.uuid4().hex}"
        action_id = f"s48-orig-{uuid.uuid4().hex}"
        headers = [
            ("Action", "Originate"),
            ("ActionID", action_id),
            ("Channel", channel),
            ("Context", context),
            ("Exten", exten),
            ("Priority", str(priority)),
            ("Timeout", str(int(ring_timeout * 1000))),
            ("Async", "true"),
            ("ChannelId", channel_id),
        ]
        if caller_id:
            headers.append(("CallerID", caller_id))
        headers.extend(("Variable", f"{key}={value}") for key, value in (variables or {}).items())
        future = self._send(headers)
        try:
            result = await self._await_action(future, ring_timeout + self.settings.action_timeout)
        except (TimeoutError, LinkDown) as exc:
            raise OriginateUncertain(channel_id) from exc
        messages = result if isinstance(result, list) else [result]
        frames = [m.frame for m in messages if isinstance(getattr(m, "frame", None), AmiFrame)]
        for frame in frames:
            if frame.is_event("OriginateResponse"):
                return originate_result(frame, utc_now())
        first = frames[0] if frames else AmiFrame(())
        return OriginateResult(
            action_id=action_id,
            channel_id=channel_id,
            success=False,
            reason_code=None,
            reason=first.get("Message") or "refused",
            at=utc_now(),
        )
