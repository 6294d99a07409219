"""A demo GSM modem: Gammu's dummy driver plus a stream of realistic Serbian SMS, for ``sistem48 up --demo``.

``python -m sms_modem.demo --dir DIR`` creates ``DIR/gammurc`` and the device directory ``DIR/modem``,
then puts one scripted SMS on the "SIM" every ``--interval`` seconds: complaints in Cyrillic and
Latin (with and without diacritics), a 4-part message, a status query, and later a "0" from the
first citizen (if an operator resolved that ticket in the meantime, it reopens it; otherwise it is
an ordinary follow-up). The SMS daemon must run with ``S48_GAMMU_CONFIG=DIR/gammurc``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sms_modem.modem import inject_dummy_sms, write_dummy_config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoSms:
    """One scripted SMS."""

    sender: str
    text: str
    skip: tuple[int, ...] = ()


FIRST = "+38765111222"
SCRIPT: tuple[DemoSms, ...] = (
    DemoSms(FIRST, "Добар дан, у улици Светог Саве нема воде од јутрос. Молим вас провјерите."),
    DemoSms("+38766333444", "Kontejner kod škole u Bilicama nije odvezen već dvije sedmice, smeće je svuda."),
    DemoSms("+38765555666", "Javna rasvjeta ne radi u Ulici Cara Dusana, mrak je od 18h"),
    DemoSms(
        "+38764777888",
        "Поштовани, на локалном путу према Хрваћанима појавиле су се велике ударне рупе послије кише. "
        "Прошле седмице је један аутомобил остао без точка, а дјеца туда иду у школу пјешице. "
        "Молимо да се рупе санирају прије зиме и да се постави знак упозорења док радови не почну. "
        "Хвала унапријед, мјештани Хрваћана.",
    ),
    DemoSms("+38765999000", "Pas lutalica ujeo dijete kod parka, hitno!"),
    DemoSms(FIRST, "СТАЊЕ"),
    DemoSms("+38766333444", "STATUS 48-{year}-000002"),
    DemoSms("+38765121212", "Ne radi semafor na raskrsnici kod pošte"),
    DemoSms(FIRST, "0"),
)


def prepare(directory: Path) -> Path:
    """Create the dummy modem under ``directory`` and return its gammurc (S48_GAMMU_CONFIG)."""
    directory.mkdir(parents=True, exist_ok=True)
    return write_dummy_config(directory.absolute())


def play(directory: Path, *, interval: float, stop: threading.Event, repeat: bool = False) -> int:
    """Inject the script, one SMS every ``interval`` seconds, until done or ``stop``; return how many."""
    device = directory.absolute() / "modem"
    sent = 0
    while not stop.is_set():
        for item in SCRIPT:
            if stop.wait(interval):
                return sent
            now = datetime.now(UTC).replace(microsecond=0)
            text = item.text.format(year=now.year)
            parts = inject_dummy_sms(device, item.sender, text, when=now, skip=item.skip)
            log.info("demo SMS from %s… (%d part(s))", item.sender[:7], parts)
            sent += 1
        if not repeat:
            break
    return sent


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, prepare the modem and play the script."""
    parser = argparse.ArgumentParser(description="Demo GSM modem (Gammu dummy driver) with Serbian SMS.")
    parser.add_argument("--dir", type=Path, required=True, help="directory for the gammurc and the device")
    parser.add_argument("--interval", type=float, default=20.0, help="seconds between SMS (default 20)")
    parser.add_argument("--repeat", action="store_true", help="play the script again and again")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s sms-demo: %(message)s")
    rc = prepare(args.dir)
    log.info("demo modem ready: S48_GAMMU_CONFIG=%s", rc)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    play(args.dir, interval=args.interval, stop=stop, repeat=args.repeat)
    # Stay up (as a supervised child) so the supervisor does not restart and replay the script.
    stop.wait()


if __name__ == "__main__":
    main()
