"""The public face of tickets: what anyone may read about a request, and nothing more.

Everything here is built from an allow-list of fields: status, category, organisation, a coarse place,
dates, deadlines and the notes operators wrote *for the public*. The citizen's name, number, e-mail,
address, free text, attachments and voice never enter these structures, so no page, feed or API built
on them can leak what was never loaded. The reporter's name, numbers and e-mail are read (in the same
query as the ticket) only to scrub them out of public notes and transcripts, and are dropped there.

The reads are column queries on a plain connection, not ORM entities: the tracking page and Open311
are the busiest pages of the system (see ``bench/public.py``). A tracking page is one statement (the
ticket with its joins, scalar subqueries for its cluster and transcript, and its public notes joined),
and so is an Open311 listing (each ticket's newest note is a correlated subquery); only requests
that came in through Open311 need one more, for their coordinates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.fixed import FixedQuery
from core.db.models import Category, Citizen, Message, Organisation, Place, StatusChange, Ticket, Voicemail
from core.domain.tickets import FINAL_STATUSES, OPEN_STATUSES, Status, is_code
from core.text import fold, to_latin

MAX_LIST = 100
MAX_OPEN311 = 1000
MAX_FEED = 100
MAX_TRAIL = 200
MAX_PUBLIC_TEXT = 2000
RECEIVED = "received"  # the public status of tickets not yet triaged (status new, or no category)

# Words that make a free-text place recognisable as a street or square; anything else is not shown.
_STREET_WORDS = frozenset(
    {"ulica", "ul", "trg", "bulevar", "put", "naselje", "sokak", "obala", "setaliste", "prolaz", "magistrala"}
)
_CODE_RE = re.compile(r"48-20\d\d-\d{6}")
_EMAIL_RE = re.compile(r"[\w.+-]+\s*(?:@|\(at\)|\[at\])\s*[\w-]+(?:\s*\.\s*[\w-]+)+", re.IGNORECASE)
# Six or more digits, possibly split by spaces, slashes, dots, dashes or brackets: phone numbers,
# JMBG (13 digits), account numbers. Ticket codes are protected before this runs.
_DIGIT_RUN_RE = re.compile(r"\+?\d(?:[\s/().\-]*\d){5,}")
_WORD_RE = re.compile(r"\w+")
REDACTED = "[…]"
T = TypeVar("T")


@dataclass(frozen=True)
class PublicStep:
    """One line of the public trail: when, which status, and the operator's public note."""

    at: datetime
    status: str | None
    note: str


@dataclass(frozen=True)
class PublicTicket:
    """What the public may know about one request."""

    code: str
    status: str  # internal status, or RECEIVED while the ticket is untriaged
    state: str  # "open" or "closed" (Open311)
    channel: str
    category_code: str | None
    category_name: str | None
    organisation_name: str | None
    place: str | None  # coarse, Cyrillic (or as written); never a house number
    created_at: datetime
    updated_at: datetime
    answer_due: datetime
    resolve_due: datetime
    answered_at: datetime | None
    resolved_at: datetime | None
    answer_met: bool | None  # None: still within the deadline
    resolve_met: bool | None  # None: pending, or not applicable (referred elsewhere)
    cluster_size: int = 1
    last_note: str | None = None
    trail: tuple[PublicStep, ...] = ()
    transcript: str | None = None
    lat: float | None = None
    long: float | None = None

    @property
    def hours_to_answer(self) -> float | None:
        """Return how long the first answer took, in hours."""
        if self.answered_at is None:
            return None
        return max(0.0, (self.answered_at - self.created_at).total_seconds() / 3600)


@dataclass(frozen=True, kw_only=True)
class PortalFilter:
    """Filters of the public list; all optional."""

    category: str | None = None
    status: str | None = None  # a public status: received, assigned, in_progress, ... or open/closed
    place_id: int | None = None
    limit: int = 50


@dataclass(frozen=True)
class FeedEntry:
    """One public status change for the Atom feed."""

    id: int
    code: str
    at: datetime
    status: str | None
    category_name: str | None
    note: str


@dataclass(frozen=True, kw_only=True)
class Open311Query:
    """GeoReport v2 ``GET requests`` filters, already validated."""

    codes: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    states: frozenset[str] = field(default_factory=frozenset)
    limit: int = MAX_OPEN311


