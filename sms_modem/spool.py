"""A local durable spool for inbound SMS while the database is down (reliability R5).

A message may leave the SIM only once it is safe somewhere: committed in the database, or written
here. Each report is one JSON file named by the SHA-256 of its ``source_key`` (so spooling the same
message twice is one file), written to a temp file, fsync'd, renamed, and the directory fsync'd —
a crash leaves either the whole file or none. The flusher drains it into intake, which is
idempotent by ``source_key``, and removes a file only after its commit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from core.messages import Channel, ReceiveReport

log = logging.getLogger(__name__)

# A SIM holds ~20 messages; this many spooled ones means the database has been gone for long.
MAX_FILES = 10_000
MAX_FILE_BYTES = 4_000_000


class SpoolFull(OSError):
    """The spool holds MAX_FILES messages: leave the rest on the SIM (the SMSC buffers then)."""


def report_to_json(report: ReceiveReport) -> dict[str, Any]:
    """Serialise a report (every field; datetimes as ISO 8601)."""
    return {
        "channel": report.channel.value,
        "text": report.text,
        "source_key": report.source_key,
        "phone": report.phone,
        "email": report.email,
        "name": report.name,
        "place": report.place,
        "category": report.category,
        "ticket_code": report.ticket_code,
        "received_at": report.received_at.isoformat() if report.received_at else None,
        "raw": report.raw,
        "operator_id": report.operator_id,
        "call_id": report.call_id,
        "attrs": dict(report.attrs),
    }


def _opt(data: dict[str, Any], key: str) -> str | None:
    """Read an optional text field."""
    value = data.get(key)
    return value if isinstance(value, str) else None


def report_from_json(data: dict[str, Any]) -> ReceiveReport:
    """Rebuild a report written by :func:`report_to_json`."""
    received = _opt(data, "received_at")
    attrs = data.get("attrs")
    operator_id, call_id = data.get("operator_id"), data.get("call_id")
    return ReceiveReport(
        channel=Channel(str(data["channel"])),
        text=str(data.get("text") or ""),
        source_key=_opt(data, "source_key"),
        phone=_opt(data, "phone"),
        email=_opt(data, "email"),
        name=_opt(data, "name"),
        place=_opt(data, "place"),
        category=_opt(data, "category"),
        ticket_code=_opt(data, "ticket_code"),
        received_at=datetime.fromisoformat(received) if received else None,
        raw=_opt(data, "raw"),
        operator_id=operator_id if isinstance(operator_id, int) else None,
        call_id=call_id if isinstance(call_id, int) else None,
        attrs={str(k): str(v) for k, v in attrs.items()} if isinstance(attrs, dict) else {},
    )


class Spool:
    """A directory of spooled reports."""

    def __init__(self, directory: Path, *, max_files: int = MAX_FILES) -> None:
        self.directory = directory
        self.max_files = max_files

    def _ensure(self) -> None:
        """Create the directory (0700: it holds citizens' messages)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path_for(self, report: ReceiveReport) -> Path:
        """Return the file a report is spooled in (named by its key, never by sender data)."""
        key = report.source_key or ""
        return self.directory / f"{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()}.json"

    def put(self, report: ReceiveReport) -> Path:
        """Write a report durably; return its path. Raises OSError (disk full) or SpoolFull."""
        if report.source_key is None:
            raise ValueError("only keyed reports can be spooled")
        self._ensure()
        target = self.path_for(report)
        if target.exists():
            return target
        if len(self) >= self.max_files:
            raise SpoolFull(f"SMS spool holds {self.max_files} messages")
        # ensure_ascii keeps lone surrogates and NUL as escapes: the file always decodes.
        blob = json.dumps(report_to_json(report), ensure_ascii=True, sort_keys=True).encode("ascii")
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".spool-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
                fh.flush()
                os.fsync(fh.fileno())
            os.rename(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._sync_dir()
        return target

    def _sync_dir(self) -> None:
        """Fsync the directory so the rename itself survives a power cut."""
        dfd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def __len__(self) -> int:
        """Count spooled reports."""
        return sum(1 for _ in self.paths())

    def paths(self) -> Iterator[Path]:
        """Yield spooled files, oldest first (temp files of a crashed write are skipped)."""
        if not self.directory.is_dir():
            return
        found = [p for p in self.directory.iterdir() if p.suffix == ".json" and not p.name.startswith(".")]
        found.sort(key=lambda p: (p.stat().st_mtime_ns, p.name))
        yield from found

    def load(self, path: Path) -> ReceiveReport:
        """Read one spooled report; raises ValueError for a file that is not one."""
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError(f"spool file too large: {path.name}")
        data = json.loads(path.read_bytes().decode("ascii"))
        if not isinstance(data, dict):
            raise ValueError(f"spool file is not an object: {path.name}")  # noqa: TRY004  callers catch ValueError
        return report_from_json(data)

    def remove(self, path: Path) -> None:
        """Remove a report once its commit is done."""
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._sync_dir()

    def quarantine(self, path: Path) -> None:
        """Move an unreadable file aside for a human, so it does not block the flusher."""
        bad = self.directory / "bad"
        bad.mkdir(exist_ok=True, mode=0o700)
        os.rename(path, bad / path.name)
        log.error("unreadable SMS spool file %s moved to %s", path.name, bad)
