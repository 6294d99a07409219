"""The composition root: builds the engine, the unit-of-work factory and the ports, once per process.

The Flask factory, the Celery worker and every daemon call ``bootstrap``; adapters are passed in by
the entry point that owns them, and anything not given falls back to a harmless default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.config import Settings
from core.db.base import create_engine, read_engine_for
from core.db.uow import UnitOfWork
from core.ports import Clock, LivePush, Notification, Notifier, NullLivePush, SystemClock, TaskQueue
from core.services.intake import IntakePolicy
from core.services.outbox import Handler, notification_handler
from core.services.sla import SlaPolicy

log = logging.getLogger(__name__)


class LoggingNotifier:
    """Notifier used until the SMS and e-mail channels are configured: logs, and says so."""

    def send(self, notification: Notification) -> str:
        """Log the notification (address masked) and report it as logged."""
        address = notification.address or "-"
        masked = address[:4] + "…" if len(address) > 4 else address
        log.info("notification via %s to %s: %s", notification.channel, masked, notification.subject)
        return "logged"


class QueueingNotifier:
    """Leaves a message queued for the daemon that owns the device (the SMS modem paces itself)."""

    def send(self, notification: Notification) -> str:
        """Report the message as queued; the outgoing message row is the queue."""
        return "queued"


class RoutingNotifier:
    """Sends each notification through the adapter of its channel, logging when none is configured."""

    def __init__(self, by_channel: dict[str, Notifier], fallback: Notifier) -> None:
        self._by_channel = by_channel
        self._fallback = fallback

    def send(self, notification: Notification) -> str:
        """Dispatch on ``notification.channel``."""
        return self._by_channel.get(notification.channel, self._fallback).send(notification)


def smtp_notifier(settings: Settings) -> Notifier:
    """Return the SMTP adapter; imported only when configured (the composition root wires adapters)."""
    from email_channel.smtp import SmtpNotifier

    return SmtpNotifier(settings.smtp_url or "", sender=settings.mail_from)


@dataclass
class Core:
    """Everything a process needs from the core, wired once."""

    settings: Settings
    engine: sa.Engine
    session_factory: so.sessionmaker[so.Session]
    clock: Clock
    live: LivePush
    tasks: TaskQueue | None
    notifier: Notifier
    read_engine: sa.Engine  # public, idempotent one-statement reads (core.db.base.read_engine_for)
    handlers: dict[str, Handler] = field(default_factory=dict)

    def uow(self) -> UnitOfWork:
        """Return a fresh unit of work."""
        return UnitOfWork(self.session_factory, clock=self.clock, live=self.live, tasks=self.tasks)

    @property
    def intake_policy(self) -> IntakePolicy:
        """Return intake settings."""
        return IntakePolicy(timezone=self.settings.timezone, answer_hours=self.settings.answer_hours)

    @property
    def sla_policy(self) -> SlaPolicy:
        """Return SLA thresholds."""
        return SlaPolicy(
            answer_hours=self.settings.answer_hours,
            warn_hours=self.settings.warn_hours,
            escalate_hours=self.settings.escalate_hours,
        )


def bootstrap(
    settings: Settings,
    *,
    engine: sa.Engine | None = None,
    clock: Clock | None = None,
    live: LivePush | None = None,
    tasks: TaskQueue | None = None,
    notifier: Notifier | None = None,
) -> Core:
    """Wire the core for one process."""
    if settings.database_url.startswith("sqlite"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    engine = engine or create_engine(settings.database_url)
    factory = so.sessionmaker(engine, expire_on_commit=False)
    if notifier is None:
        channels: dict[str, Notifier] = {}
        if settings.gammu_config is not None:
            channels["sms"] = QueueingNotifier()  # sms_modem's daemon sends queued rows
        if settings.smtp_url:
            channels["email"] = smtp_notifier(settings)
        notifier = RoutingNotifier(channels, LoggingNotifier())
    handle = notification_handler(notifier)
    return Core(
        settings=settings,
        engine=engine,
        session_factory=factory,
        clock=clock or SystemClock(),
        live=live or NullLivePush(),
        tasks=tasks,
        notifier=notifier,
        read_engine=read_engine_for(engine),
        handlers={"notify_citizen": handle, "notify_org": handle, "notify_supervisor": handle},
    )
