"""Benchmark of the public face: /t/<code> and Open311 requests.json against a static file, same server, same run.

Run by hand (not part of the test suite)::

    .venv/bin/python bench/public.py --tickets 1000000 --rounds 3

Tickets (with their public history) are generated inside PostgreSQL by ``bench/datagen.py``; the app
is served as in production, by ``sistem48 public`` (uWSGI, ``--workers`` processes of ``--threads``
threads) in a subprocess on 127.0.0.1, and an asyncio HTTP/1.1 keep-alive client on loopback measures
requests/s and latency percentiles for each path in turn; ``--client wrk`` (Debian package ``wrk``)
loads it with wrk instead, whose own CPU barely touches the two cores the server runs on (the issue
allows either). ``--server gunicorn|waitress|werkzeug`` serves the whole app under another server
instead, for comparison.

Besides throughput it prints the CPU time per request spent by the client itself, the web server's
processes and PostgreSQL's (from /proc), which tells whether the client on the same cores is the
limit. ``--rounds N`` interleaves the paths N times, so that outside load on a shared machine falls
on every path alike; ``--only t,id`` measures a subset (static always runs: it is the yardstick).
With ``S48_BENCH_DATABASE_URL`` pointing at a database that already holds tickets, they are reused.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datagen import bench_database, generate  # noqa: E402  after the path fix above
from core.db.base import create_engine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


@dataclass
class Result:
    """Figures of one path."""

    path: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds used by client, server and database
    # wrk reports percentiles, not samples: one {quantile: seconds} per round
    reported: list[dict[float, float]] = field(default_factory=list)

    def add(self, other: Result) -> None:
        """Add the figures of another run of the same path."""
        self.requests += other.requests
        self.errors += other.errors
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.reported += other.reported
        for who, spent in other.cpu.items():
            self.cpu[who] = self.cpu.get(who, 0.0) + spent

    def cpu_ms(self, who: str) -> float:
        """Return the CPU milliseconds ``who`` spent per request (nan when unknown)."""
        spent = self.cpu.get(who)
        return 1000 * spent / self.requests if spent is not None and self.requests else float("nan")

    @property
    def rps(self) -> float:
        """Return requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        """Return a latency percentile in milliseconds (with wrk: the worst round's)."""
        if self.reported:
            return 1000 * max(round_[q] for round_ in self.reported)
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def add_history(url: str) -> float:
    """Give every generated ticket the public trail intake writes (received, forwarded)."""
    start = time.perf_counter()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL statement_timeout = 0"))
        conn.execute(
            sa.text(
                """
                INSERT INTO status_change (ticket_id, at, kind, actor_label, from_status, to_status, public_note)
                SELECT t.id, t.created_at, 'status', 'system', NULL, 'new', 'Пријава примљена (телефон).'
                FROM ticket t
                UNION ALL
                SELECT t.id, t.created_at, 'status', 'system', 'new', 'assigned', 'Прослијеђена надлежнима.'
                FROM ticket t
                """
            )
        )
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE status_change"))
    engine.dispose()
    return time.perf_counter() - start


def count_tickets(url: str) -> int:
    """Return how many tickets the database already holds."""
    engine = create_engine(url)
    with engine.connect() as conn:
        count = int(conn.execute(sa.text("SELECT count(*) FROM ticket")).scalar_one())
    engine.dispose()
    return count


def sample_codes(url: str, n: int) -> list[str]:
    """Pick ticket codes spread over the table."""
    engine = create_engine(url)
    with engine.connect() as conn:
        codes = [
            r[0] for r in conn.execute(sa.text("SELECT code FROM ticket TABLESAMPLE SYSTEM (1) LIMIT :n"), {"n": n})
        ]
        if len(codes) < n:
            codes += [r[0] for r in conn.execute(sa.text("SELECT code FROM ticket LIMIT :n"), {"n": n})]
    engine.dispose()
    return codes


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(kind: str, url: str, port: int, workers: int, threads: int, var_dir: str) -> subprocess.Popen[bytes]:
    """Start the web app under a WSGI server in a subprocess and wait until it answers."""
    env = {**os.environ, "S48_DATABASE_URL": url, "S48_VAR_DIR": var_dir, "PYTHONPATH": str(ROOT)}
    if kind == "public":
        # The production public node, exactly as docker-compose runs it: `sistem48 public` (uWSGI).
        env |= {"S48_PUBLIC_HOST": "127.0.0.1", "S48_PUBLIC_PORT": str(port), "S48_PUBLIC_PROCESSES": str(workers),
                "S48_PUBLIC_THREADS": str(threads)}  # fmt: skip
        cmd = [str(VENV_BIN / "sistem48"), "public"]
    elif kind == "gunicorn":
        cmd = [str(VENV_BIN / "gunicorn"), "-w", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{port}",
               "--log-level", "warning", "callcenter_ui:create_app()"]  # fmt: skip
    elif kind == "waitress":
        cmd = [str(VENV_BIN / "waitress-serve"), f"--threads={threads}", "--listen", f"127.0.0.1:{port}",
               "--call", "callcenter_ui:create_app"]  # fmt: skip
    else:
        code = (
            "from werkzeug.serving import run_simple; from callcenter_ui import create_app; "
            f"run_simple('127.0.0.1', {port}, create_app(), threaded=True)"
        )
        cmd = [sys.executable, "-c", code]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{kind} did not start on port {port}")


