"""Where voicemail audio may be read from: only under the configured spool and var directories.

A stored ``audio_path`` comes from the database, written by the telephony daemon from the spool scan;
it is still treated as untrusted (a tampered row, a ``../`` in a mailbox name, a symlink planted in the
spool). The path is resolved (symlinks followed) and must then lie under one of the allowed roots;
anything else is refused (ASVS 5.3.2: no user-controlled paths).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from core.config import Settings
from transcription.errors import AudioRejectedError

MAX_PATH = 500  # the column's size


def audio_roots(settings: Settings) -> tuple[Path, ...]:
    """Return the directories audio may come from: the voicemail spool (if set) and the var directory."""
    roots = [settings.voicemail_spool, settings.var_dir]
    return tuple(root for root in roots if root is not None)


def resolve_audio(stored: str | None, roots: Iterable[Path]) -> Path:
    """Return the real path of a stored audio file, refusing anything outside ``roots`` or not a file."""
    if not stored:
        raise AudioRejectedError("no_audio", "the voicemail has no audio file")
    if "\x00" in stored or len(stored) > MAX_PATH:
        raise AudioRejectedError("forbidden_path", "the stored audio path is not a valid path")
    path = Path(stored)
    if not path.is_absolute() or ".." in path.parts:
        raise AudioRejectedError("forbidden_path", "the stored audio path is relative or contains '..'")
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # missing file, symlink loop
        raise AudioRejectedError("unreadable", f"audio file {path.name} is missing") from exc
    for root in roots:
        try:
            base = root.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if real.is_relative_to(base) and real != base:
            if not real.is_file():
                raise AudioRejectedError("unreadable", f"{path.name} is not a regular file")
            return real
    raise AudioRejectedError("forbidden_path", f"{path.name} is outside the voicemail spool")
