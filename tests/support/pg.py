"""A throwaway PostgreSQL cluster for the test session (real server, own port, killable for fault tests).

initdb refuses to run as root, so as root the cluster runs as the ``postgres`` user (reliability §6).
Set ``S48_TEST_PG_BIN`` to choose the binaries directory.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bin() -> Path:
    """Find the PostgreSQL server binaries."""
    env = os.environ.get("S48_TEST_PG_BIN")
    if env:
        return Path(env)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL server binaries not found: install the postgresql package (scripts/test.sh does)")


@dataclass
class PgCluster:
    """A running cluster and how to reach or stop it."""

    bin: Path
    data: Path
    sock: Path
    port: int
    as_postgres: bool
    fsync: bool = False
    settings: tuple[tuple[str, str], ...] = ()  # further server settings (-c name=value)

    @property
    def admin_dsn(self) -> str:
        """Return a libpq DSN for the superuser."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def url(self, dbname: str) -> str:
        """Return a SQLAlchemy URL for one database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str) -> None:
        """Run a server binary, as the postgres user when we are root."""
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def start(self) -> None:
        """Start (or restart) the server and wait until it accepts connections."""
        # Tests run without fsync (speed); benchmarks with commits on the measured path (screen pop,
        # SMS intake) turn it on, as production has it.
        durability = "" if self.fsync else " -c fsync=off -c synchronous_commit=off"
        extra = "".join(f" -c {name}={value}" for name, value in self.settings)
        opts = f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c max_connections=200{durability}{extra}"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.data / "log"), "-w", "start")
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.admin_dsn, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``immediate`` is a crash (reliability F3)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE)."""
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}", autocommit=True) as conn:
            conn.execute(sql.encode())


def start_cluster(*, fsync: bool = False, settings: tuple[tuple[str, str], ...] = ()) -> PgCluster:
    """Create and start a fresh cluster in a temporary directory."""
    root = Path(tempfile.mkdtemp(prefix="s48-pg-"))
    as_postgres = os.geteuid() == 0
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if as_postgres:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        os.chmod(root, 0o755)  # noqa: S103  the postgres user must traverse our temp dir
    cluster = PgCluster(
        bin=pg_bin(), data=data, sock=sock, port=free_port(), as_postgres=as_postgres, fsync=fsync, settings=settings
    )
    cluster._run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8")
    cluster.start()
    return cluster


def destroy_cluster(cluster: PgCluster) -> None:
    """Stop the cluster and remove its files."""
    with contextlib.suppress(subprocess.CalledProcessError):
        cluster.stop("immediate")
    shutil.rmtree(cluster.data.parent, ignore_errors=True)
