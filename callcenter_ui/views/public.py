"""Public pages: the portal, tracking pages, the weekly overview (page, PDF, radio script), the Atom feed.

Nothing here needs a login and nothing here may show personal data: every page is rendered from
``core.services.public`` structures, which never carry the citizen's name, number, e-mail, address,
free text or voice. Pages work without JavaScript; the language is chosen with ``?pismo=cir|lat|en``
and remembered in a cookie.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

from flask import Blueprint, Flask, Response, abort, current_app, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from callcenter_ui import get_core
from callcenter_ui import i18n_public as i18n
from core.bootstrap import Core
from core.domain.tickets import Status, find_codes, is_code
from core.services import public as pub
from core.services.weekly import MIN_SAMPLE, WeeklyReport, compute_week, parse_week, radio_script, week_of

bp = Blueprint("public", __name__)

LANG_COOKIE = "s48_jezik"
CACHE_KEY = "s48_public_cache"
LIMITER_KEY = "s48_public_limiter"
LINKS_KEY = "s48_public_links"
PUBLIC_STATUSES = (pub.RECEIVED, *[s.value for s in Status if s is not Status.NEW])
ATOM_NS = "http://www.w3.org/2005/Atom"


class MissLimiter:
    """Counts failed code look-ups per client address; too many in a window blocks that address.

    Only misses count, so a citizen reloading their own page is never limited while someone walking
    through codes is stopped after ``max_misses``. Memory is bounded: the oldest addresses are
    forgotten first. Per process; several web processes each keep their own count.
    """

    def __init__(self, max_misses: int = 20, window_s: float = 600.0, max_keys: int = 10_000) -> None:
        self.max_misses = max_misses
        self.window_s = window_s
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        """Return the address's misses inside the window (lock held)."""
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        return hits

    def blocked(self, key: str) -> bool:
        """Tell whether this address has used up its misses."""
        with self._lock:
            hits = self._recent(key, time.monotonic())
            return hits is not None and len(hits) >= self.max_misses

    def miss(self, key: str) -> None:
        """Record a failed look-up."""
        now = time.monotonic()
        with self._lock:
            hits = self._recent(key, now)
            if hits is None:
                hits = deque(maxlen=self.max_misses)
                self._hits[key] = hits
                while len(self._hits) > self.max_keys:
                    self._hits.popitem(last=False)
            self._hits.move_to_end(key)
            hits.append(now)


@dataclass
class _Cached:
    """One cached value and when it expires (monotonic seconds)."""

    expires: float
    value: Any


class TtlCache:
    """A small bounded cache with per-entry lifetimes (weekly figures, PDFs)."""

    def __init__(self, max_entries: int = 64) -> None:
        self._items: OrderedDict[tuple[Any, ...], _Cached] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get_or_make(self, key: tuple[Any, ...], ttl_s: float, make: Callable[[], Any]) -> Any:
        """Return the cached value for ``key`` or make, store and return it."""
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit.expires > now:
                self._items.move_to_end(key)
                return hit.value
        value = make()
        with self._lock:
            self._items[key] = _Cached(now + ttl_s, value)
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)
        return value


def _state(app: Flask) -> tuple[TtlCache, MissLimiter]:
    """Return this app's cache and limiter (per app, so test apps never share them)."""
    cache = app.extensions.get(CACHE_KEY)
    if cache is None:
        cache = app.extensions[CACHE_KEY] = TtlCache()
    limiter = app.extensions.get(LIMITER_KEY)
    if limiter is None:
        limiter = app.extensions[LIMITER_KEY] = MissLimiter()
    return cache, limiter


def current_language() -> str:
    """Return the language of this request: ``?pismo=``/``?lang=``, then the cookie, then Cyrillic."""
    chosen = request.args.get("pismo") or request.args.get("lang")
    if chosen:
        return i18n.language_of(chosen)
    return i18n.language_of(request.cookies.get(LANG_COOKIE))


def _page(template: str, status: int = 200, *, lang: str | None = None, **context: Any) -> Response:
    """Render a public page with the language helpers, remembering an explicit language choice.

    The template is rendered by Jinja directly, without Flask's context processors (Flask-Babel's
    language and the console's role names are for staff pages; ``url_for`` stays a Jinja global):
    the tracking page is the busiest page there is. Fixed words and links come as plain values
    (``T``, ``links``), computed once per language and app; only words with a value filled in (a
    date, a code) go through ``t()``, which costs a Jinja call each.
    """
    lang = lang or current_language()
    core = get_core(current_app)
    tz = core.settings.timezone

    def t(key: str, **values: object) -> str:
        return i18n.t(key, lang, **values)

    html = (
        current_app.jinja_env.get_template(template)
        .render(
            lang=lang,
            html_lang=lang if lang != "en" else "en",
            T=_strings(lang),
            links=_links(),
            t=t,
            name=lambda text: i18n.name(text, lang),
            status_text=lambda status: i18n.status_text(status, lang),
            channel_text=lambda channel: i18n.channel_text(channel, lang),
            when=lambda moment: i18n.local_time(moment, tz),
            switch=_switch_links(),
            **context,
        )
        .encode()
    )
    response = Response(html, status=status, mimetype="text/html")
    _remember_language(response)
    return response


