"""Real mail servers on loopback for the e-mail tests: Dovecot (IMAP), an aiosmtpd sink, a cutting TCP proxy."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = s48test-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/home/%u/Maildir
mail_fsync = never
first_valid_uid = 0
default_internal_user = {user}
default_internal_group = {user}
default_login_user = {login_user}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={user} gid={user} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
protocol imap {{
  mail_max_userip_connections = 200
  imap_idle_notify_interval = 1 secs
}}
"""

PASSWORD = "tajna-lozinka"


def free_port() -> int:
    """Return a free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_port(port: int, timeout: float = 10.0) -> None:
    """Wait until something listens on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


@dataclass
class Dovecot:
    """A private Dovecot instance: any user name logs in with PASSWORD and gets an empty Maildir."""

    root: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        """Stop the master process we started (it takes its children with it)."""
        pid_file = self.root / "run" / "master.pid"
        if pid_file.is_file():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), 15)
        deadline = time.monotonic() + 10
        while pid_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)


def start_dovecot() -> Dovecot:
    """Start Dovecot with a throwaway config on a free port (root drops to the dovecot users)."""
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(binary).exists():
        raise FileNotFoundError("dovecot is not installed (apt-get install -y dovecot-imapd)")
    root = Path(tempfile.mkdtemp(prefix="s48-dovecot-"))
    root.chmod(0o755)
    user = "dovecot"
    login_user = "dovenull"
    if os.geteuid() != 0:  # not root: everything runs as ourselves
        user = login_user = pwd.getpwuid(os.geteuid()).pw_name
    for sub in ("run", "state", "home"):
        (root / sub).mkdir()
    entry = pwd.getpwnam(user)
    os.chown(root / "home", entry.pw_uid, entry.pw_gid)
    port = free_port()
    conf = root / "dovecot.conf"
    conf.write_text(
        DOVECOT_CONF.format(root=root, port=port, user=user, login_user=login_user, password=PASSWORD), encoding="utf-8"
    )
    # Dovecot forks into the background: its output goes to log_path, never to pipes we would wait on.
    subprocess.run(
        [binary, "-c", str(conf)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30
    )
    server = Dovecot(root=root, port=port)
    try:
        _wait_port(port)
    except TimeoutError:
        log = (root / "dovecot.log").read_text(errors="replace") if (root / "dovecot.log").exists() else ""
        server.stop()
        raise RuntimeError(f"dovecot did not start: {log[-2000:]}") from None
    return server


@dataclass
class SinkHandler:
    """aiosmtpd handler keeping every accepted envelope; refuses recipients listed in ``refuse``."""

    received: list[Any] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        """Accept a recipient unless told to refuse it (550, as a real server would)."""
        if address.lower() in self.refuse:
            return "550 5.1.1 User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Keep the message."""
        self.received.append(envelope)
        return "250 Message accepted"


@dataclass
class SmtpSink:
    """A running aiosmtpd sink."""

    controller: Controller
    handler: SinkHandler
    port: int

    @property
    def url(self) -> str:
        """Return the S48_SMTP_URL of the sink."""
        return f"smtp://127.0.0.1:{self.port}"


def start_smtp_sink() -> SmtpSink:
    """Start an aiosmtpd server on a free loopback port."""
    handler = SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return SmtpSink(controller=controller, handler=handler, port=port)


class CuttingProxy:
    """A TCP proxy on loopback: forwards, refuses (a dead server), or sends an RST after a pattern.

    ``cut_after(b"BODY[]", 2)`` resets the client right after the second server chunk carrying a
    fetched message has been forwarded: the client holds message 2 but its next command fails.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.refuse = False
        self.cuts = 0
        self._pattern: bytes | None = None
        self._remaining = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def cut_after(self, pattern: bytes, count: int) -> None:
        """Reset the connection after ``count`` server chunks containing ``pattern`` (once)."""
        with self._lock:
            self._pattern, self._remaining = pattern, count

    def close(self) -> None:
        """Stop listening and drop every link."""
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refuse:
                self._reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                self._reset(client)
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, client, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, client, True), daemon=True).start()

    @staticmethod
    def _reset(sock: socket.socket) -> None:
        """Close with an RST (SO_LINGER 0) instead of a FIN."""
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            sock.close()

    def _pump(self, src: socket.socket, dst: socket.socket, client: socket.socket, to_client: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                if to_client and self._hit(data):
                    self.cuts += 1
                    self._reset(client)
                    break
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)
            if to_client:
                with contextlib.suppress(OSError):
                    src.close()

    def _hit(self, data: bytes) -> bool:
        """Count pattern occurrences; True when the cut is due."""
        with self._lock:
            if self._pattern is None or self._pattern not in data:
                return False
            self._remaining -= data.count(self._pattern)
            if self._remaining > 0:
                return False
            self._pattern = None
            return True