_FINAL_VALUES = frozenset(s.value for s in FINAL_STATUSES)
_OPEN_VALUES = frozenset(s.value for s in OPEN_STATUSES)
_NEW = Status.NEW.value
_NO_RESOLVE_CLOCK = frozenset({Status.REFERRED.value, Status.CLOSED.value})


def public_status(status: str, category_id: int | None) -> str:
    """Return the status the public sees: untriaged tickets are only "received"."""
    if status == _NEW or category_id is None:
        return RECEIVED
    return status


def open_or_closed(status: str) -> str:
    """Map an internal status to Open311's two states."""
    return "closed" if status in _FINAL_VALUES else "open"


@lru_cache(maxsize=4096)
def coarse_place(raw: str | None, settlement: str | None) -> str | None:
    """Return a place fit for the public: a recognisable street or a known settlement, never more.

    A free-text place is the citizen's words; it is shown only when it reads as a street name, cut
    before its first digit (so "Улица Светог Саве 12" becomes "Улица Светог Саве"). Anything else
    ("код куће Марка …") falls back to the settlement we recognised (its Cyrillic name), or to nothing.
    """
    if raw:
        head = _FIRST_DIGIT_RE.split(raw, maxsplit=1)[0]
        tokens = _WORD_RE.findall(head)
        if 2 <= len(tokens) <= 6 and fold(tokens[0]).rstrip(".") in _STREET_WORDS:
            return " ".join(tokens)[:80]
    return settlement


_FIRST_DIGIT_RE = re.compile(r"\d")


@dataclass(frozen=True)
class Private:
    """A reporter's own identifying strings, loaded only to be scrubbed out of public text."""

    names: tuple[str, ...] = ()  # matched word by word, tolerating Serbian case endings
    phrases: tuple[str, ...] = ()  # matched whole: phone as given, e-mail, an address with a number


NOBODY = Private()


def _name_matcher(names: Sequence[str]) -> Callable[[str], bool]:
    """Return a test for words that are (an inflected form of) one of the reporter's names.

    "Драгана" is also written "Драгану", "Dragani", "DRAGANE": names of five letters or more match
    by their stem (all but the last letter) plus up to three more letters; shorter ones match whole.
    """
    exact: set[str] = set()
    stems: list[tuple[str, int]] = []
    for value in names:
        for word in _WORD_RE.findall(value):
            folded = fold(word)
            if len(folded) < 3:
                continue
            if len(folded) >= 5:
                stems.append((folded[:-1], len(folded) + 3))
            else:
                exact.add(folded)

    def matches(word: str) -> bool:
        folded = fold(word)
        return folded in exact or any(folded.startswith(stem) and len(folded) <= limit for stem, limit in stems)

    return matches


# Characters no other character equals under re.IGNORECASE (a test checks this over all of Unicode).
# Every match of a literal phrase contains its digits and "@" verbatim, so a text without them cannot
# match and the pattern need not even be compiled: most public notes carry no digits at all.
_CASELESS_RUN_RE = re.compile(r"[0-9]+|@")


def _anchor(literal: str) -> str | None:
    """Return a caseless piece every case-insensitive match of ``literal`` must contain (None: none)."""
    runs = _CASELESS_RUN_RE.findall(literal)
    return max(runs, key=len) if runs else None


@lru_cache(maxsize=4096)
def _address_rules(phrase: str) -> tuple[tuple[str | None, str], ...]:
    """Return (anchor, regex source) pairs for a phrase: the whole, and "<street word> <number>".

    The regexes are compiled only when a text holds the anchor (``_compiled``), which keeps a
    1000-row Open311 listing, with 1000 different reporters, from compiling thousands of patterns.
    """
    rules: list[tuple[str | None, str]] = []
    match = re.match(r"(.*?)(\d+\s*[a-zA-Zа-шА-Ш]?)\b", phrase)
    for variant in dict.fromkeys((phrase, to_latin(phrase))):
        rules.append((_anchor(variant), re.escape(variant)))
    if match:
        head_words = _WORD_RE.findall(match.group(1))
        number = match.group(2).strip()
        if head_words:
            last = head_words[-1]
            for variant in dict.fromkeys((last, to_latin(last))):
                rules.append((_anchor(number), re.escape(variant) + r"\W{0,3}" + re.escape(number)))
    return tuple(rules)


