"""Benchmark (by hand): AMI ``DialBegin`` → screen pop rendered in Chromium, against the Socket.IO event alone.

    .venv/bin/python -m bench.console [--calls 100]

The real path end to end: a loopback AMI server sends Asterisk's frames, the real telephony daemon
writes the call and the ``call.ringing`` event, the web process (embedded mode) tails the event table
and emits it on Socket.IO, and the console script renders the pop. The page records two instants
(wall clock, same machine): when the Socket.IO event reached the script, and the next animation frame
after the pop was filled (painted). Each is measured from the moment ``DialBegin`` is written to the
AMI socket. Loopback only; bounded by ``--calls`` and a per-call timeout.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from core.db.models import Call
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PASSWORD, Site, running_site

EXTENSION = "201"
TIMEOUT_S = 10.0


def percentile(values: list[float], p: float) -> float:
    """Return the p-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))
    return ordered[rank]


def one_call(site: Site, page: object, n: int) -> tuple[float, float]:
    """Ring once; return (ms to the Socket.IO event in the page, ms to the pop painted)."""
    call = site.pbx.script(f"06570{n:04d}", f"Позивалац {n}")

    async def before_dial() -> None:
        await call.arrive()
        await call.join_queue()

    site.pbx.run(before_dial())
    dial_begin_ms: list[float] = []

    async def ring() -> None:
        # CallScript.ring writes Newchannel and AgentCalled, then DialBegin: stamp just before it.
        original = call.event

        async def stamped(name: str, *args: object, **kwargs: object) -> None:
            if name == "DialBegin":
                dial_begin_ms.append(time.time() * 1000)
            await original(name, *args, **kwargs)  # type: ignore[arg-type]

        call.event = stamped  # type: ignore[method-assign]
        await call.ring(EXTENSION, queue=True)

    site.pbx.run(ring())
    deadline = time.monotonic() + TIMEOUT_S
    call_id = None
    while call_id is None and time.monotonic() < deadline:
        with site.core.session_factory() as db:
            call_id = db.scalar(sa.select(Call.id).where(Call.linkedid == call.linkedid))
        time.sleep(0.005)
    rendered = None
    while time.monotonic() < deadline:
        got = page.evaluate(f"[window.S48.eventTimes[{call_id}], window.S48.popTimes[{call_id}]]")  # type: ignore[attr-defined]
        if got[1]:
            rendered = got
            break
        time.sleep(0.002)
    site.pbx.miss(call)
    if rendered is None or not dial_begin_ms:
        raise RuntimeError(f"call {n}: no pop within {TIMEOUT_S} s")
    return rendered[0] - dial_begin_ms[0], rendered[1] - dial_begin_ms[0]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print p50/p99 and the ratio."""
    parser = argparse.ArgumentParser(description="DialBegin → pop rendered, against the Socket.IO event alone")
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access line per poll drowns the figures
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="s48-bench-console-"))
    event_ms: list[float] = []
    pop_ms: list[float] = []
    with running_site(root) as site, sync_playwright() as pw:
        username = "bench"
        with site.core.session_factory() as db:
            from core.services.accounts import add_user

            add_user(db, username, "operator", PASSWORD, site.core.clock.now(), extension=EXTENSION)
            db.commit()
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{site.url}/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#link-socket[data-state='ok']")
        for n in range(max(1, min(args.calls, 1000))):
            event, pop = one_call(site, page, n)
            event_ms.append(event)
            pop_ms.append(pop)
            page.wait_for_selector("#pop", state="hidden", timeout=TIMEOUT_S * 1000)
        browser.close()
    e50, e99 = statistics.median(event_ms), percentile(event_ms, 99)
    p50, p99 = statistics.median(pop_ms), percentile(pop_ms, 99)
    out = sys.stdout
    out.write(f"calls: {len(pop_ms)} (embedded mode: the web process tails the event table every 0.1 s)\n")
    out.write(f"DialBegin → Socket.IO event in the page: p50 {e50:7.1f} ms   p99 {e99:7.1f} ms\n")
    out.write(f"DialBegin → pop rendered (painted):     p50 {p50:7.1f} ms   p99 {p99:7.1f} ms\n")
    out.write(f"ratio pop/event: p50 {p50 / e50:5.2f}   p99 {p99 / e99:5.2f}\n")
    out.write(
        f"rendering alone (pop − event): p50 {statistics.median(p - e for p, e in zip(pop_ms, event_ms, strict=True)):.1f} ms\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
