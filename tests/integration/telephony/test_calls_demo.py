"""The demo PBX drives the real daemon: ringall pops, answers, missed calls and a voicemail ticket."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.bootstrap import Core
from core.db.models import Voicemail
from core.ports import RecordingLivePush
from telephony.ami import AmiSettings
from telephony.daemon import TelephonyDaemon
from telephony.demo import DEMO_SECRET, DEMO_USERNAME, TRUNK, run_demo_pbx
from tests.integration.telephony.daemon_support import FAST, OPTIONS, add_operators

pytestmark = pytest.mark.integration


def free_port() -> int:
    """Return a free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_demo_pbx_plays_every_scenario(core: Core, live: RecordingLivePush, tmp_path: Path) -> None:
    """At a fast pace the demo yields pops to 201/202, answers, missed calls and a voicemail ticket."""
    add_operators(core, "201", "202")
    port, spool = free_port(), tmp_path / "demo-spool"

    def seen(kind: str) -> bool:
        return any(e["type"] == kind for e in list(live.events))

    async def scenario() -> None:
        stop = asyncio.Event()
        pbx = asyncio.ensure_future(run_demo_pbx(port, spool, pace=0.005, stop=stop, seed=48))
        await asyncio.sleep(0.1)
        ami = AmiSettings(
            port=port, username=DEMO_USERNAME, secret=DEMO_SECRET, trunk_endpoints=frozenset({TRUNK}), **FAST
        )
        daemon = TelephonyDaemon(core, ami=ami, spool=spool, options=OPTIONS)
        task = asyncio.ensure_future(daemon.run(stop))
        try:
            async with asyncio.timeout(60):
                while not all(seen(k) for k in ("call.ringing", "call.answered", "call.missed", "voicemail.new")):  # noqa: ASYNC110  filled by executor threads
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            async with asyncio.timeout(10):
                await asyncio.gather(task, pbx)

    asyncio.run(scenario())
    audiences = {e["audience"] for e in live.events if e["type"] == "call.ringing"}
    assert audiences == {"ext:201", "ext:202"}
    with core.session_factory() as db:
        (vm, *_) = db.scalars(sa.select(Voicemail)).all()
    assert vm.audio_path is not None and Path(vm.audio_path).stat().st_size > 1000
    assert vm.call_id is not None
