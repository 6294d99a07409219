"""The periodic sweeper (``sistem48 beat``): SLA steps and outbox re-drive, once a minute.

Our own loop rather than celery beat: beat's clock defects (celery#3685, #5892, #6438) are exactly
the faults the 48-hour promise must survive, and the deadline lives in the database anyway (R3).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from core.bootstrap import Core
from core.services.outbox import redrive
from core.services.sla import sweep

log = logging.getLogger(__name__)


def sweep_once(core: Core) -> None:
    """Run the SLA sweep and re-drive stuck outbox items; errors are logged, never fatal."""
    now = core.clock.now()
    try:
        sweep(core.uow(), now, core.sla_policy)
    except Exception:
        log.exception("SLA sweep failed; next sweep retries")
    if core.tasks is not None:
        try:
            redrive(core.uow(), core.tasks, now, older_than=timedelta(seconds=core.settings.outbox_redrive_seconds))
        except Exception:
            log.exception("outbox re-drive failed; next sweep retries")


def run_forever(core: Core, stop: threading.Event | None = None) -> None:
    """Sweep at the configured interval until ``stop`` is set."""
    stop = stop or threading.Event()
    log.info("sweeper running every %.0f s", core.settings.sweep_interval_seconds)
    while not stop.is_set():
        sweep_once(core)
        stop.wait(core.settings.sweep_interval_seconds)
