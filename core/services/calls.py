"""Phone calls: one row per caller-leg Linkedid, screen pops, the missed-call list and click-to-call.

The telephony daemon translates AMI frames into call events and calls the functions here, one unit
of work each. Every function is idempotent, because AMI streams repeat themselves and a resync after
a reconnect replays what is still live: a call is opened once, a pop is sent once per ringing leg,
and a call is ended once. Nothing here knows about panoramisk or sockets (core stays pure).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.fixed import FixedQuery
from core.db.models import Call, OutboxItem, StatusChange, Ticket, User
from core.db.uow import UnitOfWork, once_more_on_conflict
from core.phones import Phone, parse_phone
from core.services import call_rows, citizens
from core.services.call_rows import CallRow
from core.services.health import report_link
from core.services.history import caller_histories, read_ahead

log = logging.getLogger(__name__)


MAX_CALLER = 256
MAX_LEGS = 100  # ringall retries add a leg every ~22 s; beyond this a call is pathological
MAX_LOG = 20
OPEN_HOUR = 7  # the callback queue opens with the morning shift
MISSED_OUTCOMES = ("missed", "abandoned")
ORIGINATE_KIND = "originate"
CALLBACK_CONTEXT = "sistem48-povratni"

# Fixed-date RS holidays on which the call centre is closed (asterisk_conf/extensions.conf).
FIXED_HOLIDAYS = frozenset({(1, 1), (1, 2), (1, 6), (1, 7), (1, 9), (5, 1), (5, 2), (5, 9), (11, 21)})

ORIGINATE_REASON_LABELS = {
    "answered": "оператер се јавио, бира се грађанин",
    "failed": "позив није успостављен",
    "hangup": "позив је прекинут",
    "ring_timeout": "оператер се није јавио",
    "busy": "заузето",
    "congestion": "мрежа је заузета",
    "uncertain": "исход непознат: веза са централом је прекинута",
    "unknown": "непознат исход",
    "refused": "централа је одбила позив",
}


class CallNotFound(LookupError):
    """No call with that id."""


class CallbackRefused(ValueError):
    """A click-to-call cannot be placed; ``code`` says why, the message is for the operator."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# -- working hours ------------------------------------------------------------------------------


def orthodox_easter(year: int) -> date:
    """Return Orthodox Easter Sunday (Meeus' Julian algorithm, shifted to the Gregorian calendar)."""
    a, b, c = year % 4, year % 7, year % 19
    d = (19 * c + 15) % 30
    e = (2 * a + 4 * b - d + 34) % 7
    month, day = divmod(d + e + 114, 31)
    # The Julian calendar is 13 days behind the Gregorian one from 1900 to 2099.
    return date(year, month, day + 1) + timedelta(days=13)


def is_working_day(day: date) -> bool:
    """Tell whether the call centre opens on this local date (Mon–Fri, not an RS holiday)."""
    if day.weekday() >= 5 or (day.month, day.day) in FIXED_HOLIDAYS:
        return False
    easter = orthodox_easter(day.year)
    return day not in (easter - timedelta(days=2), easter + timedelta(days=1))


def next_callback_at(at: datetime, timezone: str = "Europe/Sarajevo") -> datetime:
    """Return when a call missed at ``at`` joins the callback queue: the next 07:00 local on a working day.

    Before 07:00 on a working day that is the same morning; otherwise the next working day, so a
    call missed on Friday evening waits for Monday 07:00 (the centre is closed on weekends and RS
    holidays, as in the dialplan). The result is UTC; 07:00 always exists in Europe/Sarajevo.
    """
    tz = ZoneInfo(timezone)
    local = at.astimezone(tz)
    day = local.date()
    if local.time() >= time(OPEN_HOUR) or not is_working_day(day):
        day += timedelta(days=1)
        while not is_working_day(day):
            day += timedelta(days=1)
    return datetime.combine(day, time(OPEN_HOUR), tzinfo=tz).astimezone(at.tzinfo)


# -- read models --------------------------------------------------------------------------------


