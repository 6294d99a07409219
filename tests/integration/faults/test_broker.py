"""F4/F5: the outbox through a real Celery worker on a real Redis, with Redis killed and restarted."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.bootstrap import Core
from core.config import load_settings
from core.db.models import Message, OutboxItem
from core.messages import Channel, ReceiveReport
from core.services.intake import receive
from sistem48.runtime import build_core
from sistem48.sweeper import sweep_once
from tests.support.pg import PgCluster
from tests.support.redis_server import RedisServer, start_redis

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def redis_own() -> Iterator[RedisServer]:
    """A redis-server this test may kill and restart on the same port."""
    server = start_redis()
    yield server
    server.kill()


@pytest.fixture
def env(pg_cluster: PgCluster, redis_own: RedisServer, tmp_path: Path) -> dict[str, str]:
    """Settings for the web side and the worker: PostgreSQL, Redis broker, quick re-drive."""
    name = f"broker_{os.getpid()}_{int(time.monotonic() * 1000)}"
    pg_cluster.execute(f"CREATE DATABASE {name} TEMPLATE s48_template")
    return {
        "S48_DATABASE_URL": pg_cluster.url(name),
        "S48_BROKER_URL": redis_own.url,
        "S48_VAR_DIR": str(tmp_path / "var"),
        "S48_SECRET_KEY": "test",
        "S48_OUTBOX_REDRIVE_SECONDS": "1",
    }


@pytest.fixture
def worker(env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real `sistem48 worker` process."""
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sistem48", "worker", "--pool", "solo"],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def outbox_states(core: Core) -> list[str]:
    """Return the states of all outbox items."""
    with core.session_factory() as session:
        return list(session.scalars(sa.select(OutboxItem.state).order_by(OutboxItem.id)))


def wait_until(predicate: object, timeout: float = 30.0) -> bool:
    """Poll a predicate until it is true or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.2)
    return False


def test_outbox_survives_redis_outage_exactly_once(
    env: dict[str, str], worker: subprocess.Popen[bytes], redis_own: RedisServer
) -> None:
    """Delivered via Celery; with Redis dead the ticket still commits; after restart each item is sent once."""
    core = build_core(load_settings(env))
    first = receive(core.uow(), ReceiveReport(channel=Channel.SMS, text="нема воде", phone="065435411"))
    assert wait_until(lambda: outbox_states(core) == ["done", "done"]), outbox_states(core)

    redis_own.kill()
    started = time.monotonic()
    second = receive(core.uow(), ReceiveReport(channel=Channel.SMS, text="смеће", phone="066111222"))
    assert time.monotonic() - started < 10  # the request path is not blocked by the dead broker
    assert second.created and second.ticket_code != first.ticket_code
    assert outbox_states(core)[2:] == ["pending", "pending"]

    redis_own.start()  # same port, empty (no AOF): the publish was lost, the outbox row was not
    time.sleep(1.2)
    sweep_once(core)
    assert wait_until(lambda: outbox_states(core) == ["done"] * 4, timeout=60), outbox_states(core)
    sweep_once(core)  # a second sweep re-publishes nothing
    time.sleep(1)
    with core.session_factory() as session:
        sent = session.scalars(sa.select(Message.address).where(Message.direction == "out", Message.channel == "sms"))
        addresses = sorted(a for a in sent if a)
    assert addresses == ["+38765435411", "+38766111222"]
    assert worker.poll() is None
    core.engine.dispose()
