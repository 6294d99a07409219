"""A running telephony daemon against the loopback fake AMI server (through the fault proxy), on the test core."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from core.bootstrap import Core
from core.db.models import Call, ComponentStatus
from core.ports import RecordingLivePush
from core.services.accounts import add_user
from telephony.ami import AmiSettings, LinkState
from telephony.daemon import DaemonOptions, TelephonyDaemon
from tests.support.fake_ami import FakeAmi
from tests.support.fault_proxy import FaultProxy

FAST: dict[str, Any] = {
    "ping_interval": 0.3,
    "ping_timeout": 0.5,
    "reconnect_initial": 0.05,
    "reconnect_max": 0.3,
    "action_timeout": 1.0,
}
OPTIONS = DaemonOptions(originate_poll=0.05, heartbeat=0.5, spool_rescan=3600, callback_ring_timeout=1.0)
VOICEMAIL_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "voicemail"


@dataclass
class Rig:
    """The pieces of one daemon test."""

    core: Core
    server: FakeAmi
    proxy: FaultProxy
    daemon: TelephonyDaemon
    live: RecordingLivePush

    def events(self, type_: str) -> list[Mapping[str, Any]]:
        """Live events of one type, in commit order."""
        return [e for e in list(self.live.events) if e["type"] == type_]

    def calls(self) -> list[Call]:
        """Every call row."""
        with self.core.session_factory() as db:
            return list(db.scalars(sa.select(Call).order_by(Call.id)).all())

    def ami_health(self) -> str | None:
        """The AMI state recorded for /readyz."""
        with self.core.session_factory() as db:
            row = db.get(ComponentStatus, "ami")
            return row.state if row else None

    async def until(self, predicate: Callable[[], bool], limit: float = 8.0) -> None:
        """Poll ``predicate`` until it holds, at most ``limit`` seconds."""
        deadline = time.monotonic() + limit
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.02)

    async def up(self, logins: int) -> None:
        """Wait for ``logins`` logins in total and the link up and recorded as ok."""
        async with asyncio.timeout(10):
            await self.server.wait_for_logins(logins)
        control = self.daemon.control
        assert control is not None
        await self.until(lambda: control.link_state is LinkState.UP and self.ami_health() == "ok")


def add_operators(core: Core, *extensions: str) -> None:
    """Create one operator per extension (``op201`` …)."""
    with core.session_factory() as db:
        for ext in extensions:
            add_user(db, f"op{ext}", "operator", "lozinka-operatera", core.clock.now(), extension=ext,
                     display_name=f"Оператер {ext}")  # fmt: skip
        db.commit()


def put_message(spool: Path, mailbox: str, folder: str, stem: str, info: str = "msg0000.txt") -> Path:
    """Copy a fixture metadata file and a tiny WAV into ``<spool>/<context>/<box>/<folder>/``."""
    box, _, context = mailbox.partition("@")
    directory = spool / context / box / folder
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{stem}.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    shutil.copyfile(VOICEMAIL_FIXTURES / info, directory / f"{stem}.txt")
    return directory / f"{stem}.txt"


def spool_state(spool: Path) -> dict[str, bytes]:
    """Every file of the spool with its bytes (to prove we never change it)."""
    return {str(p.relative_to(spool)): p.read_bytes() for p in sorted(spool.rglob("*")) if p.is_file()}


@contextlib.asynccontextmanager
async def rig(
    core: Core,
    live: RecordingLivePush,
    *,
    spool: Path | None = None,
    secret: str | None = None,
    wait_up: bool = True,
    server: FakeAmi | None = None,
    **overrides: Any,
) -> AsyncIterator[Rig]:
    """Start (or reuse) a fake server, a proxy and the daemon; stop the daemon and proxy afterwards."""
    own_server = server is None
    server = server or FakeAmi()
    if own_server:
        await server.start()
    logins_before = server.logins
    proxy = FaultProxy(server.port)
    await proxy.start()
    ami = AmiSettings(
        port=proxy.port,
        username=server.username,
        secret=secret or server.secret,
        trunk_endpoints=frozenset({"trunk"}),
        **{**FAST, **overrides},
    )
    daemon = TelephonyDaemon(core, ami=ami, spool=spool, options=OPTIONS)
    stop = asyncio.Event()
    task = asyncio.ensure_future(daemon.run(stop))
    the_rig = Rig(core, server, proxy, daemon, live)
    try:
        if wait_up:
            await the_rig.until(lambda: daemon.control is not None)
            await the_rig.up(logins_before + 1)
        yield the_rig
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await task
        await proxy.stop()
        if own_server:
            await server.stop()