@lru_cache(maxsize=len(i18n.LANGUAGES))
def _strings(lang: str) -> dict[str, str]:
    """Return every fixed word of the public pages in ``lang`` (those with placeholders need ``t()``)."""
    return {key: i18n.t(key, lang) for key in i18n.STRINGS}


def _links() -> dict[str, str]:
    """Return the links every public page carries, built once per app and script root."""
    cache: dict[str, dict[str, str]] = current_app.extensions.setdefault(LINKS_KEY, {})
    links = cache.get(request.script_root)
    if links is None:
        links = cache[request.script_root] = {
            "css": url_for("static", filename="public/portal.css"),
            "feed": url_for("public.atom_feed"),
            "portal": url_for("public.portal"),
            "week": url_for("public.week_page"),
            # The public node serves no staff pages: its link goes to the operators' web node.
            "login": url_for("auth.login")
            if "auth.login" in current_app.view_functions
            else f"{get_core(current_app).settings.console_url}/login",
        }
    return links


def _switch_links() -> list[tuple[str, str, str]]:
    """Return (code, label, url) of the language switch for the current page (plain links, no script)."""
    args = {k: v for k, v in request.args.items() if k not in ("pismo", "lang")}
    path = request.path
    out = []
    for code, label in (("cir", "Ћирилица"), ("lat", "Latinica"), ("en", "English")):
        # Most pages have no other arguments (a tracking page never does): no encoding to do.
        query = urlencode({**args, "pismo": code}) if args else f"pismo={code}"
        out.append((i18n.PISMO[code], label, f"{path}?{query}"))
    return out


def _remember_language(response: Response) -> None:
    """Store an explicit ``?pismo=`` choice in a cookie for later pages."""
    chosen = request.args.get("pismo") or request.args.get("lang")
    if chosen:
        response.set_cookie(LANG_COOKIE, i18n.language_of(chosen), max_age=365 * 86400, samesite="Lax", httponly=True)


def _no_store(response: Response) -> Response:
    """Keep tracking pages out of every cache (shared computers, proxies)."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
@bp.get("/portal")
def portal() -> Response:
    """Show recent requests with filters, the code search and links to the weekly overview."""
    core = get_core(current_app)
    status = request.args.get("status") or None
    if status not in (*PUBLIC_STATUSES, "open", "closed"):
        status = None
    place_arg = request.args.get("mjesto", "")
    place_id = int(place_arg) if place_arg.isdigit() and len(place_arg) < 10 else None
    category = (request.args.get("kategorija") or "")[:40] or None
    with core.session_factory() as db:
        rows = pub.recent(db, pub.PortalFilter(category=category, status=status, place_id=place_id), core.clock.now())
        cats = [(c.code, c.name) for c in pub.categories(db)]
        places = [(p.id, p.name_cyrl) for p in pub.settlements(db)]
    return _page(
        "public/portal.html",
        rows=rows,
        categories=cats,
        places=places,
        statuses=PUBLIC_STATUSES,
        selected={"status": status, "place": place_id, "category": category},
    )


@bp.get("/trazi")
def search() -> BaseResponse:
    """Send a code typed in the search box to its tracking page (spaces, dots and short numbers are fine)."""
    text = (request.args.get("kod") or "")[:60]
    codes = [text.strip()] if is_code(text.strip()) else find_codes(text)
    if not codes:
        return _not_found()
    return redirect(url_for("public.track", code=codes[0]), code=303)


def _not_found(status: int = 404) -> Response:
    """Answer an unknown code (and count it against guessing)."""
    _, limiter = _state(current_app)
    limiter.miss(request.remote_addr or "-")
    return _no_store(_page("public/not_found.html", status=status))


@bp.get("/t/<code>")
def track(code: str) -> Response:
    """Show one request's public trail."""
    _, limiter = _state(current_app)
    client = request.remote_addr or "-"
    if limiter.blocked(client):
        response = _no_store(_page("public/not_found.html", status=429, too_many=True))
        response.headers["Retry-After"] = str(int(limiter.window_s))
        return response
    core = get_core(current_app)
    now = core.clock.now()
    ticket = pub.read(core.read_engine, lambda conn: pub.find_public(conn, code[:40], now))
    if ticket is None:
        return _not_found()
    lang = current_language()
    title = i18n.t("tracking_title", lang, code=ticket.code)
    return _no_store(_page("public/ticket.html", lang=lang, ticket=ticket, title=title))


