"""SMS benchmark (by hand, not in tests): inbound throughput into PostgreSQL, outbound segment costs.

    .venv/bin/python -m bench.sms [--messages 1000] [--database-url postgresql+psycopg://…]

Without ``--database-url`` a private PostgreSQL cluster (fsync on, as in production) is started
(tests/support/pg.py) and removed.
Inbound: N SMS (4 in 5 single, 1 in 5 a 3-part Cyrillic message) are put on the Gammu dummy modem,
then the real daemon ticks until the SIM is empty; time inside the modem adapter (GetNextSMS walk,
DeleteSMS) is measured apart from ours (joining, intake, commits). Outbound: 200 realistic replies,
counted in SMS parts with and without transliteration to plain Latin.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
import sqlalchemy.orm as so
from typing_extensions import override

from bench.datagen import COMPLAINTS
from core.bootstrap import bootstrap
from core.config import load_settings
from core.db import migrate
from core.db.base import create_engine
from core.db.models import Ticket
from core.i18n import render, status_label
from core.seed import seed
from core.text import to_latin
from sms_modem.daemon import build_daemon
from sms_modem.encoding import plan
from sms_modem.modem import GammuModem, Inbox, inject_dummy_sms, write_dummy_config

LONG = (
    "Поштовани, у улици Краља Петра I број {n} већ недељу дана не ради јавна расвјета. Звао сам прије три "
    "дана, али нико није дошао. Дјеца се враћају из школе по мраку. Молим вас да пошаљете екипу."
)
NOTES = [
    "Екипа ЈП Водовод је на терену, вода ће бити пуштена до 16 часова.",
    "Контејнер је одвезен, хвала на пријави.",
    "Квар на расвјети је отклоњен.",
    "Рупа је санирана хладним асфалтом; трајна поправка у прољеће.",
    "Пријава је прослијеђена комуналној полицији.",
]


class TimedModem(GammuModem):
    """The real adapter, timing the calls that go to Gammu."""

    spent = 0.0

    @override
    def read_all(self) -> Inbox:
        """Time the SIM walk."""
        t = time.perf_counter()
        try:
            return super().read_all()
        finally:
            self.spent += time.perf_counter() - t

    @override
    def delete(self, locations: Iterable[int]) -> None:
        """Time the deletes."""
        t = time.perf_counter()
        try:
            super().delete(locations)
        finally:
            self.spent += time.perf_counter() - t


def inbound(url: str, count: int, workdir: Path) -> None:
    """Push ``count`` SMS through the dummy modem and the daemon into the database at ``url``."""
    rc = write_dummy_config(workdir)
    settings = load_settings(
        {"S48_DATABASE_URL": url, "S48_VAR_DIR": str(workdir / "var"), "S48_GAMMU_CONFIG": str(rc)}
    )
    core = bootstrap(settings)
    modem = TimedModem(rc)
    daemon = build_daemon(core, modem)
    rng = random.Random(48)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    parts = 0
    t_inject = time.perf_counter()
    for i in range(count):
        sender = f"+387651{i:05d}"
        text = LONG.format(n=i) if i % 5 == 4 else rng.choice(COMPLAINTS).format(n=i)
        parts += inject_dummy_sms(workdir / "modem", sender, text, when=start + timedelta(seconds=i))
    t_inject = time.perf_counter() - t_inject
    before = _tickets(core.engine)
    t0 = time.perf_counter()
    ticks = 0
    while any((workdir / "modem" / "sms" / "1").iterdir()):
        daemon.tick()
        ticks += 1
        if ticks > 50:
            raise RuntimeError("SIM not emptied after 50 ticks")
    total = time.perf_counter() - t0
    made = _tickets(core.engine) - before
    modem.close()
    core.engine.dispose()
    print(f"inbound: {count} SMS ({parts} parts) injected in {t_inject:.1f} s (not counted)")
    print(f"inbound: {made} tickets in {total:.2f} s over {ticks} tick(s) = {count / total:.1f} messages/s")
    print(f"inbound: modem layer {modem.spent:.2f} s ({modem.spent / total:.0%}), ours {total - modem.spent:.2f} s "
          f"({(total - modem.spent) / total:.0%})")  # fmt: skip


def _tickets(engine: sa.Engine) -> int:
    """Count tickets."""
    with so.Session(engine) as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(Ticket)) or 0)


def outbound(count: int = 200) -> None:
    """Count SMS parts of ``count`` realistic replies, with and without transliteration."""
    rng = random.Random(48)
    replies: list[str] = []
    statuses = ["in_progress", "resolved", "assigned", "referred"]
    for i in range(count):
        code = f"48-2026-{rng.randint(1, 9999):06d}"
        kind = i % 4
        if kind == 0:
            text = render("ack", "sr-Cyrl", code=code)
        elif kind == 3:
            text = render("referred", "sr-Cyrl", code=code, organisation="Електродистрибуција", note=rng.choice(NOTES))
        else:
            status = rng.choice(statuses)
            text = render("status", "sr-Cyrl", code=code, status=status_label(status), note=rng.choice(NOTES))
        replies.append(to_latin(text) if i % 3 == 0 else text)  # a third of citizens write Latin
    native = sum(plan(t).segments for t in replies)
    plain = sum(plan(t, transliterate=True).segments for t in replies)
    print(f"outbound: {count} replies = {native} SMS parts as written, {plain} transliterated "
          f"(ratio {native / plain:.2f}, {native - plain} parts saved)")  # fmt: skip
    for label, group in (("Cyrillic", replies[1::3] + replies[2::3]), ("Latin", replies[0::3])):
        a = sum(plan(t).segments for t in group)
        b = sum(plan(t, transliterate=True).segments for t in group)
        print(f"outbound: {label:8s} {len(group)} replies: {a} → {b} parts ({a / b:.2f}×)")


def main() -> None:
    """Run both benchmarks."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="s48-bench-sms-") as tmp:
        if args.database_url:
            inbound(args.database_url, args.messages, Path(tmp))
        else:
            from tests.support.pg import destroy_cluster, start_cluster

            cluster = start_cluster(fsync=True)  # durable commits, as in production: each SMS commits
            try:
                cluster.execute("CREATE DATABASE bench")
                url = cluster.url("bench")
                engine = create_engine(url)
                migrate.upgrade(engine)
                with engine.begin() as conn, so.Session(conn) as session:
                    seed(session)
                engine.dispose()
                inbound(url, args.messages, Path(tmp))
            finally:
                destroy_cluster(cluster)
    outbound()


if __name__ == "__main__":
    main()
