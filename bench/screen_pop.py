"""Screen-pop latency: AMI bytes leaving the PBX → ``call.ringing`` received by a Socket.IO client.

Run by hand (not in the test suite)::

    .venv/bin/python bench/screen_pop.py --tickets 1000000 --citizens 200000 --rounds 10

Path measured, as in production: loopback AMI server (telephony.demo.AmiServer) → PanoramiskCallControl
→ TelephonyDaemon → core (PostgreSQL: call row + caller history over the generated data) → commit →
RedisLivePush → Redis → Flask-SocketIO web node → python-socketio client (polling transport: the
websocket-client package is not installed). The "relay" mode runs the same path but its daemon emits
``call.ringing`` straight to the live push, without the database: the bare cost of the pipe.

Each round rings 20 calls at once (20 DialBegin frames back to back), each from an existing citizen
with five tickets, and waits for the 20 pops; the modes alternate round by round in one run.
PostgreSQL: a private cluster (tests/support/pg.py) unless ``S48_BENCH_DATABASE_URL`` is set;
Redis: a private redis-server (tests/support/redis_server.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import socketio
import sqlalchemy as sa
from typing_extensions import override

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callcenter_ui.sockets import rooms_for  # noqa: E402
from core.aio import run_blocking  # noqa: E402
from core.bootstrap import bootstrap  # noqa: E402
from core.config import load_settings  # noqa: E402
from core.db import migrate  # noqa: E402
from core.db.base import create_engine  # noqa: E402
from core.seed import seed  # noqa: E402
from core.services.accounts import add_user, create_token  # noqa: E402
from telephony.ami import AmiSettings, LinkState  # noqa: E402
from telephony.daemon import DaemonOptions, TelephonyDaemon  # noqa: E402
from telephony.demo import AmiServer  # noqa: E402
from telephony.translate import CallEvent, CallRinging  # noqa: E402

CONCURRENT = 20
TRUNK = "sistem48-trunk"
AMI_USER = AMI_SECRET = "bench"  # noqa: S105  a throwaway loopback server


class QueueLivePush:
    """RedisLivePush with Flask-SocketIO's channel name.

    ``callcenter_ui.sockets.RedisLivePush`` publishes on python-socketio's default channel
    ``socketio`` while Flask-SocketIO listens on ``flask-socketio``, so its events never reach a
    browser (reported to the lead). The bench uses the corrected adapter; same path otherwise.
    """

    def __init__(self, url: str) -> None:
        self._manager = socketio.RedisManager(url, channel="flask-socketio", write_only=True)

    def emit(self, event: Mapping[str, Any]) -> None:
        """Publish one event for the web node to deliver."""
        for room in rooms_for(event):
            self._manager.emit(str(event["type"]), dict(event), namespace="/operator", room=room)


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
    async def apply(self, event: CallEvent) -> None:
        """Emit a pop for ringing legs directly; ignore everything else."""
        if isinstance(event, CallRinging):
            payload = {"seq": 0, "type": "call.ringing", "at": event.at.isoformat(), "audience": f"ext:{event.extension}",
                       "linkedid": event.linkedid, "extension": event.extension}  # fmt: skip
            await run_blocking(self.core.live.emit, payload)


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


async def measure(args: argparse.Namespace, settings_env: dict[str, str], token: str) -> dict[str, list[float]]:
    """Run both daemons against one AMI server and one Socket.IO client; return latencies in ms."""
    received: dict[str, float] = {}
    got = threading.Event()
    client = socketio.Client(reconnection=True, reconnection_delay=0.1)

    @client.on("disconnect", namespace="/operator")  # type: ignore[untyped-decorator]
    def _gone(*_args: object) -> None:
        print("socket.io client disconnected; reconnecting", file=sys.stderr)

    @client.on("call.ringing", namespace="/operator")  # type: ignore[untyped-decorator]
    def _pop(data: dict[str, Any]) -> None:
        received[str(data.get("linkedid"))] = time.perf_counter()
        got.set()

    port = int(settings_env["S48_HTTP_PORT"])
    client.connect(f"http://127.0.0.1:{port}", namespaces=["/operator"], transports=["polling"],
                   headers={"Authorization": f"Bearer {token}"}, wait_timeout=10)  # fmt: skip
    settings = load_settings(settings_env)

    results: dict[str, list[float]] = {"relay": [], "lookup": []}
    server = AmiServer(username=AMI_USER, secret=AMI_SECRET)
    await server.start()
    rng = random.Random(48)
    daemons: dict[str, TelephonyDaemon] = {}
    stops: dict[str, asyncio.Event] = {}
    tasks = []
    for mode, cls in (("relay", RelayDaemon), ("lookup", TelephonyDaemon)):
        core = bootstrap(settings, live=QueueLivePush(settings.socketio_queue_url or ""))
        ami = AmiSettings(port=server.port, username=AMI_USER, secret=AMI_SECRET, trunk_endpoints=frozenset({TRUNK}))
        daemons[mode] = cls(core, ami=ami, spool=None, options=DaemonOptions(originate_poll=3600))
        stops[mode] = asyncio.Event()
    # One daemon at a time is connected, so each pop is produced by exactly one of them.
    for round_no in range(args.rounds * 2 + 2):
        mode = "relay" if round_no % 2 == 0 else "lookup"
        daemon = daemons[mode]
        stops[mode] = asyncio.Event()
        task = asyncio.ensure_future(daemon.run(stops[mode]))
        tasks.append(task)
        async with asyncio.timeout(20):
            while daemon.control is None or daemon.control.link_state is not LinkState.UP:  # noqa: ASYNC110  polls foreign state
                await asyncio.sleep(0.01)
        async with asyncio.timeout(20):
            while "/operator" not in client.namespaces:  # noqa: ASYNC110  the client thread reconnects
                await asyncio.sleep(0.05)
        calls = []
        for n in range(CONCURRENT):
            linkedid = f"{round_no}{n:02d}.{int(time.time())}"
            number = "065" + str(rng.randrange(args.citizens)).zfill(6)
            calls.append((linkedid, *frames(linkedid, number, "201")))
        for _linkedid, newchannel, _dial, _hangup in calls:
            await server.send_frame(newchannel)
        sent: dict[str, float] = {}
        for linkedid, _newchannel, dial, _hangup in calls:
            sent[linkedid] = time.perf_counter()
            await server.send_frame(dial)
        deadline = time.monotonic() + 15
        while any(lid not in received for lid in sent) and time.monotonic() < deadline:  # noqa: ASYNC110  filled by the client thread
            await asyncio.sleep(0.002)
        if round_no >= 2:  # the first round of each mode warms caches and connections
            results[mode].extend((received[lid] - t0) * 1000 for lid, t0 in sent.items() if lid in received)
            lost = sum(1 for lid in sent if lid not in received)
            if lost:
                print(f"round {round_no} ({mode}): {lost} pops not received", file=sys.stderr)
        for _linkedid, _newchannel, _dial, hangup in calls:
            await server.send_frame(hangup)
        await asyncio.sleep(0.3)
        stops[mode].set()
        await task
        await server.drop_sessions()
    await server.stop()
    client.disconnect()
    return results


def main() -> None:
    """Parse arguments, prepare PostgreSQL, Redis and the web node, measure, print figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--citizens", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=10, help="rounds of 20 concurrent calls per mode")
    args = parser.parse_args()

    from tests.support.pg import destroy_cluster, free_port, start_cluster
    from tests.support.redis_server import start_redis

    cluster = None
    url = os.environ.get("S48_BENCH_DATABASE_URL")
    if url is None:
        cluster = start_cluster()
        cluster.execute("CREATE DATABASE bench")
        url = cluster.url("bench")
    redis_server = start_redis()
    try:
        seconds = generate(url, args.citizens, args.tickets)
        print(f"data: {args.citizens} citizens, {args.tickets} tickets generated in {seconds:.1f} s")
        var = Path(tempfile.mkdtemp(prefix="s48-bench-"))
        env = {"S48_DATABASE_URL": url, "S48_SOCKETIO_QUEUE_URL": redis_server.url, "S48_VAR_DIR": str(var),
               "S48_HTTP_PORT": str(free_port()), "S48_BROKER_URL": redis_server.url}  # fmt: skip
        settings = load_settings(env)
        core = bootstrap(settings)
        with core.session_factory() as db:
            add_user(db, "bench201", "operator", "lozinka-bench", core.clock.now(), extension="201")
            token = create_token(db, "bench201", "bench", core.clock.now())
            db.commit()
        from sistem48.web import build_web

        app, sio = build_web(settings)
        web = threading.Thread(
            target=lambda: sio.run(
                app, host="127.0.0.1", port=settings.http_port, allow_unsafe_werkzeug=True, log_output=False
            ),  # fmt: skip
            daemon=True,
        )
        web.start()
        time.sleep(1.0)
        results = asyncio.run(measure(args, env, token))
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
