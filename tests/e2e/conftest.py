"""Browser fixtures: the real app with Socket.IO on 127.0.0.1, a loopback PBX with the telephony daemon, Chromium.

One server, one SQLite database (the embedded default, as ``sistem48 up``) and one PBX serve the whole
e2e session: starting Chromium, the web server and the AMI link per test would cost more than the
tests. Tests stay independent by using their own users, extensions and callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug.serving import BaseWSGIServer, make_server

from callcenter_ui import create_app
from callcenter_ui.sockets import init_socketio, start_table_relay
from core.bootstrap import Core, bootstrap
from core.config import load_settings
from core.db.models import User
from core.services.accounts import add_user
from telephony.ami import AmiSettings, LinkState
from telephony.daemon import DaemonOptions, TelephonyDaemon
from telephony.demo import TRUNK, AmiServer, CallScript
from tests.support.database import migrate_and_seed

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "lozinka-e2e-1"  # noqa: S105  a throwaway account on a throwaway database
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
_names = itertools.count(1)


def free_port() -> int:
    """Return a free loopback port (the origin check needs the port before the app is built)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Pbx:
    """A loopback AMI server and the real telephony daemon, on their own event loop in a thread."""

    core: Core
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    server: AmiServer = field(default_factory=lambda: AmiServer(username="s48", secret="e2e-secret"))  # noqa: S106
    daemon: TelephonyDaemon | None = None
    _stop: asyncio.Event | None = None
    _task: asyncio.Future[None] | None = None
    _thread: threading.Thread | None = None
    _calls: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def run(self, coro: Any, timeout: float = 20.0) -> Any:
        """Run a coroutine on the PBX loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        """Start the loop thread, the server and the daemon, and wait until the AMI link is up."""
        self._thread = threading.Thread(target=self.loop.run_forever, name="e2e-pbx", daemon=True)
        self._thread.start()
        self.run(self._start())
        deadline = time.monotonic() + 15
        while not (self.daemon and self.daemon.control and self.daemon.control.link_state is LinkState.UP):
            if time.monotonic() > deadline:
                raise AssertionError("the telephony daemon did not log in to the loopback PBX")
            time.sleep(0.05)

    async def _start(self) -> None:
        await self.server.start()
        ami = AmiSettings(
            port=self.server.port,
            username=self.server.username,
            secret=self.server.secret,
            trunk_endpoints=frozenset({TRUNK, "trunk"}),
            ping_interval=2.0,
            ping_timeout=2.0,
            reconnect_initial=0.05,
            reconnect_max=0.5,
            action_timeout=2.0,
        )
        options = DaemonOptions(originate_poll=0.1, heartbeat=5.0, spool_rescan=3600, callback_ring_timeout=2.0)
        self.daemon = TelephonyDaemon(self.core, ami=ami, spool=None, options=options)
        self._stop = asyncio.Event()
        self._task = asyncio.ensure_future(self.daemon.run(self._stop))

    def stop(self) -> None:
        """Stop the daemon, the server and the loop."""

        async def _down() -> None:
            if self._stop is not None:
                self._stop.set()
            if self._task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._task, 10)
            await self.server.stop()

        with contextlib.suppress(Exception):
            self.run(_down())
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        if not self.loop.is_running():
            self.loop.close()

    def script(self, number: str, name: str) -> CallScript:
        """Return a new inbound call from ``number``/``name`` (Asterisk's frames, Asterisk's order)."""
        base = f"{int(time.time())}{next(self._calls):04d}"
        return CallScript(self.server, number, name, base, context="sistem48-ulaz")

    def ring(self, call: CallScript, *extensions: str, queue: bool = True) -> None:
        """Bring the call in and ring each extension (DialBegin per phone)."""

        async def _ring() -> None:
            await call.arrive()
            if queue:
                await call.join_queue()
            for ext in extensions:
                await call.ring(ext, queue=queue)

        self.run(_ring())

    def answer(self, call: CallScript, extension: str, queue: bool = True) -> None:
        """Answer on one phone; the others stop ringing (ringall)."""
        self.run(call.answer(extension, queue=queue))

    def hang_up(self, call: CallScript, extension: str | None, queue: bool = True) -> None:
        """End the call."""
        self.run(call.finish(extension, queue=queue))

    def miss(self, call: CallScript, queue: bool = True) -> None:
        """Nobody answers; the caller gives up: a missed call."""

        async def _miss() -> None:
            await call.no_answer(queue=queue)
            await call.finish(None, queue=queue)

        self.run(_miss())


@dataclass
class Site:
    """The served console: its address, core and the PBX behind it."""

    url: str
    core: Core
    pbx: Pbx

    def user(self, role: str, *, extension: str | None = None, organisation: str | None = None) -> str:
        """Create a user with a fresh name and return the username (password: PASSWORD)."""
        name = f"{role}{next(_names)}"
        with self.core.session_factory() as db:
            add_user(db, name, role, PASSWORD, self.core.clock.now(), extension=extension,
                     organisation_code=organisation, display_name=f"Корисник {name}")  # fmt: skip
            db.commit()
        return name

    def set_language(self, username: str, language: str) -> None:
        """Reset a user's remembered language."""
        with self.core.session_factory() as db:
            db.execute(sa.update(User).where(User.username == username).values(language=language))
            db.commit()


