"""Stored XSS in the real browser: caller ID, SMS, e-mail, transcript and ticket text render as inert text."""

from __future__ import annotations

from typing import Any

import pytest

from core.messages import Channel, ReceiveReport
from core.services.intake import receive
from tests.e2e.conftest import Browsing, Site, shot, wait_until
from tests.e2e.test_console_desk import add_voicemail

pytestmark = pytest.mark.e2e

CALLER_NAME = "<img src=x onerror=alert(1)>"
SMS_TEXT = "<script>alert(2)</script> нема воде"
MAIL_TEXT = "<iframe src=javascript:alert(5)></iframe> смеће"
TRANSCRIPT = "<b onmouseover=alert(3)>поплава</b> у подруму"
DESCRIPTION = '"><svg onload=alert(4)> рупа на путу'
# Elements that only an injection could have created (the config block is our own JSON data).
INJECTED = "img[src='x'], svg, iframe, b[onmouseover], script:not([src]):not(#s48-config), [onerror], [onload]"


def _injected(page: Any) -> int:
    """Count elements an injection would have created."""
    return int(page.evaluate(f"document.querySelectorAll({INJECTED!r}).length"))


def test_stored_xss_payloads_render_as_text(site: Site, browsing: Browsing) -> None:
    """Every payload is shown verbatim as text; no dialog fires and no injected element exists."""
    policy = site.core.intake_policy
    receive(site.core.uow(), ReceiveReport(channel=Channel.SMS, text=SMS_TEXT, phone="065 404 404"), policy)
    receive(site.core.uow(), ReceiveReport(channel=Channel.EMAIL, text=MAIL_TEXT, email="xss@example.org"), policy)
    code = receive(
        site.core.uow(),
        ReceiveReport(channel=Channel.WALK_IN, text=DESCRIPTION, name=CALLER_NAME, phone="065 606 606"),
        policy,
    ).ticket_code
    voicemail_id = add_voicemail(site, TRANSCRIPT, low={"поплава"})
    operator = site.user("operator", extension="341")
    page = browsing.login(operator)

    call = site.pbx.script("065505505", CALLER_NAME)
    site.pbx.ring(call, "341")
    page.wait_for_selector("#pop:not([hidden])", timeout=10_000)
    assert page.text_content("#pop-name") == CALLER_NAME
    shot(page, "xss-pop")
    page.keyboard.press("Escape")

    page.click("#tab-sms")
    page.wait_for_selector(f"#sms-list td.body:has-text('{SMS_TEXT[:20]}')")
    assert SMS_TEXT in page.inner_text("#sms-list")
    page.click("#tab-mail")
    page.wait_for_selector("#mail-list td.body:has-text('iframe')")
    assert MAIL_TEXT in page.inner_text("#mail-list")
    page.click("#tab-voicemail")
    page.click(f"[data-voicemail='{voicemail_id}'] button")
    page.wait_for_selector(f"#voicemail-detail[data-voicemail='{voicemail_id}'] .transcript")
    assert page.inner_text("#voicemail-detail .transcript") == TRANSCRIPT
    page.click("#tab-deadlines")
    page.wait_for_selector(f"#deadline-list tr[data-ticket='{code}']")
    page.evaluate(f"window.S48.openTicket({code!r})")
    page.wait_for_selector(f"#ticket[data-code='{code}']:not([hidden])")
    assert page.inner_text("#ticket-description") == DESCRIPTION
    assert CALLER_NAME in page.inner_text("#ticket-citizen")
    shot(page, "xss-ticket")
    page.mouse.move(400, 300)
    page.wait_for_timeout(300)
    assert browsing.dialogs == []
    assert _injected(page) == 0
    site.pbx.miss(call)


def test_csp_blocks_inline_script(site: Site, browsing: Browsing) -> None:
    """The console is served with script-src 'self': an inline script added at run time does not run."""
    page = browsing.login(site.user("operator", extension="342"))
    response = page.request.get(f"{site.url}/console")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.__pwned = 1';
                     document.body.appendChild(s); }""")
    wait_until(lambda: page.evaluate("typeof window.__pwned") == "undefined", what="inline script refused")
