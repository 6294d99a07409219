"""A throwaway redis-server for the test session: real broker and message queue, own port."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.pg import free_port


@dataclass
class RedisServer:
    """A running redis-server we started (and only we kill)."""

    port: int
    dir: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Return the redis:// URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait for PONG."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found: install the redis-server package (scripts/test.sh does)")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--maxmemory-policy", "noeviction"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            else:
                client.close()
                return

    def kill(self) -> None:
        """Kill -9 the server (fault injection)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


def start_redis() -> RedisServer:
    """Start a fresh redis-server on a free port."""
    server = RedisServer(port=free_port(), dir=Path(tempfile.mkdtemp(prefix="s48-redis-")))
    server.start()
    return server
