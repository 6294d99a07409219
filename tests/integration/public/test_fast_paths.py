"""The fast paths of the public face keep their promises.

Fresh tracking pages, a bounded listing cache, the same XML as ElementTree, and scrubbing that skips
only what could never match.
"""

from __future__ import annotations

import json
import random
import re
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from callcenter_ui.views.open311 import LISTING_TTL_S, ListingCache, _to_xml
from core.bootstrap import Core
from core.db.models import User
from core.services.public import Private, scrub
from core.text import to_latin
from tests.fakes import FixedClock
from tests.integration.public.conftest import move, report
from tests.support.database import drop_other_connections


def _rows(client: FlaskClient, path: str) -> tuple[list[dict[str, Any]], str | None]:
    """GET an Open311 JSON path and return its rows and Cache-Control header."""
    res = client.get(path)
    assert res.status_code == 200
    return json.loads(res.get_data(as_text=True)), res.headers.get("Cache-Control")


def test_tracking_page_shows_a_status_change_at_once(core: Core, client: FlaskClient, supervisor: User) -> None:
    """A citizen reloading their page sees the operator's change on the next request (nothing cached)."""
    code = report(core, "Пукла цијев", category="voda")
    first = client.get(f"/t/{code}")
    assert first.headers["Cache-Control"] == "no-store" and "Екипа је на терену." not in first.get_data(as_text=True)
    move(core, supervisor, code, "in_progress", core.clock.now(), public="Екипа је на терену.")
    html = client.get(f"/t/{code}").get_data(as_text=True)
    assert "Екипа је на терену." in html and "status-in_progress" in html
    move(core, supervisor, code, "resolved", core.clock.now(), public="Цијев је замијењена.")
    html = client.get(f"/t/{code}").get_data(as_text=True)
    assert "Цијев је замијењена." in html and "status-resolved" in html


def test_lookups_by_id_are_never_cached(core: Core, client: FlaskClient, supervisor: User) -> None:
    """A client following its own requests by id sees the current state, in both id endpoints."""
    code = report(core, "Пукла цијев", category="voda")
    for path in (f"/open311/v2/requests.json?service_request_id={code}", f"/open311/v2/requests/{code}.json"):
        rows, cache_control = _rows(client, path)
        assert rows[0]["status"] == "open" and cache_control is None
    move(core, supervisor, code, "resolved", core.clock.now(), public="Поправљено.")
    for path in (f"/open311/v2/requests.json?service_request_id={code}", f"/open311/v2/requests/{code}.json"):
        rows, _ = _rows(client, path)
        assert rows[0]["status"] == "closed" and rows[0]["status_notes"] == "Поправљено."


def test_public_reads_survive_a_dropped_connection(core: Core, client: FlaskClient) -> None:
    """Public reads skip the pool's ping: a connection the server dropped is replaced unnoticed."""
    code = report(core, "Пукла цијев", category="voda")
    assert client.get(f"/t/{code}").status_code == 200
    if core.engine.dialect.name == "postgresql":
        pool = core.read_engine.pool
        assert isinstance(pool, sa.QueuePool) and pool.checkedin() == 1  # kept for the next public read
        # What a server restart or an idle timeout does to the pooled connections of the public reads.
        assert drop_other_connections(core.engine) >= 1
    assert client.get(f"/t/{code}").status_code == 200
    assert client.get(f"/open311/v2/requests/{code}.json").status_code == 200
    assert client.get("/open311/v2/requests.json").status_code == 200
    if core.engine.dialect.name == "postgresql":
        pool = core.read_engine.pool
        assert isinstance(pool, sa.QueuePool) and pool.checkedin() == 1
        core.engine.dispose()  # the app's engine takes the public reads' pool with it
        pool = core.read_engine.pool
        assert isinstance(pool, sa.QueuePool) and pool.checkedin() == 0


def test_listing_is_cached_for_one_period_then_fresh(
    core: Core, clock: FixedClock, client: FlaskClient, supervisor: User
) -> None:
    """Listings come from the cache for at most LISTING_TTL_S seconds, and say so; then they are fresh."""
    clock.set(datetime(2026, 11, 2, 9, 0, 3, tzinfo=UTC))  # 3 s into a period: 12 s left of it
    code = report(core, "Пукла цијев", category="voda")
    rows, cache_control = _rows(client, "/open311/v2/requests.json")
    assert [r["service_request_id"] for r in rows] == [code] and rows[0]["status"] == "open"
    assert cache_control == f"public, max-age={LISTING_TTL_S - 3}"
    move(core, supervisor, code, "resolved", clock.now(), public="Поправљено.")
    later = report(core, "Нема воде", category="voda")
    clock.advance(seconds=LISTING_TTL_S - 4)  # the same period: the same bytes
    rows, cache_control = _rows(client, "/open311/v2/requests.json")
    assert [r["service_request_id"] for r in rows] == [code] and rows[0]["status"] == "open"
    assert cache_control == "public, max-age=1"
    clock.advance(seconds=1)  # the next period: built afresh
    rows, cache_control = _rows(client, "/open311/v2/requests.json")
    assert [r["service_request_id"] for r in rows] == [later, code]
    assert rows[1]["status"] == "closed" and rows[1]["status_notes"] == "Поправљено."
    assert cache_control == f"public, max-age={LISTING_TTL_S}"


