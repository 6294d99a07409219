"""Builds the core for a process with the adapters that process owns."""

from __future__ import annotations

import gc
import logging
import sys

from core.bootstrap import Core, bootstrap
from core.config import Settings, load_settings
from core.ports import LivePush
from sistem48.tasks import CeleryTaskQueue, make_celery


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr in one format for every process."""
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"
    )
    # One line per HTTP request drowns what matters (the access log belongs to the reverse proxy).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def build_core(settings: Settings | None = None, *, live: LivePush | None = None) -> Core:
    """Bootstrap the core with the Celery task queue for these settings."""
    settings = settings or load_settings()
    tasks = CeleryTaskQueue(make_celery(settings))
    return bootstrap(settings, tasks=tasks, live=live)


def settle_heap() -> None:
    """Put everything startup made beyond the garbage collector's full sweeps (call before serving).

    A full collection walks every tracked object, and a daemon that has imported SQLAlchemy, Flask
    and phonenumbers holds a great many that live as long as the process anyway: such a sweep took
    70-120 ms in the telephony daemon and stalled the twenty screen pops in flight with it
    (bench/screen_pop.py). Frozen, they are skipped; what is made later is collected as before. The
    price: garbage among the startup objects is never collected, which is why this runs after a full
    collection.
    """
    gc.collect()
    gc.freeze()
