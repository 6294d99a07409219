"""``sistem48 sms``: the GSM-modem daemon. Inbound SMS → tickets, never lost, never doubled; outgoing queue.

One thread owns the modem (python-gammu serialises calls per state machine and one process must own
the serial port), so the loop is plain synchronous code: poll, join, commit, *then* delete.

* The SIM is the first spool: a message leaves it only after :func:`core.services.sms.receive_sms`
  committed it, or after it is fsync'd into the local :class:`~sms_modem.spool.Spool` while the
  database is down. The flusher drains the spool when the database answers again.
* A daemon killed between the commit and the delete re-reads the message on restart; every step of
  ``receive_sms`` is idempotent by ``source_key``, so no second ticket and no second acknowledgement.
* Modem health (signal, network, SIM memory, modem gone) goes to ``component_status`` and, on change,
  to operators as ``link.status``. A missing modem is waited for, never a crash.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from core.bootstrap import Core
from core.config import Settings
from core.messages import ReceiveReport
from core.services import sms as sms_core
from core.services.health import report_link, report_status
from sms_modem.decode import DeliveryReport, JoinedSms, MultipartAssembler
from sms_modem.modem import GammuModem, ModemError, ModemStatus, ModemUnavailable
from sms_modem.sender import SmsSender
from sms_modem.spool import Spool, SpoolFull

log = logging.getLogger(__name__)

COMPONENT = "modem"
POLL_SECONDS = 2.0
# Within the 3-minute staleness limit of /readyz, with room for a slow poll.
HEALTH_INTERVAL = timedelta(seconds=30)
WEAK_SIGNAL = 10  # percent
# Errors that mean "the database is not there": spool and carry on. Anything else is a bug in one item.
DB_DOWN = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError, sa.exc.TimeoutError)


@dataclass
class TickStats:
    """What one loop iteration did (for tests, logs and the benchmark)."""

    committed: int = 0
    duplicates: int = 0
    spooled: int = 0
    flushed: int = 0
    deleted: int = 0
    failed: int = 0
    sent: int = 0
    reports: int = 0
    modem_down: bool = False
    db_down: bool = False


def assess(status: ModemStatus, spooled: int = 0) -> tuple[str, str]:
    """Turn the modem's status into a health state (ok|degraded) and a one-line detail."""
    problems: list[str] = []
    if status.sim_almost_full:
        problems.append(f"SIM memory almost full ({status.sim_used}/{status.sim_size})")
    if status.network_state is not None and not status.registered:
        problems.append(f"not registered on a network ({status.network_state})")
    if status.signal_percent is not None and status.signal_percent < WEAK_SIGNAL:
        problems.append(f"weak signal ({status.signal_percent}%)")
    facts = [
        f"signal {status.signal_percent}%" if status.signal_percent is not None else "signal unknown",
        status.network_name or status.network_state or "network unknown",
        f"SIM {status.sim_used}/{status.sim_size}",
    ]
    if spooled:
        facts.append(f"{spooled} SMS spooled while the database was down")
    detail = "; ".join(problems + facts)
    return ("degraded" if problems else "ok"), detail


