"""The public face of tickets: what anyone may read about a request, and nothing more.

Everything here is built from an allow-list of fields: status, category, organisation, a coarse place,
dates, deadlines and the notes operators wrote *for the public*. The citizen's name, number, e-mail,
address, free text, attachments and voice never enter these structures, so no page, feed or API built
on them can leak what was never loaded. The citizen relationship is even set to raise if touched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

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


def public_status(ticket: Ticket) -> str:
    """Return the status the public sees: untriaged tickets are only "received"."""
    if ticket.status == Status.NEW.value or ticket.category_id is None:
        return RECEIVED
    return ticket.status


def open_or_closed(status: str) -> str:
    """Map an internal status to Open311's two states."""
    return "closed" if status in {s.value for s in FINAL_STATUSES} else "open"


def coarse_place(raw: str | None, place: Place | None) -> str | None:
    """Return a place fit for the public: a recognisable street or a known settlement, never more.

    A free-text place is the citizen's words; it is shown only when it reads as a street name, cut
    before its first digit (so "Улица Светог Саве 12" becomes "Улица Светог Саве"). Anything else
    ("код куће Марка …") falls back to the settlement we recognised, or to nothing.
    """
    if raw:
        head = re.split(r"\d", raw, maxsplit=1)[0]
        tokens = _WORD_RE.findall(head)
        if 2 <= len(tokens) <= 6 and fold(tokens[0]).rstrip(".") in _STREET_WORDS:
            return " ".join(tokens)[:80]
    if place is not None:
        return place.name_cyrl
    return None


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


def _address_patterns(phrase: str) -> list[re.Pattern[str]]:
    """Return patterns for an address with a house number: the whole, and "<street word> <number>"."""
    patterns = []
    match = re.match(r"(.*?)(\d+\s*[a-zA-Zа-шА-Ш]?)\b", phrase)
    for variant in {phrase, to_latin(phrase)}:
        patterns.append(re.compile(re.escape(variant), re.IGNORECASE))
    if match:
        head_words = _WORD_RE.findall(match.group(1))
        number = match.group(2).strip()
        if head_words:
            last = head_words[-1]
            for variant in {last, to_latin(last)}:
                patterns.append(re.compile(re.escape(variant) + r"\W{0,3}" + re.escape(number), re.IGNORECASE))
    return patterns


def scrub(text: str, private: Private = NOBODY) -> str:
    """Remove personal data that may have slipped into a public text.

    Operators write public notes for the public, but a pasted number or a name is one slip away:
    e-mail addresses, phone-like digit runs and the reporter's own name (in any case ending),
    number, e-mail and street address are replaced, in either script. Ticket codes stay readable.
    """
    text = text[:MAX_PUBLIC_TEXT]
    parts = _CODE_RE.split(text)
    codes = _CODE_RE.findall(text)
    patterns = [p for phrase in private.phrases if phrase and len(phrase) >= 3 for p in _address_patterns(phrase)]
    is_name = _name_matcher(private.names) if private.names else None

    def redact_name(match: re.Match[str]) -> str:
        return REDACTED if is_name is not None and is_name(match.group(0)) else match.group(0)

    cleaned: list[str] = []
    for part in parts:
        for pattern in patterns:
            part = pattern.sub(REDACTED, part)
        part = _EMAIL_RE.sub(REDACTED, part)
        part = _DIGIT_RUN_RE.sub(REDACTED, part)
        if is_name is not None:
            part = _WORD_RE.sub(redact_name, part)
        cleaned.append(part)
    out = cleaned[0]
    for code, part in zip(codes, cleaned[1:], strict=True):
        out += code + part
    return out


def _private_values(session: so.Session, tickets: Sequence[tuple[int, str | None, int | None]]) -> dict[int, Private]:
    """Return each ticket's reporter strings (keyed by ticket id), used only to scrub them out of public text.

    ``tickets`` holds (ticket id, free-text place, citizen id); one query loads every citizen needed.
    """
    citizen_ids = {c for _, _, c in tickets if c is not None}
    people: dict[int, tuple[str | None, list[str]]] = {}
    if citizen_ids:
        rows = session.execute(
            sa.select(Citizen.id, Citizen.name, Citizen.phone_raw, Citizen.phone_e164, Citizen.email).where(
                Citizen.id.in_(citizen_ids)
            )
        ).all()
        people = {row[0]: (row[1], [v for v in row[2:] if v]) for row in rows}
    values: dict[int, Private] = {}
    for ticket_id, place, citizen_id in tickets:
        name, phrases = people.get(citizen_id, (None, [])) if citizen_id is not None else (None, [])
        found = list(phrases)
        if place and re.search(r"\d", place):
            found.append(place)
        values[ticket_id] = Private(names=(name,) if name else (), phrases=tuple(found))
    return values


