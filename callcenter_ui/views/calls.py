"""Calls API: the call list and missed-call/callback queue, one call, logging a complaint, click-to-call."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from callcenter_ui import error, get_core
from callcenter_ui.auth import current_user, require
from core.db.models import User
from core.messages import Channel, ReceiveReport
from core.services import calls
from core.services.intake import ReportTooLarge, receive

bp = Blueprint("calls", __name__, url_prefix="/api/v1/calls")

ROLES = ("operator", "supervisor", "admin")
TICKET_FIELDS = ("description", "ticket_code", "category", "place", "name", "email")
STATES = ("ringing", "answered", "ended")


def _me() -> User:
    """Return the authenticated user (views are wrapped by ``require``)."""
    user = current_user()
    if user is None:  # pragma: no cover - require() answered 401 already
        raise PermissionError
    return user


def _not_found(call_id: int) -> tuple[Response, int]:
    return error("not_found", f"Нема позива {call_id}.", 404)


@bp.get("")
@require(*ROLES)
def list_calls() -> tuple[Response, int]:
    """List calls (``state=``), or the missed-call list / callback queue with ``missed=1``."""
    state = request.args.get("state") or None
    if state is not None and state not in STATES:
        return error("bad_request", "state: ringing, answered или ended", 400)
    try:
        limit = int(request.args.get("limit", 50))
    except ValueError:
        limit = 50
    missed = request.args.get("missed", "") in ("1", "true", "yes")
    core = get_core(current_app)
    with core.session_factory() as db:
        rows = calls.list_calls(db, now=core.clock.now(), state=state, missed=missed, limit=limit)
    return jsonify({"calls": rows, "count": len(rows)}), 200


@bp.get("/<int:call_id>")
@require(*ROLES)
def get_call(call_id: int) -> tuple[Response, int]:
    """Read one call with its legs, transfers and callback attempts."""
    core = get_core(current_app)
    with core.session_factory() as db:
        try:
            call = calls.get_call(db, call_id)
        except calls.CallNotFound:
            return _not_found(call_id)
        return jsonify(calls.call_detail(db, call)), 200


@bp.post("/<int:call_id>/ticket")
@require(*ROLES)
def log_complaint(call_id: int) -> tuple[Response, int]:
    """Log the complaint of this call: a new phone ticket, or link an existing ticket by ``ticket_code``."""
    body: Any = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error("bad_request", "Очекује се JSON објекат.", 400)
    unknown = sorted(set(body) - set(TICKET_FIELDS))
    if unknown:
        return error("bad_request", f"Непозната поља: {', '.join(unknown)}", 400, fields=unknown)
    for name in TICKET_FIELDS:
        if body.get(name) is not None and not isinstance(body[name], str):
            return error("bad_request", f"Поље {name} мора бити текст.", 400, fields=[name])
    description = (body.get("description") or "").strip()
    code = (body.get("ticket_code") or "").strip() or None
    if not description and code is None:
        return error("bad_request", "Опис проблема или број пријаве је обавезан.", 400, fields=["description"])
    core = get_core(current_app)
    user = _me()
    with core.session_factory() as db:
        try:
            call = calls.get_call(db, call_id)
        except calls.CallNotFound:
            return _not_found(call_id)
        caller_raw = call.caller_raw
    if not description:
        try:
            detail = calls.link_ticket(core.uow(), call_id=call_id, ticket_code=code or "", user_id=user.id)
        except LookupError:
            return error("not_found", f"Нема пријаве {code}.", 404)
        return jsonify({"call": detail, "ticket_code": code, "created": False}), 200
    key = request.headers.get("Idempotency-Key")
    cmd = ReceiveReport(
        channel=Channel.PHONE,
        text=description,
        phone=caller_raw,
        name=body.get("name"),
        email=body.get("email"),
        category=body.get("category"),
        place=body.get("place"),
        ticket_code=code,
        operator_id=user.id,
        call_id=call_id,
        source_key=f"call:{call_id}:{user.id}:{key[:200]}" if key else None,
    )
    try:
        result = receive(core.uow(), cmd, core.intake_policy)
    except ReportTooLarge as exc:
        return error("too_large", str(exc), 413)
    with core.session_factory() as db:
        detail = calls.call_detail(db, calls.get_call(db, call_id))
    status = 201 if result.created else 200
    return jsonify({"call": detail, "ticket_code": result.ticket_code, "created": result.created}), status


@bp.post("/<int:call_id>/callback")
@require(*ROLES)
def callback(call_id: int) -> tuple[Response, int]:
    """Call the citizen back: the operator's phone rings first, then the PBX dials the citizen."""
    core = get_core(current_app)
    try:
        queued = calls.request_callback(core.uow(), call_id=call_id, user=_me())
    except calls.CallNotFound:
        return _not_found(call_id)
    except calls.CallbackRefused as exc:
        return error(exc.code, str(exc), 409)
    return jsonify({"queued": True, **queued}), 202
