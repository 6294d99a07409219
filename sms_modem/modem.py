"""The GSM modem adapter: the only module that imports gammu.

Every method blocks (python-gammu releases the GIL but serialises calls per state machine), so the
daemon runs them in one worker thread via ``core.aio.run_blocking``; a lock here keeps the
connect/reconnect bookkeeping consistent if two threads call anyway. Untyped gammu dicts never leave
this module: reads come back as :class:`~sms_modem.decode.InboundSms` and
:class:`~sms_modem.decode.DeliveryReport`, errors as :class:`ModemError` subclasses.

Nothing is deleted from modem memory unless :meth:`GammuModem.delete` is called, which the daemon does
only after the message's ticket is committed: the SIM is the durable spool.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import gammu

from sms_modem.decode import DeliveryReport, InboundSms, SmsDataError, decode_report, decode_sms
from sms_modem.encoding import Coding, SmsPlan, is_gsm7, plan

log = logging.getLogger(__name__)

T = TypeVar("T")

# A phone number we may send to: optional +, digits only. Alphanumeric or hostile senders get no reply.
_RECIPIENT = re.compile(r"\+?[0-9]{3,20}")
# Hard stop for the GetNextSMS walk: a confused phone must not keep us looping forever.
MAX_READ = 10_000
# SIM memory share at which the daemon should alert: the SMSC only buffers while the SIM is full.
ALMOST_FULL = 0.8

# Errors that mean "the modem is not there (any more)": reconnect on the next call.
_UNAVAILABLE = (
    "ERR_DEVICENOTEXIST",
    "ERR_DEVICEOPENERROR",
    "ERR_DEVICENOPERMISSION",
    "ERR_DEVICEREADERROR",
    "ERR_DEVICEWRITEERROR",
    "ERR_DEVICEBUSY",
    "ERR_DEVICELOCKED",
    "ERR_DEVICENOTWORK",
    "ERR_DEVICENODRIVER",
    "ERR_DEVICEPARITYERROR",
    "ERR_DEVICECHANGESPEEDERROR",
    "ERR_DEVICEDTRRTSERROR",
    "ERR_TIMEOUT",
    "ERR_NOTCONNECTED",
    "ERR_PHONEOFF",
    "ERR_NOSIM",
    "ERR_UNKNOWNRESPONSE",
    "ERR_NOTRUNNING",
)
_NOT_SUPPORTED = ("ERR_NOTSUPPORTED", "ERR_NOTIMPLEMENTED")
_CONFIG = ("ERR_CANTOPENFILE", "ERR_UNKNOWNMODELSTRING", "ERR_UNKNOWNCONNECTIONTYPESTRING", "ERR_UNCONFIGURED")


class ModemError(Exception):
    """A modem operation failed; ``code`` is Gammu's error name when Gammu raised it."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class ModemUnavailable(ModemError):
    """The modem is gone, unplugged, busy or not answering; the next call tries to reconnect."""


class ModemNotSupported(ModemError):
    """The modem (or Gammu's driver for it) does not support this operation."""


class ModemConfigError(ModemError):
    """The gammurc is missing or names an unknown model or connection."""


class InvalidRecipient(ModemError, ValueError):
    """We refuse to send to this number (alphanumeric, hostile or malformed)."""


@dataclass(frozen=True, kw_only=True)
class Inbox:
    """Everything read from modem memory in one pass."""

    messages: tuple[InboundSms, ...]
    reports: tuple[DeliveryReport, ...]
    skipped: int = 0


@dataclass(frozen=True, kw_only=True)
class SentSms:
    """An SMS handed to the network: one message reference per part, for matching delivery reports."""

    recipient: str
    references: tuple[int, ...]
    plan: SmsPlan
    report_requested: bool