def _base_query() -> sa.Select[Ticket]:
    """Select tickets without ever loading the citizen (touching it raises)."""
    return sa.select(Ticket).options(so.raiseload(Ticket.citizen))


def _deadline_flags(ticket: Ticket, now: datetime) -> tuple[bool | None, bool | None]:
    """Tell whether the 48-hour answer and the resolution deadline were met (None: not decided yet)."""
    if ticket.answered_at is not None:
        answer_met: bool | None = ticket.answered_at <= ticket.answer_due
    else:
        answer_met = False if now > ticket.answer_due else None
    if ticket.resolved_at is not None:
        resolve_met: bool | None = ticket.resolved_at <= ticket.resolve_due
    elif ticket.status in (Status.REFERRED.value, Status.CLOSED.value):
        resolve_met = None  # handled elsewhere or closed without a repair: no resolution clock to judge
    else:
        resolve_met = False if now > ticket.resolve_due else None
    return answer_met, resolve_met


def _to_public(
    ticket: Ticket,
    now: datetime,
    places: dict[int, Place],
    *,
    last_note: str | None = None,
    trail: tuple[PublicStep, ...] = (),
    cluster_size: int = 1,
    transcript: str | None = None,
    coords: tuple[float, float] | None = None,
) -> PublicTicket:
    """Build the public view of a loaded ticket."""
    status = public_status(ticket)
    triaged = status != RECEIVED
    answer_met, resolve_met = _deadline_flags(ticket, now)
    return PublicTicket(
        code=ticket.code,
        status=status,
        state=open_or_closed(ticket.status),
        channel=ticket.channel,
        category_code=ticket.category.code if triaged and ticket.category else None,
        category_name=ticket.category.name if triaged and ticket.category else None,
        organisation_name=ticket.organisation.name if triaged and ticket.organisation else None,
        place=coarse_place(ticket.place, places.get(ticket.place_id) if ticket.place_id else None),
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        answer_due=ticket.answer_due,
        resolve_due=ticket.resolve_due,
        answered_at=ticket.answered_at,
        resolved_at=ticket.resolved_at,
        answer_met=answer_met,
        resolve_met=resolve_met,
        cluster_size=cluster_size,
        last_note=last_note,
        trail=trail,
        transcript=transcript,
        lat=coords[0] if coords else None,
        long=coords[1] if coords else None,
    )


def _places(session: so.Session, ids: set[int]) -> dict[int, Place]:
    """Load the places referenced by a set of tickets."""
    if not ids:
        return {}
    return {p.id: p for p in session.scalars(sa.select(Place).where(Place.id.in_(ids)))}


def _public_notes(session: so.Session, ticket_ids: Sequence[int]) -> dict[int, list[StatusChange]]:
    """Return each ticket's public history lines, oldest first (the sweeper's steps are internal)."""
    if not ticket_ids:
        return {}
    rows = session.scalars(
        sa.select(StatusChange)
        .where(
            StatusChange.ticket_id.in_(ticket_ids),
            StatusChange.public_note.is_not(None),
            StatusChange.public_note != "",
            StatusChange.actor_label != "sweeper",
        )
        .order_by(StatusChange.ticket_id, StatusChange.at, StatusChange.id)
    )
    notes: dict[int, list[StatusChange]] = {}
    for row in rows:
        notes.setdefault(row.ticket_id, []).append(row)
    return notes