@dataclass
class SmsDaemon:
    """The poll loop, one iteration per :meth:`tick`."""

    core: Core
    modem: GammuModem
    spool: Spool
    sender: SmsSender
    assembler: MultipartAssembler = field(default_factory=MultipartAssembler)
    health_interval: timedelta = HEALTH_INTERVAL
    # Test hook: runs after a message's commit and before its SIM delete (the crash window).
    on_committed: Callable[[JoinedSms], None] | None = None
    _last_health: datetime | None = None
    _last_state: tuple[str, str] | None = None

    # -- the loop -------------------------------------------------------------------------------

    def tick(self) -> TickStats:
        """Run one iteration: drain the spool, read the SIM, commit and delete, health, send."""
        stats = TickStats()
        now = self.core.clock.now()
        self._flush_spool(stats)
        try:
            inbox = self.modem.read_all()
        except ModemError as exc:
            stats.modem_down = True
            self._report("down", str(exc)[:300], now, force=True)
            return stats
        ready = self.assembler.collect(inbox.messages, now)
        # Oldest first, as the citizen sent them: a "0" or "STATUS" must not overtake the complaint.
        ready.sort(key=lambda m: (m.smsc_time or now, min(m.locations, default=0)))
        for message in ready:
            self._inbound(message, stats)
        for report in inbox.reports:
            self._delivery_report(report, stats)
        self.check_health(now, stats)
        if not stats.db_down:
            self._send(now, stats)
        return stats

    def _inbound(self, message: JoinedSms, stats: TickStats) -> None:
        """Commit (or spool) one message, then delete it from the SIM; on any doubt, leave it there."""
        report = message.to_report()
        # Once the database failed in this tick, spool the rest at once instead of waiting on it again.
        safe = self._spool(report, stats) if stats.db_down else self._commit(report, stats)
        if not safe:
            return
        if self.on_committed is not None:
            self.on_committed(message)
        try:
            self.modem.delete(message.locations)
            stats.deleted += len(message.locations)
        except ModemError as exc:
            # Committed but still on the SIM: the next poll re-reads it and intake sees the duplicate.
            log.warning("SMS committed but not deleted from the modem (%s); it will be re-read", exc)

    def _commit(self, report: ReceiveReport, stats: TickStats) -> bool:
        """Run the core's SMS intake; spool when the database is down. True when the message is safe."""
        try:
            result = sms_core.receive_sms(self.core.uow(), report, self.core.intake_policy)
        except DB_DOWN as exc:
            log.error("database unavailable, spooling SMS locally: %s", type(exc).__name__)
            stats.db_down = True
            return self._spool(report, stats)
        except Exception:  # noqa: BLE001  one bad message must not stop the daemon; it stays on the SIM
            log.exception("SMS could not be recorded; it stays on the modem and is retried")
            stats.failed += 1
            return False
        if result.duplicate:
            stats.duplicates += 1
        else:
            stats.committed += 1
        return True

    def _spool(self, report: ReceiveReport, stats: TickStats) -> bool:
        """Write the report to the local spool; True when it is durable there."""
        try:
            self.spool.put(report)
        except (OSError, SpoolFull) as exc:
            # Disk full or spool full (F17): the message stays on the SIM, which is still safe.
            log.error("SMS spool unavailable (%s); message stays on the modem", exc)
            stats.failed += 1
            return False
        stats.spooled += 1
        return True

    def _flush_spool(self, stats: TickStats) -> None:
        """Drain spooled reports into intake, oldest first; stop at the first sign the DB is still down."""
        for path in list(self.spool.paths()):
            try:
                report = self.spool.load(path)
            except (ValueError, OSError) as exc:
                log.error("unreadable spool file %s: %s", path.name, exc)
                self.spool.quarantine(path)
                continue
            try:
                sms_core.receive_sms(self.core.uow(), report, self.core.intake_policy)
            except DB_DOWN:
                stats.db_down = True
                return
            except Exception:  # noqa: BLE001  keep draining the rest; this one is retried next tick
                log.exception("spooled SMS %s could not be recorded", path.name)
                stats.failed += 1
                continue
            self.spool.remove(path)
            stats.flushed += 1

    def _delivery_report(self, report: DeliveryReport, stats: TickStats) -> None:
        """Record a status report, then delete it from the SIM."""
        try:
            self.sender.apply_report(report)
        except DB_DOWN:
            stats.db_down = True
            return  # stays on the SIM until the database answers
        except Exception:  # noqa: BLE001  an odd report must not stop the loop
            log.exception("delivery report could not be recorded")
        stats.reports += 1
        if report.location is not None:
            try:
                self.modem.delete([report.location])
            except ModemError as exc:
                log.warning("delivery report not deleted from the modem: %s", exc)

    def _send(self, now: datetime, stats: TickStats) -> None:
        """Let the sender send what the rate allows."""
        try:
            if self.sender.tick(now) is not None:
                stats.sent += 1
        except ModemUnavailable as exc:
            stats.modem_down = True
            self._report("down", str(exc)[:300], now, force=True)
        except DB_DOWN:
            stats.db_down = True

    # -- health ---------------------------------------------------------------------------------

    def check_health(self, now: datetime, stats: TickStats | None = None) -> None:
        """Read signal, network and memory every ``health_interval`` and report the state."""
        stats = stats if stats is not None else TickStats()
        due = self._last_health is None or now - self._last_health >= self.health_interval
        if not due and self._last_state is not None and self._last_state[0] != "down":
            return
        try:
            status = self.modem.status()
        except ModemError as exc:
            stats.modem_down = True
            self._report("down", str(exc)[:300], now, force=True)
            return
        state, detail = assess(status, len(self.spool))
        self._report(state, detail, now, force=due)

    def _report(self, state: str, detail: str, now: datetime, *, force: bool) -> None:
        """Store the modem's state for /readyz; tell operators (link.status) and the log when it changed."""
        if not force and self._last_state == (state, detail):
            return
        previous = self._last_state[0] if self._last_state else None
        try:
            report_link(self.core.uow(), COMPONENT, state, detail, now)
        except DB_DOWN:
            log.warning("modem state %s not recorded: database unavailable", state)
            return
        self._last_health = now
        self._last_state = (state, detail)
        if state != previous:
            level = logging.INFO if state == "ok" else logging.ERROR
            log.log(level, "modem %s: %s", state, detail)


