"""Celery: the app factory, the thin delivery task, and the TaskQueue adapter that publishes to it.

No Celery app exists at import time; each process builds one from its Settings. Tasks carry only an
outbox id: the row is the truth, the message is a hint (reliability R2).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from core.bootstrap import Core
from core.config import Settings
from core.services.outbox import deliver

log = logging.getLogger(__name__)

DELIVER_TASK = "s48.deliver_outbox"
QUEUES = {"transcribe": "transcription"}  # kind → queue; everything else goes to "default"
# Kinds a device daemon claims itself from the outbox table (it owns the device); never sent to Celery.
POLLED_KINDS = frozenset({"originate"})


def make_celery(settings: Settings) -> Celery:
    """Build the Celery app for these settings (Redis in production, a SQLite file when embedded)."""
    app = Celery("sistem48", broker=settings.broker_url, set_as_current=False)
    transport: dict[str, Any] = {}
    if settings.broker_url.startswith("redis"):
        # Fail fast when Redis is down so a web request is never blocked on it (F4). The visibility
        # timeout bounds redelivery of a task whose worker died (F8); the outbox makes a copy harmless.
        transport.update(visibility_timeout=600, socket_connect_timeout=2, socket_timeout=5, retry_on_timeout=False)
    app.conf.update(
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=False,  # loops on Redis (celery#3541); the sweeper re-drives instead
        worker_prefetch_multiplier=1,
        task_default_queue="default",
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=True,
    )
    return app


def register_tasks(app: Celery, core: Core) -> None:
    """Register the delivery task, bound to this process's core."""

    @app.task(name=DELIVER_TASK, acks_late=True, ignore_result=True)  # type: ignore[untyped-decorator]
    def deliver_outbox(outbox_id: int) -> str:
        """Deliver one outbox item (idempotent: a second copy is a no-op)."""
        result = deliver(core.uow(), outbox_id, core.handlers, max_attempts=core.settings.outbox_max_attempts)
        return result.state

    del deliver_outbox


class CeleryTaskQueue:
    """TaskQueue adapter: publishes the delivery task, one publish attempt, never a blocking retry."""

    def __init__(self, app: Celery) -> None:
        self._app = app

    def enqueue(self, outbox_id: int, kind: str) -> None:
        """Publish a delivery task; raises if the broker is unreachable (the sweeper will re-drive)."""
        if kind in POLLED_KINDS:
            return
        self._app.send_task(DELIVER_TASK, args=[outbox_id], queue=QUEUES.get(kind, "default"), retry=False)
