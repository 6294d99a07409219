"""``sistem48 up``: start every process of the system as children and keep them running.

Each part runs in its own process, exactly as in production (docker-compose), so what works here
works there. A child that dies is restarted with backoff; Ctrl-C stops them all.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from core.config import Settings

log = logging.getLogger(__name__)


def free_port() -> int:
    """Return a free loopback TCP port for the simulated PBX (a fixed one may be taken)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Child:
    """One supervised process."""

    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started: float = 0.0
    next_start: float = field(default=0.0)


def children(settings: Settings, *, demo: bool) -> list[Child]:
    """Return the processes of ``up``: web, worker, sweeper and one daemon per channel.

    Every channel daemon starts even without its device: it reports "not configured" on /readyz and
    idles, so plugging in a modem or configuring the PBX needs a restart, never a code change.
    """
    exe = [sys.executable, "-m", "sistem48"]
    # The embedded broker is a SQLite file: a solo pool keeps one consumer on it.
    pool = ["--pool", "solo"] if settings.embedded_broker else []
    procs = [
        Child("web", [*exe, "web"]),
        Child("worker", [*exe, "worker", *pool]),
        Child("beat", [*exe, "beat"]),
        Child("transcribe", [*exe, "transcribe"]),
        Child("telephony", [*exe, "telephony"]),
        Child("sms", [*exe, "sms"]),
        Child("mail", [*exe, "mail"]),
    ]
    if demo:
        procs += demo_children(settings)
    return procs


def demo_children(settings: Settings) -> list[Child]:
    """Set up the simulated devices and return their processes (only for devices not configured)."""
    extra: list[Child] = []
    if settings.ami_host is None:
        spool = settings.var_dir / "demo-spool"
        port = str(free_port())
        # The connector (and the workers, for the spool) must see the simulated PBX.
        from telephony.demo import DEMO_SECRET, DEMO_USERNAME

        os.environ.update(
            {
                "S48_AMI_HOST": "127.0.0.1",
                "S48_AMI_PORT": port,
                "S48_AMI_USERNAME": DEMO_USERNAME,
                "S48_AMI_SECRET": DEMO_SECRET,
                "S48_VOICEMAIL_SPOOL": str(spool),
            }
        )
        extra.append(Child("pbx-demo", [sys.executable, "-m", "telephony.demo", "--port", port, "--spool", str(spool)]))
    if settings.gammu_config is None:
        from sms_modem.demo import prepare

        directory = settings.var_dir / "demo-modem"
        # Every child must see the modem: the worker queues SMS notices only when one is configured.
        os.environ["S48_GAMMU_CONFIG"] = str(prepare(directory))
        extra.append(Child("sms-demo", [sys.executable, "-m", "sms_modem.demo", "--dir", str(directory)]))
    return extra


def run_all(settings: Settings, *, demo: bool = False) -> None:
    """Start and supervise the children until SIGINT/SIGTERM."""
    procs = children(settings, demo=demo)
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    log.info("Систем 48 ради на http://%s:%d/", settings.http_host, settings.http_port)
    try:
        while not stopping:
            now = time.monotonic()
            for child in procs:
                if child.proc is not None and child.proc.poll() is not None:
                    log.warning("%s exited with %s; restarting", child.name, child.proc.returncode)
                    child.restarts += 1
                    # Back off for a child that keeps crashing, but come back quickly after a one-off.
                    quick = now - child.started > 60
                    child.next_start = now + (1 if quick else min(30, 2**child.restarts))
                    child.proc = None
                if child.proc is None and now >= child.next_start:
                    child.proc = subprocess.Popen(child.argv)  # noqa: S603  our own interpreter and module
                    child.started = now
            time.sleep(0.5)
    finally:
        for child in procs:
            if child.proc is not None and child.proc.poll() is None:
                child.proc.terminate()
        deadline = time.monotonic() + 10
        for child in procs:
            if child.proc is not None:
                try:
                    child.proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.proc.kill()