@contextlib.contextmanager
def running_site(root: Path) -> Iterator[Site]:
    """Serve the app with Socket.IO (embedded mode: the event table is tailed) and the PBX, on a fresh database."""
    url = f"sqlite:///{root / 'console.sqlite3'}"
    migrate_and_seed(url)
    port = free_port()
    settings = load_settings(
        {
            "S48_DATABASE_URL": url,
            "S48_VAR_DIR": str(root / "var"),
            "S48_HTTP_PORT": str(port),
            "S48_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        }  # fmt: skip
    )
    core = bootstrap(settings)
    app = create_app(settings, core=core)
    socketio = init_socketio(app, core)
    start_table_relay(socketio, core)
    server: BaseWSGIServer = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-web", daemon=True)
    thread.start()
    pbx = Pbx(core)
    pbx.start()
    try:
        yield Site(f"http://127.0.0.1:{port}", core, pbx)
    finally:
        pbx.stop()
        server.shutdown()
        thread.join(timeout=10)
        core.engine.dispose()


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One served console for the e2e session."""
    with running_site(tmp_path_factory.mktemp("e2e")) as served:
        yield served


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    if shutil.which(CHROMIUM) is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Browsing:
    """Opens isolated browser contexts (fresh profile each: cookies, storage) and records dialogs."""

    chromium: Any
    site: Site
    dialogs: list[str] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    def login(self, username: str, *, width: int = 1400, height: int = 900) -> Any:
        """Open a new context, log in through the form, and return the console page once live."""
        context = self.chromium.new_context(viewport={"width": width, "height": height}, locale="sr-RS")
        self.contexts.append(context)
        page = context.new_page()
        page.on("dialog", self._dialog)
        page.goto(f"{self.site.url}/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/console")
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_selector("#link-socket[data-state='ok']", timeout=10_000)
        return page

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def close(self) -> None:
        """Close every context this test opened."""
        for context in self.contexts:
            with contextlib.suppress(Exception):
                context.close()


@pytest.fixture
def browsing(chromium: Any, site: Site) -> Iterator[Browsing]:
    """Per-test browser contexts on the shared browser."""
    b = Browsing(chromium, site)
    yield b
    b.close()


def shot(page: Any, name: str) -> None:
    """Save a screenshot under test-artifacts/ (gitignored) for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=False)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``predicate`` until true, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout} s")
        time.sleep(0.05)


CODE = re.compile(r"48-\d{4}-\d{6}")


def temp_dir() -> Path:
    """Return a fresh temporary directory (for uploads)."""
    return Path(tempfile.mkdtemp(prefix="s48-e2e-"))
