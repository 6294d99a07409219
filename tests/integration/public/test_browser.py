"""Tracking pages in a real headless Chromium (Debian's binary, driven by Playwright), in both scripts."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from core.bootstrap import Core
from core.db.models import User
from tests.integration.public.conftest import move, report

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed"),
]


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    """Serve the app on 127.0.0.1 on a free port in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(params=[True], ids=["js"])
def browser(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A headless Chromium with a fresh profile, never a downloaded browser (JavaScript per ``param``)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tempfile.mkdtemp(prefix="s48-chromium-")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            java_script_enabled=request.param,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"],
        )  # fmt: skip
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(profile, ignore_errors=True)


def test_tracking_page_in_both_scripts(core: Core, supervisor: User, base_url: str, browser: Any) -> None:
    """A citizen opens the tracking page, reads it in Cyrillic, switches to Latin by keyboard, and back."""
    code = report(core, "Нема воде, зове Драгана 066/987-654", category="voda", place="Улица Светог Саве 12")
    move(core, supervisor, code, "in_progress", core.clock.now(), public="Екипа је на терену.")
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page()
    response = page.goto(f"{base_url}/t/{code}?pismo=cir")
    assert response.status == 200 and response.headers["cache-control"] == "no-store"
    assert page.get_attribute("html", "lang") == "sr-Cyrl"
    assert page.inner_text("h1") == f"Пријава {code}"
    body = page.inner_text("main")
    assert "Екипа је на терену." in body and "Улица Светог Саве" in body
    assert "Драгана" not in body and "987" not in body and "Саве 12" not in body
    page.screenshot(path=str(ARTIFACTS / "tracking-cyrillic.png"), full_page=True)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"  # the first stop skips to content
    page.focus("a[lang='sr-Latn']")
    page.keyboard.press("Enter")
    page.wait_for_url("**pismo=lat")
    assert page.get_attribute("html", "lang") == "sr-Latn"
    assert "Ekipa je na terenu." in page.inner_text("main")
    assert page.inner_text("h1") == f"Prijava {code}"
    page.screenshot(path=str(ARTIFACTS / "tracking-latin.png"), full_page=True)
    # The choice is remembered: the next page, without ?pismo, stays Latin.
    page.goto(f"{base_url}/t/{code}")
    assert page.get_attribute("html", "lang") == "sr-Latn"


@pytest.mark.parametrize("browser", [False], ids=["no-js"], indirect=True)
def test_search_works_without_javascript(core: Core, base_url: str, browser: Any) -> None:
    """With JavaScript off, the code search form leads to the tracking page; an unknown code to a 404 page."""
    code = report(core, "Пукла цијев", category="voda")
    page = browser.new_page()
    page.goto(f"{base_url}/portal?pismo=cir")
    assert page.get_attribute("label[for='kod']", "for") == "kod"
    page.fill("#kod", code.replace("-", " "))
    page.press("#kod", "Enter")
    page.wait_for_url(f"**/t/{code}")
    assert code in page.inner_text("h1")
    page.goto(f"{base_url}/t/48-2026-999999")
    assert "није пронађена" in page.inner_text("h1")
    page.screenshot(path=str(ARTIFACTS / "portal-not-found.png"), full_page=True)