def _clean(text: str | None, limit: int = MAX_CALLER) -> str | None:
    """Keep caller data as data; only NUL is made visible (PostgreSQL text refuses U+0000)."""
    if text is None:
        return None
    return text[:limit].replace("\x00", "\u2400")


def call_summary(call: Call | CallRow, session: so.Session | None = None) -> dict[str, Any]:
    """Return the JSON form of a call used in events and the API (caller data verbatim: escape it).

    The ticket's code comes with a ``CallRow``; for an ORM ``Call`` it is looked up in ``session``.
    """
    meta = call.meta or {}
    phone = parse_phone(call.caller_raw)
    ticket_code = call.ticket_code if isinstance(call, CallRow) else None
    if ticket_code is None and session is not None and call.ticket_id is not None:
        ticket_code = session.scalar(sa.select(Ticket.code).where(Ticket.id == call.ticket_id))
    return {
        "id": call.id,
        "linkedid": call.linkedid,
        "direction": call.direction,
        "state": call.state,
        "outcome": call.outcome,
        "caller": {
            "raw": call.caller_raw,
            "name": call.caller_name,
            "phone": phone.e164 if phone else None,
        },
        "did": meta.get("did"),
        "citizen_id": call.citizen_id,
        "operator": call.operator_ext,
        "operator_id": call.operator_id,
        "queue": call.queue,
        "started_at": call.started_at.isoformat(),
        "answered_at": call.answered_at.isoformat() if call.answered_at else None,
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        "ticket_id": call.ticket_id,
        "ticket_code": ticket_code,
        "callback_due_at": call.callback_due_at.isoformat() if call.callback_due_at else None,
        "callback_done_at": call.callback_done_at.isoformat() if call.callback_done_at else None,
    }


def call_detail(session: so.Session, call: Call) -> dict[str, Any]:
    """Return a call with its legs, transfers and callback attempts."""
    meta = call.meta or {}
    data = call_summary(call, session)
    data.update(
        {
            "legs": meta.get("legs", {}),
            "transfers": meta.get("transfers", []),
            "callbacks": meta.get("callbacks", []),
            "ended_via_resync": bool(meta.get("via_resync")),
        }
    )
    return data


def get_call(session: so.Session, call_id: int) -> Call:
    """Return one call or raise CallNotFound."""
    call = session.get(Call, call_id)
    if call is None:
        raise CallNotFound(call_id)
    return call


def list_calls(
    session: so.Session, *, now: datetime, state: str | None = None, missed: bool = False, limit: int = 50
) -> list[dict[str, Any]]:
    """List calls, newest first; ``missed`` gives the missed-call list / callback queue (oldest due first)."""
    query = sa.select(Call)
    if state:
        query = query.where(Call.state == state)
    if missed:
        query = query.where(Call.outcome.in_(MISSED_OUTCOMES), Call.callback_done_at.is_(None))
        query = query.order_by(Call.callback_due_at, Call.started_at)
    else:
        query = query.order_by(Call.started_at.desc(), Call.id.desc())
    rows = session.scalars(query.limit(max(1, min(limit, 500)))).all()
    out = []
    for call in rows:
        item = call_summary(call, session)
        item["callback_due"] = call.callback_due_at is not None and call.callback_due_at <= now
        out.append(item)
    return out


# -- call tracking ------------------------------------------------------------------------------


def _find(session: so.Session, linkedid: str) -> Call | None:
    return session.scalar(sa.select(Call).where(Call.linkedid == linkedid[:64]))


def _operator(session: so.Session, extension: str) -> User | None:
    return session.scalar(
        sa.select(User).where(User.extension == extension[:20], User.active.is_(True)).order_by(User.id).limit(1)
    )


def _set_meta(call: Call, **values: Any) -> None:
    """Replace the JSON meta (a new dict, so SQLAlchemy sees the change)."""
    call.meta = {**(call.meta or {}), **values}


