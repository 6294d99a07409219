"""Faults: the database down while SMS arrive, and the daemon killed between commit and SIM delete."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy.orm as so

from core.bootstrap import Core, bootstrap
from core.config import load_settings
from core.db import migrate
from core.db.base import create_engine
from core.ports import RecordingLivePush
from core.seed import seed
from sms_modem.daemon import SmsDaemon, build_daemon
from sms_modem.modem import GammuModem
from tests.fakes import FixedClock, RecordingTasks
from tests.support.pg import PgCluster, destroy_cluster, start_cluster

from .dummy_modem import DummyModem
from .helpers import LONG_CYRILLIC, acks, inbound_items, sim_time, tickets

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def senders(n: int) -> list[str]:
    """Return n distinct mobile numbers."""
    return [f"+3876510{i:04d}" for i in range(n)]


def arrive_while_down(core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """Twenty messages (singles and a 5-part one) arrive in four waves while the database is down."""
    numbers = senders(20)
    for wave in range(4):
        for i in range(5):
            n = wave * 5 + i
            text = LONG_CYRILLIC if n == 7 else f"Пријава {n}: нема воде у Ул. {n}, Котор Варош"
            dummy.inject(numbers[n], text, when=sim_time(core, n))
        stats = daemon.tick()
        assert stats.db_down
        assert stats.spooled == 5
        assert dummy.files() == []  # safe on disk, so the SIM is freed
        core.clock.advance(seconds=15)  # type: ignore[attr-defined]
    assert len(daemon.spool) == 20


def drained_exactly_once(core: Core, daemon: SmsDaemon) -> None:
    """After recovery every spooled SMS is a ticket exactly once, and a second drain changes nothing."""
    stats = daemon.tick()
    assert stats.flushed == 20
    assert len(daemon.spool) == 0
    assert len(tickets(core)) == 20
    assert (inbound_items(core), acks(core)) == (20, 20)
    assert any(t.description == LONG_CYRILLIC for t in tickets(core))
    again = daemon.tick()
    assert (again.flushed, again.committed) == (0, 0)
    assert len(tickets(core)) == 20


@pytest.fixture
def private_pg() -> Iterator[PgCluster]:
    """A PostgreSQL cluster of this test's own, so it can be stopped without harming others."""
    cluster = start_cluster()
    cluster.execute("CREATE DATABASE sms")
    engine = create_engine(cluster.url("sms"))
    migrate.upgrade(engine)
    with engine.begin() as conn, so.Session(conn) as session:
        seed(session)
        session.flush()
    engine.dispose()
    yield cluster
    destroy_cluster(cluster)


def _core(url: str, tmp_path: Path, dummy: DummyModem) -> Core:
    """Wire a core like the daemon's for a given database URL."""
    settings = load_settings(
        {"S48_DATABASE_URL": url, "S48_VAR_DIR": str(tmp_path / "var"), "S48_GAMMU_CONFIG": str(dummy.gammurc)}
    )
    return bootstrap(settings, clock=FixedClock(), live=RecordingLivePush(), tasks=RecordingTasks())


@pytest.mark.slow
def test_postgres_down_twenty_sms_exactly_once(private_pg: PgCluster, tmp_path: Path, dummy: DummyModem) -> None:
    """PostgreSQL crashes (immediate stop); 20 SMS are spooled; after restart each is one ticket."""
    core = _core(private_pg.url("sms"), tmp_path, dummy)
    daemon = build_daemon(core, GammuModem(dummy.gammurc))
    try:
        daemon.tick()
        private_pg.stop("immediate")
        arrive_while_down(core, dummy, daemon)
        private_pg.start()
        drained_exactly_once(core, daemon)
    finally:
        daemon.modem.close()
        core.engine.dispose()


def test_sqlite_unreachable_twenty_sms_exactly_once(sqlite_template: Path, tmp_path: Path, dummy: DummyModem) -> None:
    """SQLite file unreachable (its directory moved away); 20 SMS are spooled; back, each is one ticket.

    An embedded SQLite database is never "down" like a server: it fails when its file cannot be
    opened. Moving the directory away makes every new connection fail with ``unable to open database
    file`` (a real sqlite3.OperationalError, no fault injection in our code); ``dispose()`` drops the
    pooled connections that would otherwise keep the old file open.
    """
    home = tmp_path / "db"
    home.mkdir()
    shutil.copyfile(sqlite_template, home / "s48.sqlite3")
    core = _core(f"sqlite:///{home / 's48.sqlite3'}", tmp_path, dummy)
    daemon = build_daemon(core, GammuModem(dummy.gammurc))
    try:
        daemon.tick()
        core.engine.dispose()
        home.rename(tmp_path / "db.away")
        arrive_while_down(core, dummy, daemon)
        (tmp_path / "db.away").rename(home)
        drained_exactly_once(core, daemon)
    finally:
        daemon.modem.close()
        core.engine.dispose()


def test_killed_between_commit_and_delete(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon) -> None:
    """SIGKILL after the commit, before the SIM delete: the re-read is a duplicate, no second ticket or ack."""
    dummy.inject("+38765123456", "Контејнер код школе није одвезен двије седмице", when=sim_time(sms_core))
    dummy.inject("+38765654321", LONG_CYRILLIC, when=sim_time(sms_core))
    settings = sms_core.settings
    proc = subprocess.run(
        [sys.executable, "-m", "tests.integration.sms.crash_daemon", settings.database_url,
         str(settings.gammu_config), str(settings.var_dir), sms_core.clock.now().isoformat()],
        cwd=ROOT, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode(errors="replace")
    assert len(tickets(sms_core)) == 1  # the first message was committed, then the process died
    assert len(dummy.files()) == 6  # nothing was deleted
    stats = daemon.tick()
    assert (stats.duplicates, stats.committed, stats.deleted) == (1, 1, 6)
    assert dummy.files() == []
    assert len(tickets(sms_core)) == 2
    assert (inbound_items(sms_core), acks(sms_core)) == (2, 2)


def test_spool_survives_daemon_restart(sms_core: Core, dummy: DummyModem, daemon: SmsDaemon, tmp_path: Path) -> None:
    """A spooled report is read back by a new daemon process and committed once."""
    dummy.inject("+38765123456", "Rupa na putu kod mosta", when=sim_time(sms_core))
    msg = daemon.assembler.collect(daemon.modem.read_all().messages, sms_core.clock.now())[0]
    daemon.spool.put(msg.to_report())
    daemon.spool.put(msg.to_report())  # spooling twice is one file
    assert len(daemon.spool) == 1
    fresh = build_daemon(sms_core, daemon.modem)
    stats = fresh.tick()  # drains the spool, then reads the same SMS from the SIM: a duplicate
    assert (stats.flushed, stats.duplicates, stats.committed) == (1, 1, 0)
    assert len(tickets(sms_core)) == 1
    assert len(fresh.spool) == 0
