"""The telephony daemon (``sistem48 telephony``): AMI events in, calls, pops, voicemail and callbacks out.

One asyncio loop owns the PBX link (:class:`telephony.ami.PanoramiskCallControl`); every database
call leaves the loop through ``core.aio.run_blocking`` so the link keeps being read while the
database works. The connector's single consumer task awaits each handler in order, so the call
table changes in the order Asterisk reported.

Failure rules: a bad event is logged and skipped; the database being down costs that event (the
resync after the next login repairs call states); an unconfigured PBX is reported as such and the
daemon idles; wrong credentials are an alert and a red /readyz, never a silent login loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from core.aio import run_blocking
from core.bootstrap import Core
from core.config import Settings
from core.services import calls, voicemail
from telephony.ami import AmiSettings, LinkDown, LinkState, OriginateUncertain, PanoramiskCallControl
from telephony.spool import mailbox_dir, scan
from telephony.translate import (
    AsteriskShutdown,
    CallAnswered,
    CallEnded,
    CallEvent,
    CallQueued,
    CallRinging,
    CallStarted,
    CallTransferred,
    CallTranslator,
    OriginateResult,
    ResyncCompleted,
    RingingWithdrawn,
    VoicemailNotice,
)

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_DIALABLE = re.compile(r"^\+?[0-9]{3,20}$")
_EXTENSION = re.compile(r"^[0-9A-Za-z_-]{1,20}$")
HEALTH = {LinkState.UP: "ok", LinkState.DOWN: "down", LinkState.AUTH_FAILED: "auth_failed"}


@dataclass(frozen=True, kw_only=True)
class DaemonOptions:
    """Timings of the daemon's own loops (short in tests)."""

    originate_poll: float = 1.0
    heartbeat: float = 60.0  # /readyz treats an "ok" older than 3 minutes as down
    spool_rescan: float = 300.0  # safety net for a lost MessageWaiting
    callback_ring_timeout: float = 30.0
    # Events of different calls are applied concurrently (order is kept within a call); this bounds
    # the events in flight. Openings and pops share one group commit, and everything else runs on
    # the executor's few threads, so database connections stay few however large this is.
    parallel_calls: int = 64
    # A group commit takes at most this many openings, queue notes and pops: what arrived while the
    # previous one ran, or before the stream paused for ``batch_gap`` seconds (a burst arrives as a
    # burst), waiting at most ``batch_linger`` seconds in all for the first one.
    max_batch: int = 64
    batch_gap: float = 0.001
    batch_linger: float = 0.005
    # Group commits run in this many lanes at once, each in its own transaction: while one waits for
    # PostgreSQL, another runs its Python, and a call that arrives while a group is in flight waits
    # for half a burst, not all of it. A call always goes to the same lane (by Linkedid), so its
    # items stay in order.
    group_lanes: int = 2


def ami_settings(settings: Settings, **overrides: Any) -> AmiSettings | None:
    """Build the connector settings from ``S48_AMI_*``; None when the PBX is not configured."""
    if not settings.ami_host:
        return None
    values: dict[str, Any] = {
        "host": settings.ami_host,
        "port": settings.ami_port,
        "username": settings.ami_username or "sistem48",
        "secret": settings.ami_secret or "",
        "trunk_endpoints": frozenset(settings.ami_trunk_endpoints),
    }
    values.update(overrides)
    return AmiSettings(**values)


Grouped = calls.Opening | calls.Queuing | calls.Ring


def _grouped_item(event: CallEvent) -> Grouped | None:
    """Return the group-commit item for a call opening, queue join or ringing leg; None for the rest."""
    if isinstance(event, CallStarted):
        return calls.Opening(linkedid=event.linkedid, caller_raw=event.caller_raw, caller_name=event.caller_name,
                             did=event.did, at=event.at, channel=event.channel)  # fmt: skip
    if isinstance(event, CallQueued):
        return calls.Queuing(linkedid=event.linkedid, queue=event.queue, at=event.at)
    if isinstance(event, CallRinging):
        return calls.Ring(linkedid=event.linkedid, extension=event.extension, leg=event.leg,
                          caller_raw=event.caller_raw, caller_name=event.caller_name, at=event.at)  # fmt: skip
    return None