@lru_cache(maxsize=2048)
def _compiled(source: str) -> re.Pattern[str]:
    """Compile a case-insensitive pattern once (re's own cache holds only 512)."""
    return re.compile(source, re.IGNORECASE)


def scrub(text: str, private: Private = NOBODY) -> str:
    """Remove personal data that may have slipped into a public text.

    Operators write public notes for the public, but a pasted number or a name is one slip away:
    e-mail addresses, phone-like digit runs and the reporter's own name (in any case ending),
    number, e-mail and street address are replaced, in either script. Ticket codes stay readable.
    """
    text = text[:MAX_PUBLIC_TEXT]
    parts = _CODE_RE.split(text)
    codes = _CODE_RE.findall(text)
    rules = [rule for phrase in private.phrases if phrase and len(phrase) >= 3 for rule in _address_rules(phrase)]
    is_name = _name_matcher(private.names) if private.names else None

    def redact_name(match: re.Match[str]) -> str:
        return REDACTED if is_name is not None and is_name(match.group(0)) else match.group(0)

    cleaned: list[str] = []
    for part in parts:
        for anchor, source in rules:
            if anchor is None or anchor in part:
                part = _compiled(source).sub(REDACTED, part)
        part = _EMAIL_RE.sub(REDACTED, part)
        part = _DIGIT_RUN_RE.sub(REDACTED, part)
        if is_name is not None:
            part = _WORD_RE.sub(redact_name, part)
        cleaned.append(part)
    out = cleaned[0]
    for code, part in zip(codes, cleaned[1:], strict=True):
        out += code + part
    return out


def _private(name: str | None, phrases: Sequence[str | None], place: str | None) -> Private:
    """Return a reporter's strings to scrub: name, numbers and e-mail as stored, and a place with a number."""
    found = [v for v in phrases if v]
    if place and _FIRST_DIGIT_RE.search(place):
        found.append(place)
    return Private(names=(name,) if name else (), phrases=tuple(found))


def _private_values(session: so.Session, tickets: Sequence[tuple[int, str | None, int | None]]) -> dict[int, Private]:
    """Return each ticket's reporter strings (keyed by ticket id), used only to scrub them out of public text.

    ``tickets`` holds (ticket id, free-text place, citizen id); one query loads every citizen needed.
    """
    citizen_ids = {c for _, _, c in tickets if c is not None}
    people: dict[int, tuple[str | None, list[str | None]]] = {}
    if citizen_ids:
        rows = session.execute(
            sa.select(Citizen.id, Citizen.name, Citizen.phone_raw, Citizen.phone_e164, Citizen.email).where(
                Citizen.id.in_(citizen_ids)
            )
        ).all()
        people = {row[0]: (row[1], list(row[2:])) for row in rows}
    values: dict[int, Private] = {}
    for ticket_id, place, citizen_id in tickets:
        name, phrases = people.get(citizen_id, (None, [])) if citizen_id is not None else (None, [])
        values[ticket_id] = _private(name, phrases, place)
    return values


Db = so.Session | sa.Connection


def _conn(db: Db) -> sa.Connection:
    """Return the connection to run column queries on (a session's own, inside its transaction)."""
    return db.connection() if isinstance(db, so.Session) else db


def read(engine: sa.Engine, query: Callable[[sa.Connection], T]) -> T:
    """Run a public read (``query`` on a connection of ``Core.read_engine``) and return its result.

    A pooled connection the server has dropped (a restart, an idle timeout) fails once and is
    invalidated with its pool; the read then runs once more on a new connection, so a citizen
    never sees that failure. A server that is really down still fails (the app answers 503).
    """
    try:
        with engine.connect() as conn:
            return query(conn)
    except sa.exc.DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    with engine.connect() as conn:
        return query(conn)


# The public history lines: a note written for the public, and not one of the sweeper's (internal) steps.
_PUBLIC_NOTE = (
    StatusChange.public_note.is_not(None),
    StatusChange.public_note != "",
    StatusChange.actor_label != "sweeper",
)

