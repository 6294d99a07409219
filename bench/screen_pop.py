"""Screen-pop latency: AMI bytes leaving the PBX → ``call.ringing`` received by a Socket.IO client.

Run by hand (not in the test suite)::

    .venv/bin/python bench/screen_pop.py --tickets 1000000 --citizens 200000 --rounds 10

Path measured, as in production, with every part in its own process: loopback AMI server
(telephony.demo.AmiServer, in this process) → ``sistem48 telephony``'s daemon (a child process:
PanoramiskCallControl → TelephonyDaemon → group commit in PostgreSQL: call rows + caller histories
over the generated data → commit) → RedisLivePush → Redis → ``sistem48 web`` (a child process:
Flask-SocketIO) → python-socketio's asyncio client over WebSocket (the transport a browser settles
on after the Engine.IO upgrade), on this process's event loop. The "relay" mode runs the same path
but its daemon emits ``call.ringing`` straight to the live push, without the database: the bare cost
of the pipe.

Each round sends 20 Newchannel frames and then 20 DialBegin frames back to back (20 calls ringing at
once, each from an existing citizen with five tickets) and waits for the 20 pops; latency runs from
each DialBegin leaving the server. Back to back is the worst case: the calls are opened and their
callers looked up on the pops' path. ``--gap 0.2`` leaves the time a real dialplan takes between a
call's arrival and the queue ringing, so the pops find their calls open and their histories read.
``--verbose`` prints each round's first and last pop. Each mode has its own AMI server and long-running daemon, and the
rounds alternate between them; the first round of each is a warm-up.
PostgreSQL: a private cluster with fsync and synchronous commit on, as in production
(tests/support/pg.py), unless ``S48_BENCH_DATABASE_URL`` is set. Its shared buffers are sized for
the data (1 GB; a server holding a million tickets has that much to spare), and the data is read into
them before the rounds, as a database in service has its working set in memory: each round's callers
are new random citizens, and without this every pop read some 80 pages from this VM's disk (7-10 ms
per group), which is the disk, not the pop. ``--cold`` measures that case: default buffers, no prewarm.
With ``S48_BENCH_DATABASE_URL`` the buffers are that server's own; the prewarm needs CREATE EXTENSION.
Redis: a private redis-server (tests/support/redis_server.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import socketio
import sqlalchemy as sa
from typing_extensions import override

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.aio import run_blocking  # noqa: E402
from core.bootstrap import bootstrap  # noqa: E402
from core.config import load_settings  # noqa: E402
from core.db import migrate  # noqa: E402
from core.db.base import create_engine  # noqa: E402
from core.seed import seed  # noqa: E402
from core.services.accounts import add_user, create_token  # noqa: E402
from telephony.daemon import DaemonOptions, TelephonyDaemon, ami_settings  # noqa: E402
from telephony.demo import AmiServer  # noqa: E402
from telephony.translate import CallEvent, CallRinging  # noqa: E402

CONCURRENT = 20
MODES = ("relay", "lookup")
TRUNK = "sistem48-trunk"
AMI_USER = AMI_SECRET = "bench"  # noqa: S105  a throwaway loopback server


def prewarm(url: str) -> tuple[int, float]:
    """Read every table and index of the database into shared buffers (pg_prewarm); return pages and seconds."""
    started = time.perf_counter()
    engine = create_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("SET statement_timeout = 0"))
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_prewarm"))
        pages = conn.execute(
            sa.text(
                # The tables, their indexes and their TOAST tables (long message bodies live there).
                "SELECT coalesce(sum(pg_prewarm(c.oid)), 0) FROM pg_class c WHERE c.relkind IN ('r', 'i', 't')"
                " AND (c.relnamespace = 'public'::regnamespace"
                " OR c.oid IN (SELECT reltoastrelid FROM pg_class WHERE relnamespace = 'public'::regnamespace))"
            )
        ).scalar_one()
    engine.dispose()
    return int(pages), time.perf_counter() - started


def generate(url: str, citizens: int, tickets: int) -> float:
    """Migrate, seed and bulk-load citizens, tickets and messages with generate_series; return seconds."""
    started = time.perf_counter()
    engine = create_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as conn, sa.orm.Session(conn) as session:
        seed(session)
        session.flush()
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
        conn.execute(sa.text("SET LOCAL statement_timeout = 0"))  # the engine bounds statements (F20); not this load
        conn.execute(
            sa.text(
                "INSERT INTO citizen (phone_key, phone_e164, phone_raw, phone_valid, name, script, consent,"
                " sms_transliterate, created_at)"
                " SELECT '+38765' || lpad(i::text, 6, '0'), '+38765' || lpad(i::text, 6, '0'),"
                " '065' || lpad(i::text, 6, '0'), true, 'Грађанин ' || i, 'sr-Cyrl', false, false,"
                " now() - make_interval(mins => i) FROM generate_series(0, :n - 1) AS i"
            ),
            {"n": citizens},
        )
        first = conn.execute(sa.text("SELECT min(id) FROM citizen")).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO ticket (code, channel, citizen_id, description, status, priority, search_text,"
                " created_at, updated_at, answer_due, resolve_due, reopened_count)"
                " SELECT '48-' || (2000 + i / 100000) || '-' || lpad((i % 100000)::text, 6, '0'), 'phone',"
                " :first + (i % :c), 'Опис пријаве ' || i,"
                " (ARRAY['new','assigned','in_progress','resolved','closed','closed','closed','closed'])[1 + i % 8],"
                " 'normal', '', t, t, t + interval '48 hours', t + interval '240 hours', 0"
                " FROM (SELECT i, now() - make_interval(mins => i) AS t FROM generate_series(0, :n - 1) AS i) s"
            ),
            {"n": tickets, "c": citizens, "first": first},
        )
        conn.execute(
            sa.text(
                "INSERT INTO message (ticket_id, citizen_id, direction, channel, address, body, at, delivery_state,"
                " attempts) SELECT t.id, t.citizen_id, 'in', 'sms', NULL, 'Порука ' || t.id, t.created_at,"
                " 'received', 0 FROM ticket t WHERE t.id % 5 = 0"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("SET statement_timeout = 0"))
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


class RelayDaemon(TelephonyDaemon):
    """The bare relay: same AMI path and live push, but ``call.ringing`` skips the database."""

    @override
    async def on_event(self, event: CallEvent) -> None:
        """Emit a pop for ringing legs directly (concurrently, as the daemon applies calls); ignore the rest."""
        if isinstance(event, CallRinging):
            payload = {"seq": 0, "type": "call.ringing", "at": event.at.isoformat(), "audience": f"ext:{event.extension}",
                       "linkedid": event.linkedid, "extension": event.extension}  # fmt: skip
            self._spawn(run_blocking(self.core.live.emit, payload), "relay")


def frames(
    linkedid: str, number: str, extension: str
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """Return the Newchannel, DialBegin and Hangup frames of one queue call to ``extension``."""
    chan = f"PJSIP/{TRUNK}-{abs(hash(linkedid)) % 16**8:08x}"
    caller = [("Channel", chan), ("CallerIDNum", number), ("CallerIDName", "Bench"), ("Uniqueid", linkedid),
              ("Linkedid", linkedid), ("Exten", "051785266")]  # fmt: skip
    newchannel = [("Event", "Newchannel"), ("Privilege", "call,all"), ("ChannelState", "6"), *caller]
    dial = [("Event", "DialBegin"), ("Privilege", "call,all"), *caller,
            ("DestChannel", f"PJSIP/{extension}-{abs(hash(linkedid + 'd')) % 16**8:08x}"),
            ("DestUniqueid", linkedid + "9"), ("DestLinkedid", linkedid)]  # fmt: skip
    hangup = [("Event", "Hangup"), ("Privilege", "call,all"), *caller, ("Cause", "16")]
    return newchannel, dial, hangup


def percentile(values: list[float], q: float) -> float:
    """Return the q-quantile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run_daemon(mode: str) -> None:
    """Child process: run one daemon (``relay`` or ``lookup``) as ``sistem48 telephony`` does, until SIGTERM."""
    from sistem48.runtime import build_core, settle_heap
    from sistem48.worker import live_for

    settings = load_settings()
    cls = RelayDaemon if mode == "relay" else TelephonyDaemon

    async def serve() -> None:
        core = build_core(settings, live=live_for(settings))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        daemon = cls(core, ami=ami_settings(settings), spool=None, options=DaemonOptions(originate_poll=3600))
        settle_heap()
        try:
            await daemon.run(stop)
        finally:
            core.engine.dispose()

    asyncio.run(serve())


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    """Wait until something listens on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def spawn(args: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start a child process of this benchmark with the given environment."""
    return subprocess.Popen(args, env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, cwd=ROOT)  # noqa: S603