def _coords(session: so.Session, ticket_ids: Sequence[int]) -> dict[int, tuple[float, float]]:
    """Return the rounded coordinates an Open311 client gave for its requests (kept in message meta)."""
    if not ticket_ids:
        return {}
    rows = session.execute(
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


def find_public(session: so.Session, code: str, now: datetime) -> PublicTicket | None:
    """Return the public trail of one request, or None for an unknown code."""
    code = code.strip()
    if not is_code(code):
        return None
    ticket = session.scalar(_base_query().where(Ticket.code == code))
    if ticket is None:
        return None
    private = _private_values(session, [(ticket.id, ticket.place, ticket.citizen_id)])[ticket.id]
    rows = _public_notes(session, [ticket.id]).get(ticket.id, [])[-MAX_TRAIL:]
    trail = tuple(PublicStep(at=r.at, status=r.to_status, note=scrub(r.public_note or "", private)) for r in rows)
    root = ticket.cluster_id or ticket.id
    cluster_size = session.scalar(
        sa.select(sa.func.count()).select_from(Ticket).where(sa.or_(Ticket.id == root, Ticket.cluster_id == root))
    )
    transcript: str | None = None
    # A voicemail may also join a ticket opened on another channel, so every ticket is looked up.
    vm = session.scalar(
        sa.select(Voicemail.transcript_redacted)
        .where(
            Voicemail.ticket_id == ticket.id,
            Voicemail.publish_transcript.is_(True),
            Voicemail.transcript_redacted.is_not(None),
        )
        .order_by(Voicemail.id)
        .limit(1)
    )
    if vm:
        transcript = scrub(vm, private)
    places = _places(session, {ticket.place_id} if ticket.place_id else set())
    coords = _coords(session, [ticket.id]) if ticket.channel == "open311" else {}
    return _to_public(
        ticket,
        now,
        places,
        last_note=trail[-1].note if trail else None,
        trail=trail,
        cluster_size=max(1, cluster_size or 1),
        transcript=transcript,
        coords=coords.get(ticket.id),
    )


def recent(session: so.Session, flt: PortalFilter, now: datetime) -> list[PublicTicket]:
    """List recent requests for the portal, newest first."""
    query = _base_query().order_by(Ticket.id.desc())
    if flt.category:
        query = query.join(Category, Category.id == Ticket.category_id).where(Category.code == flt.category)
    if flt.status == RECEIVED:
        query = query.where(sa.or_(Ticket.status == Status.NEW.value, Ticket.category_id.is_(None)))
    elif flt.status in ("open", "closed"):
        wanted = OPEN_STATUSES if flt.status == "open" else FINAL_STATUSES
        query = query.where(Ticket.status.in_([s.value for s in wanted]))
    elif flt.status:
        query = query.where(Ticket.status == flt.status, Ticket.category_id.is_not(None))
    if flt.place_id is not None:
        query = query.where(Ticket.place_id == flt.place_id)
    tickets = session.scalars(query.limit(max(1, min(flt.limit, MAX_LIST)))).unique().all()
    places = _places(session, {t.place_id for t in tickets if t.place_id})
    return [_to_public(t, now, places) for t in tickets]


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
        .where(
            StatusChange.public_note.is_not(None),
            StatusChange.public_note != "",
            StatusChange.actor_label != "sweeper",
        )
        .order_by(StatusChange.at.desc(), StatusChange.id.desc())
        .limit(max(1, min(limit, MAX_FEED)))
    ).all()
    names = {c.id: c.name for c in session.scalars(sa.select(Category))}
    private_by_ticket = _private_values(session, [(r[0].ticket_id, r[4], r[5]) for r in rows])
    entries: list[FeedEntry] = []
    for change, code, status, category_id, _place, _citizen in rows:
        private = private_by_ticket[change.ticket_id]
        triaged = status != Status.NEW.value and category_id is not None
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


def open311_requests(session: so.Session, query: Open311Query, now: datetime) -> list[PublicTicket]:
    """Run a GeoReport v2 ``GET requests`` query, newest first."""
    stmt = _base_query().order_by(Ticket.id.desc())
    if query.codes:
        # The spec: a list of ids overrides every other argument.
        stmt = stmt.where(Ticket.code.in_(query.codes[:MAX_OPEN311]))
    else:
        if query.service_codes:
            stmt = stmt.join(Category, Category.id == Ticket.category_id).where(
                Category.code.in_(query.service_codes[:50])
            )
        if query.start is not None:
            stmt = stmt.where(Ticket.created_at >= query.start)
        if query.end is not None:
            stmt = stmt.where(Ticket.created_at <= query.end)
        if query.states and query.states != {"open", "closed"}:
            wanted = OPEN_STATUSES if "open" in query.states else FINAL_STATUSES
            stmt = stmt.where(Ticket.status.in_([s.value for s in wanted]))
    tickets = session.scalars(stmt.limit(max(1, min(query.limit, MAX_OPEN311)))).unique().all()
    ids = [t.id for t in tickets]
    notes = _public_notes(session, ids)
    places = _places(session, {t.place_id for t in tickets if t.place_id})
    coords = _coords(session, [t.id for t in tickets if t.channel == "open311"])
    private = _private_values(session, [(t.id, t.place, t.citizen_id) for t in tickets if t.id in notes])
    result: list[PublicTicket] = []
    for ticket in tickets:
        lines = notes.get(ticket.id)
        last = None
        if lines:
            last = scrub(lines[-1].public_note or "", private[ticket.id])
        result.append(_to_public(ticket, now, places, last_note=last, coords=coords.get(ticket.id)))
    return result


def organisation_names(session: so.Session) -> dict[int, str]:
    """Return organisation names by id."""
    return {o.id: o.name for o in session.scalars(sa.select(Organisation))}


def default_window(now: datetime) -> tuple[datetime, datetime]:
    """Return Open311's default window: the last 90 days."""
    return now - timedelta(days=90), now
