"""Fixtures for the SMS adapter tests: a fresh Gammu dummy-driver modem per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sms_modem.modem import GammuModem

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
