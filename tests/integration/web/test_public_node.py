"""`sistem48 public`: the public face under uWSGI, as a real process on a real, seeded database."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from core.bootstrap import Core
from tests.integration.public.conftest import report
from tests.support.pg import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STATIC = Path(__file__).resolve().parents[3] / "callcenter_ui" / "static"
PROCESSES = 2
THREADS = 2
CHILDREN = PROCESSES + 1  # the workers and uWSGI's HTTP router
APP_READY = "WSGI app 0 (mountpoint='') ready"  # uWSGI's line when a worker has built its app


@dataclass
class Node:
    """A running public node and the ticket it shows."""

    proc: subprocess.Popen[bytes]
    port: int
    code: str
    log: Path

    def connect(self, timeout: float = 5) -> http.client.HTTPConnection:
        """Open a (keep-alive) connection to the node."""
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, path: str) -> tuple[int, bytes]:
        """Fetch one path on a fresh connection; return status and body."""
        conn = self.connect()
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def output(self) -> str:
        """Return what the node wrote so far (for failure messages)."""
        return self.log.read_text(encoding="utf-8", errors="replace")


def wait_until_serving(node: Node, seconds: float = 60) -> None:
    """Wait until every worker has built its app and /healthz answers, failing early if the node exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert node.proc.poll() is None, node.output()
        try:
            if node.output().count(APP_READY) == PROCESSES and node.get("/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"public node did not serve within {seconds} s:\n{node.output()}")


@pytest.fixture
def node(core: Core, tmp_path: Path) -> Iterator[Node]:
    """Start `sistem48 public` on the test database (SQLite or PostgreSQL) holding one ticket."""
    code = report(core, "Нема воде у Масловарама", category="voda")
    port = free_port()
    # Only this test's settings: an S48_* variable of the developer's shell must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("S48_")}
    env.update(
        S48_DATABASE_URL=core.settings.database_url,
        S48_VAR_DIR=str(tmp_path / "var"),
        S48_PUBLIC_PORT=str(port),
        S48_PUBLIC_PROCESSES=str(PROCESSES),
        S48_PUBLIC_THREADS=str(THREADS),
        S48_CONSOLE_URL="http://console.example",
    )
    log = tmp_path / "public.log"
    with log.open("wb") as out:
        # Started from tmp_path with no PYTHONPATH: the workers must find sistem48.public_wsgi through
        # the installed package, from any working directory.
        proc = subprocess.Popen(
            [sys.executable, "-m", "sistem48", "public"], env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT
        )
    running = Node(proc=proc, port=port, code=code, log=log)
    try:
        wait_until_serving(running)
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                for child in psutil.Process(proc.pid).children(recursive=True):
                    child.kill()
                proc.kill()
                proc.wait(5)


def test_serves_only_the_public_face(node: Node) -> None:
    """Tracking page, Open311 and health answer; nothing a member of staff logs in to exists here."""
    status, body = node.get("/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    status, body = node.get(f"/t/{node.code}")
    page = body.decode()
    assert status == 200, page
    assert node.code in page
    assert 'href="http://console.example/login"' in page
    status, body = node.get("/open311/v2/services.json")
    services = json.loads(body)
    assert status == 200 and isinstance(services, list) and services
    assert any(s["service_code"] == "voda" for s in services)
    status, body = node.get(f"/open311/v2/requests/{node.code}.json")
    assert status == 200, body
    assert [row["service_request_id"] for row in json.loads(body)] == [node.code]
    for path in ("/console", "/login", "/api/v1/tickets", "/readyz", "/metrics"):
        assert node.get(path)[0] == 404, path
    # --processes and --threads came from the settings: a master with two workers of two threads,
    # and the HTTP router in front of them.
    assert len(psutil.Process(node.proc.pid).children()) == CHILDREN
    assert node.output().count(f", cores: {THREADS})") == PROCESSES  # "spawned uWSGI worker 1 (pid: …, cores: 2)"
    assert "spawned uWSGI http 1" in node.output()


def test_keep_alive_and_static_files(node: Node) -> None:
    """Several requests share one connection, and a static file on it is not held up (file wrapper off)."""
    conn = node.connect()
    try:
        conn.request("GET", f"/t/{node.code}")
        first = conn.getresponse()
        page = first.read().decode()
        assert first.status == 200
        assert not first.will_close
        sock = conn.sock
        css = re.search(r'href="/static/([^"]+\.css)"', page)
        assert css is not None, page
        expected = (STATIC / css.group(1)).read_bytes()
        started = time.monotonic()
        conn.request("GET", f"/static/{css.group(1)}")
        static = conn.getresponse()
        body = static.read()
        conn.request("GET", "/healthz")  # the connection is still usable right after the file
        after = conn.getresponse()
        after.read()
        elapsed = time.monotonic() - started
        assert conn.sock is sock, "the node closed the keep-alive connection"
    finally:
        conn.close()
    assert static.status == 200
    assert int(static.getheader("Content-Length", "-1")) == len(expected)
    assert body == expected
    assert after.status == 200
    assert elapsed < 2, f"static file and the next request took {elapsed:.1f} s on one keep-alive connection"


def test_oversized_header_is_refused(node: Node) -> None:
    """A 20 KB header line is refused at once (bounded buffer), neither served nor left hanging."""
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 20 * 1024 + b"\r\n\r\n"
    answer = b""
    with socket.create_connection(("127.0.0.1", node.port), timeout=5) as sock:
        try:
            sock.sendall(request)
            while chunk := sock.recv(4096):  # a timeout here (a hang) fails the test
                answer += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass  # the server closed the connection on us: refused
    status_line = answer.split(b"\r\n", 1)[0]
    assert answer == b"" or status_line.split()[1:2] in ([b"431"], [b"400"]), status_line
    assert node.get("/healthz")[0] == 200  # and the node still serves everyone else


def test_sigterm_stops_master_and_workers(node: Node) -> None:
    """SIGTERM (docker stop, `sistem48 up`) ends the node within 10 s, workers included."""
    workers = psutil.Process(node.proc.pid).children(recursive=True)
    assert len(workers) == CHILDREN
    started = time.monotonic()
    node.proc.send_signal(signal.SIGTERM)
    node.proc.wait(10)
    _, alive = psutil.wait_procs(workers, timeout=max(0.1, 10 - (time.monotonic() - started)))
    assert alive == [], node.output()
    assert node.proc.returncode == 0, node.output()


def test_idle_and_slow_clients_hold_no_worker(node: Node) -> None:
    """Idle keep-alive visitors and slowloris clients wait in the router, not in the node's few threads."""
    slots = PROCESSES * THREADS
    idle = []
    for _ in range(2 * slots):  # browsers keep their connection open after a page
        conn = node.connect()
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        idle.append(conn)
    slow = []
    for _ in range(2 * slots):  # headers that never end
        sock = socket.create_connection(("127.0.0.1", node.port), timeout=5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n")
        slow.append(sock)
    try:
        for _ in range(3):
            started = time.monotonic()
            status, _ = node.get(f"/t/{node.code}")
            elapsed = time.monotonic() - started
            assert status == 200
            assert elapsed < 1, f"a visitor waited {elapsed:.1f} s behind idle and slow connections"
            for sock in slow:
                sock.sendall(b"X-Slow: 1\r\n")
    finally:
        for conn in idle:
            conn.close()
        for sock in slow:
            sock.close()
