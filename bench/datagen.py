"""Bulk data for benchmarks: citizens, tickets, messages and calls generated inside PostgreSQL.

Rows are made with generate_series in a handful of statements, so a million tickets take seconds
rather than the hours a Python loop through the ORM would need.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from core.db import migrate
from core.db.base import create_engine
from core.seed import seed
from tests.support.pg import destroy_cluster, start_cluster


@contextmanager
def bench_database(*, fsync: bool = True) -> Iterator[str]:
    """Yield a migrated, seeded PostgreSQL URL: S48_BENCH_DATABASE_URL, else a private cluster."""
    url = os.environ.get("S48_BENCH_DATABASE_URL")
    cluster = None
    if url is None:
        cluster = start_cluster(fsync=fsync)
        cluster.execute("CREATE DATABASE bench")
        url = cluster.url("bench")
    engine = create_engine(url)
    migrate.upgrade(engine)
    with sa.orm.Session(engine) as session:
        seed(session)
        session.commit()
    engine.dispose()
    try:
        yield url
    finally:
        if cluster is not None:
            destroy_cluster(cluster)


# Complaints in both scripts, as citizens write them (the SMS and e-mail benchmarks fill in {n}).
COMPLAINTS = [
    "Нема воде у улици {n}. од јутрос, молим хитну интервенцију.",
    "Kontejner kod zgrade {n} nije odvezen dvije sedmice.",
    "Javna rasvjeta ne radi u ulici {n}, mrak je.",
    "Ударна рупа на путу према Хрваћанима, код куће број {n}.",
    "Pas lutalica kod škole, broj {n}, djeca se boje.",
]


def phone_of(i: int) -> str:
    """Return the E.164 number of generated citizen ``i`` (valid BiH mobile range +38765…)."""
    return f"+38765{i:07d}"


def generate(url: str, *, citizens: int, tickets: int, messages: int, calls: int) -> float:
    """Insert the rows and return the seconds it took."""
    start = time.perf_counter()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL statement_timeout = 0"))
        conn.execute(
            sa.text(
                """
                INSERT INTO citizen (phone_key, phone_e164, phone_raw, phone_valid, script, consent, sms_transliterate,
                                     created_at)
                SELECT '+38765' || lpad(i::text, 7, '0'), '+38765' || lpad(i::text, 7, '0'),
                       '065' || lpad(i::text, 7, '0'), true, 'sr-Cyrl', false, false,
                       now() - (i % 700) * interval '1 day'
                FROM generate_series(1, :n) AS i
                """
            ),
            {"n": citizens},
        )
        conn.execute(
            sa.text(
                """
                INSERT INTO ticket (code, channel, citizen_id, category_id, organisation_id, description, place, status,
                                    priority, search_text, created_at, updated_at, answer_due, resolve_due, answered_at,
                                    reopened_count)
                SELECT '48-' || (2020 + i / 200000) || '-' || lpad((i % 200000)::text, 6, '0'),
                       (ARRAY['phone','sms','email','voicemail','walk-in'])[1 + i % 5],
                       c.id, cat.id, cat.organisation_id, 'Опис пријаве број ' || i, 'Котор Варош',
                       (ARRAY['assigned','in_progress','resolved','closed','new'])[1 + i % 5], 'normal',
                       'opis prijave broj ' || i, ts, ts, ts + interval '48 hours', ts + interval '10 days',
                       CASE WHEN i % 3 = 0 THEN NULL ELSE ts + interval '5 hours' END, 0
                FROM (SELECT i, now() - (i % 2000) * interval '1 hour' - (i / 2000) * interval '1 minute' AS ts,
                             1 + (i::bigint * 7919) % :citizens AS cid, 1 + i % 11 AS catn
                      FROM generate_series(1, :n) AS i) g
                JOIN citizen c ON c.id = g.cid
                JOIN category cat ON cat.id = g.catn
                """
            ),
            {"n": tickets, "citizens": citizens},
        )
        conn.execute(
            sa.text(
                """
                INSERT INTO message (ticket_id, citizen_id, direction, channel, address, body, at, delivery_state, attempts)
                SELECT t.id, t.citizen_id, 'in', t.channel, NULL, 'Порука ' || t.id, t.created_at, 'received', 0
                FROM ticket t WHERE t.id <= :n
                """
            ),
            {"n": messages},
        )
        conn.execute(
            sa.text(
                """
                INSERT INTO call (linkedid, direction, caller_raw, citizen_id, state, outcome, started_at)
                SELECT 'bench-' || i, 'in', '065' || lpad((1 + i % :citizens)::text, 7, '0'), 1 + i % :citizens,
                       'ended', (ARRAY['answered','missed','abandoned'])[1 + i % 3], now() - i * interval '1 minute'
                FROM generate_series(1, :n) AS i
                """
            ),
            {"n": calls, "citizens": citizens},
        )
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('ticket', 'id'), (SELECT max(id) FROM ticket))"))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()
    return time.perf_counter() - start