def test_listing_keys(core: Core, client: FlaskClient, supervisor: User) -> None:
    """The key is the normalised query plus format and script.

    Spellings of one query share an entry; different formats, scripts and filters do not.
    """
    water = report(core, "Пукла цијев", category="voda")
    light = report(core, "Расвјета", category="rasvjeta")
    rows, _ = _rows(client, "/open311/v2/requests.json?service_code=voda,rasvjeta&status=open,closed")
    assert [r["service_request_id"] for r in rows] == [light, water]
    move(core, supervisor, water, "resolved", core.clock.now(), public="Поправљено.")
    # The same query written differently: served from the entry above (still open).
    rows, _ = _rows(client, "/open311/v2/requests.json?service_code=rasvjeta,voda,voda")
    assert [r["status"] for r in rows] == ["open", "open"]
    # Another script, another format, another filter: built now, so the change shows.
    rows, _ = _rows(client, "/open311/v2/requests.json?service_code=voda,rasvjeta&pismo=lat")
    assert rows[1]["status"] == "closed" and rows[1]["status_notes"] == "Popravljeno."
    xml = client.get("/open311/v2/requests.xml?service_code=voda,rasvjeta").get_data()
    assert ET.fromstring(xml).findtext("request[2]/status") == "closed"  # noqa: S314  our own response
    rows, _ = _rows(client, "/open311/v2/requests.json?service_code=voda")
    assert [r["status"] for r in rows] == ["closed"]


def test_listing_errors_are_not_cached(core: Core, client: FlaskClient) -> None:
    """A bad query is a 400 each time, without a cache header."""
    for _ in range(2):
        res = client.get("/open311/v2/requests.json?status=pending")
        assert res.status_code == 400 and "Cache-Control" not in res.headers


def test_cache_bounds_and_single_flight() -> None:
    """Entries are bounded by count and bytes; one thread builds a missing entry while others wait."""
    now = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)
    cache = ListingCache(ttl_s=15, max_entries=3, max_bytes=10)
    made: list[bytes] = []

    def maker(body: bytes) -> Callable[[], bytes]:
        def make() -> bytes:
            made.append(body)
            return body

        return make

    for i in range(5):
        cache.get_or_make((i,), now, maker(str(i).encode()))
    made.clear()

    body, age = cache.get_or_make((4,), now, maker(b"x"))
    assert body == b"4" and age == 15 and not made  # a hit
    cache.get_or_make((0,), now, maker(b"0"))
    assert made == [b"0"]  # the oldest was evicted by count
    cache.get_or_make(("big",), now, lambda: b"123456789")
    assert cache.get_or_make((4,), now, lambda: b"again")[0] == b"again"  # evicted by bytes
    cache.get_or_make(("huge",), now, lambda: b"x" * 11)  # larger than the bound: answered, not kept
    assert cache.get_or_make(("huge",), now, lambda: b"fresh")[0] == b"fresh"

    calls: list[int] = []
    gate = threading.Event()

    def slow() -> bytes:
        calls.append(1)
        gate.wait(5)
        return b"slow"

    results: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_make(("slow",), now, slow)[0])) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert results == [b"slow"] * 4 and calls == [1]


def test_cache_survives_a_failing_build() -> None:
    """A build that raises leaves nothing behind; the next request builds again."""
    now = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)
    cache = ListingCache()

    def broken() -> bytes:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        cache.get_or_make(("k",), now, broken)
    assert cache.get_or_make(("k",), now, lambda: b"ok") == (b"ok", LISTING_TTL_S)
    assert cache.get_or_make(("k",), now + timedelta(seconds=LISTING_TTL_S), lambda: b"new")[0] == b"new"


