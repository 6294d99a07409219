"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) at ``/open311/v2/``, in JSON and XML.

Public GETs show only what the tracking page shows: status (open/closed), the operator's last public
note, category, organisation, coarse place and deadlines. ``POST requests`` is for partners holding an
API token (``sistem48 token create``); the personal fields it accepts (e-mail, phone, names) are kept
with the ticket and never returned. Service request ids are the public ticket codes.

Listings (``GET requests`` without ids) are served from a short per-process cache of the response
bytes; see ``ListingCache`` for why that staleness is acceptable and how it is bounded.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, request

from callcenter_ui import csrf, get_core
from core.db.models import Category, InboundItem, KeywordRule, Message, Ticket
from core.domain.tickets import is_code
from core.messages import Channel, ReceiveReport
from core.services import public as pub
from core.services.accounts import user_for_token
from core.services.intake import ReportTooLarge, receive
from core.text import strip_invisible, to_latin

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
# Partners post with an api_key, not a session cookie, so there is nothing for CSRF to protect.
csrf.exempt(bp)

FORMATS = ("json", "xml")
MAX_DESCRIPTION = 4000  # the spec's limit for description
MAX_FIELD = 200
MAX_SPAN = timedelta(days=90)
SERVICE_NOTICE = "Одговор о статусу у року од 48 сати."
REQUEST_FIELDS = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)


LISTING_TTL_S = 15
LISTING_CACHE_KEY = "s48_open311_listings"


@dataclass
class _Listing:
    """One cached listing body, the end of its period (epoch seconds) and when it was made (monotonic)."""

    body: bytes
    expires: float
    made: float