def _alone(item: Grouped) -> tuple[list[calls.Opening], list[calls.Ring], list[calls.Queuing]]:
    """Return the arguments of ``calls.open_and_ring`` for one item on its own."""
    if isinstance(item, calls.Opening):
        return [item], [], []
    if isinstance(item, calls.Ring):
        return [], [item], []
    return [], [], [item]


class TelephonyDaemon:
    """Wires the AMI connector to the core services; ``await run(stop)`` until ``stop`` is set."""

    def __init__(
        self,
        core: Core,
        *,
        ami: AmiSettings | None,
        spool: Path | None,
        options: DaemonOptions | None = None,
    ) -> None:
        self.core = core
        self.ami = ami
        self.spool = spool
        self.options = options or DaemonOptions()
        self.control: PanoramiskCallControl | None = None
        self._spool_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._chains: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(max(1, self.options.parallel_calls))
        lanes = max(1, self.options.group_lanes)
        self._batches: list[list[tuple[Grouped, asyncio.Future[None]]]] = [[] for _ in range(lanes)]
        self._plain: dict[str, int] = {}  # per Linkedid: events in flight outside the group commit's queue
        self._batchers: list[asyncio.Task[None] | None] = [None] * lanes
        # The loop appends to a lane's batch while a group commit, in an executor thread, takes the
        # items of its own calls from it (``_take_late``).
        self._batch_lock = threading.Lock()
        self.originates_sent = 0
        self.batches = 0  # group commits run (tests and the benchmark read it)

    # -- plumbing -------------------------------------------------------------------------------

    async def _db(self, func: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R | None:
        """Run one core call off the loop; log and swallow its failure (one bad event never kills us)."""
        try:
            return await run_blocking(func, *args, **kwargs)
        except Exception:  # noqa: BLE001  last-resort guard: the daemon outlives a bad event or a DB outage
            logger.exception("telephony: %s failed", getattr(func, "__name__", func))
            return None

    def _submit(self, item: Grouped) -> asyncio.Future[None]:
        """Queue an item for the next group commit; the future is done once it is committed and pushed.

        Twenty calls ringing at once would otherwise queue twenty transactions of a dozen round trips
        each behind one another, and the operator's pop would wait for the other callers' lookups. A
        group commit opens every waiting call, looks up every caller's history and sends every pop
        in one transaction. Items are applied in the order they were submitted.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane = zlib.crc32(item.linkedid.encode("utf-8", "surrogatepass")) % len(self._batches)
        with self._batch_lock:
            self._batches[lane].append((item, future))
        batcher = self._batchers[lane]
        if batcher is None or batcher.done():
            self._batchers[lane] = asyncio.ensure_future(self._run_batches(lane))
        return future

    async def _run_batches(self, lane: int) -> None:
        batch = self._batches[lane]
        deadline = time.monotonic() + self.options.batch_linger
        seen = -1
        while len(batch) != seen and len(batch) < self.options.max_batch and time.monotonic() < deadline:
            seen = len(batch)
            await asyncio.sleep(self.options.batch_gap)
        while batch:
            with self._batch_lock:
                taken = batch[: self.options.max_batch]
                del batch[: self.options.max_batch]
            await self._commit_group(taken, batch)

    def _take_late(
        self,
        pending: list[tuple[Grouped, asyncio.Future[None]]],
        group: list[tuple[Grouped, asyncio.Future[None]]],
        settled: threading.Event,
    ) -> calls.Late:
        """Return the ``late`` hook of a group commit: it moves its calls' items from the lane's queue into it.

        Called in the executor thread once the group has read its calls. Every item of those calls
        that is queued goes, in queue order, so a call's items stay in order; the group never grows
        beyond ``max_batch``. Once the group's items are ``settled`` (their futures resolved), it takes
        nothing: a worker still running after its group was given up must not strand items in it.
        """

        def late(linkedids: Collection[str]) -> list[Grouped]:
            with self._batch_lock:
                if settled.is_set():
                    return []
                room = self.options.max_batch - len(group)
                mine = [entry for entry in pending if entry[0].linkedid[:64] in linkedids][: max(0, room)]
                if not mine:
                    return []
                moved = {id(entry) for entry in mine}
                pending[:] = [entry for entry in pending if id(entry) not in moved]
                group.extend(mine)
            return [item for item, _ in mine]

        return late

    async def _commit_group(
        self, batch: list[tuple[Grouped, asyncio.Future[None]]], pending: list[tuple[Grouped, asyncio.Future[None]]]
    ) -> None:
        """Run one group commit (in the executor); on failure apply its items one by one.

        Items of the group's calls that arrive in ``pending`` while it reads join it (``_take_late``);
        ``batch`` then holds them too, so they are retried and settled with the rest.
        """
        openings = [item for item, _ in batch if isinstance(item, calls.Opening)]
        queued = [item for item, _ in batch if isinstance(item, calls.Queuing)]
        rings = [item for item, _ in batch if isinstance(item, calls.Ring)]
        settled = threading.Event()
        try:
            self.batches += 1
            started = time.perf_counter()
            given = len(batch)
            await run_blocking(calls.open_and_ring, self.core.uow(), openings, rings, queued,
                               late=self._take_late(pending, batch, settled))  # fmt: skip
            logger.debug("group commit: %d openings, %d queue joins, %d pops, %d late in %.1f ms", len(openings),
                         len(queued), len(rings), len(batch) - given, 1000 * (time.perf_counter() - started))  # fmt: skip
        except Exception:  # noqa: BLE001  one bad item must not sink the others: retry them one by one
            logger.warning("telephony: a group of %d call events failed; applying them one by one", len(batch))
            for item, _ in batch:
                await self._db(calls.open_and_ring, self.core.uow(), *_alone(item))
        finally:
            with self._batch_lock:
                settled.set()
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def _tz(self) -> str:
        return self.core.settings.timezone

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set."""
        await self.scan_spool()
        if self.ami is None:
            logger.warning("S48_AMI_HOST is not set: telephony not configured, idling")
            await self._db(
                calls.link_status,
                self.core.uow(),
                state="not configured",
                health_state="not configured",
                detail="S48_AMI_HOST није подешен",
                at=self.core.clock.now(),
            )
            self._spawn(self._rescan_loop(), "spool-rescan")
            await stop.wait()
            await self._cancel_tasks()
            return
        translator = CallTranslator(trunk_endpoints=self.ami.trunk_endpoints, clock=self.core.clock.now)
        self.control = PanoramiskCallControl(
            self.ami, on_event=self.on_event, on_link_state=self._on_link_state, translator=translator
        )
        await self._db(
            calls.link_status,
            self.core.uow(),
            state="down",
            health_state="down",
            detail="повезивање",
            at=self.core.clock.now(),
        )
        await self.control.start()
        self._spawn(self._originate_loop(), "originate-poll")
        self._spawn(self._heartbeat_loop(), "ami-heartbeat")
        self._spawn(self._rescan_loop(), "spool-rescan")
        try:
            await stop.wait()
        finally:
            await self.control.stop()
            await self.drain()
            await self._cancel_tasks()

    async def _cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- link state -----------------------------------------------------------------------------

    def _on_link_state(self, state: LinkState) -> None:
        self._spawn(self._link_changed(state), f"link-{state.value}")

    async def _link_changed(self, state: LinkState) -> None:
        detail = None
        if state is LinkState.AUTH_FAILED:
            detail = "AMI је одбио пријаву: провјерите S48_AMI_USERNAME/S48_AMI_SECRET"
            logger.error("ALERT: AMI login refused repeatedly; connector stopped until restarted with new credentials")
        elif state is LinkState.DOWN:
            detail = "веза са централом је прекинута"
        await self._db(
            calls.link_status,
            self.core.uow(),
            state=state.value,
            health_state=HEALTH[state],
            detail=detail,
            at=self.core.clock.now(),
        )
        if state is LinkState.UP:
            # AMI never replays: whatever was left while we were away is only in the spool.
            await self.scan_spool()

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.heartbeat)
            if self.control is not None and self.control.link_state is LinkState.UP:
                await self._db(
                    calls.link_status,
                    self.core.uow(),
                    state="up",
                    health_state="ok",
                    detail=None,
                    at=self.core.clock.now(),
                )

    # -- call events ----------------------------------------------------------------------------

    async def on_event(self, event: CallEvent) -> None:
        """Accept one translated AMI event: applied after the earlier events of the same call.

        A screen pop must not wait behind the database work of 19 other ringing calls, so calls are
        applied concurrently, each in its own order. A resync waits for everything before it.
        """
        linkedid = getattr(event, "linkedid", None)
        if not isinstance(linkedid, str) or isinstance(event, ResyncCompleted):
            await self.drain()
            await self.apply(event)
            return
        await self._slots.acquire()  # back-pressure: the connector's queue absorbs bursts
        previous = self._chains.get(linkedid)
        item = _grouped_item(event)
        early: asyncio.Future[None] | None = None
        if item is not None and not self._plain.get(linkedid):
            # Nothing of this call is in flight outside the group commit, which applies items in order:
            # submit now, so the opening and the pop of one call can share a transaction.
            early = self._submit(item)
        else:
            self._plain[linkedid] = self._plain.get(linkedid, 0) + 1
        task = asyncio.ensure_future(self._apply_after(previous, event, early))
        self._chains[linkedid] = task

        def done(finished: asyncio.Task[None]) -> None:
            self._slots.release()
            if early is None:
                left = self._plain.get(linkedid, 1) - 1
                if left > 0:
                    self._plain[linkedid] = left
                else:
                    self._plain.pop(linkedid, None)
            if self._chains.get(linkedid) is finished:
                del self._chains[linkedid]

        task.add_done_callback(done)

    async def _apply_after(
        self, previous: asyncio.Task[None] | None, event: CallEvent, submitted: asyncio.Future[None] | None
    ) -> None:
        if submitted is not None:
            await asyncio.shield(submitted)
            return
        if previous is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(previous)
        try:
            await self.apply(event)
        except Exception:  # noqa: BLE001  last-resort guard: one bad event never stops the others
            logger.exception("telephony: event %s failed", type(event).__name__)

    async def drain(self) -> None:
        """Wait until every accepted call event has been applied."""
        while self._chains:
            await asyncio.gather(*list(self._chains.values()), return_exceptions=True)

    async def apply(self, event: CallEvent) -> None:
        """Apply one translated AMI event to the core."""
        uow = self.core.uow()
        item = _grouped_item(event)
        if item is not None:
            await asyncio.shield(self._submit(item))
        elif isinstance(event, RingingWithdrawn):
            await self._db(
                calls.ringing_withdrawn,
                uow,
                linkedid=event.linkedid,
                extension=event.extension,
                leg=event.leg,
                reason=event.reason.value,
                at=event.at,
            )
        elif isinstance(event, CallAnswered):
            await self._db(calls.call_answered, uow, linkedid=event.linkedid, extension=event.extension, leg=event.leg,
                           at=event.at)  # fmt: skip
        elif isinstance(event, CallTransferred):
            await self._db(
                calls.call_transferred,
                uow,
                linkedid=event.linkedid,
                kind=event.kind.value,
                from_extension=event.from_extension,
                to_extension=event.to_extension,
                at=event.at,
            )
        elif isinstance(event, CallEnded):
            await self._db(
                calls.call_ended,
                uow,
                linkedid=event.linkedid,
                outcome=event.outcome.value,
                caller_raw=event.caller_raw,
                cause=event.cause,
                at=event.at,
                via_resync=event.via_resync,
                timezone=self._tz,
            )
        elif isinstance(event, ResyncCompleted):
            await self._db(calls.reconcile, uow, live_linkedids=event.live_calls, at=event.at, timezone=self._tz)
        elif isinstance(event, VoicemailNotice):
            if event.new_messages > 0:
                await self.scan_spool([event.mailbox], hint=(event.linkedid, event.caller_raw))
        elif isinstance(event, AsteriskShutdown):
            logger.warning("Asterisk is shutting down (restart=%s); calls resync after the next login", event.restart)
        elif isinstance(event, OriginateResult):
            logger.debug("OriginateResponse %s handled by its waiting originate()", event.action_id)

    # -- voicemail ------------------------------------------------------------------------------

    async def scan_spool(
        self, mailboxes: list[str] | None = None, hint: tuple[str | None, str | None] = (None, None)
    ) -> int:
        """Ingest every complete message of the spool (or of some mailboxes); return how many were new."""
        if self.spool is None:
            return 0
        async with self._spool_lock:
            created = await self._db(self._ingest_spool, self.spool, mailboxes, hint)
        return created or 0

    def _ingest_spool(self, root: Path, mailboxes: list[str] | None, hint: tuple[str | None, str | None]) -> int:
        if mailboxes is not None:
            mailboxes = [m for m in mailboxes if mailbox_dir(root, m) is not None]
        created = 0
        linkedid, caller = hint
        for message in scan(root, mailboxes):
            own_hint = linkedid if caller and message.info.caller_number == caller else None
            try:
                result = voicemail.ingest(self.core.uow(), message, self.core.intake_policy, hint_linkedid=own_hint)
            except Exception:  # noqa: BLE001  one unreadable message must not block the others
                logger.exception(
                    "voicemail %s/%s/%s could not be ingested", message.mailbox, message.folder, message.name
                )
                continue
            if result is not None and result.created:
                created += 1
        return created

    async def _rescan_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.spool_rescan)
            await self.scan_spool()

    # -- click-to-call ---------------------------------------------------------------------------

    async def _originate_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.originate_poll)
            if self.control is None or self.control.link_state is not LinkState.UP:
                continue
            claimed = await self._db(calls.claim_originates, self.core.uow(), now=self.core.clock.now())
            for request in claimed or []:
                self._spawn(self._originate(request), f"originate-{request.outbox_id}")

    async def _originate(self, request: calls.OriginateRequest) -> None:
        """Send one claimed Originate, exactly once, and log its outcome on the call and ticket."""
        control = self.control
        if control is None:
            return
        if not _EXTENSION.match(request.extension) or not _DIALABLE.match(request.number):
            await self._record(request, success=False, reason="refused", code=None)
            return
        try:
            result = await control.originate(
                channel=f"PJSIP/{request.extension}",
                context=calls.CALLBACK_CONTEXT,
                exten=request.number,
                caller_id=f'"Sistem 48" <{request.extension}>',
                ring_timeout=self.options.callback_ring_timeout,
                variables={"S48_CALL_ID": str(request.call_id or "")},
                channel_id=request.channel_id,
            )
        except LinkDown:
            # Refused before anything was written to the socket: safe to hand back for a later try.
            await self._db(calls.release_originate, self.core.uow(), outbox_id=request.outbox_id)
            return
        except OriginateUncertain:
            # Maybe ringing now: never re-send (D4); the operator decides after looking at the phone.
            self.originates_sent += 1
            await self._record(request, success=False, reason="uncertain", code=None)
            return
        except Exception:  # noqa: BLE001  never leave a claimed callback without an outcome
            logger.exception("Originate %s failed", request.channel_id)
            await self._record(request, success=False, reason="failed", code=None)
            return
        self.originates_sent += 1
        await self._record(request, success=result.success, reason=result.reason, code=result.reason_code)

    async def _record(self, request: calls.OriginateRequest, *, success: bool, reason: str, code: int | None) -> None:
        await self._db(
            calls.record_originate_result,
            self.core.uow(),
            outbox_id=request.outbox_id,
            success=success,
            reason=reason,
            reason_code=code,
            at=self.core.clock.now(),
        )


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Build the core for this process and run the daemon until SIGTERM/SIGINT (or ``stop``)."""
    from sistem48.runtime import build_core, settle_heap
    from sistem48.worker import live_for

    core = build_core(settings, live=live_for(settings))
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    daemon = TelephonyDaemon(core, ami=ami_settings(settings), spool=settings.voicemail_spool)
    settle_heap()
    try:
        await daemon.run(stop)
    finally:
        core.engine.dispose()


def run_telephony(settings: Settings) -> None:
    """Entry point of ``sistem48 telephony``."""
    asyncio.run(serve(settings))
