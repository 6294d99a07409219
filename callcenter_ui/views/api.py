"""JSON API v1 for staff and integrations: tickets, status changes, caller history, events."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify, request

from callcenter_ui import error, get_core
from callcenter_ui.auth import STAFF, current_user, require
from callcenter_ui.openapi import openapi_document
from core.db.models import Event, User
from core.db.uow import event_dict
from core.domain.tickets import TransitionError
from core.messages import Channel, ReceiveReport
from core.services.history import caller_history
from core.services.intake import ReportTooLarge, receive
from core.services.tickets import Forbidden, NotFound, TicketFilter, change_status, get_ticket, list_tickets

bp = Blueprint("api", __name__, url_prefix="/api/v1")

CREATORS = ("operator", "supervisor", "admin")
FIELDS = ("channel", "description", "phone", "email", "name", "category", "place")
MAX_EVENTS = 500


def _me() -> User:
    """Return the authenticated user (views are wrapped by ``require``)."""
    user = current_user()
    if user is None:  # pragma: no cover - require() answered 401 already
        raise PermissionError
    return user


def _json_body() -> dict[str, Any] | None:
    """Return the JSON object body, or None when it is not one."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


@bp.get("/openapi.json")
def openapi() -> Response:
    """Serve the OpenAPI 3.1 document of this API."""
    return jsonify(openapi_document())


@bp.post("/tickets")
@require(*CREATORS)
def create_ticket() -> tuple[Response, int]:
    """Open a ticket (phone, walk-in, web or any channel an operator types in)."""
    body = _json_body()
    if body is None:
        return error("bad_request", "Очекује се JSON објекат.", 400)
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        return error("bad_request", f"Непозната поља: {', '.join(unknown)}", 400, fields=unknown)
    for name in FIELDS:
        if body.get(name) is not None and not isinstance(body[name], str):
            return error("bad_request", f"Поље {name} мора бити текст.", 400, fields=[name])
    try:
        channel = Channel(body.get("channel") or "")
    except ValueError:
        return error("bad_request", "channel: phone, voicemail, sms, email, walk-in, web или open311", 400)
    description = body.get("description")
    if not description or not description.strip():
        return error("bad_request", "Опис проблема је обавезан.", 400, fields=["description"])
    key = request.headers.get("Idempotency-Key")
    core = get_core(current_app)
    user = _me()
    cmd = ReceiveReport(
        channel=channel,
        text=description,
        phone=body.get("phone"),
        email=body.get("email"),
        name=body.get("name"),
        category=body.get("category"),
        place=body.get("place"),
        source_key=f"api:{user.id}:{key[:200]}" if key else None,
        operator_id=user.id,
    )
    try:
        result = receive(core.uow(), cmd, core.intake_policy)
    except ReportTooLarge as exc:
        return error("too_large", str(exc), 413)
    with core.session_factory() as db:
        ticket = get_ticket(db, result.ticket_code, user)
    ticket["created"] = result.created
    return jsonify(ticket), 201 if result.created else 200


@bp.get("/tickets")
@require(*STAFF)
def tickets() -> Response:
    """List tickets with filters: phone, status (comma list), channel, organisation, q, limit, offset."""
    args = request.args
    try:
        limit, offset = int(args.get("limit", 50)), int(args.get("offset", 0))
    except ValueError:
        limit, offset = 50, 0
    flt = TicketFilter(
        phone=args.get("phone"),
        status=args.get("status"),
        channel=args.get("channel"),
        organisation=args.get("organisation"),
        q=args.get("q"),
        limit=limit,
        offset=offset,
    )
    core = get_core(current_app)
    with core.session_factory() as db:
        rows = list_tickets(db, flt, _me())
    return jsonify({"tickets": rows, "count": len(rows)})


@bp.get("/tickets/<code>")
@require(*STAFF)
def ticket(code: str) -> tuple[Response, int]:
    """Read one ticket with its history."""
    core = get_core(current_app)
    try:
        with core.session_factory() as db:
            return jsonify(get_ticket(db, code[:20], _me())), 200
    except NotFound:
        return error("not_found", f"Нема пријаве {code[:20]}.", 404)
    except Forbidden:
        return error("forbidden", "Ова пријава није у надлежности Ваше службе.", 403)


@bp.post("/tickets/<code>/status")
@require(*STAFF)
def ticket_status(code: str) -> tuple[Response, int]:
    """Change status with a public note (for the citizen) and an internal note."""
    body = _json_body()
    if body is None or not isinstance(body.get("status"), str):
        return error("bad_request", 'Очекује се {"status": …}.', 400)
    notes = {k: body.get(k) for k in ("public_note", "internal_note", "organisation")}
    if any(v is not None and not isinstance(v, str) for v in notes.values()):
        return error("bad_request", "Напомене морају бити текст.", 400)
    core = get_core(current_app)
    try:
        detail = change_status(
            core.uow(),
            code[:20],
            body["status"],
            _me(),
            public_note=notes["public_note"],
            internal_note=notes["internal_note"],
            organisation_code=notes["organisation"],
        )
    except NotFound:
        return error("not_found", f"Нема пријаве {code[:20]}.", 404)
    except Forbidden:
        return error("forbidden", "Ова пријава није у надлежности Ваше службе.", 403)
    except TransitionError as exc:
        return error("invalid_transition", str(exc), 409)
    return jsonify(detail), 200


@bp.get("/history")
@require("operator", "supervisor", "admin")
def history() -> Response:
    """Return a caller's history by phone number (what the screen pop shows)."""
    core = get_core(current_app)
    with core.session_factory() as db:
        return jsonify(caller_history(db, request.args.get("phone", "")[:64]))


@bp.get("/events")
@require(*STAFF)
def events() -> Response:
    """Return events after a cursor, in order, so a reconnecting screen misses nothing."""
    try:
        after = max(0, int(request.args.get("after", 0)))
        limit = max(1, min(MAX_EVENTS, int(request.args.get("limit", MAX_EVENTS))))
    except ValueError:
        after, limit = 0, MAX_EVENTS
    user = _me()
    core = get_core(current_app)
    with core.session_factory() as db:
        rows = db.scalars(sa.select(Event).where(Event.seq > after).order_by(Event.seq).limit(limit)).all()
        org_code = None
        if user.role == "department" and user.organisation_id is not None:
            from core.db.models import Organisation

            org = db.get(Organisation, user.organisation_id)
            org_code = org.code if org else None
        payload = [event_dict(row) for row in rows]
    if user.role == "department":
        payload = [e for e in payload if (e.get("ticket") or {}).get("organisation") == org_code]
    elif user.role == "operator":
        # A pop belongs to the phone that rings: an operator resyncs only their own extension's events.
        mine = {"operators", f"user:{user.id}"} | ({f"ext:{user.extension}"} if user.extension else set())
        payload = [
            e
            for e in payload
            if e.get("audience") in mine or not str(e.get("audience", "")).startswith(("ext:", "user:"))
        ]
    last = rows[-1].seq if rows else after
    return jsonify({"events": payload, "last_seq": last, "more": len(rows) == limit})
