"""Mail benchmark (by hand, not in tests): 1,000 messages in a real Dovecot mailbox to tickets.

    .venv/bin/python -m bench.mail [--messages 1000] [--database-url postgresql+psycopg://…]

A private Dovecot is started (tests/integration/mail/servers.py) and removed. Without
``--database-url`` the database is a fresh SQLite file (the embedded default). The same messages
(4 in 5 plain Latin or Cyrillic, 1 in 10 HTML, 1 in 10 a reply naming an earlier ticket, 1 in 20 with a
small photo) are first read by a bare IMAP loop (list, then fetch each by UID: the floor any intake
pays), then taken in by the real daemon (parse, store, commit, move). Prints both rates and the ratio.
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import sqlalchemy as sa
from PIL import Image

from bench.datagen import COMPLAINTS
from core.bootstrap import bootstrap
from core.config import load_settings
from core.db import migrate
from core.db.base import create_engine
from core.db.models import InboundItem, Ticket
from core.seed import seed
from email_channel.daemon import MailIntake, MailOptions
from email_channel.imap import ImapConfig, ImapMailbox
from tests.integration.mail.servers import PASSWORD, start_dovecot


def photo() -> bytes:
    """Return a small JPEG with GPS EXIF."""
    out = io.BytesIO()
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (44.0, 37.0, 30.0), 3: "E", 4: (17.0, 22.0, 12.0)})
    Image.new("RGB", (320, 240), (90, 90, 90)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def messages(count: int, rng: random.Random) -> list[bytes]:
    """Build ``count`` realistic messages from 300 senders."""
    picture = photo()
    out: list[bytes] = []
    for n in range(count):
        message = EmailMessage()
        message["From"] = f"Građanin {n % 300} <gradjanin{n % 300}@example.org>"
        message["To"] = "sistem48@opstinakotorvaros.com"
        message["Message-ID"] = f"<bench-{n}@example.org>"
        text = rng.choice(COMPLAINTS).format(n=n)
        kind = rng.random()
        if kind < 0.1 and n > 10:
            message["Subject"] = f"Re: [48-2026-{rng.randint(1, n // 2):06d}] Sistem 48: vaša prijava"
            message.set_content(f"Još nije riješeno.\n\nOn Mon, Sistem 48 wrote:\n> {text}")
        else:
            message["Subject"] = text[:30]
            message.set_content(text)
            if kind < 0.2:
                message.add_alternative(f"<p>{text}</p><script>x()</script>", subtype="html")
            elif kind < 0.25:
                message.add_attachment(picture, maintype="image", subtype="jpeg", filename=f"slika-{n}.jpg")
        out.append(message.as_bytes())
    return out


def bare_fetch(config: ImapConfig) -> tuple[int, float]:
    """List and fetch every message by UID, doing nothing else; return (count, seconds)."""
    box = ImapMailbox(config)
    started = time.perf_counter()
    box.connect()
    listed = box.waiting(0, limit=100_000)
    for item in listed:
        box.fetch(item.uid)
    elapsed = time.perf_counter() - started
    box.close()
    return len(listed), elapsed


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="s48-bench-mail-"))
    dovecot = start_dovecot()
    try:
        url = args.database_url or f"sqlite:///{work / 'bench.sqlite3'}"
        engine = create_engine(url)
        migrate.upgrade(engine)
        with engine.begin() as conn, sa.orm.Session(conn) as session:
            seed(session)
        engine.dispose()
        core = bootstrap(load_settings({"S48_DATABASE_URL": url, "S48_VAR_DIR": str(work / "var")}))
        config = ImapConfig(host="127.0.0.1", port=dovecot.port, username="bench", password=PASSWORD)
        box = ImapMailbox(config)
        box.connect()
        started = time.perf_counter()
        for raw in messages(args.messages, random.Random(48)):
            box.append(raw)
        appended = time.perf_counter() - started
        box.close()

        fetched, bare = bare_fetch(config)
        intake = MailIntake(core, ImapMailbox(config), MailOptions())
        started = time.perf_counter()
        counts: dict[str, int] = {}
        while True:
            batch = intake.scan()
            if not batch:
                break
            for key, value in batch.items():
                counts[key] = counts.get(key, 0) + value
        taken = time.perf_counter() - started
        intake.mailbox.close()
        with core.session_factory() as session:
            tickets = session.scalar(sa.select(sa.func.count(Ticket.id)))
            items = session.scalar(sa.select(sa.func.count(InboundItem.id)))
        core.engine.dispose()
        n = args.messages
        print(f"database: {url.split(':', 1)[0]}; messages: {n}; APPEND took {appended:.2f} s")
        print(
            f"baseline  bare IMAP list+fetch by UID: {fetched} messages in {bare:.2f} s = {fetched / bare:,.0f} msg/s"
        )
        print(f"intake    parse+store+commit+move:     {n} messages in {taken:.2f} s = {n / taken:,.0f} msg/s")
        print(f"ratio     intake / bare fetch time:    {taken / bare:.1f}x")
        print(f"outcomes: {counts}; tickets: {tickets}; inbound items: {items}")
    finally:
        dovecot.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
