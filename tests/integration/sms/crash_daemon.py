"""Run one daemon tick in a subprocess and SIGKILL it right after the first commit, before the SIM delete.

Usage: ``python -m tests.integration.sms.crash_daemon DATABASE_URL GAMMURC VAR_DIR CLOCK_ISO``.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import datetime

from core.bootstrap import bootstrap
from core.config import load_settings
from sms_modem.daemon import build_daemon
from sms_modem.decode import JoinedSms
from sms_modem.modem import GammuModem
from tests.fakes import FixedClock


def die(_message: JoinedSms) -> None:
    """Kill this process the hard way: no cleanup, no delete."""
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    """Build the daemon from argv and run the fatal tick."""
    url, gammurc, var_dir, clock = sys.argv[1:5]
    settings = load_settings({"S48_DATABASE_URL": url, "S48_GAMMU_CONFIG": gammurc, "S48_VAR_DIR": var_dir})
    core = bootstrap(settings, clock=FixedClock(datetime.fromisoformat(clock)))
    daemon = build_daemon(core, GammuModem(gammurc))
    daemon.on_committed = die
    daemon.tick()


if __name__ == "__main__":
    main()