@dataclass(frozen=True, kw_only=True)
class ModemStatus:
    """Signal, network registration and message memory, for ``/readyz`` and ``link.status``."""

    signal_percent: int | None
    network_state: str | None
    network_name: str | None
    network_code: str | None
    sim_used: int
    sim_size: int
    phone_used: int
    phone_size: int

    @property
    def registered(self) -> bool:
        """Tell whether the modem is registered on a network (home or roaming)."""
        return self.network_state in ("HomeNetwork", "RoamingNetwork")

    @property
    def sim_fill(self) -> float:
        """Share of SIM message memory in use (0.0 when the size is unknown)."""
        return self.sim_used / self.sim_size if self.sim_size > 0 else 0.0

    @property
    def sim_almost_full(self) -> bool:
        """Tell whether the SIM is nearly full: then new SMS wait at the SMSC and may expire."""
        return self.sim_size > 0 and self.sim_fill >= ALMOST_FULL


def _error_name(exc: BaseException) -> str:
    """Gammu's exception class name (ERR_…), the stable part of its errors."""
    return type(exc).__name__


@contextmanager
def _translated(where: str) -> Iterator[None]:
    """Turn Gammu errors into ours, so nothing above this module catches gammu exceptions."""
    try:
        yield
    except gammu.GSMError as exc:
        name = _error_name(exc)
        info = exc.args[0] if exc.args and isinstance(exc.args[0], Mapping) else {}
        text = f"{where}: {name} ({info.get('Text', '')})"
        if name in _UNAVAILABLE:
            raise ModemUnavailable(text, code=name) from exc
        if name in _NOT_SUPPORTED:
            raise ModemNotSupported(text, code=name) from exc
        if name in _CONFIG:
            raise ModemConfigError(text, code=name) from exc
        raise ModemError(text, code=name) from exc


