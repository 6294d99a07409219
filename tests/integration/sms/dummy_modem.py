"""Gammu dummy-driver modem for the SMS adapter tests: a device dir, a gammurc, and SMS injection.

The dummy driver stores each SMS as a Gammu SMS-backup file ``sms/<folder>/<n>`` in the device dir;
API locations are ``folder * 10000 + n``. Files are written to a temp name and renamed, so a reader
never sees half a file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gammu

from sms_modem.encoding import is_gsm7

T0 = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
SMSC = "+38765000000"


class DummyModem:
    """A Gammu dummy-driver device directory with helpers to put SMS into it."""

    def __init__(self, root: Path) -> None:
        self.device = root / "modem"
        self.device.mkdir()
        self.log = root / "gammu.log"
        self.gammurc = root / "gammurc"
        # logformat=textall is how sends are observed: the dummy driver's SendSMS writes no file.
        self.gammurc.write_text(
            f"[gammu]\nmodel = dummy\nconnection = none\ndevice = {self.device}\n"
            f"logfile = {self.log}\nlogformat = textall\n",
            encoding="utf-8",
        )
        self._parked = root / "modem.unplugged"

    def folder(self, folder: int = 1) -> Path:
        """Return the directory holding one dummy SMS folder (1 = SIM inbox)."""
        path = self.device / "sms" / str(folder)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def files(self, folder: int = 1) -> list[str]:
        """Return the SMS file names in a folder, in location order."""
        return sorted((p.name for p in self.folder(folder).iterdir() if p.name.isdigit()), key=int)

    def _free(self, folder: int, count: int) -> list[int]:
        """Return the first free dummy locations in a folder."""
        used = {int(n) for n in self.files(folder)}
        return [i for i in range(1, 10000) if i not in used][:count]

    @staticmethod
    def encode(text: str, *, flash: bool = False) -> list[dict[str, Any]]:
        """Split and encode a text as a phone would (UCS-2 unless GSM-7 suffices)."""
        info = {
            "Class": 0 if flash else -1,
            "Unicode": not is_gsm7(text),
            "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": text}],
        }
        parts: list[dict[str, Any]] = gammu.EncodeSMS(info)
        return parts

    def put(self, parts: Iterable[dict[str, Any]], sender: str, *, when: datetime = T0, folder: int = 1) -> list[int]:
        """Store encoded parts as received SMS; return their API locations."""
        parts = list(parts)
        locations = []
        for part, n in zip(parts, self._free(folder, len(parts)), strict=True):
            stored = {
                **part,
                "Number": sender,
                "SMSC": {"Number": SMSC},
                "Type": "Deliver",
                "State": "UnRead",
                "Folder": folder,
                "DateTime": when,
            }
            fd, tmp = tempfile.mkstemp(dir=self.device, prefix=".inject-")
            os.close(fd)
            gammu.SaveSMSBackup(tmp, [stored])
            os.rename(tmp, self.folder(folder) / str(n))  # atomic on one filesystem
            locations.append(folder * 10000 + n)
        return locations

    def inject(
        self, sender: str, text: str, *, when: datetime = T0, flash: bool = False, skip: Iterable[int] = ()
    ) -> list[dict[str, Any]]:
        """Receive ``text`` from ``sender``, leaving out the 1-based parts in ``skip``; return all parts."""
        parts = self.encode(text, flash=flash)
        left_out = set(skip)
        self.put([p for i, p in enumerate(parts, 1) if i not in left_out], sender, when=when)
        return parts

    def inject_binary(self, sender: str, data: bytes, *, when: datetime = T0) -> list[int]:
        """Receive an 8-bit data SMS."""
        part = {"Coding": "8bit", "Text": data, "Class": 1}
        return self.put([part], sender, when=when)

    def unplug(self) -> None:
        """Make the device directory vanish, as a USB modem does when pulled out."""
        shutil.move(self.device, self._parked)

    def plug_back(self) -> None:
        """Bring the device directory back with whatever it held."""
        shutil.move(self._parked, self.device)

    def sends(self) -> list[str]:
        """Return the 'SMS Submit' block Gammu logged for each part sent."""
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        blocks = text.split("Entering GSM_SendSMS")[1:]
        return [b.split("Leaving GSM_SendSMS")[0] for b in blocks]


def inject_report(dummy: DummyModem, recipient: str, reference: int, *, when: datetime = T0) -> int:
    """Store a delivery (status) report for an SMS we sent; return its API location.

    python-gammu cannot save a Status_Report, but Gammu reads the SMS-backup format with
    ``PDU = Status_Report`` (TP-Status 0 = delivered), so a saved Deliver is rewritten.
    """
    [loc] = dummy.put(dummy.encode("report"), recipient, when=when)
    path = dummy.folder(1) / str(loc % 10000)
    raw = path.read_bytes()
    raw = raw.replace(b"PDU = Deliver", b"PDU = Status_Report")
    raw = raw.replace(b"MessageReference = 0", f"MessageReference = {reference}".encode("ascii"))
    path.write_bytes(raw)
    return loc
