"""F3/I6: the database dies under the web API — clear 503, no acknowledgement for a ticket that does not exist."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from callcenter_ui import create_app
from core.bootstrap import Core, bootstrap
from core.config import load_settings
from core.db import migrate
from core.db.base import create_engine
from core.db.models import OutboxItem, Ticket
from core.seed import seed
from core.services.accounts import add_user, create_token
from tests.fakes import RecordingTasks
from tests.support.pg import PgCluster, destroy_cluster, start_cluster

pytestmark = pytest.mark.integration


@pytest.fixture
def own_cluster() -> Iterator[PgCluster]:
    """A cluster this test may crash and restart (durable commits: a crash must not lose them)."""
    cluster = start_cluster(fsync=True)
    cluster.execute("CREATE DATABASE s48")
    engine = create_engine(cluster.url("s48"))
    migrate.upgrade(engine)
    with sa.orm.Session(engine) as session:
        seed(session)
        session.commit()
    engine.dispose()
    yield cluster
    destroy_cluster(cluster)


@pytest.fixture
def wired(own_cluster: PgCluster, tmp_path: Path) -> Iterator[tuple[Core, FlaskClient, str, RecordingTasks]]:
    """A web app on the crashable cluster, with an operator token."""
    tasks = RecordingTasks()
    settings = load_settings({"S48_DATABASE_URL": own_cluster.url("s48"), "S48_VAR_DIR": str(tmp_path)})
    core = bootstrap(settings, tasks=tasks)
    with core.session_factory() as session:
        add_user(session, "op", "operator", "lozinka-op", core.clock.now())
        token = create_token(session, "op", "t", core.clock.now())
        session.commit()
    app = create_app(settings, core=core)
    with app.test_client() as client:
        yield core, client, token, tasks
    core.engine.dispose()


def test_database_crash_gives_503_and_sends_nothing(
    own_cluster: PgCluster, wired: tuple[Core, FlaskClient, str, RecordingTasks]
) -> None:
    """With PostgreSQL killed, intake answers 503 quickly, fails closed on auth, and no outbox item leaves."""
    core, client, token, tasks = wired
    headers = {"Authorization": f"Bearer {token}"}
    body = {"channel": "phone", "description": "нема воде", "phone": "065435411"}
    own_cluster.stop("immediate")
    started = time.monotonic()
    response = client.post("/api/v1/tickets", json=body, headers=headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.get_json()["error"]["code"] == "database_unavailable"
    assert "Traceback" not in response.get_data(as_text=True)
    assert time.monotonic() - started < 15
    assert client.get("/api/v1/tickets", headers=headers).status_code == 503  # auth cannot be checked: closed
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["components"]["database"] == "down"
    assert tasks.enqueued == []

    own_cluster.start()
    ok = client.post("/api/v1/tickets", json=body, headers=headers)
    assert ok.status_code == 201
    with core.session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 1
        ticket_ids = {p["ticket_id"] for p in session.scalars(sa.select(OutboxItem.payload))}
    assert ticket_ids == {ok.get_json()["id"]}
    assert len(tasks.enqueued) == 2  # acknowledgement and notice, for the ticket that exists
