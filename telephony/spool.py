"""Read-only scan of the Asterisk voicemail spool: ``<root>/<context>/<mailbox>/{INBOX,Old}/msgNNNN.*``.

Nothing here writes, renames or deletes: the spool belongs to Asterisk (and to the supervisor who
listens from a phone). Symlinks are not followed and every listing is bounded, so a hostile or
broken spool costs a log line, not the daemon.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from core.services.voicemail import MAX_INFO_BYTES, SpoolMessage, parse_message_info

logger = logging.getLogger(__name__)

FOLDERS = ("INBOX", "Old")
# wav (PCM) first: the transcriber reads it directly; wav49 (GSM in WAV) and raw gsm are fallbacks.
AUDIO_SUFFIXES = (".wav", ".WAV", ".gsm")
MAX_MESSAGES = 5000
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
_MSG_RE = re.compile(r"^msg\d{4,5}\.txt$")


def mailbox_dir(root: Path, mailbox: str) -> Path | None:
    """Map ``4800@sistem48`` to ``<root>/sistem48/4800``; None for names that could escape the root."""
    box, _, context = mailbox.partition("@")
    context = context or "default"
    if not _NAME_RE.match(box) or not _NAME_RE.match(context) or ".." in (box, context):
        return None
    return root / context / box


def _dirs(path: Path) -> Iterator[os.DirEntry[str]]:
    try:
        with os.scandir(path) as entries:
            yield from sorted(
                (e for e in entries if e.is_dir(follow_symlinks=False) and _NAME_RE.match(e.name)),
                key=lambda e: e.name,
            )
    except OSError:
        return


def all_mailboxes(root: Path) -> list[str]:
    """List every ``mailbox@context`` under the spool root."""
    boxes: list[str] = []
    for context in _dirs(root):
        boxes.extend(f"{box.name}@{context.name}" for box in _dirs(Path(context.path)))
    return boxes[:1000]


def read_info(path: Path) -> bytes | None:
    """Read at most MAX_INFO_BYTES of a metadata file (a huge file is truncated, never loaded)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(MAX_INFO_BYTES + 1)
    if len(data) > MAX_INFO_BYTES:
        logger.warning("voicemail metadata %s is larger than %d bytes; reading the start only", path, MAX_INFO_BYTES)
    return data


def scan(root: Path, mailboxes: Iterable[str] | None = None) -> list[SpoolMessage]:
    """Return the complete messages (``duration=`` present and audio on disk) of the given mailboxes."""
    found: list[SpoolMessage] = []
    for mailbox in mailboxes if mailboxes is not None else all_mailboxes(root):
        base = mailbox_dir(root, mailbox)
        if base is None:
            logger.warning("ignoring suspicious mailbox name %r", mailbox[:100])
            continue
        for folder in FOLDERS:
            directory = base / folder
            try:
                with os.scandir(directory) as entries:
                    names = sorted(
                        e.name for e in entries if _MSG_RE.match(e.name) and e.is_file(follow_symlinks=False)
                    )
            except OSError:
                continue
            for name in names:
                if len(found) >= MAX_MESSAGES:
                    logger.warning("voicemail scan stopped at %d messages", MAX_MESSAGES)
                    return found
                message = _message(directory, name, mailbox, folder)
                if message is not None:
                    found.append(message)
    return found


def _message(directory: Path, name: str, mailbox: str, folder: str) -> SpoolMessage | None:
    stem = name.removesuffix(".txt")
    data = read_info(directory / name)
    if data is None:
        return None
    info = parse_message_info(data)
    if not info.complete:
        return None  # still being recorded: Asterisk appends duration= last
    audio = next((directory / (stem + s) for s in AUDIO_SUFFIXES if (directory / (stem + s)).is_file()), None)
    if audio is None:
        return None
    return SpoolMessage(mailbox=mailbox, folder=folder, name=stem, info=info, audio_path=str(audio))
