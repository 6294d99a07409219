"""SMS for staff: the operators' SMS queue, replies to a ticket's citizen, work orders to duty teams."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from callcenter_ui import error, get_core
from callcenter_ui.auth import current_user, require
from core.db.models import User
from core.services import sms as sms_core

bp = Blueprint("sms", __name__, url_prefix="/api/v1")

DESK = ("operator", "supervisor", "admin")
MAX_TEXT = 1000


def _me() -> User:
    """Return the authenticated user (views are wrapped by ``require``)."""
    user = current_user()
    if user is None:  # pragma: no cover - require() answered 401 already
        raise PermissionError
    return user


def _text_body() -> tuple[dict[str, Any] | None, str | None]:
    """Return the JSON object body and its ``text`` field when it is a non-empty string."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return None, None
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        return body, None
    return body, text


@bp.get("/sms")
@require(*DESK)
def sms_queue() -> tuple[Response, int]:
    """List SMS newest first: ``direction`` in|out, ``state`` e.g. queued,failed; ``limit``, ``offset``."""
    direction = request.args.get("direction") or None
    if direction not in (None, "in", "out"):
        return error("bad_request", "direction: in или out", 400)
    try:
        limit = int(request.args.get("limit", "50"))
        offset = int(request.args.get("offset", "0"))
    except ValueError:
        return error("bad_request", "limit и offset морају бити бројеви.", 400)
    core = get_core(current_app)
    with core.session_factory() as session:
        rows = sms_core.list_sms(
            session, direction=direction, state=request.args.get("state") or None, limit=limit, offset=offset
        )
    return jsonify({"messages": rows}), 200


@bp.post("/tickets/<code>/sms")
@require(*DESK)
def reply(code: str) -> tuple[Response, int]:
    """Queue an operator's SMS reply to the citizen of a ticket."""
    body, text = _text_body()
    if body is None or text is None:
        return error("bad_request", 'Очекује се {"text": "…"}.', 400)
    if len(text) > MAX_TEXT:
        return error("too_large", f"Порука је дужа од {MAX_TEXT} знакова.", 413)
    try:
        view = sms_core.queue_reply(get_core(current_app).uow(), code, text, _me())
    except LookupError:
        return error("not_found", f"Нема пријаве {code[:20]}.", 404)
    except sms_core.BlockedRecipient:
        return error("no_phone", "Грађанин није оставио број мобилног телефона.", 409)
    return jsonify(view), 201


@bp.post("/organisations/<code>/work-order")
@require(*DESK)
def work_order(code: str) -> tuple[Response, int]:
    """Queue a work order SMS to an organisation's duty phone: ``{"text", "ticket"?}``."""
    body, text = _text_body()
    if body is None or text is None:
        return error("bad_request", 'Очекује се {"text": "…", "ticket": "48-…"}.', 400)
    if len(text) > MAX_TEXT:
        return error("too_large", f"Порука је дужа од {MAX_TEXT} знакова.", 413)
    ticket = body.get("ticket")
    if ticket is not None and not isinstance(ticket, str):
        return error("bad_request", "ticket мора бити текст.", 400)
    try:
        view = sms_core.queue_work_order(get_core(current_app).uow(), code, text, _me(), ticket)
    except LookupError as exc:
        return error("not_found", f"Није пронађено: {str(exc)[:40]}", 404)
    except sms_core.BlockedRecipient:
        return error("no_phone", "Служба нема број дежурног телефона.", 409)
    return jsonify(view), 201
