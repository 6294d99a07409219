"""Caller-history lookup (the screen pop's query) with 1M tickets and 200k citizens in PostgreSQL.

Usage: python -m bench.history [--tickets 1000000] [--citizens 200000] [--lookups 2000]
Prints p50/p99 in milliseconds and, as the same-run baseline, a bare primary-key lookup of one
citizen row; the goal is p99 ≤ 5 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import sqlalchemy as sa
import sqlalchemy.orm as so

from bench.datagen import bench_database, generate, phone_of
from core.db.base import create_engine
from core.services.history import caller_history


def percentile(values: list[float], q: float) -> float:
    """Return the q-quantile (0..1) of the values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--citizens", type=int, default=200_000)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()
    with bench_database() as url:
        took = generate(url, citizens=args.citizens, tickets=args.tickets, messages=args.tickets, calls=args.citizens)
        print(f"generated {args.tickets} tickets, {args.citizens} citizens, {args.tickets} messages in {took:.1f} s")
        engine = create_engine(url, pool_size=2)
        rng = random.Random(48)
        history_ms: list[float] = []
        bare_ms: list[float] = []
        with so.Session(engine) as session:
            for _ in range(50):  # warm the cache and the pool
                caller_history(session, phone_of(rng.randint(1, args.citizens)))
            for _ in range(args.lookups):
                number = phone_of(rng.randint(1, args.citizens))
                t0 = time.perf_counter()
                data = caller_history(session, number)
                history_ms.append((time.perf_counter() - t0) * 1000)
                assert data["citizen"] is not None
                t0 = time.perf_counter()
                session.execute(sa.text("SELECT id, name FROM citizen WHERE phone_key = :k"), {"k": number}).one()
                bare_ms.append((time.perf_counter() - t0) * 1000)
        p50, p99 = percentile(history_ms, 0.5), percentile(history_ms, 0.99)
        b50, b99 = percentile(bare_ms, 0.5), percentile(bare_ms, 0.99)
        print(f"caller_history: p50 {p50:.2f} ms  p99 {p99:.2f} ms  mean {statistics.mean(history_ms):.2f} ms")
        print(f"bare citizen lookup: p50 {b50:.2f} ms  p99 {b99:.2f} ms")
        print(
            f"ratio history/bare: p50 {p50 / b50:.1f}x  p99 {p99 / b99:.1f}x   goal p99 <= 5 ms: {'met' if p99 <= 5 else 'MISSED'}"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