# The ticket columns a public view is made of; citizen columns are added only where text is scrubbed.
_TICKET_COLUMNS = (
    Ticket.id,
    Ticket.code,
    Ticket.status,
    Ticket.channel,
    Ticket.category_id,
    Ticket.place,
    Ticket.created_at,
    Ticket.updated_at,
    Ticket.answer_due,
    Ticket.resolve_due,
    Ticket.answered_at,
    Ticket.resolved_at,
    Category.code.label("category_code"),
    Category.name.label("category_name"),
    Organisation.name.label("organisation_name"),
    Place.name_cyrl.label("settlement"),
)
_SCRUB_COLUMNS = (
    Citizen.name.label("citizen_name"),
    Citizen.phone_raw.label("citizen_phone_raw"),
    Citizen.phone_e164.label("citizen_phone"),
    Citizen.email.label("citizen_email"),
)


def _select_tickets(*extra: Any) -> sa.Select[*tuple[Any, ...]]:
    """Select the public columns of tickets (and ``extra``) with their category, organisation and place."""
    return (
        sa.select(*_TICKET_COLUMNS, *extra)
        .select_from(Ticket)
        .outerjoin(Category, Category.id == Ticket.category_id)
        .outerjoin(Organisation, Organisation.id == Ticket.organisation_id)
        .outerjoin(Place, Place.id == Ticket.place_id)
    )


def _private_of(row: Any) -> Private:
    """Return the reporter strings of a row selected with ``_SCRUB_COLUMNS`` (joined citizen)."""
    return _private(row.citizen_name, (row.citizen_phone_raw, row.citizen_phone, row.citizen_email), row.place)


def _deadline_flags(
    status: str,
    answered_at: datetime | None,
    answer_due: datetime,
    resolved_at: datetime | None,
    resolve_due: datetime,
    now: datetime,
) -> tuple[bool | None, bool | None]:
    """Tell whether the 48-hour answer and the resolution deadline were met (None: not decided yet)."""
    if answered_at is not None:
        answer_met: bool | None = answered_at <= answer_due
    else:
        answer_met = False if now > answer_due else None
    if resolved_at is not None:
        resolve_met: bool | None = resolved_at <= resolve_due
    elif status in _NO_RESOLVE_CLOCK:
        resolve_met = None  # handled elsewhere or closed without a repair: no resolution clock to judge
    else:
        resolve_met = False if now > resolve_due else None
    return answer_met, resolve_met


def _to_public(
    row: Any,
    now: datetime,
    *,
    last_note: str | None = None,
    trail: tuple[PublicStep, ...] = (),
    cluster_size: int = 1,
    transcript: str | None = None,
    coords: tuple[float, float] | None = None,
) -> PublicTicket:
    """Build the public view of a row selected by ``_select_tickets``."""
    status = public_status(row.status, row.category_id)
    triaged = status != RECEIVED
    answer_met, resolve_met = _deadline_flags(
        row.status, row.answered_at, row.answer_due, row.resolved_at, row.resolve_due, now
    )
    return PublicTicket(
        code=row.code,
        status=status,
        state=open_or_closed(row.status),
        channel=row.channel,
        category_code=row.category_code if triaged else None,
        category_name=row.category_name if triaged else None,
        organisation_name=row.organisation_name if triaged else None,
        place=coarse_place(row.place, row.settlement),
        created_at=row.created_at,
        updated_at=row.updated_at,
        answer_due=row.answer_due,
        resolve_due=row.resolve_due,
        answered_at=row.answered_at,
        resolved_at=row.resolved_at,
        answer_met=answer_met,
        resolve_met=resolve_met,
        cluster_size=cluster_size,
        last_note=last_note,
        trail=trail,
        transcript=transcript,
        lat=coords[0] if coords else None,
        long=coords[1] if coords else None,
    )


def _coords(conn: sa.Connection, ticket_ids: Sequence[int]) -> dict[int, tuple[float, float]]:
    """Return the rounded coordinates an Open311 client gave for its requests (kept in message meta)."""
    if not ticket_ids:
        return {}
    rows = conn.execute(
        sa.select(Message.ticket_id, Message.meta)
        .where(Message.ticket_id.in_(ticket_ids), Message.channel == "open311", Message.direction == "in")
        .order_by(Message.id)
    ).all()
    found: dict[int, tuple[float, float]] = {}
    for ticket_id, meta in rows:
        if ticket_id is None or ticket_id in found or not isinstance(meta, dict):
            continue
        lat, lon = meta.get("lat"), meta.get("long")
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            found[ticket_id] = (round(float(lat), 3), round(float(lon), 3))
    return found


