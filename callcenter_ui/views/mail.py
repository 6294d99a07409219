"""Operators' view of the mailbox: quarantined messages, and releasing one into a ticket."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from callcenter_ui import error, get_core
from callcenter_ui.auth import current_user, require
from core.db.models import InboundItem
from core.services import mail as mail_service
from email_channel.parse import readable_snippet

bp = Blueprint("mail", __name__, url_prefix="/api/v1/mail")

ROLES = ("operator", "supervisor")
PREVIEW_CHARS = 4000


@bp.get("/quarantine")
@require(*ROLES)
def quarantine_list() -> Response:
    """List quarantined messages with the reason and a bounded preview (JSON: the UI escapes it)."""
    limit = min(max(request.args.get("limit", 50, type=int) or 50, 1), 200)
    core = get_core(current_app)
    with core.session_factory() as db:
        items = mail_service.quarantined(db, limit=limit)
        rows = []
        for item in items:
            raw = (item.raw or "").encode("utf-8", "replace")
            subject, text, sender = readable_snippet(raw, PREVIEW_CHARS)
            rows.append(
                {
                    "id": item.id,
                    "received_at": item.received_at.isoformat(),
                    "error": item.error,
                    "subject": subject,
                    "from": sender,
                    "preview": text,
                    "size": len(raw),
                }
            )
    return jsonify({"items": rows, "count": len(rows)})


@bp.post("/quarantine/<int:item_id>/release")
@require(*ROLES)
def quarantine_release(item_id: int) -> tuple[Response, int]:
    """Make a ticket from a quarantined message an operator has looked at (idempotent per message)."""
    core = get_core(current_app)
    user = current_user()
    if user is None:  # pragma: no cover - require() answered 401 already
        return error("unauthorized", "Пријавите се.", 401)
    with core.session_factory() as db:
        item = db.get(InboundItem, item_id)
        raw = (item.raw or "") if item is not None else ""
    subject, text, sender = readable_snippet(raw.encode("utf-8", "replace"))
    try:
        result = mail_service.release(
            core.uow(),
            item_id,
            text=f"{subject}\n\n{text}".strip(),
            email=sender,
            operator_id=user.id,
            policy=core.intake_policy,
        )
    except mail_service.NotQuarantined:
        return error("not_found", "Порука није у карантину.", 404)
    return jsonify({"ticket_code": result.ticket_code, "created": result.created}), 201 if result.created else 200
