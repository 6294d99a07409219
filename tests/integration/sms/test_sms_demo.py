"""The demo modem and the daemon's entry point: the scripted SMS flow in, "not configured" idles."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.bootstrap import Core, bootstrap
from core.config import load_settings
from core.db.models import ComponentStatus
from core.services.health import component_states
from sms_modem.daemon import build_daemon, report_not_configured
from sms_modem.demo import SCRIPT, play, prepare
from sms_modem.modem import GammuModem
from tests.fakes import FixedClock, RecordingTasks

from .helpers import drain_outbox, messages, tickets

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def test_demo_script_flows_into_tickets(db_url: str, tmp_path: Path) -> None:
    """Every demo SMS is taken: complaints become tickets, status queries are answered, nothing is left."""
    rc = prepare(tmp_path / "demo")
    settings = load_settings({"S48_DATABASE_URL": db_url, "S48_VAR_DIR": str(tmp_path / "var"),
                              "S48_GAMMU_CONFIG": str(rc)})  # fmt: skip
    core = bootstrap(settings, clock=FixedClock(), tasks=RecordingTasks())
    daemon = build_daemon(core, GammuModem(rc))
    try:
        assert play(tmp_path / "demo", interval=0, stop=threading.Event()) == len(SCRIPT)
        daemon.tick()
        assert not list((tmp_path / "demo" / "modem" / "sms" / "1").iterdir())
        assert len(tickets(core)) == 6, [t.description[:30] for t in tickets(core)]
        drain_outbox(core)
        kinds = [(m.meta or {}).get("sms_kind") for m in messages(core, direction="in")]
        assert kinds.count("status") == 2
        answers = [m for m in messages(core, direction="out") if (m.meta or {}).get("sms_kind") == "status"]
        assert len(answers) == 2
    finally:
        daemon.modem.close()
        core.engine.dispose()


def test_not_configured_is_reported(core: Core) -> None:
    """Without S48_GAMMU_CONFIG the modem is "not configured" on /readyz, once as link.status."""
    report_not_configured(core)
    report_not_configured(core)
    with core.session_factory() as s:
        assert component_states(s, core.clock.now())["modem"] == "not configured"


def test_run_sms_without_modem_idles_and_stops(tmp_path: Path, sqlite_template: Path) -> None:
    """``sistem48 sms`` without a gammurc reports "not configured", stays up, and stops on SIGTERM."""
    db = tmp_path / "s48.sqlite3"
    db.write_bytes(sqlite_template.read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith("S48_")}
    env.update({"S48_DATABASE_URL": f"sqlite:///{db}", "S48_VAR_DIR": str(tmp_path / "var")})
    proc = subprocess.Popen([sys.executable, "-m", "sistem48", "sms"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        engine = sa.create_engine(f"sqlite:///{db}")
        deadline = time.monotonic() + 30
        state = None
        while time.monotonic() < deadline and state is None:
            time.sleep(0.2)
            with engine.connect() as conn:
                state = conn.scalar(sa.select(ComponentStatus.state).where(ComponentStatus.name == "modem"))
        engine.dispose()
        assert state == "not configured"
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
