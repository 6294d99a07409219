"""Benchmark (run by hand): the yearly meeting pack of the largest organisation over N tickets.

    .venv/bin/python -m bench.reports --size 1000000

Generates the tickets, status histories and costs with set-based SQL in a private PostgreSQL cluster
(tests/support/pg.py), or in the database named by ``--database-url`` / ``S48_BENCH_DATABASE_URL``
(it must be an empty, disposable database). Then measures, in one run: a bare ``count(*) … GROUP BY``
over the same rows (the baseline), the pack's figures (seconds, peak RSS growth, peak Python
allocations with tracemalloc) and the PDF rendering, and prints the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc
from datetime import UTC, date, datetime

import sqlalchemy as sa

from callcenter_ui.reporting.pdf import render_pack_pdf
from core.db import migrate
from core.db.base import create_engine
from core.seed import seed
from core.services.reports import build_pack, local_period

YEAR = 2025
# Category codes in proportion: water and sewerage (JP Vodovod) are the largest share of requests.
MIX = ["voda", "voda", "voda", "kanalizacija", "rasvjeta", "smece", "putevi", "zelene", "psi", "inspekcija"]


def generate(engine: sa.Engine, size: int) -> None:
    """Insert ``size`` tickets with histories and costs, spread over the year, in a few statements."""
    with engine.begin() as conn:
        ids: dict[str, int] = {code: cid for code, cid in conn.execute(sa.text("SELECT code, id FROM category"))}
        cycle = ",".join(str(ids[c]) for c in MIX)
        conn.execute(sa.text("SET LOCAL statement_timeout = 0"))  # bulk generation, not a request
        conn.execute(sa.text("SELECT setseed(0.48)"))
        conn.execute(
            sa.text(
                f"""
                INSERT INTO ticket (code, channel, category_id, organisation_id, description, place_id, status,
                    priority, search_text, created_at, updated_at, answer_due, resolve_due, answered_at,
                    resolved_at, feedback, reopened_count)
                SELECT '48-B-' || lpad(g::text, 9, '0'),
                       (ARRAY['phone','sms','email','voicemail','walk-in','web'])[1 + g % 6],
                       c.id, c.organisation_id, 'bench', 1 + g % 40,
                       CASE WHEN r.solved THEN 'resolved' ELSE 'in_progress' END, 'normal', '',
                       r.created, r.created, r.created + interval '48 hours',
                       r.created + c.resolve_hours * interval '1 hour',
                       r.created + r.answer_h * interval '1 hour',
                       CASE WHEN r.solved THEN r.created + r.resolve_f * c.resolve_hours * interval '1 hour' END,
                       CASE WHEN g % 5 = 0 THEN 'yes' WHEN g % 7 = 0 THEN 'no' END,
                       CASE WHEN g % 50 = 0 THEN 1 ELSE 0 END
                FROM generate_series(1, :n) AS g
                JOIN category c ON c.id = (ARRAY[{cycle}])[1 + g % {len(MIX)}]
                CROSS JOIN LATERAL (SELECT
                    timestamptz '{YEAR}-01-01 00:00+00' + (random() * 364) * interval '1 day' AS created,
                    random() * 70 AS answer_h, random() * 1.4 AS resolve_f, random() < 0.8 AS solved,
                    g AS gg) AS r
                """  # noqa: S608  built from category ids read above, not from input
            ),
            {"n": size},
        )
        conn.execute(
            sa.text(
                """
                INSERT INTO status_change (ticket_id, at, kind, actor_label, from_status, to_status, organisation_id)
                SELECT id, created_at, 'status', 'bench', NULL, 'new', NULL FROM ticket
                UNION ALL SELECT id, created_at + interval '1 hour', 'status', 'bench', 'new', 'assigned', organisation_id FROM ticket
                UNION ALL SELECT id, answered_at, 'status', 'bench', 'assigned', 'in_progress', organisation_id FROM ticket
                UNION ALL SELECT id, resolved_at, 'status', 'bench', 'in_progress', 'resolved', organisation_id
                          FROM ticket WHERE resolved_at IS NOT NULL
                """
            )
        )
        conn.execute(
            sa.text(
                """
                INSERT INTO cost_entry (ticket_id, organisation_id, at, hours, materials, amount, currency)
                SELECT id, organisation_id, answered_at, 1 + id % 8, CASE WHEN id % 3 = 0 THEN 'цијев 2 м' END,
                       round((20 + random() * 300)::numeric, 2), 'BAM'
                FROM ticket WHERE id % 10 < 3
                """
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO budget_line (organisation_id, year, category_id, label, amount, currency) "
                "SELECT id, :y, NULL, name, 1000000, 'BAM' FROM organisation"
            ),
            {"y": YEAR},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("SET statement_timeout = 0"))
        conn.execute(sa.text("ANALYZE"))


def rss_peak_mb() -> float:
    """Return the process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Generate, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="tickets to generate (default 1M)")
    parser.add_argument("--database-url", default=os.environ.get("S48_BENCH_DATABASE_URL"))
    args = parser.parse_args()
    cluster = None
    url = args.database_url
    if not url:
        from tests.support.pg import destroy_cluster, start_cluster

        cluster = start_cluster()
        cluster.execute("CREATE DATABASE s48_bench")
        url = cluster.url("s48_bench")
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
        with engine.begin() as conn, sa.orm.Session(conn) as session:
            seed(session)
            session.flush()
        t0 = time.perf_counter()
        generate(engine, args.size)
        print(f"generated {args.size:,} tickets with histories and costs in {time.perf_counter() - t0:.1f} s")
        with engine.connect() as conn:
            org_id, code, n = conn.execute(
                sa.text(
                    "SELECT o.id, o.code, count(*) FROM ticket t JOIN organisation o ON o.id = t.organisation_id "
                    "GROUP BY o.id, o.code ORDER BY 3 DESC LIMIT 1"
                )
            ).one()
        period = local_period(date(YEAR, 1, 1), date(YEAR, 12, 31))
        now = datetime(YEAR + 1, 1, 10, tzinfo=UTC)
        factory = sa.orm.sessionmaker(engine)
        with factory() as session:  # warm the cache once so both sides read from memory
            session.execute(sa.text("SELECT count(*) FROM ticket")).one()
        t0 = time.perf_counter()
        with factory() as session:
            session.execute(
                sa.text(
                    "SELECT category_id, channel, count(*) FROM ticket WHERE organisation_id = :o "
                    "AND created_at >= :s AND created_at < :e GROUP BY category_id, channel"
                ),
                {"o": org_id, "s": period.start, "e": period.end},
            ).all()
        baseline = time.perf_counter() - t0
        rss_before = rss_peak_mb()
        t0 = time.perf_counter()
        with factory() as session:
            pack = build_pack(session, code, period, now=now)
        figures = time.perf_counter() - t0
        rss_growth = rss_peak_mb() - rss_before
        t0 = time.perf_counter()
        pdf = render_pack_pdf(pack, "cyrl")
        render = time.perf_counter() - t0
        tracemalloc.start()
        with factory() as session:
            build_pack(session, code, period, now=now)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"largest organisation: {code} with {n:,} tickets ({pack.received:,} in {YEAR})")
        print(f"baseline  SELECT count(*) … GROUP BY     {baseline:8.2f} s")
        print(f"pack      figures (build_pack)           {figures:8.2f} s   ratio {figures / baseline:6.1f}×")
        print(f"pack      PDF rendering                   {render:8.2f} s   ({len(pdf) / 1024:.0f} KiB)")
        print(f"memory    peak RSS growth during figures  {rss_growth:8.1f} MiB (process peak {rss_peak_mb():.0f} MiB)")
        print(f"memory    tracemalloc peak (figures)      {traced_peak / 2**20:8.1f} MiB")
    finally:
        engine.dispose()
        if cluster is not None:
            destroy_cluster(cluster)


if __name__ == "__main__":
    main()