class ListingCache:
    """Serialised Open311 listings, per process, for at most ``ttl_s`` seconds.

    Why the staleness is acceptable: Open311 clients (city dashboards, apps, aggregators) poll, and a
    listing of up to 1000 requests is the same for everyone who asks in the same few seconds; a status
    change shows in listings within ``ttl_s`` seconds (15), which is far inside any polling interval
    and inside the 48-hour promise the data is about. Responses say so honestly with
    ``Cache-Control: public, max-age=<seconds left>``. Tracking pages and look-ups by id are never
    served from here: a citizen checking their own request always sees the current state.

    Time is cut into periods of ``ttl_s`` seconds of the app clock; an entry lives until the end of
    the period it was made in (and never longer than ``ttl_s`` seconds of real time, should the
    wall clock jump). Keys are the normalised query, format and script, so every process of the
    server answers the same period with the same data. Memory is bounded by entry count and bytes,
    least recently used first; one thread per key builds a missing entry while the others wait.
    """

    def __init__(self, ttl_s: int = LISTING_TTL_S, max_entries: int = 128, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[Any, ...], _Listing] = OrderedDict()
        self._bytes = 0
        self._building: dict[tuple[Any, ...], threading.Lock] = {}
        self._lock = threading.Lock()

    def period_end(self, now: datetime) -> datetime:
        """Return the end of the cache period holding ``now`` (the default window's normalised "now")."""
        return datetime.fromtimestamp(self._expiry(now), UTC)

    def _expiry(self, now: datetime) -> float:
        """Return the end of the period holding ``now``, in epoch seconds."""
        return float((int(now.timestamp()) // self.ttl_s + 1) * self.ttl_s)

    def _get(self, key: tuple[Any, ...], stamp: float) -> _Listing | None:
        """Return a live entry (lock held)."""
        hit = self._items.get(key)
        if hit is None:
            return None
        if stamp >= hit.expires or time.monotonic() - hit.made > self.ttl_s:
            self._drop(key)
            return None
        self._items.move_to_end(key)
        return hit

    def _drop(self, key: tuple[Any, ...]) -> None:
        """Forget an entry (lock held)."""
        gone = self._items.pop(key, None)
        if gone is not None:
            self._bytes -= len(gone.body)

    def get_or_make(self, key: tuple[Any, ...], now: datetime, make: Callable[[], bytes]) -> tuple[bytes, int]:
        """Return the body for ``key`` (made now if missing or expired) and its seconds left to live."""
        stamp = now.timestamp()
        expires = self._expiry(now)
        full = (expires, *key)
        with self._lock:
            hit = self._get(full, stamp)
            if hit is None:
                building = self._building.setdefault(full, threading.Lock())
        if hit is None:
            try:
                with building:
                    with self._lock:
                        hit = self._get(full, stamp)
                    if hit is None:
                        hit = _Listing(make(), expires, time.monotonic())
                        self._put(full, hit)
            finally:
                with self._lock:
                    if self._building.get(full) is building:
                        del self._building[full]
        return hit.body, max(0, int(hit.expires - stamp))

    def _put(self, key: tuple[Any, ...], entry: _Listing) -> None:
        """Store an entry, evicting the least recently used beyond the bounds."""
        if len(entry.body) > self.max_bytes:
            return
        with self._lock:
            self._drop(key)
            self._items[key] = entry
            self._bytes += len(entry.body)
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                self._drop(next(iter(self._items)))


def _listing_cache(app: Flask) -> ListingCache:
    """Return this app's listing cache (per app, so test apps never share one)."""
    cache: ListingCache | None = app.extensions.get(LISTING_CACHE_KEY)
    if cache is None:
        cache = app.extensions[LISTING_CACHE_KEY] = ListingCache()
    return cache


class Open311Error(Exception):
    """An error answered with an Open311 error body."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _xml_text(value: Any) -> str | None:
    """Render a value as XML element text (booleans as true/false, None as empty)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml_escape(text: str) -> str:
    """Escape element text exactly as ElementTree does (``&``, ``<`` and ``>``)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _element(tag: str, content: str) -> str:
    """Return one element; an empty one is self-closing, as ElementTree writes it."""
    return f"<{tag}>{content}</{tag}>" if content else f"<{tag} />"


def _xml_content(data: Mapping[str, Any]) -> str:
    """Return the children of an element made from a mapping (lists become wrapped singular elements)."""
    parts: list[str] = []
    for key, value in data.items():
        if isinstance(value, list):
            singular = key[:-1] if key.endswith("s") else key
            parts.append(_element(key, "".join(_element(singular, _xml_content(sub)) for sub in value)))
        else:
            text = _xml_text(value)
            parts.append(_element(key, _xml_escape(text) if text else ""))
    return "".join(parts)


def _to_xml(root: str, item: str | None, rows: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> bytes:
    """Serialise rows (or one object) into a GeoReport XML document.

    Byte for byte what ElementTree would write (a test holds the two together), built as strings:
    ElementTree took longer than the database to write a 1000-row listing.
    """
    if isinstance(rows, Mapping):
        content = _xml_content(rows)
    else:
        content = "".join(_element(item or "item", _xml_content(row)) for row in rows)
    return ("<?xml version='1.0' encoding='utf-8'?>\n" + _element(root, content)).encode()


def _serialise(fmt: str, root: str, item: str | None, payload: Any) -> bytes:
    """Return the body in the requested format (JSON keeps the spec's field order, compact, UTF-8)."""
    if fmt == "xml":
        return _to_xml(root, item, payload)
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _respond(fmt: str, root: str, item: str | None, payload: Any, status: int = 200) -> Response:
    """Answer in the requested format."""
    return _answer(fmt, _serialise(fmt, root, item, payload), status)


def _answer(fmt: str, body: bytes, status: int = 200) -> Response:
    """Wrap a serialised body in a response with the format's content type."""
    if fmt == "xml":
        response = Response(body, status=status, content_type="application/xml; charset=utf-8")
    else:
        response = Response(body, status=status, mimetype="application/json")
    if request.method == "GET":
        # Read-only public data without cookies: any web client may read it.
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _error(fmt: str, status: int, description: str) -> Response:
    """Answer an Open311 error body: ``[{"code": 400, "description": "..."}]`` or ``<errors>``."""
    body = [{"code": status, "description": description}]
    return _respond(fmt if fmt in FORMATS else "json", "errors", "error", body, status)


def _endpoint(view: Callable[..., Response]) -> Callable[..., Response]:
    """Turn Open311Error and unknown formats into Open311 error bodies."""

    def inner(*args: Any, **kwargs: Any) -> Response:
        fmt = kwargs.get("fmt", "json")
        if fmt not in FORMATS:
            return _error("json", 404, f"format {fmt[:10]!r} not supported; use json or xml")
        try:
            return view(*args, **kwargs)
        except Open311Error as exc:
            return _error(fmt, exc.status, exc.description)

    inner.__name__ = view.__name__
    inner.__doc__ = view.__doc__
    return inner


def _script() -> Callable[[str | None], str | None]:
    """Return the transliteration for ``?pismo=lat`` (an extension: the spec has no language parameter)."""
    if request.args.get("pismo") == "lat":
        return lambda text: to_latin(text) if text else text
    return lambda text: text


def _when(moment: datetime | None, zone: ZoneInfo) -> str | None:
    """Format an instant as W3C datetime with the local offset, e.g. ``2026-01-12T14:05:00+01:00``."""
    if moment is None:
        return None
    return moment.astimezone(zone).isoformat(timespec="seconds")


def _zone() -> ZoneInfo:
    """Return the municipality's time zone (Open311 datetimes carry its offset)."""
    return ZoneInfo(get_core(current_app).settings.timezone)


def _request_row(
    ticket: pub.PublicTicket, script: Callable[[str | None], str | None], zone: ZoneInfo
) -> dict[str, Any]:
    """Map a public ticket onto the GeoReport request fields (nothing personal)."""
    summary = ", ".join(p for p in (script(ticket.category_name), script(ticket.place)) if p) or None
    return {
        "service_request_id": ticket.code,
        "status": ticket.state,
        "status_notes": script(ticket.last_note),
        "service_name": script(ticket.category_name),
        "service_code": ticket.category_code,
        "description": summary,  # a public summary; the citizen's own words stay internal
        "agency_responsible": script(ticket.organisation_name),
        "service_notice": script(SERVICE_NOTICE),
        "requested_datetime": _when(ticket.created_at, zone),
        "updated_datetime": _when(ticket.updated_at, zone),
        "expected_datetime": _when(ticket.resolve_due, zone),
        "address": script(ticket.place),
        "address_id": None,
        "zipcode": None,
        "lat": ticket.lat,
        "long": ticket.long,
        "media_url": None,
    }


@bp.get("/discovery.<fmt>")
@_endpoint
def discovery(fmt: str) -> Response:
    """Describe this endpoint (GeoReport service discovery)."""
    base = get_core(current_app).settings.public_base_url.rstrip("/")
    payload: dict[str, Any] = {
        "changeset": "2026-01-01T00:00:00+01:00",
        "contact": "sistem48@opstinakotorvaros.com",
        "key_service": "Систем 48, Котор Варош: API кључ издаје администратор (sistem48 token create).",
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": f"{base}/open311/v2",
                "changeset": "2026-01-01T00:00:00+01:00",
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }
    if fmt == "xml":
        top = ET.Element("discovery")
        for key in ("changeset", "contact", "key_service"):
            ET.SubElement(top, key).text = str(payload[key])
        endpoints = ET.SubElement(top, "endpoints")
        for ep in payload["endpoints"]:
            node = ET.SubElement(endpoints, "endpoint")
            for key in ("specification", "url", "changeset", "type"):
                ET.SubElement(node, key).text = ep[key]
            formats = ET.SubElement(node, "formats")
            for f in ep["formats"]:
                ET.SubElement(formats, "format").text = f
        data: bytes = ET.tostring(top, encoding="utf-8", xml_declaration=True)
        return Response(data, content_type="application/xml; charset=utf-8")
    return _respond(fmt, "discovery", None, payload)


@bp.get("/services.<fmt>")
@_endpoint
def services(fmt: str) -> Response:
    """List the services (our categories)."""
    core = get_core(current_app)
    script = _script()
    with core.session_factory() as db:
        cats = pub.categories(db)
        rules = db.execute(sa.select(KeywordRule.category_id, KeywordRule.pattern).order_by(KeywordRule.id)).all()
        keywords: dict[int, list[str]] = {}
        for category_id, pattern in rules:
            keywords.setdefault(category_id, []).append(pattern)
        rows = [
            {
                "service_code": c.code,
                "service_name": script(c.name),
                "description": script(c.name),
                "metadata": False,
                "type": "realtime",
                "keywords": script(", ".join(keywords.get(c.id, [])[:10])),
                "group": script(c.organisation.name) if c.organisation else None,
            }
            for c in cats
        ]
    return _respond(fmt, "services", "service", rows)


@bp.get("/services/<code>.<fmt>")
@_endpoint
def service_definition(code: str, fmt: str) -> Response:
    """Define one service; ours take no extra attributes (so ``metadata`` is false in the list)."""
    core = get_core(current_app)
    with core.session_factory() as db:
        found = db.scalar(sa.select(Category.code).where(Category.code == code[:40], Category.active.is_(True)))
    if found is None:
        raise Open311Error(404, f"service_code {code[:40]!r} not found")
    return _respond(fmt, "service_definition", None, {"service_code": found, "attributes": []})


def _parse_time(name: str) -> datetime | None:
    """Parse a W3C/ISO 8601 datetime parameter; a value without offset is local time."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip()[:40])
    except ValueError as exc:
        raise Open311Error(400, f"{name} must be an ISO 8601 datetime, e.g. 2026-01-12T00:00:00+01:00") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(get_core(current_app).settings.timezone))
    return moment


@bp.get("/requests.<fmt>")
@_endpoint
def list_requests(fmt: str) -> Response:
    """Query service requests: by id list, or by service_code, date range (≤ 90 days) and status.

    A list of ids is looked up afresh each time (a client following its own requests); any other
    query is answered from ``ListingCache``, with the default window's "now" rounded up to the
    end of the cache period so that the key repeats for the whole period.
    """
    core = get_core(current_app)
    now = core.clock.now()
    ids_arg = request.args.get("service_request_id", "")
    codes = tuple(c.strip() for c in ids_arg.split(",") if c.strip())[: pub.MAX_OPEN311]
    start, end = _parse_time("start_date"), _parse_time("end_date")
    if start and end and end < start:
        raise Open311Error(400, "end_date is before start_date")
    if start and end and end - start > MAX_SPAN:
        raise Open311Error(400, "start_date and end_date may not span more than 90 days")
    cache = _listing_cache(current_app)
    if start is None and end is None and not codes:
        start, end = pub.default_window(cache.period_end(now))
    elif start is None and end is not None:
        start = end - MAX_SPAN
    elif end is None and start is not None:
        end = start + MAX_SPAN
    states = frozenset(s.strip() for s in request.args.get("status", "").split(",") if s.strip())
    if not states <= {"open", "closed"}:
        raise Open311Error(400, "status must be open, closed or both (comma separated)")
    query = pub.Open311Query(
        codes=tuple(c for c in codes if is_code(c)),
        # Deduplicated and cut to the 50 the query uses, so that the cache key (sorted) names the same rows.
        service_codes=tuple(
            dict.fromkeys(c.strip()[:40] for c in request.args.get("service_code", "").split(",") if c.strip())
        )[:50],
        start=start,
        end=end,
        states=states if states != {"open", "closed"} else frozenset(),
    )
    if codes and not query.codes:
        return _respond(fmt, "service_requests", "request", [])
    latin = request.args.get("pismo") == "lat"

    def make() -> bytes:
        tickets = pub.read(core.read_engine, lambda conn: pub.open311_requests(conn, query, now))
        script, zone = _script(), _zone()
        return _serialise(fmt, "service_requests", "request", [_request_row(t, script, zone) for t in tickets])

    if codes:
        return _answer(fmt, make())
    key = (
        fmt,
        latin,
        tuple(sorted(query.service_codes)),
        _utc(query.start),
        _utc(query.end),
        tuple(sorted(query.states)),
    )
    body, max_age = cache.get_or_make(key, now, make)
    response = _answer(fmt, body)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response


def _utc(moment: datetime | None) -> datetime | None:
    """Normalise an instant for a cache key (the same instant written with another offset is one key)."""
    return moment.astimezone(UTC) if moment is not None else None


@bp.get("/requests/<sid>.<fmt>")
@_endpoint
def get_request(sid: str, fmt: str) -> Response:
    """Return one service request, as a one-element list (as the spec does)."""
    core = get_core(current_app)
    code = sid[:40].strip()
    tickets: list[pub.PublicTicket] = []
    if is_code(code):
        now = core.clock.now()
        query = pub.Open311Query(codes=(code,), limit=1)
        tickets = pub.read(core.read_engine, lambda conn: pub.open311_requests(conn, query, now))
    if not tickets:
        raise Open311Error(404, f"service_request_id {sid[:40]!r} not found")
    return _respond(fmt, "service_requests", "request", [_request_row(tickets[0], _script(), _zone())])


@bp.get("/tokens/<token>.<fmt>")
@_endpoint
def get_token(token: str, fmt: str) -> Response:
    """Turn a token into its service request id."""
    core = get_core(current_app)
    with core.session_factory() as db:
        ticket_code = db.scalar(
            sa.select(Ticket.code)
            .join(InboundItem, InboundItem.ticket_id == Ticket.id)
            .where(InboundItem.channel == Channel.OPEN311.value, InboundItem.source_key == f"open311:{token[:64]}")
            .limit(1)
        )
    if ticket_code is None:
        raise Open311Error(404, "token not found")
    return _respond(fmt, "service_requests", "request", [{"service_request_id": ticket_code, "token": token[:64]}])


def _field(name: str, limit: int = MAX_FIELD) -> str | None:
    """Return a trimmed POST field (form body, or the query string as some clients send it)."""
    value = request.form.get(name)
    if value is None:
        value = request.args.get(name)
    if value is None:
        return None
    value = strip_invisible(value).strip()
    if len(value) > limit:
        raise Open311Error(400, f"{name} is longer than {limit} characters")
    return value or None


def _coordinate(name: str, bound: float) -> float | None:
    """Parse lat or long; out of range or not a number is a 400."""
    raw = _field(name, 40)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError as exc:
        raise Open311Error(400, f"{name} must be a decimal number") from exc
    if not math.isfinite(value) or abs(value) > bound:
        raise Open311Error(400, f"{name} is out of range")
    return value


@bp.post("/requests.<fmt>")
@_endpoint
def create_request(fmt: str) -> Response:
    """Create a service request for a partner with an ``api_key``; answer its id and service notice."""
    core = get_core(current_app)
    api_key = _field("api_key")
    if not api_key:
        raise Open311Error(403, "api_key was not provided")
    with core.session_factory() as db:
        user = user_for_token(db, api_key, core.clock.now())
        db.commit()
        user_id = user.id if user else None
    if user_id is None:
        raise Open311Error(403, "api_key is not valid")
    service_code = _field("service_code", 40)
    if not service_code:
        raise Open311Error(400, "service_code is required")
    with core.session_factory() as db:
        category = db.scalar(sa.select(Category).where(Category.code == service_code, Category.active.is_(True)))
        service_name = category.name if category else None
    if service_name is None:
        raise Open311Error(404, f"service_code {service_code!r} not found")
    lat, lon = _coordinate("lat", 90), _coordinate("long", 180)
    if (lat is None) != (lon is None):
        raise Open311Error(400, "lat and long must be given together")
    address = _field("address_string")
    if lat is None and address is None:
        if _field("address_id"):
            raise Open311Error(400, "address_id is not supported here; send lat and long or address_string")
        raise Open311Error(400, "a location is required: lat and long, or address_string")
    description = _field("description", MAX_DESCRIPTION) or service_name
    first, last = _field("first_name"), _field("last_name")
    person = " ".join(p for p in (first, last) if p) or None
    token = uuid.uuid4().hex
    cmd = ReceiveReport(
        channel=Channel.OPEN311,
        text=description,
        source_key=f"open311:{token}",
        phone=_field("phone", 40),
        email=_field("email", 320),
        name=person,
        place=address,
        category=service_code,
    )
    try:
        result = receive(core.uow(), cmd, core.intake_policy)
    except ReportTooLarge as exc:
        raise Open311Error(400, "description is too long") from exc
    if result.message_id is not None:
        meta: dict[str, Any] = {"partner_user_id": user_id, "token": token}
        if lat is not None and lon is not None:
            meta.update({"lat": lat, "long": lon})
        device = _field("device_id", 100)
        if device:
            meta["device_id"] = device
        with core.session_factory() as db:
            message = db.get(Message, result.message_id)
            if message is not None:
                message.meta = {**(message.meta or {}), **meta}
                db.commit()
    body = [{"service_request_id": result.ticket_code, "service_notice": SERVICE_NOTICE, "account_id": None}]
    return _respond(fmt, "service_requests", "request", body)