class GammuModem:
    """A GSM modem (or Gammu's dummy driver) configured by a gammurc file.

    Connects lazily and reconnects after :class:`ModemUnavailable`, so the daemon can simply keep
    calling; each call either works or raises one of our exceptions.
    """

    def __init__(self, config_path: Path | str, *, section: int = 0) -> None:
        self._config_path = Path(config_path)
        self._section = section
        self._sm: Any = None
        self._lock = threading.RLock()

    # -- connection ----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Tell whether a Gammu session is open (not whether the modem still answers)."""
        return self._sm is not None

    def connect(self) -> None:
        """Open the modem described by the gammurc; a no-op when already connected."""
        with self._lock:
            if self._sm is not None:
                return
            if not self._config_path.is_file():
                raise ModemConfigError(f"gammurc not found: {self._config_path}")
            sm = gammu.StateMachine()
            with _translated("ReadConfig"):
                sm.ReadConfig(Section=self._section, Filename=str(self._config_path))
            self._check_dummy_device(sm)
            with _translated("Init"):
                sm.Init()
            self._sm = sm
            log.info("modem connected", extra={"gammurc": str(self._config_path)})

    def close(self) -> None:
        """Close the Gammu session (and the serial port); safe to call twice."""
        with self._lock:
            sm, self._sm = self._sm, None
            if sm is None:
                return
            try:
                sm.Terminate()
            except gammu.GSMError as exc:
                # The port may already be gone; closing must still succeed.
                log.warning("modem terminate failed: %s", _error_name(exc))

    @staticmethod
    def _check_dummy_device(sm: Any) -> None:
        """Fail like a real modem when the dummy driver's directory is gone.

        The dummy driver answers an empty inbox and a zero memory count when its directory vanishes
        (reproduced), so without this check "modem unplugged" would look like "no messages".
        """
        cfg = sm.GetConfig(0)
        if str(cfg.get("Model", "")).lower() != "dummy":
            return
        device = Path(str(cfg.get("Device", "")))
        if not device.is_dir():
            raise ModemUnavailable(f"dummy modem directory is missing: {device}", code="ERR_DEVICENOTEXIST")

    def _call(self, where: str, fn: Callable[[Any], T]) -> T:
        """Run one Gammu operation, connecting first and dropping the session if the modem is gone."""
        with self._lock:
            self.connect()
            sm = self._sm
            try:
                self._check_dummy_device(sm)
                with _translated(where):
                    return fn(sm)
            except ModemUnavailable:
                self.close()
                raise

    # -- reading -------------------------------------------------------------------------------

    def read_all(self) -> Inbox:
        """Read every message in modem memory (all folders) without deleting anything."""
        return self._call("GetNextSMS", self._read_all)

    @staticmethod
    def _read_all(sm: Any) -> Inbox:
        """Walk memory with GetNextSMS until ERR_EMPTY; decode Deliver and Status_Report entries."""
        raw: list[Mapping[str, Any]] = []
        seen: set[int] = set()
        location: int | None = None
        for _ in range(MAX_READ):
            try:
                if location is None:
                    batch = sm.GetNextSMS(Start=True, Folder=0)
                else:
                    batch = sm.GetNextSMS(Location=location, Folder=0)
            except gammu.ERR_EMPTY:
                break
            if not batch:
                break
            location = int(batch[0]["Location"])
            if location in seen:
                # Some phones restart the walk instead of reporting the end; stop rather than loop.
                log.warning("modem repeated SMS location %s; ending read", location)
                break
            seen.add(location)
            raw.extend(batch)
        else:
            log.warning("modem read stopped after %s entries", MAX_READ)
        messages: list[InboundSms] = []
        reports: list[DeliveryReport] = []
        skipped = 0
        for entry in raw:
            kind = entry.get("Type")
            try:
                if kind == "Deliver":
                    messages.append(decode_sms(entry))
                elif kind == "Status_Report":
                    reports.append(decode_report(entry))
                else:
                    # Submit entries are drafts/sent copies in outbox folders: not ours to read or delete.
                    skipped += 1
            except SmsDataError:
                log.warning("undecodable SMS at location %s skipped", entry.get("Location"))
                skipped += 1
        return Inbox(messages=tuple(messages), reports=tuple(reports), skipped=skipped)

    def delete(self, locations: Iterable[int]) -> None:
        """Delete messages from modem memory; call only after what they carried is committed.

        A location that is already empty counts as deleted, so a retry after a crash mid-way is safe.
        """
        targets = list(locations)

        def run(sm: Any) -> None:
            for loc in targets:
                try:
                    sm.DeleteSMS(Folder=0, Location=loc)
                except gammu.ERR_EMPTY:
                    log.info("SMS location %s already empty", loc)

        self._call("DeleteSMS", run)

    # -- sending -------------------------------------------------------------------------------

    def send(
        self, number: str, text: str, *, transliterate: bool = False, report: bool = True, flash: bool = False
    ) -> SentSms:
        """Send ``text`` to ``number`` as one or more SMS, in the cheapest faithful coding.

        When a later part fails the earlier ones are already on their way; the caller retries the
        whole message, so a citizen may see a part twice but never misses one.
        """
        if not _RECIPIENT.fullmatch(number):
            raise InvalidRecipient(f"not a phone number we send to: {number!r}")
        chosen = plan(text, transliterate=transliterate)
        parts = self._encode(chosen, flash=flash)
        if len(parts) != chosen.segments:
            log.warning("gammu split into %s parts, planned %s", len(parts), chosen.segments)
        for part in parts:
            part["SMSC"] = {"Location": 1}
            part["Number"] = number
            # Gammu requests a status report when the PDU type is Status_Report (gammu sendsms -report).
            part["Type"] = "Status_Report" if report else "Submit"

        def run(sm: Any) -> tuple[int, ...]:
            return tuple(int(sm.SendSMS(p)) for p in parts)

        refs = self._call("SendSMS", run)
        return SentSms(recipient=number, references=refs, plan=chosen, report_requested=report)

    @staticmethod
    def _encode(chosen: SmsPlan, *, flash: bool) -> list[dict[str, Any]]:
        """Split and encode with Gammu, forcing the coding our plan chose (Gammu's auto mode agrees)."""
        info = {
            "Class": 0 if flash else -1,
            "Unicode": chosen.coding is Coding.UCS2,
            "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": chosen.text}],
        }
        with _translated("EncodeSMS"):
            parts: list[dict[str, Any]] = gammu.EncodeSMS(info)
        return parts

    # -- health --------------------------------------------------------------------------------

    def status(self) -> ModemStatus:
        """Read signal, network and memory status; parts the modem does not support come back as None."""

        def run(sm: Any) -> ModemStatus:
            memory = sm.GetSMSStatus()
            signal: int | None = None
            network: Mapping[str, Any] = {}
            # Memory status is what matters for delivery; signal/network are optional extras on some modems.
            with suppress(gammu.ERR_NOTSUPPORTED, gammu.ERR_NOTIMPLEMENTED):
                signal = int(sm.GetSignalQuality()["SignalPercent"])
            with suppress(gammu.ERR_NOTSUPPORTED, gammu.ERR_NOTIMPLEMENTED):
                network = sm.GetNetworkInfo()
            return ModemStatus(
                signal_percent=signal if signal is not None and signal >= 0 else None,
                network_state=network.get("State"),
                network_name=network.get("NetworkName") or None,
                network_code=network.get("NetworkCode") or None,
                sim_used=int(memory.get("SIMUsed", 0)),
                sim_size=int(memory.get("SIMSize", 0)),
                phone_used=int(memory.get("PhoneUsed", 0)),
                phone_size=int(memory.get("PhoneSize", 0)),
            )

        return self._call("GetSMSStatus", run)

    def identify(self) -> dict[str, str]:
        """Return manufacturer, model and IMEI (for logs and the health page)."""

        def run(sm: Any) -> dict[str, str]:
            model = sm.GetModel()
            return {
                "manufacturer": str(sm.GetManufacturer()),
                "model": str(model[1] if isinstance(model, tuple) else model),
                "imei": str(sm.GetIMEI()),
            }

        return self._call("Identify", run)


