"""The Atom feed: valid Atom 1.0, public notes only, newest first."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from flask.testing import FlaskClient

from core.bootstrap import Core
from core.db.models import User
from tests.fakes import FixedClock
from tests.integration.public.conftest import move, report

A = "{http://www.w3.org/2005/Atom}"


def parse_xml(data: bytes) -> ET.Element:
    """Parse XML produced by our own server under test."""
    return ET.fromstring(data)  # noqa: S314  trusted input: the app's own response in a test


def test_feed_is_valid_atom_newest_first(core: Core, clock: FixedClock, client: FlaskClient, supervisor: User) -> None:
    """Feed and entries carry id, title, updated (RFC 3339), links; internal notes never appear."""
    code = report(core, "Пукла цијев", category="voda")
    clock.advance(hours=1)
    move(core, supervisor, code, "in_progress", clock.now(), public="Екипа излази.", internal="ИНТЕРНО")
    res = client.get("/feed.atom")
    assert res.status_code == 200 and res.mimetype == "application/atom+xml"
    root = parse_xml(res.data)
    assert root.tag == f"{A}feed"
    for tag in ("id", "title", "updated", "author"):
        assert root.find(f"{A}{tag}") is not None, tag
    assert root.find(f"{A}link[@rel='self']") is not None
    entries = root.findall(f"{A}entry")
    assert len(entries) == 3
    for entry in entries:
        for tag in ("id", "title", "updated", "summary", "link"):
            assert entry.find(f"{A}{tag}") is not None, tag
        assert entry.findtext(f"{A}updated", "").endswith("Z")
    assert entries[0].findtext(f"{A}summary") == "Екипа излази."
    assert root.findtext(f"{A}updated") == entries[0].findtext(f"{A}updated")
    ids = [e.findtext(f"{A}id") for e in entries]
    assert len(set(ids)) == 3
    assert "ИНТЕРНО" not in res.get_data(as_text=True)
    latin = parse_xml(client.get("/feed.atom?pismo=lat").data)
    assert latin.findall(f"{A}entry")[0].findtext(f"{A}summary") == "Ekipa izlazi."