def report_not_configured(core: Core) -> None:
    """Tell /readyz and operators that no modem is configured (S48_GAMMU_CONFIG unset)."""
    with core.uow() as uow:
        if report_status(uow.session, COMPONENT, "not configured", "S48_GAMMU_CONFIG is not set", core.clock.now()):
            uow.emit("link.status", {"component": COMPONENT, "state": "not configured", "detail": None})
        uow.commit()


def build_daemon(core: Core, modem: GammuModem) -> SmsDaemon:
    """Wire the daemon for a core and a modem from the core's settings."""
    settings = core.settings
    sender = SmsSender(core=core, modem=modem, per_minute=float(settings.sms_per_minute))
    return SmsDaemon(core=core, modem=modem, spool=Spool(settings.var_dir / "sms-spool"), sender=sender)


def run_loop(daemon: SmsDaemon, stop: threading.Event, poll_seconds: float = POLL_SECONDS) -> None:
    """Tick until ``stop`` is set; a failing tick is logged and the loop goes on."""
    idle = poll_seconds
    while not stop.is_set():
        try:
            stats = daemon.tick()
        except Exception:  # noqa: BLE001  last-resort guard: the daemon must outlive any one bug
            log.exception("SMS daemon tick failed")
            stats = TickStats(modem_down=True)
        # Back off while the modem is gone (up to 30 s); come straight back when work is flowing.
        idle = min(30.0, idle * 2) if stats.modem_down else poll_seconds
        wait = daemon.sender.wait(daemon.core.clock.now()).total_seconds()
        stop.wait(min(idle, wait) if wait > 0 and not stats.modem_down else idle)


def _stop_event() -> threading.Event:
    """Return an event set by SIGTERM/SIGINT."""
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        log.info("SMS daemon stopping (signal %s)", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def run_sms(settings: Settings) -> None:
    """Run the SMS daemon until SIGTERM; without a gammurc, report "not configured" and idle."""
    from sistem48.runtime import build_core, configure_logging, settle_heap
    from sistem48.worker import live_for

    configure_logging()
    core = build_core(settings, live=live_for(settings))
    settle_heap()
    stop = _stop_event()
    if settings.gammu_config is None:
        while not stop.is_set():
            try:
                report_not_configured(core)
            except DB_DOWN:
                log.warning("database unavailable; modem state not recorded")
            stop.wait(60)
        return
    modem = GammuModem(settings.gammu_config)
    daemon = build_daemon(core, modem)
    try:
        stale = sms_core.recover_interrupted(core.uow())
        if stale:
            log.warning("%d SMS were being sent when the daemon stopped; marked unknown, not resent", stale)
    except DB_DOWN:
        log.warning("database unavailable at start; inbound SMS will be spooled")
    log.info("SMS daemon started with %s", settings.gammu_config)
    try:
        run_loop(daemon, stop)
    finally:
        modem.close()
