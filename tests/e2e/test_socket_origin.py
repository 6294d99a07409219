"""Socket.IO refuses browsers from other origins (ASVS 4.4.2): checked on the real served console."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.e2e.conftest import Site

pytestmark = pytest.mark.e2e


def handshake(site: Site, origin: str) -> int:
    """Open an Engine.IO polling session with an Origin header and return the HTTP status."""
    request = urllib.request.Request(  # noqa: S310  loopback test URL
        f"{site.url}/socket.io/?EIO=4&transport=polling", headers={"Origin": origin}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  loopback test URL
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_foreign_origin_is_refused(site: Site) -> None:
    """Our own origin may open a socket; another site's page may not."""
    assert handshake(site, site.url) == 200
    assert handshake(site, "http://evil.example") == 400
    assert handshake(site, site.url.replace("127.0.0.1", "127.0.0.1.evil.example")) == 400
