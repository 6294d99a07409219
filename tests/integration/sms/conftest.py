"""Fixtures for the SMS adapter tests: a fresh Gammu dummy-driver modem per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.bootstrap import Core, bootstrap
from core.config import load_settings
from core.ports import RecordingLivePush
from sms_modem.daemon import SmsDaemon, build_daemon
from sms_modem.modem import GammuModem
from tests.fakes import FixedClock, RecordingTasks

from .dummy_modem import DummyModem


@pytest.fixture
def dummy(tmp_path: Path) -> DummyModem:
    """Provide a fresh dummy modem device with its gammurc."""
    return DummyModem(tmp_path)


@pytest.fixture
def modem(dummy: DummyModem) -> Iterator[GammuModem]:
    """Provide a connected GammuModem on the dummy device, closed after the test."""
    m = GammuModem(dummy.gammurc)
    m.connect()
    yield m
    m.close()


@pytest.fixture
def sms_core(
    db_url: str, tmp_path: Path, dummy: DummyModem, clock: FixedClock, live: RecordingLivePush, tasks: RecordingTasks
) -> Iterator[Core]:
    """A core wired as the SMS daemon's: a modem is configured, so SMS notices are queued rows."""
    settings = load_settings({"S48_DATABASE_URL": db_url, "S48_VAR_DIR": str(tmp_path / "var"),
                              "S48_GAMMU_CONFIG": str(dummy.gammurc), "S48_SMS_PER_MINUTE": "10"})  # fmt: skip
    wired = bootstrap(settings, clock=clock, live=live, tasks=tasks)
    yield wired
    wired.engine.dispose()


@pytest.fixture
def daemon(sms_core: Core, dummy: DummyModem) -> Iterator[SmsDaemon]:
    """The SMS daemon on the dummy modem and the test database."""
    modem = GammuModem(dummy.gammurc)
    d = build_daemon(sms_core, modem)
    yield d
    modem.close()