def _find_statement() -> sa.Select[*tuple[Any, ...]]:
    """Build the one query of a tracking page: one row per public note (newest first), or one without.

    Each row carries the ticket with its joins, the reporter's strings (to scrub, never to show), the
    size of its cluster and the published redacted transcript; the note columns are empty when the
    ticket has no public history yet. One round trip instead of one per kind of fact.
    """
    member = so.aliased(Ticket)
    root = sa.func.coalesce(Ticket.cluster_id, Ticket.id)
    cluster_size = (
        sa.select(sa.func.count())
        .select_from(member)
        .where(sa.or_(member.id == root, member.cluster_id == root))
        .scalar_subquery()
    )
    # A voicemail may also join a ticket opened on another channel, so every ticket is looked up;
    # only a redacted transcript someone chose to publish ever leaves the building.
    transcript = (
        sa.select(Voicemail.transcript_redacted)
        .where(
            Voicemail.ticket_id == Ticket.id,
            Voicemail.publish_transcript.is_(True),
            Voicemail.transcript_redacted.is_not(None),
        )
        .order_by(Voicemail.id)
        .limit(1)
        .scalar_subquery()
    )
    return (
        _select_tickets(
            *_SCRUB_COLUMNS,
            cluster_size.label("cluster_size"),
            transcript.label("transcript"),
            StatusChange.at.label("note_at"),
            StatusChange.to_status.label("note_status"),
            StatusChange.public_note.label("note"),
        )
        .outerjoin(Citizen, Citizen.id == Ticket.citizen_id)
        .outerjoin(StatusChange, sa.and_(StatusChange.ticket_id == Ticket.id, *_PUBLIC_NOTE))
        .where(Ticket.code == sa.bindparam("code"))
        # Newest first, so that a very long history is cut at its oldest end.
        .order_by(StatusChange.at.desc(), StatusChange.id.desc())
        .limit(MAX_TRAIL)
    )


_FIND = FixedQuery(_find_statement())


def find_public(db: Db, code: str, now: datetime) -> PublicTicket | None:
    """Return the public trail of one request, or None for an unknown code."""
    code = code.strip()
    if not is_code(code):
        return None
    conn = _conn(db)
    rows = _FIND.rows(conn, {"code": code})
    if not rows:
        return None
    row = rows[0]
    private = _private_of(row) if row.note is not None or row.transcript else NOBODY
    trail = tuple(
        PublicStep(at=r.note_at, status=r.note_status, note=scrub(r.note, private))
        for r in reversed(rows)
        if r.note is not None
    )
    coords = _coords(conn, [row.id]) if row.channel == "open311" else {}
    return _to_public(
        row,
        now,
        last_note=trail[-1].note if trail else None,
        trail=trail,
        cluster_size=max(1, row.cluster_size or 1),
        transcript=scrub(row.transcript, private) if row.transcript else None,
        coords=coords.get(row.id),
    )


def recent(db: Db, flt: PortalFilter, now: datetime) -> list[PublicTicket]:
    """List recent requests for the portal, newest first."""
    query = _select_tickets().order_by(Ticket.id.desc())
    if flt.category:
        query = query.where(Category.code == flt.category)
    if flt.status == RECEIVED:
        query = query.where(sa.or_(Ticket.status == _NEW, Ticket.category_id.is_(None)))
    elif flt.status in ("open", "closed"):
        query = query.where(Ticket.status.in_(sorted(_OPEN_VALUES if flt.status == "open" else _FINAL_VALUES)))
    elif flt.status:
        query = query.where(Ticket.status == flt.status, Ticket.category_id.is_not(None))
    if flt.place_id is not None:
        query = query.where(Ticket.place_id == flt.place_id)
    rows = _conn(db).execute(query.limit(max(1, min(flt.limit, MAX_LIST)))).all()
    return [_to_public(row, now) for row in rows]


def settlements(session: so.Session) -> list[Place]:
    """Return the known settlements, for the portal's filter."""
    return list(session.scalars(sa.select(Place).order_by(Place.name_latn)))


def categories(session: so.Session) -> list[Category]:
    """Return the active categories (Open311 services), in a stable order."""
    return list(session.scalars(sa.select(Category).where(Category.active.is_(True)).order_by(Category.id)))