# The caller's history is looked up once per call, when it starts, and reused for every ringing leg
# (a ringall rings three phones at once; the history is the same for each). Bounded and short-lived:
# a pop shows the state at the moment the phone rang. Keyed by database too: Linkedids are unique
# within one PBX's database only, and a process may serve more than one (the test suite does).
_HISTORY_TTL = 120.0
_HISTORY_MAX = 512
_history_cache: OrderedDict[tuple[str, str], tuple[float, dict[str, Any]]] = OrderedDict()
_history_lock = threading.Lock()


def _cached_histories(session: so.Session, linkedids: Collection[str]) -> dict[str, dict[str, Any]]:
    """Return the caller histories still cached for these Linkedids."""
    database = str(session.connection().engine.url)
    now = monotonic()
    found: dict[str, dict[str, Any]] = {}
    with _history_lock:
        for linkedid in linkedids:
            hit = _history_cache.get((database, linkedid))
            if hit is not None and now - hit[0] < _HISTORY_TTL:
                found[linkedid] = hit[1]
    return found


def _remember_histories(
    session: so.Session, missing: Collection[CallRow], read: Mapping[str | None, dict[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """Return the caller history of each call not cached (by Linkedid), and cache it.

    ``read``: histories already read, by number; a caller not among them is read here.
    """
    if not missing:
        return {}
    read = read or {}
    unread = {c.caller_raw for c in missing if c.caller_raw not in read}
    histories = {**read, **caller_histories(session, unread)} if unread else read
    database = str(session.connection().engine.url)
    found: dict[str, dict[str, Any]] = {}
    now = monotonic()
    with _history_lock:
        for call in missing:
            found[call.linkedid] = histories[call.caller_raw]
            _history_cache[(database, call.linkedid)] = (now, found[call.linkedid])
            _history_cache.move_to_end((database, call.linkedid))
        while len(_history_cache) > _HISTORY_MAX:
            _history_cache.popitem(last=False)
    return found


@dataclass(frozen=True)
class Opening:
    """An inbound call appeared on the trunk (AMI Newchannel of the caller leg)."""

    linkedid: str
    caller_raw: str | None
    caller_name: str | None
    did: str | None
    at: datetime
    channel: str | None = None


@dataclass(frozen=True)
class Queuing:
    """The caller joined a queue (AMI QueueCallerJoin)."""

    linkedid: str
    queue: str
    at: datetime


@dataclass(frozen=True)
class Ring:
    """An operator's phone started ringing for a call (AMI DialBegin)."""

    linkedid: str
    extension: str
    leg: str
    caller_raw: str | None
    caller_name: str | None
    at: datetime


def _group_calls(
    session: so.Session,
    items: Sequence[Opening],
    known: Collection[str] = (),
    also: Sequence[tuple[FixedQuery, Mapping[str, Any]]] = (),
) -> tuple[dict[str, CallRow], list[Sequence[Any]]]:
    """Return the call row of every Linkedid (existing ones read, missing ones new, inserted by ``save``).

    One round trip reads the calls (and ``known``, calls only looked at), the callers and the
    statements ``also``, whose rows come second; a caller never seen before becomes a citizen here.
    """
    wanted = {item.linkedid[:64] for item in items} | {lid[:64] for lid in known}
    # Callers of calls already open are read too: one round trip for both reads beats a second.
    phones: dict[str, Phone | None] = {}
    for item in items:  # a call's first item is the one it is opened from, so its number counts
        phones.setdefault(item.linkedid[:64], parse_phone(_clean(item.caller_raw)))
    keys = {p.key for p in phones.values() if p is not None and p.e164 and p.key}
    found, citizen_ids, more = call_rows.find(session, wanted, keys, also)
    missing: dict[str, Opening] = {}
    for item in items:
        if item.linkedid[:64] not in found:
            missing.setdefault(item.linkedid[:64], item)
    # Only a number that parses is a person we can find again; "anonymous" is nobody. New callers
    # become citizens in phone-key order: two group-commit lanes creating the same two new callers
    # in opposite orders would wait on each other's inserts until PostgreSQL broke the deadlock.
    new_callers: dict[str, tuple[Phone, datetime]] = {}
    for lid, item in missing.items():
        phone = phones[lid]
        if phone is not None and phone.e164 and phone.key and phone.key not in citizen_ids:
            new_callers.setdefault(phone.key, (phone, item.at))
    for key in sorted(new_callers):
        phone, at = new_callers[key]
        citizen = citizens.find_or_create(session, phone=phone, email=None, name=None, now=at)
        if citizen is not None:
            citizen_ids[key] = citizen.id
    for lid, item in missing.items():
        phone = phones[lid]
        known_as = phone.key if phone is not None and phone.e164 else None
        citizen_id = citizen_ids.get(known_as) if known_as else None
        found[lid] = call_rows.CallRow(
            id=None,
            linkedid=lid,
            direction="in",
            caller_raw=_clean(item.caller_raw),
            caller_name=_clean(item.caller_name),
            citizen_id=citizen_id,
            state="ringing",
            started_at=item.at,
            meta={"did": _clean(item.did, 64), "channel": _clean(item.channel, 120), "legs": {}},
        )
    return found, more


def _add_leg(call: CallRow, ring: Ring) -> bool:
    """Record a ringing leg on its call; False when the call is over or this phone already shows it."""
    if call.state == "ended":
        return False
    legs: dict[str, Any] = dict((call.meta or {}).get("legs", {}))
    if ring.leg in legs:
        return False  # a resync or a repeated event: this phone already shows the pop
    if len(legs) < MAX_LEGS:
        legs[ring.leg] = {"ext": ring.extension, "state": "ringing", "at": ring.at.isoformat()}
        call.meta = {**(call.meta or {}), "legs": legs}
        call.changed = True
    return True


# Hands a group commit the items of its calls that arrived while it read (see open_and_ring).
Late = Callable[[Collection[str]], Sequence[Opening | Queuing | Ring]]


def open_and_ring(
    uow: UnitOfWork,
    openings: Sequence[Opening] = (),
    rings: Sequence[Ring] = (),
    queued: Sequence[Queuing] = (),
    *,
    late: Late | None = None,
) -> tuple[dict[str, int], list[bool]]:
    """Open calls, note queues and pop ringing legs in one transaction (the daemon's group commit).

    Returns the call id of each opening by Linkedid, and for each ring whether a pop was sent.
    Openings come first, then queues, then rings in order, so the three legs of one ringall land
    on the same call row. The caller histories of every call touched are looked up in one batch
    and cached for later legs. A queue note for a call we never saw open is ignored.

    ``late`` lets items that arrived while this transaction read join it: once the histories are
    read, it is called with the Linkedids this group has read, and returns the queue notes and rings
    of those calls that came in meanwhile (in arrival order), which are applied here as if given.
    A ring right behind its call's opening then pops with it, rather than waiting for this commit
    and running one of its own.
    """
    taken: list[Opening | Queuing | Ring] = []  # kept across the retry: the caller handed them over
    return once_more_on_conflict(lambda: _open_and_ring(uow, openings, rings, queued, late, taken))


def _open_and_ring(
    uow: UnitOfWork,
    openings: Sequence[Opening],
    rings: Sequence[Ring],
    queued: Sequence[Queuing],
    late: Late | None,
    taken: list[Opening | Queuing | Ring],
) -> tuple[dict[str, int], list[bool]]:
    with uow:
        session = uow.session
        everything = list(openings) + [
            Opening(linkedid=r.linkedid, caller_raw=r.caller_raw, caller_name=r.caller_name, did=None, at=r.at)
            for r in rings
        ]
        # The callers' histories not cached yet are read before anything is written (a pop shows what
        # came before its call: not the call, and a first-time caller as nobody known yet), on
        # PostgreSQL in the calls' round trip.
        cached = _cached_histories(session, {o.linkedid[:64] for o in everything})
        numbers = {_clean(o.caller_raw) for o in everything if o.linkedid[:64] not in cached}
        ahead = read_ahead(session, numbers)
        read = caller_histories(session, numbers) if numbers and not ahead else None
        calls, rows = _group_calls(session, everything, known=[q.linkedid for q in queued], also=ahead)
        if ahead:
            read = caller_histories(session, numbers, rows)
        missing = [calls[lid] for lid in {o.linkedid[:64] for o in everything} if lid not in cached]
        histories = {**cached, **_remember_histories(session, missing, read)}
        if late is not None:
            taken.extend(late(frozenset(histories)))
        # An opening taken late is a repeat of one read here: its call is already in the group.
        all_queued = list(queued) + [item for item in taken if isinstance(item, Queuing)]
        all_rings = list(rings) + [item for item in taken if isinstance(item, Ring)]
        for q in all_queued:
            noted = calls.get(q.linkedid[:64])
            if noted is not None and noted.queue != q.queue[:80]:
                noted.queue = q.queue[:80]
                noted.changed = True
        popped = [_add_leg(calls[r.linkedid[:64]], r) for r in all_rings]
        call_rows.save(session, calls.values())  # one INSERT for the new calls, legs included; one UPDATE
        for ring, pops in zip(all_rings, popped, strict=True):
            if pops:
                call = calls[ring.linkedid[:64]]
                history = histories[call.linkedid]
                if any(c["id"] == call.id for c in history["recent_calls"]):  # read after this call was saved
                    history = {**history, "recent_calls": [c for c in history["recent_calls"] if c["id"] != call.id]}
                uow.emit(
                    "call.ringing",
                    {
                        "call_id": call.id,
                        "linkedid": call.linkedid,
                        "extension": ring.extension,
                        "leg": ring.leg,
                        "call": call_summary(call),
                        "history": history,
                    },
                    audience=f"ext:{ring.extension}",
                )
        uow.commit()
        return {o.linkedid: _inserted(calls[o.linkedid[:64]]) for o in openings}, popped[: len(rings)]


def _inserted(call: CallRow) -> int:
    if call.id is None:
        raise RuntimeError(f"call {call.linkedid} was not saved")  # save() sets every id; this is a bug
    return call.id


def call_started(
    uow: UnitOfWork,
    *,
    linkedid: str,
    caller_raw: str | None,
    caller_name: str | None,
    did: str | None,
    at: datetime,
    channel: str | None = None,
) -> int:
    """Open the call record for an inbound call (idempotent by Linkedid); return its id.

    The caller's history is looked up and cached here, before the first DialBegin, so the pop
    itself needs no lookup.
    """
    opening = Opening(
        linkedid=linkedid, caller_raw=caller_raw, caller_name=caller_name, did=did, at=at, channel=channel
    )
    return open_and_ring(uow, [opening])[0][linkedid]


def call_queued(uow: UnitOfWork, *, linkedid: str, queue: str, at: datetime) -> None:
    """Remember which queue the caller waits in."""
    open_and_ring(uow, queued=[Queuing(linkedid=linkedid, queue=queue, at=at)])


def call_ringing(
    uow: UnitOfWork,
    *,
    linkedid: str,
    extension: str,
    leg: str,
    caller_raw: str | None,
    caller_name: str | None,
    at: datetime,
) -> bool:
    """Pop the call on the ringing operator's screen with the caller's history; once per leg."""
    ring = Ring(linkedid=linkedid, extension=extension, leg=leg, caller_raw=caller_raw, caller_name=caller_name, at=at)
    return open_and_ring(uow, rings=[ring])[1][0]


def ringing_withdrawn(uow: UnitOfWork, *, linkedid: str, extension: str, leg: str, reason: str, at: datetime) -> None:
    """Close the pop on one operator's screen (ringall loser, no answer, caller hung up)."""
    with uow:
        call = _find(uow.session, linkedid)
        if call is None:
            return
        legs: dict[str, Any] = dict((call.meta or {}).get("legs", {}))
        entry = legs.get(leg)
        if entry is not None:
            if entry.get("state") != "ringing":
                return
            legs[leg] = {**entry, "state": "withdrawn", "reason": reason}
            _set_meta(call, legs=legs)
        uow.emit(
            "call.withdrawn",
            {"call_id": call.id, "linkedid": call.linkedid, "extension": extension, "leg": leg, "reason": reason},
            audience=f"ext:{extension}",
        )
        uow.commit()


def call_answered(uow: UnitOfWork, *, linkedid: str, extension: str, leg: str, at: datetime) -> None:
    """Record who answered (or took over after a transfer) and tell every operator, so losers' pops close."""
    with uow:
        session = uow.session
        call = _find(session, linkedid)
        if call is None or call.state == "ended":
            return
        if call.state == "answered" and call.operator_ext == extension[:20]:
            return
        user = _operator(session, extension)
        call.state = "answered"
        call.answered_at = call.answered_at or at
        call.operator_ext = extension[:20]
        call.operator_id = user.id if user else None
        legs: dict[str, Any] = dict((call.meta or {}).get("legs", {}))
        if leg in legs or len(legs) < MAX_LEGS:
            legs[leg] = {**legs.get(leg, {"ext": extension, "at": at.isoformat()}), "state": "answered"}
            _set_meta(call, legs=legs)
        operator = {"id": user.id, "name": user.display_name or user.username} if user else None
        uow.emit(
            "call.answered",
            {
                "call_id": call.id,
                "linkedid": call.linkedid,
                "extension": extension,
                "operator": operator,
                "call": call_summary(call, session),
            },
        )
        uow.commit()


def call_transferred(
    uow: UnitOfWork, *, linkedid: str, kind: str, from_extension: str | None, to_extension: str | None, at: datetime
) -> None:
    """Note a transfer; the call keeps its row (same Linkedid), the new operator shows on answer."""
    with uow:
        call = _find(uow.session, linkedid)
        if call is None:
            return
        transfers = list((call.meta or {}).get("transfers", []))[-MAX_LOG + 1 :]
        transfers.append({"kind": kind, "from": from_extension, "to": to_extension, "at": at.isoformat()})
        _set_meta(call, transfers=transfers)
        uow.emit(
            "call.transferred",
            {"call_id": call.id, "linkedid": call.linkedid, "kind": kind, "from": from_extension, "to": to_extension},
        )
        uow.commit()


def _end(
    uow: UnitOfWork, call: Call, *, outcome: str, cause: str, at: datetime, via_resync: bool, timezone: str
) -> None:
    """End a call once: outcome, missed-call list, events."""
    call.state = "ended"
    call.ended_at = at
    if call.outcome != "voicemail":  # a voicemail linked before the hang-up is the better answer
        call.outcome = outcome
    legs: dict[str, Any] = {
        leg: ({**entry, "state": "ended"} if entry.get("state") == "ringing" else entry)
        for leg, entry in dict((call.meta or {}).get("legs", {})).items()
    }
    _set_meta(call, legs=legs, cause=cause[:20], via_resync=via_resync)
    if call.outcome in MISSED_OUTCOMES:
        call.callback_due_at = next_callback_at(at, timezone)
    summary = call_summary(call, uow.session)
    uow.emit("call.ended", {"call_id": call.id, "linkedid": call.linkedid, "call": summary})
    if call.outcome in MISSED_OUTCOMES:
        uow.emit("call.missed", {"call_id": call.id, "linkedid": call.linkedid, "call": summary})


def call_ended(
    uow: UnitOfWork,
    *,
    linkedid: str,
    outcome: str,
    caller_raw: str | None,
    cause: str,
    at: datetime,
    via_resync: bool = False,
    timezone: str = "Europe/Sarajevo",
) -> None:
    """End the call (caller leg hung up, or vanished during an outage); missed calls join the list."""

    def work() -> None:
        with uow:
            call = _find(uow.session, linkedid)
            if call is None:  # a call we never saw start is recorded at its end
                opening = Opening(linkedid=linkedid, caller_raw=caller_raw, caller_name=None, did=None, at=at)
                row = _group_calls(uow.session, [opening])[0][linkedid[:64]]
                call_rows.save(uow.session, [row])
                call = uow.session.get_one(Call, row.id)
            if call.state == "ended":
                return
            _end(uow, call, outcome=outcome, cause=cause, at=at, via_resync=via_resync, timezone=timezone)
            uow.commit()

    once_more_on_conflict(work)


def reconcile(
    uow: UnitOfWork, *, live_linkedids: Collection[str], at: datetime, timezone: str = "Europe/Sarajevo"
) -> list[int]:
    """After a (re)login: end the calls we think are live but Asterisk no longer knows; return their ids."""
    live = set(live_linkedids)
    with uow:
        session = uow.session
        open_calls = session.scalars(
            sa.select(Call).where(Call.state != "ended", Call.direction == "in").order_by(Call.id).limit(1000)
        ).all()
        ended: list[int] = []
        for call in open_calls:
            if call.linkedid in live:
                continue
            outcome = "answered" if call.answered_at is not None else "missed"
            _end(uow, call, outcome=outcome, cause="", at=at, via_resync=True, timezone=timezone)
            ended.append(call.id)
        if ended:
            log.info("resync ended %d call(s) that vanished while the link was down", len(ended))
            uow.commit()
        return ended


def link_status(uow: UnitOfWork, *, state: str, health_state: str, detail: str | None, at: datetime) -> bool:
    """Record the AMI link state for /readyz and tell operators when it changed."""
    return report_link(uow, "ami", health_state, detail, at, shown_as=state)


# -- tickets and callbacks ----------------------------------------------------------------------


def link_ticket(uow: UnitOfWork, *, call_id: int, ticket_code: str, user_id: int | None) -> dict[str, Any]:
    """Link a call to an existing ticket (the citizen calls about a known request)."""
    with uow:
        session = uow.session
        call = get_call(session, call_id)
        ticket = session.scalar(sa.select(Ticket).where(Ticket.code == ticket_code[:20]))
        if ticket is None:
            raise LookupError(ticket_code)
        if call.ticket_id != ticket.id:
            call.ticket_id = ticket.id
            session.add(
                StatusChange(
                    ticket_id=ticket.id,
                    at=uow.clock.now(),
                    kind="note",
                    actor_id=user_id,
                    actor_label="operator",
                    internal_note=f"Позив повезан са пријавом (позив #{call.id}).",
                )
            )
            uow.emit(
                "call.updated", {"call_id": call.id, "linkedid": call.linkedid, "call": call_summary(call, session)}
            )
            uow.commit()
        return call_detail(session, call)


def request_callback(uow: UnitOfWork, *, call_id: int, user: User) -> dict[str, Any]:
    """Queue a click-to-call: the daemon rings the operator, then the citizen (outbox kind ``originate``)."""
    if not user.extension:
        raise CallbackRefused("no_extension", "Ваш налог нема телефонски локал.")
    with uow:
        session = uow.session
        call = get_call(session, call_id)
        phone = parse_phone(call.caller_raw)
        if phone is None or not phone.e164:
            raise CallbackRefused("no_number", "Позивалац није оставио број на који се може позвати.")
        pending = session.scalars(
            sa.select(OutboxItem).where(OutboxItem.kind == ORIGINATE_KIND, OutboxItem.state.in_(("pending", "sending")))
        ).all()
        if any(item.payload.get("call_id") == call.id for item in pending):
            raise CallbackRefused("in_progress", "Повратни позив за овај позив је већ у току.")
        channel_id = f"s48cb-{call.id}-{uuid.uuid4().hex[:12]}"
        payload = {
            "call_id": call.id,
            "ticket_id": call.ticket_id,
            "channel_id": channel_id,
            "extension": user.extension,
            "number": phone.e164,
            "user_id": user.id,
        }
        item = uow.add_outbox(ORIGINATE_KIND, payload, dedup_key=f"originate:{channel_id}")
        session.flush()
        uow.commit()
        return {"outbox_id": item.id, "channel_id": channel_id, "call_id": call.id}


@dataclass(frozen=True, kw_only=True)
class OriginateRequest:
    """A claimed click-to-call for the telephony daemon to send exactly once."""

    outbox_id: int
    call_id: int | None
    ticket_id: int | None
    channel_id: str
    extension: str
    number: str


def claim_originates(uow: UnitOfWork, *, now: datetime, limit: int = 10) -> list[OriginateRequest]:
    """Claim pending click-to-calls (pending → sending); a claimed item is never handed out again."""
    with uow:
        session = uow.session
        ids = session.scalars(
            sa.select(OutboxItem.id)
            .where(OutboxItem.kind == ORIGINATE_KIND, OutboxItem.state == "pending", OutboxItem.available_at <= now)
            .order_by(OutboxItem.id)
            .limit(limit)
        ).all()
        claimed: list[OriginateRequest] = []
        for outbox_id in ids:
            result = session.execute(
                sa.update(OutboxItem)
                .where(OutboxItem.id == outbox_id, OutboxItem.state == "pending")
                .values(state="sending", claimed_at=now, attempts=OutboxItem.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                continue
            payload = session.scalar(sa.select(OutboxItem.payload).where(OutboxItem.id == outbox_id)) or {}
            claimed.append(
                OriginateRequest(
                    outbox_id=outbox_id,
                    call_id=payload.get("call_id"),
                    ticket_id=payload.get("ticket_id"),
                    channel_id=str(payload.get("channel_id") or f"s48cb-x-{outbox_id}"),
                    extension=str(payload.get("extension") or ""),
                    number=str(payload.get("number") or ""),
                )
            )
        uow.commit()
        return claimed


def release_originate(uow: UnitOfWork, *, outbox_id: int) -> None:
    """Give back a claimed click-to-call that was certainly not sent (the link was down)."""
    with uow:
        uow.session.execute(
            sa.update(OutboxItem)
            .where(OutboxItem.id == outbox_id, OutboxItem.state == "sending")
            .values(state="pending", claimed_at=None)
        )
        uow.commit()


def record_originate_result(
    uow: UnitOfWork,
    *,
    outbox_id: int,
    success: bool,
    reason: str,
    reason_code: int | None,
    at: datetime,
) -> bool:
    """Log a click-to-call's outcome on its call and ticket, once; return False when already logged."""
    with uow:
        session = uow.session
        item = session.get(OutboxItem, outbox_id)
        if item is None or item.state == "done":
            return False
        item.state = "done"
        item.done_at = at
        item.last_error = None if success else f"originate: {reason}"
        payload: dict[str, Any] = item.payload
        label = ORIGINATE_REASON_LABELS.get(reason, reason)
        entry = {
            "channel_id": payload.get("channel_id"),
            "extension": payload.get("extension"),
            "success": success,
            "reason": reason,
            "reason_code": reason_code,
            "at": at.isoformat(),
        }
        call = session.get(Call, payload["call_id"]) if payload.get("call_id") else None
        ticket_id = payload.get("ticket_id")
        if call is not None:
            callbacks = list((call.meta or {}).get("callbacks", []))[-MAX_LOG + 1 :]
            callbacks.append(entry)
            _set_meta(call, callbacks=callbacks)
            if success:
                call.callback_done_at = at
            ticket_id = ticket_id or call.ticket_id
        if ticket_id is not None and session.get(Ticket, ticket_id) is not None:
            verdict = "успио" if success else "није успио"
            session.add(
                StatusChange(
                    ticket_id=ticket_id,
                    at=at,
                    kind="note",
                    actor_id=payload.get("user_id"),
                    actor_label="operator",
                    internal_note=f"Повратни позив {verdict} ({label}), локал {payload.get('extension')}.",
                )
            )
        uow.emit(
            "call.callback",
            {
                "call_id": call.id if call else None,
                "result": {**entry, "label": label},
                "call": call_summary(call, session) if call else None,
            },
        )
        uow.commit()
        return True
