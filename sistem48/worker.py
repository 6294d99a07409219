"""The Celery worker process (``sistem48 worker``)."""

from __future__ import annotations

from core.config import Settings
from core.ports import LivePush
from sistem48.runtime import build_core
from sistem48.tasks import make_celery, register_tasks


def live_for(settings: Settings) -> LivePush | None:
    """Return the live push a non-web process uses (the Redis queue, else none: the web tails the table)."""
    if settings.socketio_queue_url:
        from callcenter_ui.sockets import RedisLivePush

        return RedisLivePush(settings.socketio_queue_url)
    return None


def run_worker(settings: Settings, *, queues: str = "default", concurrency: int = 2, pool: str = "prefork") -> None:
    """Start a Celery worker consuming the given queues."""
    core = build_core(settings, live=live_for(settings))
    app = make_celery(settings)
    register_tasks(app, core)
    argv = ["worker", "-Q", queues, "-c", str(concurrency), "-P", pool, "--without-mingle", "--without-gossip",
            "-l", "INFO"]  # fmt: skip
    app.worker_main(argv=argv)