def _week_report(core: Core, year: int, week: int) -> WeeklyReport:
    """Return the week's figures, cached (a minute for the running week, ten for past weeks)."""
    cache, _ = _state(current_app)
    now = core.clock.now()
    running = week_of(now, core.settings.timezone) <= (year, week)

    def make() -> WeeklyReport:
        with core.session_factory() as db:
            return compute_week(db, year, week, now, core.settings.timezone)

    report: WeeklyReport = cache.get_or_make(("week", year, week), 60 if running else 600, make)
    return report


def _parse_week_or_404(label: str | None) -> tuple[int, int]:
    """Return the (year, week) of a URL label, this week when absent; 404 when malformed."""
    core = get_core(current_app)
    if label is None:
        return week_of(core.clock.now(), core.settings.timezone)
    parsed = parse_week(label)
    if parsed is None:
        abort(404)
    return parsed


def _neighbour(year: int, week: int, delta: int) -> str:
    """Return the label of the week ``delta`` weeks away."""
    day = date.fromisocalendar(year, week, 1) + timedelta(weeks=delta)
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


@bp.get("/sedmica")
@bp.get("/sedmica/<label>")
def week_page(label: str | None = None) -> Response:
    """Show the weekly overview of one ISO week (this week by default)."""
    year, week = _parse_week_or_404(label)
    core = get_core(current_app)
    report = _week_report(core, year, week)
    lang = current_language()
    return _page(
        "public/week.html",
        report=report,
        min_sample=MIN_SAMPLE,
        previous=_neighbour(year, week, -1),
        following=_neighbour(year, week, 1),
        pdf_url=url_for("public.week_pdf", label=report.label, pismo={"sr-Latn": "lat", "en": "en"}.get(lang, "cir")),
        radio_url=url_for("public.week_radio", label=report.label, pismo="lat" if lang == "sr-Latn" else "cir"),
    )


@bp.get("/sedmica/<label>.pdf")
def week_pdf(label: str) -> Response:
    """Serve the weekly overview as a PDF with charts."""
    from callcenter_ui.pdf.weekly import render_pdf

    year, week = _parse_week_or_404(label)
    core = get_core(current_app)
    report = _week_report(core, year, week)
    lang = current_language()
    cache, _ = _state(current_app)
    data: bytes = cache.get_or_make(
        ("pdf", year, week, lang, report.as_of), 600, lambda: render_pdf(report, lang, core.settings.timezone)
    )
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="sistem48-{report.label}.pdf"'
    return response


@bp.get("/sedmica/<label>/radio.txt")
def week_radio(label: str) -> Response:
    """Serve the radio script of the week as plain text (Cyrillic, or Latin with ``?pismo=lat``)."""
    year, week = _parse_week_or_404(label)
    core = get_core(current_app)
    report = _week_report(core, year, week)
    script = "sr-Latn" if current_language() == "sr-Latn" else "sr-Cyrl"
    return Response(radio_script(report, script), mimetype="text/plain; charset=utf-8")


@bp.get("/feed.atom")
def atom_feed() -> Response:
    """Serve the newest public status changes as an Atom 1.0 feed (the radio station follows it)."""
    core = get_core(current_app)
    lang = current_language()
    with core.session_factory() as db:
        entries = pub.feed(db)
    base = core.settings.public_base_url.rstrip("/")
    ET.register_namespace("", ATOM_NS)

    def el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node

    root = ET.Element(f"{{{ATOM_NS}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": lang})
    el(root, "id", f"{base}/feed.atom")
    el(root, "title", i18n.t("site", lang))
    el(root, "subtitle", i18n.t("promise", lang))
    updated = entries[0].at if entries else core.clock.now()
    el(root, "updated", _rfc3339(updated))
    el(root, "link", rel="self", href=f"{base}/feed.atom", type="application/atom+xml")
    el(root, "link", rel="alternate", href=f"{base}/", type="text/html")
    author = el(root, "author")
    el(author, "name", i18n.t("site", lang))
    for entry in entries:
        item = el(root, "entry")
        el(item, "id", f"{base}/t/{entry.code}#s{entry.id}")
        status = i18n.status_text(entry.status, lang) if entry.status else ""
        title = f"{entry.code}: {status}" if status else entry.code
        if entry.category_name:
            title += f" — {i18n.name(entry.category_name, lang)}"
        el(item, "title", title)
        el(item, "updated", _rfc3339(entry.at))
        el(item, "link", rel="alternate", href=f"{base}/t/{entry.code}", type="text/html")
        el(item, "summary", i18n.name(entry.note, lang) if lang != "sr-Cyrl" else entry.note)
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(body, mimetype="application/atom+xml")


def _rfc3339(moment: datetime) -> str:
    """Format an aware instant as RFC 3339 in UTC (Atom dates)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