async def _connection(port: int, paths: list[str], until: float, result: Result) -> None:
    """Send keep-alive GETs on one connection until the deadline, recording latencies."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < until:
            path = random.choice(paths)
            started = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n".encode())
            await writer.drain()
            status_line = await reader.readline()
            length, close = 0, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value.strip())
                elif name.lower() == "connection" and value.strip().lower() == "close":
                    close = True
            await reader.readexactly(length)
            result.latencies.append(time.perf_counter() - started)
            result.requests += 1
            if not status_line.startswith(b"HTTP/1.1 200") and not status_line.startswith(b"HTTP/1.0 200"):
                result.errors += 1
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


def _cpu_of(pid: int) -> float:
    """Return the CPU seconds (user + system, all threads) a process has used; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    """Return the ids of a process's children (Linux /proc), empty elsewhere."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def postmaster_pid(url: str) -> int | None:
    """Return the process id of the PostgreSQL server (when it runs here and its data directory is readable)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            data = conn.execute(sa.text("SELECT setting FROM pg_settings WHERE name = 'data_directory'")).scalar_one()
        return int((Path(data) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, sa.exc.SQLAlchemyError):
        return None
    finally:
        engine.dispose()


def cpu_snapshot(server: int, database: int | None) -> dict[str, float]:
    """Return CPU seconds used so far by this client, the web server's processes and the database's."""
    snapshot = {
        "client": time.process_time(),
        "server": sum(_cpu_of(pid) for pid in (server, *_children(server))),
    }
    if database is not None:
        snapshot["db"] = sum(_cpu_of(pid) for pid in (database, *_children(database)))
    return snapshot


async def measure(
    port: int, label: str, paths: list[str], seconds: float, concurrency: int, cpu: Callable[[], dict[str, float]]
) -> Result:
    """Load one kind of path with ``concurrency`` connections for ``seconds``, noting who spent the CPU."""
    result = Result(label, 0, 0, seconds, [])
    warm = Result(label, 0, 0, 0, [])
    await asyncio.gather(*(_connection(port, paths, time.monotonic() + 1.0, warm) for _ in range(concurrency)))
    before = cpu()
    start = time.monotonic()
    await asyncio.gather(*(_connection(port, paths, start + seconds, result) for _ in range(concurrency)))
    result.seconds = time.monotonic() - start
    after = cpu()
    result.cpu = {who: after[who] - before[who] for who in after}
    return result


WRK_SCRIPT = """
local paths = {}
for line in io.lines(os.getenv("S48_WRK_PATHS")) do paths[#paths + 1] = line end
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
"""
_WRK_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def _wrk_seconds(text: str) -> float:
    """Return seconds from wrk's ``1.23ms`` / ``456.00us`` / ``1.02s``."""
    match = re.fullmatch(r"([0-9.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _WRK_UNITS[match.group(2)]


def measure_wrk(
    port: int, label: str, paths: list[str], seconds: float, concurrency: int, cpu: Callable[[], dict[str, float]]
) -> Result:
    """Load one kind of path with wrk (C, two threads): the client's own CPU barely touches the cores."""
    with tempfile.TemporaryDirectory() as tmp:
        script, listing = Path(tmp) / "paths.lua", Path(tmp) / "paths.txt"
        script.write_text(WRK_SCRIPT)
        listing.write_text("\n".join(paths) + "\n")
        env = {**os.environ, "S48_WRK_PATHS": str(listing)}
        base = ["wrk", "-t", "2", "-c", str(concurrency), "--latency", "-s", str(script), f"http://127.0.0.1:{port}"]
        subprocess.run([*base[:5], "-d", "1s", *base[5:]], env=env, check=True, capture_output=True)  # warm-up
        before, client_before = cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(
            [*base[:5], "-d", f"{seconds:.0f}s", *base[5:]], env=env, check=True, capture_output=True, text=True
        ).stdout
        after, client_after = cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
    total = re.search(r"(\d+) requests in ([0-9.]+)(us|ms|s)", out)
    if total is None:
        raise RuntimeError(f"wrk printed no totals:\n{out}")
    result = Result(label, int(total.group(1)), 0, _wrk_seconds(total.group(2) + total.group(3)), [])
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result.errors = (int(errors.group(1)) if errors else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    result.reported = [{int(q) / 100: _wrk_seconds(v) for q, v in re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M)}]
    result.cpu = {who: after[who] - before[who] for who in after if who != "client"}
    result.cpu["client"] = (client_after.ru_utime + client_after.ru_stime) - (
        client_before.ru_utime + client_before.ru_stime
    )
    return result


def main() -> None:
    """Generate data, serve, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--citizens", type=int, default=100_000)
    parser.add_argument(
        "--server",
        choices=("public", "gunicorn", "waitress", "werkzeug"),
        default="public",
        help="public: `sistem48 public` (production); the others serve the whole app, for comparison",
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--threads", type=int, default=2, help="threads per worker")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--client",
        choices=("asyncio", "wrk"),
        default="asyncio",
        help="asyncio: this script's own client (its CPU shares the two cores); wrk: the C load generator",
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=1, help="measure every path this many times, interleaved")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated plans to run besides static: t, id, filtered, default (all if empty)",
    )
    args = parser.parse_args()
    random.seed(48)
    with bench_database(fsync=False) as url, tempfile.TemporaryDirectory() as var_dir:
        existing = count_tickets(url)
        if existing:
            # S48_BENCH_DATABASE_URL pointing at a database filled by an earlier run: measure it as it is.
            print(f"reusing {existing:,} tickets already in the database (--tickets ignored)")
        else:
            took = generate(url, citizens=args.citizens, tickets=args.tickets, messages=0, calls=0)
            took += add_history(url)
            print(f"generated {args.tickets:,} tickets (+{2 * args.tickets:,} history rows) in {took:.1f} s")
        codes = sample_codes(url, 2000)
        port = free_port()
        database = postmaster_pid(url)
        server = start_server(args.server, url, port, args.workers, args.threads, var_dir)
        try:
            plans = [
                ("static", "static /static/public/portal.css", ["/static/public/portal.css"]),
                ("t", "/t/<code>", [f"/t/{c}" for c in codes]),
                ("id", "/open311/v2/requests.json?service_request_id=<code>",
                 [f"/open311/v2/requests.json?service_request_id={c}" for c in codes]),
                ("filtered",
                 "/open311/v2/requests.json?service_code=<code>&status=open&start_date=<7 days ago> (≤1000 rows)",
                 [f"/open311/v2/requests.json?service_code={s}&status=open&start_date="
                  + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 7 * 86400))
                  for s in ("voda", "smece", "rasvjeta")]),
                ("default", "/open311/v2/requests.json (default: 90 days, 1000 rows)", ["/open311/v2/requests.json"]),
            ]  # fmt: skip
            wanted = {"static", *filter(None, args.only.split(","))} if args.only else None
            chosen = [(label, paths) for key, label, paths in plans if wanted is None or key in wanted]
            results = [Result(label, 0, 0, 0.0, []) for label, _ in chosen]
            # Rounds interleave the paths, so that load from outside the benchmark falls on all of them alike.
            for _ in range(args.rounds):
                for total, (label, paths) in zip(results, chosen, strict=True):
                    cpu = lambda: cpu_snapshot(server.pid, database)  # noqa: E731
                    if args.client == "wrk":
                        one = measure_wrk(port, label, paths, args.seconds, args.concurrency, cpu)
                    else:
                        one = asyncio.run(measure(port, label, paths, args.seconds, args.concurrency, cpu))
                    total.add(one)
        finally:
            server.terminate()
            server.wait(timeout=30)
    base = results[0].rps
    print(f"server: {args.server} workers={args.workers} threads={args.threads}; client: {args.client} keep-alive, "
          f"{args.concurrency} connections, {args.rounds} × {args.seconds:.0f} s per path; cores: {os.cpu_count()}")  # fmt: skip
    print(f"CPU ms/req: CPU time per request of the {args.client} client, the web server's processes and PostgreSQL's"
          + ("; p50/p99: the worst round's, as wrk reports them" if args.client == "wrk" else ""))  # fmt: skip
    print(f"{'path':<95} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs static':>9}"
          f" {'client':>7} {'server':>7} {'db':>7}")  # fmt: skip
    for r in results:
        print(f"{r.path:<95} {r.rps:8.0f} {r.pct(0.5):8.1f} {r.pct(0.99):8.1f} {r.errors:7d} {r.rps / base:9.2f}"
              f" {r.cpu_ms('client'):7.2f} {r.cpu_ms('server'):7.2f} {r.cpu_ms('db'):7.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