def stop_child(proc: subprocess.Popen[bytes]) -> None:
    """Stop a child politely, then firmly."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def measure(args: argparse.Namespace, env: dict[str, str], token: str) -> dict[str, list[float]]:
    """Alternate relay and lookup daemons against one AMI server and one Socket.IO client; return ms."""
    received: dict[str, float] = {}
    awaited: set[str] = set()
    arrived = asyncio.Event()
    # The asyncio client, on this process's loop: python-socketio's threaded client starts a thread for
    # every message it receives (about 0.4 ms each, twenty times for twenty pops), which a browser does
    # not; it would be measured as if it were the pipe. aiohttp checks each frame's UTF-8 in C.
    client = socketio.AsyncClient(reconnection=True, reconnection_delay=0.1)

    @client.on("disconnect", namespace="/operator")  # type: ignore[untyped-decorator]
    async def _gone(*_args: object) -> None:
        print("socket.io client disconnected; reconnecting", file=sys.stderr)

    @client.on("call.ringing", namespace="/operator")  # type: ignore[untyped-decorator]
    async def _pop(data: dict[str, Any]) -> None:
        linkedid = str(data.get("linkedid"))
        received[linkedid] = time.perf_counter()
        awaited.discard(linkedid)
        if not awaited:
            arrived.set()

    port = int(env["S48_HTTP_PORT"])
    await client.connect(f"http://127.0.0.1:{port}", namespaces=["/operator"], transports=["websocket"],
                         headers={"Authorization": f"Bearer {token}"}, wait_timeout=10)  # fmt: skip

    results: dict[str, list[float]] = {"relay": [], "lookup": []}
    # This process stands for the PBX and for the operator's browser; a full collection of its own
    # heap (SQLAlchemy and the core are imported here too) would be timed as if the pipe were slow.
    from sistem48.runtime import settle_heap

    settle_heap()
    # Each daemon has its own PBX, so each pop is produced by exactly one of them; both stay up for the
    # whole run (warm, as a production daemon is), and the rounds alternate between them.
    servers = {mode: AmiServer(username=AMI_USER, secret=AMI_SECRET) for mode in MODES}
    children = {}
    try:
        for mode, server in servers.items():
            await server.start()
            children[mode] = spawn([sys.executable, __file__, "--daemon", mode], {**env, "S48_AMI_HOST": "127.0.0.1",
                "S48_AMI_PORT": str(server.port), "S48_AMI_USERNAME": AMI_USER, "S48_AMI_SECRET": AMI_SECRET,
                "S48_AMI_TRUNK_ENDPOINTS": TRUNK})  # fmt: skip
        for server in servers.values():
            async with asyncio.timeout(60):
                await server.wait_for_logins(1)
                await server.wait_for_action("QueueStatus", 1)  # the resync after login
        await asyncio.sleep(0.5)  # let the resyncs settle before the calls
        rng = random.Random(48)
        for round_no in range(args.rounds * 2 + 2):
            mode = MODES[round_no % 2]
            server = servers[mode]
            async with asyncio.timeout(20):
                while "/operator" not in client.namespaces:  # noqa: ASYNC110  the client reconnects in a task
                    await asyncio.sleep(0.05)
            calls = []
            for n in range(CONCURRENT):
                linkedid = f"{round_no}{n:02d}.{int(time.time())}"
                number = "065" + str(rng.randrange(args.citizens)).zfill(6)
                calls.append((linkedid, *frames(linkedid, number, "201")))
            for _linkedid, newchannel, _dial, _hangup in calls:
                await server.send_frame(newchannel)
            if args.gap:
                await asyncio.sleep(args.gap)  # the dialplan's steps between a call's arrival and the queue
            sent: dict[str, float] = {}
            awaited.update(linkedid for linkedid, *_frames in calls)
            arrived.clear()
            for linkedid, _newchannel, dial, _hangup in calls:
                sent[linkedid] = time.perf_counter()
                await server.send_frame(dial)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), 15)
            awaited.clear()
            if round_no >= 2:  # the first round of each mode warms caches and connections
                latencies = [(received[lid] - t0) * 1000 for lid, t0 in sent.items() if lid in received]
                results[mode].extend(latencies)
                if args.verbose and latencies:
                    print(
                        f"round {round_no:2d} {mode:>6}: first {min(latencies):6.1f} ms, last {max(latencies):6.1f} ms"
                    )
                lost = sum(1 for lid in sent if lid not in received)
                if lost:
                    print(f"round {round_no} ({mode}): {lost} pops not received", file=sys.stderr)
            for _linkedid, _newchannel, _dial, hangup in calls:
                await server.send_frame(hangup)
            await asyncio.sleep(0.5)
    finally:
        for child in children.values():
            stop_child(child)
        for server in servers.values():
            await server.stop()
        await client.disconnect()
    return results


def main() -> None:
    """Parse arguments, prepare PostgreSQL, Redis and the web node, measure, print figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--citizens", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=10, help="rounds of 20 concurrent calls per mode")
    parser.add_argument("--verbose", action="store_true", help="print each round's first and last pop")
    parser.add_argument("--gap", type=float, default=0.0,
                        help="seconds between the Newchannels and the DialBegins (default 0: the worst case)")  # fmt: skip
    parser.add_argument("--cold", action="store_true",
                        help="default shared buffers and no prewarm: the callers' rows are read from disk")  # fmt: skip
    parser.add_argument("--daemon", choices=("relay", "lookup"), help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args()
    if args.daemon:
        run_daemon(args.daemon)
        return

    from tests.support.pg import destroy_cluster, free_port, start_cluster
    from tests.support.redis_server import start_redis

    cluster = None
    url = os.environ.get("S48_BENCH_DATABASE_URL")
    if url is None:
        # Durable commits, as in production: the pop's commit is on the measured path.
        cluster = start_cluster(fsync=True, settings=() if args.cold else (("shared_buffers", "1GB"),))
        cluster.execute("CREATE DATABASE bench")
        url = cluster.url("bench")
    redis_server = start_redis()
    try:
        seconds = generate(url, args.citizens, args.tickets)
        print(f"data: {args.citizens} citizens, {args.tickets} tickets generated in {seconds:.1f} s")
        if not args.cold:
            pages, seconds = prewarm(url)
            print(f"prewarm: {pages} pages ({pages * 8 // 1024} MB) read into shared buffers in {seconds:.1f} s")
        var = Path(tempfile.mkdtemp(prefix="s48-bench-"))
        env = {"S48_DATABASE_URL": url, "S48_SOCKETIO_QUEUE_URL": redis_server.url, "S48_VAR_DIR": str(var),
               "S48_HTTP_PORT": str(free_port()), "S48_BROKER_URL": redis_server.url}  # fmt: skip
        settings = load_settings(env)
        core = bootstrap(settings)
        with core.session_factory() as db:
            add_user(db, "bench201", "operator", "lozinka-bench", core.clock.now(), extension="201")
            token = create_token(db, "bench201", "bench", core.clock.now())
            db.commit()
        core.engine.dispose()
        web = spawn([str(Path(sys.executable).parent / "sistem48"), "web"], env)  # the production web node
        try:
            wait_for_port(settings.http_port)
            results = asyncio.run(measure(args, env, token))
        finally:
            stop_child(web)
        print(f"{CONCURRENT} concurrent ringing calls x {args.rounds} rounds per mode")
        for mode in ("relay", "lookup"):
            values = results[mode]
            if not values:
                print(f"{mode:>7}: no samples")
                continue
            print(f"{mode:>7}: n={len(values)} p50={percentile(values, 0.5):.1f} ms p99={percentile(values, 0.99):.1f} ms"
                  f" mean={statistics.fmean(values):.1f} ms max={max(values):.1f} ms")  # fmt: skip
        if results["relay"] and results["lookup"]:
            ratio50 = percentile(results["lookup"], 0.5) / percentile(results["relay"], 0.5)
            ratio99 = percentile(results["lookup"], 0.99) / percentile(results["relay"], 0.99)
            print(f"  ratio lookup/relay: p50 {ratio50:.2f}x, p99 {ratio99:.2f}x (goal p99 <= 25 ms and <= 3x)")
    finally:
        redis_server.kill()
        if cluster is not None:
            destroy_cluster(cluster)


if __name__ == "__main__":
    main()
