"""Declarative base, portable column types and engine creation for SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from typing_extensions import override

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp that is always stored and returned as UTC-aware.

    SQLite has no time zone type and returns naive values; PostgreSQL ``timestamptz`` returns the
    session zone. Either way the domain sees aware UTC datetimes, and a naive value is refused.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    @override
    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Refuse naive datetimes and normalise to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    @override
    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Return aware UTC datetimes whatever the backend gives."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(so.DeclarativeBase):
    """Base class of every model."""

    metadata = sa.MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: sa.JSON()}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """Set WAL, a busy timeout and foreign keys on every new SQLite connection."""
    # pysqlite's own transaction handling is switched off so that we can BEGIN IMMEDIATE (F25:
    # concurrent writers would otherwise fail with "database is locked" on the lock upgrade).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    """Start every SQLite transaction with the write lock taken."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, **kwargs: Any) -> sa.Engine:
    """Create an engine with the settings each backend needs to be safe under faults."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 15, "check_same_thread": False}, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql"):
        # Bounded waits everywhere (F20): a locked table or a dead server gives a clean error.
        connect_args = {"connect_timeout": 5, "options": "-c statement_timeout=20000 -c lock_timeout=10000"}
    ping = kwargs.pop("pool_pre_ping", True)
    kwargs.setdefault("pool_use_lifo", True)
    kwargs.setdefault("pool_timeout", 10)
    engine = sa.create_engine(url, connect_args=connect_args, pool_pre_ping=False, **kwargs)
    if ping:
        _ping_when_idle(engine)
    return engine


# A pooled connection that sat idle this long is pinged before it is handed out again.
PING_AFTER_IDLE = 1.0
_IDLE_SINCE = "s48_idle_since"


def _ping_when_idle(engine: sa.Engine) -> None:
    """Ping a connection at checkout only if it sat in the pool for ``PING_AFTER_IDLE`` seconds or more.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: one more round trip, and two context
    switches on the server, in front of every transaction, a screen pop's among them. A connection
    that was in use a moment ago (or was just opened) is as alive as a ping would prove. One that
    waited longer may have met a server restart, a proxy's idle timeout or a failover: it is pinged,
    and if it is dead, every pooled connection made before it is discarded (a restart killed them
    all, so none of them is handed out to fail) and a new one is made, as ``pool_pre_ping`` does. The
    rare server gone within the second fails its first statement instead, which discards the pool
    the same way, so the retry (the daemon's next event, the sweeper, the user's next click) gets a
    fresh connection.
    """
    dialect = engine.dialect

    def stamp(_dbapi_connection: Any, record: Any, *_args: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is not None and time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if not dialect.is_disconnect(exc, dbapi_connection, None):
                raise
            raise sa.exc.InvalidatePoolError(str(exc)) from exc  # the pool reconnects and retries

    sa.event.listen(engine, "connect", stamp)
    sa.event.listen(engine, "checkin", stamp)
    sa.event.listen(engine, "checkout", check)


def read_engine_for(engine: sa.Engine) -> sa.Engine:
    """Return the engine for public reads: on PostgreSQL a sibling in autocommit without pre-ping.

    The app's engine pings a connection that sat idle (``_ping_when_idle``), one more round trip (and
    two context switches) on a tracking page after a quiet second; public reads are idempotent, so
    ``core.services.public.read`` retries a dropped connection instead. Autocommit is right for
    them: each is one statement under READ COMMITTED, which takes its own snapshot anyway, and it
    spares a BEGIN and a ROLLBACK round trip. The sibling has the same timeouts, its own pool (a web
    process uses at most one connection per thread) and is disposed with ``engine``. SQLite (a file,
    no server to lose) keeps ``engine`` and its transactions.
    """
    if engine.dialect.name != "postgresql":
        return engine
    sibling = create_engine(
        engine.url.render_as_string(hide_password=False), pool_pre_ping=False, isolation_level="AUTOCOMMIT"
    )
    sa.event.listen(engine, "engine_disposed", lambda _engine: sibling.dispose())
    return sibling