# -- Gammu's dummy driver (tests, the demo, the benchmark) ---------------------------------------------


def write_dummy_config(directory: Path, *, log_file: Path | None = None) -> Path:
    """Create a dummy-driver device directory and its gammurc under ``directory``; return the gammurc."""
    device = directory / "modem"
    device.mkdir(parents=True, exist_ok=True)
    rc = directory / "gammurc"
    body = f"[gammu]\nmodel = dummy\nconnection = none\ndevice = {device}\n"
    if log_file is not None:
        body += f"logfile = {log_file}\nlogformat = textall\n"
    rc.write_text(body, encoding="utf-8")
    return rc


def inject_dummy_sms(
    device: Path,
    sender: str,
    text: str,
    *,
    when: datetime,
    smsc: str = "+38765000000",
    flash: bool = False,
    skip: Iterable[int] = (),
) -> int:
    """Put ``text`` from ``sender`` into a dummy modem's SIM inbox as a phone would send it.

    Parts are encoded by Gammu (UCS-2 unless GSM-7 suffices), each written to a temp file and renamed
    into ``sms/1/<n>`` so a reader never sees half a file. Parts numbered in ``skip`` are left out (a
    lost part). Returns how many parts the message has.
    """
    info = {
        "Class": 0 if flash else -1,
        "Unicode": not is_gsm7(text),
        "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": text}],
    }
    with _translated("EncodeSMS"):
        parts: list[dict[str, Any]] = gammu.EncodeSMS(info)
    folder = device / "sms" / "1"
    folder.mkdir(parents=True, exist_ok=True)
    used = {int(p.name) for p in folder.iterdir() if p.name.isdigit()}
    free = (i for i in range(1, 10000) if i not in used)
    left_out = set(skip)
    for number, part in enumerate(parts, 1):
        if number in left_out:
            continue
        stored = {**part, "Number": sender, "SMSC": {"Number": smsc}, "Type": "Deliver", "State": "UnRead",
                  "Folder": 1, "DateTime": when}  # fmt: skip
        fd, tmp = tempfile.mkstemp(dir=device, prefix=".inject-")
        os.close(fd)
        with _translated("SaveSMSBackup"):
            gammu.SaveSMSBackup(tmp, [stored])
        os.rename(tmp, folder / str(next(free)))
    return len(parts)