def _et_xml(root: str, item: str | None, rows: Any) -> bytes:
    """The ElementTree serialiser the string builder replaced (reference for the comparison)."""

    def text(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    top = ET.Element(root)

    def fill(parent: ET.Element, data: dict[str, Any]) -> None:
        for key, value in data.items():
            child = ET.SubElement(parent, key)
            if isinstance(value, list):
                singular = key[:-1] if key.endswith("s") else key
                for sub in value:
                    fill(ET.SubElement(child, singular), sub)
            else:
                child.text = text(value)

    if isinstance(rows, dict):
        fill(top, rows)
    else:
        for row in rows:
            fill(ET.SubElement(top, item or "item"), row)
    data: bytes = ET.tostring(top, encoding="utf-8", xml_declaration=True)
    return data


@pytest.mark.parametrize(
    ("root", "item", "payload"),
    [
        ("service_requests", "request", []),
        ("service_requests", "request", [{}]),
        (
            "service_requests",
            "request",
            [
                {
                    "a": "Вода & <струја> \"'",
                    "b": None,
                    "c": "",
                    "d": True,
                    "e": False,
                    "f": 44.621,
                    "g": 0,
                    "h": "]]>",
                },
                {"a": "Šiprage", "b": "x\ty\nz", "c": "&amp;", "d": None},
            ],
        ),
        ("service_definition", None, {"service_code": "voda", "attributes": []}),
        ("service_definition", None, {"service_code": "voda", "attributes": [{"code": "x", "values": [{"k": "1"}]}]}),
        ("errors", "error", [{"code": 404, "description": "service_code 'x<y' not found"}]),
    ],
)
def test_xml_is_what_elementtree_writes(root: str, item: str | None, payload: Any) -> None:
    """The string-built XML is byte for byte the ElementTree document."""
    assert _to_xml(root, item, payload) == _et_xml(root, item, payload)


def test_digits_and_at_sign_are_caseless() -> None:
    """No character of all Unicode equals an ASCII digit or "@" under re.IGNORECASE.

    ``scrub`` skips a reporter's phrase when the text lacks the phrase's digits (or "@"): this is
    what makes that skip exact rather than a guess.
    """
    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    for anchor in "0123456789@":
        assert re.findall(re.escape(anchor), everything, re.IGNORECASE) == [anchor]


def _scrub_without_skipping(text: str, private: Private) -> str:
    """Scrub as before the anchors: every phrase pattern compiled and applied to every part."""
    from core.services import public as pub

    text = text[: pub.MAX_PUBLIC_TEXT]
    parts = pub._CODE_RE.split(text)
    codes = pub._CODE_RE.findall(text)
    patterns = [
        re.compile(source, re.IGNORECASE)
        for phrase in private.phrases
        if phrase and len(phrase) >= 3
        for _, source in pub._address_rules(phrase)
    ]
    is_name = pub._name_matcher(private.names) if private.names else None
    cleaned = []
    for part in parts:
        for pattern in patterns:
            part = pattern.sub(pub.REDACTED, part)
        part = pub._EMAIL_RE.sub(pub.REDACTED, part)
        part = pub._DIGIT_RUN_RE.sub(pub.REDACTED, part)
        if is_name is not None:
            part = pub._WORD_RE.sub(lambda m: pub.REDACTED if is_name(m.group(0)) else m.group(0), part)
        cleaned.append(part)
    out = cleaned[0]
    for code, part in zip(codes, cleaned[1:], strict=True):
        out += code + part
    return out


def _original_patterns(phrase: str) -> set[str]:
    """The phrase patterns as scrub built them before (the whole phrase, and "<street word> <number>")."""
    patterns = set()
    match = re.match(r"(.*?)(\d+\s*[a-zA-Zа-шА-Ш]?)\b", phrase)
    for variant in {phrase, to_latin(phrase)}:
        patterns.add(re.escape(variant))
    if match:
        head_words = re.findall(r"\w+", match.group(1))
        number = match.group(2).strip()
        if head_words:
            last = head_words[-1]
            for variant in {last, to_latin(last)}:
                patterns.add(re.escape(variant) + r"\W{0,3}" + re.escape(number))
    return patterns


def test_scrub_skips_change_nothing() -> None:
    """Scrubbing with the anchor skips gives exactly what applying every pattern gives."""
    rng = random.Random(48)
    privates = [
        Private(names=("Драгана Петровић",), phrases=("065 111 222", "+38765111222", "Улица Светог Саве 12")),
        Private(phrases=("dragana@example.ba", "Трг Српских бораца 3а", "ul. Cara Dušana 7a")),
        Private(phrases=("nepoznat", "Масловаре бб", "a@b")),
    ]
    words = ["Улица", "Светог", "Саве", "12", "саве 12", "SAVE12", "065", "111", "222", "+387", "65", "111222",
             "dragana@example.ba", "DRAGANA@EXAMPLE.BA", "Трг", "Српских", "бораца", "3а", "3a", "3 A", "NEPOZNAT",
             "Dušana", "7a", "7 a", "48-2026-000123", "@", "бб", "ББ", "Драгану", "ekipa", "је", "на", "терену", ","]  # fmt: skip
    from core.services.public import _address_rules

    for private in privates:
        for phrase in private.phrases:
            assert {source for _, source in _address_rules(phrase)} == _original_patterns(phrase)
    for _ in range(3000):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
        if rng.random() < 0.3:
            text = to_latin(text)
        private = rng.choice(privates)
        assert scrub(text, private) == _scrub_without_skipping(text, private), text
