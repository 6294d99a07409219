"""F3: pooled connections are pinged only after sitting idle (core.db.base._ping_when_idle), on a real server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from core.db import base
from core.db.base import create_engine
from tests.support.pg import PgCluster, destroy_cluster, start_cluster

pytestmark = pytest.mark.integration

IDLE = 0.2  # PING_AFTER_IDLE for these tests, so they wait a fraction of a second, not one


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    """A private cluster these tests may restart."""
    own = start_cluster()
    yield own
    destroy_cluster(own)


@pytest.fixture
def pings(cluster: PgCluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[sa.Engine, list[float]]]:
    """An engine as the app makes it, counting the pings it sends."""
    monkeypatch.setattr(base, "PING_AFTER_IDLE", IDLE)
    engine = create_engine(cluster.url("postgres"))
    sent: list[float] = []
    real = engine.dialect.do_ping

    def counting(dbapi_connection: Any) -> bool:
        sent.append(time.monotonic())
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counting)
    yield engine, sent
    engine.dispose()


def _select_one(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT 1")).scalar_one())


def test_a_connection_used_moments_ago_is_not_pinged(pings: tuple[sa.Engine, list[float]]) -> None:
    """Back-to-back transactions (a burst of screen pops) send no ping; one after a pause does."""
    engine, sent = pings
    for _ in range(5):
        assert _select_one(engine) == 1
    assert sent == []  # a new connection, then the same one handed back within the second
    time.sleep(IDLE * 1.5)
    assert _select_one(engine) == 1
    assert len(sent) == 1


def test_after_a_restart_an_idle_connection_is_pinged_and_replaced(
    cluster: PgCluster, pings: tuple[sa.Engine, list[float]]
) -> None:
    """The server restarts while the pool holds two connections: the next transactions after a pause just work.

    The first dead connection's ping fails and discards the whole pool, so the second is replaced
    without a ping of its own.
    """
    engine, sent = pings
    with engine.connect() as first, engine.connect() as second:
        for conn in (first, second):
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
    cluster.stop("immediate")
    cluster.start()
    time.sleep(IDLE * 1.5)
    with engine.connect() as first, engine.connect() as second:
        for conn in (first, second):
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
    assert len(sent) == 1

    # The control: without the ping, the same pooled connection is handed out dead.
    bare = create_engine(cluster.url("postgres"), pool_pre_ping=False)
    try:
        assert _select_one(bare) == 1
        cluster.stop("immediate")
        cluster.start()
        with pytest.raises(sa.exc.OperationalError):
            _select_one(bare)
    finally:
        bare.dispose()
