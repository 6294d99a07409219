"""Shared fixtures: real databases (SQLite and PostgreSQL), a real Redis, and a wired core."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.bootstrap import Core, bootstrap
from core.config import load_settings
from core.ports import RecordingLivePush
from tests.fakes import FixedClock, RecordingNotifier, RecordingTasks
from tests.support.database import migrate_and_seed
from tests.support.pg import PgCluster, destroy_cluster, start_cluster
from tests.support.redis_server import RedisServer, start_redis

_counter = itertools.count()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under S48_TEST_STRICT (the README test command sets it) a skipped test is a failure.

    Tests skip when a tool (Chromium, dovecot, pdftotext…) is missing on a developer's machine; in CI
    that would silently count a test that never ran, so there it fails and names what is missing.
    """
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("S48_TEST_STRICT") == "1" and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under S48_TEST_STRICT: {report.longrepr}"


TEMPLATE_DB = "s48_template"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """Start a private PostgreSQL cluster with a migrated, seeded template database."""
    cluster = start_cluster()
    cluster.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    migrate_and_seed(cluster.url(TEMPLATE_DB))
    yield cluster
    destroy_cluster(cluster)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Create a migrated, seeded SQLite file to copy for each test."""
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    migrate_and_seed(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """Start a private redis-server for the session."""
    server = start_redis()
    yield server
    server.kill()
    shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Give each test a fresh, migrated, seeded database — on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "test.sqlite3"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    name = f"t_{next(_counter)}"
    cluster.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    yield cluster.url(name)
    cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def clock() -> FixedClock:
    """A hand-moved clock."""
    return FixedClock()


@pytest.fixture
def tasks() -> RecordingTasks:
    """A task queue that records."""
    return RecordingTasks()


@pytest.fixture
def live() -> RecordingLivePush:
    """A live push that records."""
    return RecordingLivePush()


@pytest.fixture
def notifier() -> RecordingNotifier:
    """A notifier that records."""
    return RecordingNotifier()


@pytest.fixture
def core(
    db_url: str,
    tmp_path: Path,
    clock: FixedClock,
    tasks: RecordingTasks,
    live: RecordingLivePush,
    notifier: RecordingNotifier,
) -> Iterator[Core]:
    """A core wired to a real database and recording ports."""
    settings = load_settings({"S48_DATABASE_URL": db_url, "S48_VAR_DIR": str(tmp_path / "var")})
    wired = bootstrap(settings, clock=clock, live=live, tasks=tasks, notifier=notifier)
    yield wired
    wired.engine.dispose()
