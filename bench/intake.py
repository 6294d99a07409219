"""Intake throughput into PostgreSQL against a raw INSERT+COMMIT loop in the same run.

Usage: python -m bench.intake [--n 2000]
The full path is what every channel uses: inbound item, citizen, classification, routing, code,
deadlines, history, outbox rows and events, one commit. The baseline inserts one row per
transaction with psycopg. The cluster runs with fsync on, as production does. Goal: ratio ≥ 0.5.
"""

from __future__ import annotations

import argparse
import time

import psycopg

from bench.datagen import bench_database
from core.bootstrap import bootstrap
from core.config import load_settings
from core.messages import Channel, ReceiveReport
from core.services.intake import receive

TEXTS = [
    "Нема воде у Масловарама од јутрос",
    "ne radi ulicna rasvjeta kod skole u Sipragama",
    "Није одвезено смеће већ десет дана, Варјаче",
    "velika udarna rupa na putu za Obodnik",
    "pas lutalica u naselju Vrbanjci",
]


def raw_loop(url: str, n: int) -> float:
    """Insert n rows, one transaction each, and return rows/s."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS raw_bench (id bigserial primary key, body text, at timestamptz)")
        conn.commit()
        start = time.perf_counter()
        for i in range(n):
            conn.execute("INSERT INTO raw_bench (body, at) VALUES (%s, now())", (TEXTS[i % len(TEXTS)],))
            conn.commit()
        return n / (time.perf_counter() - start)


def intake_loop(url: str, n: int, offset: int) -> float:
    """Receive n SMS reports through the full intake path and return tickets/s."""
    settings = load_settings({"S48_DATABASE_URL": url, "S48_SECRET_KEY": "bench"})
    core = bootstrap(settings)
    start = time.perf_counter()
    for i in range(n):
        receive(
            core.uow(),
            ReceiveReport(
                channel=Channel.SMS,
                text=TEXTS[i % len(TEXTS)],
                phone=f"+38766{offset + i:07d}",
                source_key=f"bench:{offset + i}",
            ),
        )
    rate = n / (time.perf_counter() - start)
    core.engine.dispose()
    return rate


def main() -> None:
    """Alternate both loops (to share the machine's noise fairly) and print rates and the ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with bench_database(fsync=True) as url:
        intake_loop(url, 50, 10_000_000)  # warm-up: caches, pool, first code of the year
        raw_loop(url, 50)
        raw_rates, intake_rates = [], []
        per_round = args.n // args.rounds
        for r in range(args.rounds):
            raw_rates.append(raw_loop(url, per_round))
            intake_rates.append(intake_loop(url, per_round, r * per_round))
        raw, full = max(raw_rates), max(intake_rates)
        print(f"raw INSERT+COMMIT: {raw:.0f} rows/s   (rounds: {', '.join(f'{x:.0f}' for x in raw_rates)})")
        print(f"full intake:       {full:.0f} tickets/s (rounds: {', '.join(f'{x:.0f}' for x in intake_rates)})")
        print(f"ratio intake/raw:  {full / raw:.2f}   goal >= 0.5: {'met' if full / raw >= 0.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
