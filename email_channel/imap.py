"""The mailbox over IMAP: the only imaplib import.

UID-based (osTicket#6979): messages are listed and fetched by UID with ``BODY.PEEK[]`` so nothing is
marked read by fetching, and moved out of the inbox only after the database has committed them.
IDLE is used where the server offers it (imaplib has no IDLE before Python 3.14, so it is spoken
here directly); otherwise the caller polls.
"""

from __future__ import annotations

import contextlib
import imaplib
import itertools
import re
import select
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

_FETCH_UID = re.compile(rb"UID (\d+)")
_FETCH_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_tags = itertools.count(1)


class MailboxError(Exception):
    """The mailbox link failed (connection, protocol, server refusal): reconnect and try again."""


class AuthFailed(MailboxError):
    """The server refused our credentials: an operator must fix S48_IMAP_URL."""


@dataclass(frozen=True, kw_only=True)
class ImapConfig:
    """Where the mailbox is; built from ``S48_IMAP_URL`` (``imap://user:pass@host:port/INBOX``)."""

    host: str
    port: int
    username: str
    password: str
    folder: str = "INBOX"
    tls: bool = False
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str, **overrides: object) -> ImapConfig:
        """Parse ``imap://`` or ``imaps://`` URLs; user and password are percent-decoded."""
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname:
            raise ValueError("S48_IMAP_URL must look like imap://user:password@host:143/INBOX or imaps://…")
        tls = parts.scheme == "imaps"
        folder = unquote(parts.path.lstrip("/")) or "INBOX"
        values: dict[str, object] = {
            "host": parts.hostname,
            "port": parts.port or (993 if tls else 143),
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "folder": folder,
            "tls": tls,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def address(self) -> str:
        """Return a loggable description (never the password)."""
        return f"{'imaps' if self.tls else 'imap'}://{self.username}@{self.host}:{self.port}/{self.folder}"


@dataclass(frozen=True)
class Listed:
    """A message waiting in the inbox: its UID and size."""

    uid: int
    size: int


def _quote(name: str) -> str:
    """Quote a mailbox name for an IMAP command."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapMailbox:
    """One logged-in, selected mailbox. Every failure surfaces as MailboxError (or AuthFailed)."""

    def __init__(self, config: ImapConfig, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self._ssl_context = ssl_context
        self._conn: imaplib.IMAP4 | None = None
        self.capabilities: frozenset[str] = frozenset()
        self.uidvalidity = 0

    # -- connection ---------------------------------------------------------------------------------

    def connect(self) -> None:
        """Connect, log in, learn capabilities, make our folders, select the inbox."""
        self.close()
        cfg = self.config
        try:
            if cfg.tls:
                context = self._ssl_context or ssl.create_default_context()
                conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(cfg.host, cfg.port, ssl_context=context, timeout=cfg.timeout)
            else:
                conn = imaplib.IMAP4(cfg.host, cfg.port, timeout=cfg.timeout)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"connect {cfg.host}:{cfg.port}: {exc}") from exc
        self._conn = conn
        try:
            try:
                conn.login(cfg.username, cfg.password)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as exc:
                raise AuthFailed(f"login refused for {cfg.username}: {exc}") from exc
            self.capabilities = self._capabilities()
            for folder in (cfg.processed_folder, cfg.quarantine_folder):
                self._ensure_folder(folder)
            typ, _ = conn.select(_quote(cfg.folder))
            if typ != "OK":
                raise MailboxError(f"cannot select {cfg.folder}")
            _, values = conn.response("UIDVALIDITY")
            self.uidvalidity = int(values[0]) if values and values[0] else 0
        except AuthFailed:
            self.close()
            raise
        except (OSError, imaplib.IMAP4.error, ValueError) as exc:
            self.close()
            raise MailboxError(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        """Drop the connection (politely if it still answers)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.logout()
        except (OSError, imaplib.IMAP4.error, ValueError):
            with contextlib.suppress(OSError, imaplib.IMAP4.error, ValueError):
                conn.shutdown()

    @property
    def connected(self) -> bool:
        """Tell whether a session is open."""
        return self._conn is not None

    def _c(self) -> imaplib.IMAP4:
        """Return the open connection or fail."""
        if self._conn is None:
            raise MailboxError("not connected")
        return self._conn

    def _capabilities(self) -> frozenset[str]:
        """Ask for capabilities after login (servers announce MOVE, UIDPLUS only then)."""
        typ, data = self._c().capability()
        if typ != "OK" or not data or not isinstance(data[0], bytes):
            return frozenset()
        return frozenset(data[0].decode("ascii", "replace").upper().split())

    def _ensure_folder(self, name: str) -> None:
        """Create a folder unless it exists."""
        conn = self._c()
        typ, data = conn.list('""', _quote(name))
        if typ == "OK" and data and data[0] is not None:
            return
        typ, data = conn.create(_quote(name))
        if typ != "OK" and b"exists" not in b" ".join(d for d in data if isinstance(d, bytes)).lower():
            raise MailboxError(f"cannot create folder {name}: {data!r}")

    def _run(self, *args: str) -> list[object]:
        """Run a UID command; a NO/BAD or a dead link becomes MailboxError."""
        try:
            typ, data = self._c().uid(*args)
        except (OSError, imaplib.IMAP4.error, ValueError) as exc:
            self.close()
            raise MailboxError(f"UID {args[0]}: {type(exc).__name__}: {exc}") from exc
        if typ != "OK":
            raise MailboxError(f"UID {args[0]} refused: {data!r}"[:300])
        return list(data)

    # -- messages -----------------------------------------------------------------------------------

    def waiting(self, after: int = 0, limit: int = 1000) -> list[Listed]:
        """List messages with UID > ``after`` (oldest first), with their sizes, at most ``limit``."""
        self.noop()  # let the server tell this session about mail that arrived since the last command
        data = self._run("FETCH", f"{after + 1}:*", "(UID RFC822.SIZE)")
        listed: dict[int, Listed] = {}
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            uid, size = _FETCH_UID.search(line), _FETCH_SIZE.search(line)
            # "n:*" always includes the highest UID even when it is below n: filter it out.
            if uid and size and int(uid.group(1)) > after:
                listed[int(uid.group(1))] = Listed(int(uid.group(1)), int(size.group(1)))
        return [listed[u] for u in sorted(listed)][:limit]

    def fetch(self, uid: int, *, max_bytes: int | None = None) -> bytes | None:
        """Return the raw message without marking it read (None when it vanished); a prefix if max_bytes."""
        section = "BODY.PEEK[]" if max_bytes is None else f"BODY.PEEK[]<0.{max_bytes}>"
        for item in self._run("FETCH", str(uid), f"(UID {section})"):
            if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[1], bytes):
                head = item[0]
                found = _FETCH_UID.search(head) if isinstance(head, bytes) else None
                if found is None or int(found.group(1)) == uid:
                    return item[1]
        return None

    def move(self, uid: int, folder: str) -> None:
        """Move one message to ``folder`` (MOVE, else COPY, flag deleted, expunge)."""
        if "MOVE" in self.capabilities:
            self._run("MOVE", str(uid), _quote(folder))
            return
        self._run("COPY", str(uid), _quote(folder))
        self._run("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
        if "UIDPLUS" in self.capabilities:
            self._run("EXPUNGE", str(uid))
        else:
            try:
                self._c().expunge()
            except (OSError, imaplib.IMAP4.error) as exc:
                self.close()
                raise MailboxError(f"EXPUNGE: {exc}") from exc

    def append(self, raw: bytes, folder: str | None = None) -> None:
        """Put a message into a folder (tests, the benchmark, and operators' tools)."""
        try:
            typ, data = self._c().append(_quote(folder or self.config.folder), None, None, raw)
        except (OSError, imaplib.IMAP4.error) as exc:
            self.close()
            raise MailboxError(f"APPEND: {exc}") from exc
        if typ != "OK":
            raise MailboxError(f"APPEND refused: {data!r}"[:300])

    def noop(self) -> None:
        """Poll the server (new mail, expunges) and check the link."""
        try:
            typ, data = self._c().noop()
        except (OSError, imaplib.IMAP4.error, ValueError) as exc:
            self.close()
            raise MailboxError(f"NOOP: {type(exc).__name__}: {exc}") from exc
        if typ != "OK":
            raise MailboxError(f"NOOP refused: {data!r}"[:300])

    def count(self, folder: str) -> int:
        """Return how many messages a folder holds (STATUS, without selecting it)."""
        self.noop()
        try:
            typ, data = self._c().status(_quote(folder), "(MESSAGES)")
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"STATUS: {exc}") from exc
        found = re.search(rb"MESSAGES (\d+)", data[0] if data and isinstance(data[0], bytes) else b"")
        if typ != "OK" or not found:
            raise MailboxError(f"STATUS {folder} refused")
        return int(found.group(1))

    # -- waiting for mail ---------------------------------------------------------------------------

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Wait up to ``seconds`` for new mail (IDLE when offered, else just wait); True when signalled."""
        if "IDLE" not in self.capabilities:
            stop.wait(seconds)
            return False
        try:
            return self._idle(self._c(), seconds, stop)
        except (OSError, imaplib.IMAP4.error) as exc:
            self.close()
            raise MailboxError(f"IDLE: {type(exc).__name__}: {exc}") from exc
        except MailboxError:
            self.close()
            raise

    def _idle(self, conn: imaplib.IMAP4, seconds: float, stop: threading.Event) -> bool:
        """Speak IDLE … DONE (RFC 2177); True when the server announced new messages."""
        tag = f"S48I{next(_tags)}".encode()
        woke = False
        conn.send(tag + b" IDLE\r\n")
        first = conn.readline()
        if not first.startswith(b"+"):
            raise MailboxError(f"IDLE refused: {first[:200]!r}")
        sock = conn.socket()
        deadline = time.monotonic() + seconds
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            pending = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
            if pending or select.select([sock], [], [], min(1.0, remaining))[0]:
                line = conn.readline()
                if not line or line.startswith(b"* BYE"):
                    raise MailboxError("server closed the connection during IDLE")
                if line.endswith((b"EXISTS\r\n", b"RECENT\r\n")):
                    woke = True
                    break
        conn.send(b"DONE\r\n")
        for _ in range(1000):  # bounded: the tagged OK follows at most a few untagged lines
            line = conn.readline()
            if not line:
                raise MailboxError("server closed the connection after IDLE")
            if line.startswith(tag):
                return woke
            woke = woke or line.endswith(b"EXISTS\r\n")
        raise MailboxError("no end of IDLE")