def feed(session: so.Session, limit: int = 50) -> list[FeedEntry]:
    """Return the newest public status changes, newest first."""
    rows = session.execute(
        sa.select(StatusChange, Ticket.code, Ticket.status, Ticket.category_id, Ticket.place, Ticket.citizen_id)
        .join(Ticket, Ticket.id == StatusChange.ticket_id)
        .where(*_PUBLIC_NOTE)
        .order_by(StatusChange.at.desc(), StatusChange.id.desc())
        .limit(max(1, min(limit, MAX_FEED)))
    ).all()
    names = {c.id: c.name for c in session.scalars(sa.select(Category))}
    private_by_ticket = _private_values(session, [(r[0].ticket_id, r[4], r[5]) for r in rows])
    entries: list[FeedEntry] = []
    for change, code, status, category_id, _place, _citizen in rows:
        private = private_by_ticket[change.ticket_id]
        triaged = status != _NEW and category_id is not None
        entries.append(
            FeedEntry(
                id=change.id,
                code=code,
                at=change.at,
                status=change.to_status,
                category_name=names.get(category_id) if triaged and category_id else None,
                note=scrub(change.public_note or "", private),
            )
        )
    return entries


def _last_note() -> sa.ScalarSelect[Any]:
    """Return a correlated subquery: the ticket's newest public note (what Open311 calls status_notes)."""
    return (
        sa.select(StatusChange.public_note)
        .where(StatusChange.ticket_id == Ticket.id, *_PUBLIC_NOTE)
        .order_by(StatusChange.at.desc(), StatusChange.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _listing_statement() -> sa.Select[*tuple[Any, ...]]:
    """Select tickets for Open311: public columns, the newest public note, and the reporter's strings to scrub it."""
    return (
        _select_tickets(*_SCRUB_COLUMNS, _last_note().label("last_note"))
        .outerjoin(Citizen, Citizen.id == Ticket.citizen_id)
        .order_by(Ticket.id.desc())
    )


# Look-ups by id are the hot path of Open311 (a client following its requests): built once, and
# the usual single id without an expanding IN list (re-rendered on every execution).
_BY_CODES = (
    _listing_statement().where(Ticket.code.in_(sa.bindparam("codes", expanding=True))).limit(sa.bindparam("limit"))
)
_BY_CODE = FixedQuery(_listing_statement().where(Ticket.code == sa.bindparam("code")))


def open311_requests(db: Db, query: Open311Query, now: datetime) -> list[PublicTicket]:
    """Run a GeoReport v2 ``GET requests`` query, newest first.

    One statement: the tickets with their joins, each one's newest public note as a correlated
    subquery, and the reporter's strings (joined) to scrub that note; coordinates are a second
    query only when some rows came in through Open311.
    """
    conn = _conn(db)
    limit = max(1, min(query.limit, MAX_OPEN311))
    if len(query.codes) == 1:
        rows: Sequence[Any] = _BY_CODE.rows(conn, {"code": query.codes[0]})
    elif query.codes:
        # The spec: a list of ids overrides every other argument.
        rows = conn.execute(_BY_CODES, {"codes": list(query.codes[:MAX_OPEN311]), "limit": limit}).all()
    else:
        rows = conn.execute(_filtered(query).limit(limit)).all()
    coords = _coords(conn, [r.id for r in rows if r.channel == "open311"])
    return [
        _to_public(
            row,
            now,
            last_note=scrub(row.last_note, _private_of(row)) if row.last_note else None,
            coords=coords.get(row.id),
        )
        for row in rows
    ]


def _filtered(query: Open311Query) -> sa.Select[*tuple[Any, ...]]:
    """Return the listing statement with the filters of a query without ids."""
    stmt = _listing_statement()
    if query.service_codes:
        stmt = stmt.where(Category.code.in_(query.service_codes[:50]))
    if query.start is not None:
        stmt = stmt.where(Ticket.created_at >= query.start)
    if query.end is not None:
        stmt = stmt.where(Ticket.created_at <= query.end)
    if query.states and query.states != {"open", "closed"}:
        wanted = _OPEN_VALUES if "open" in query.states else _FINAL_VALUES
        stmt = stmt.where(Ticket.status.in_(sorted(wanted)))
    return stmt


def organisation_names(session: so.Session) -> dict[int, str]:
    """Return organisation names by id."""
    return {o.id: o.name for o in session.scalars(sa.select(Organisation))}


def default_window(now: datetime) -> tuple[datetime, datetime]:
    """Return Open311's default window: the last 90 days."""
    return now - timedelta(days=90), now
