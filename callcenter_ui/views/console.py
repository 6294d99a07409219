"""The operator console: live call screen, work queues, department and supervisor views.

The page is a shell rendered in the user's language; ``static/console/console.js`` fills it from the
JSON API and the ``/operator`` Socket.IO namespace, inserting every value with ``textContent``. The
JSON endpoints here are the console's own: category suggestions while typing, the deadline queue,
ticket detail with an audit row per opening, status changes with a photo and cluster-wide answers,
costs, clusters, and the supervisor's figures and audit log.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext, lazy_gettext
from werkzeug.wrappers import Response as BaseResponse

from callcenter_ui import error, get_core
from callcenter_ui.auth import STAFF, current_user, require
from callcenter_ui.babel import init_babel, user_language
from core.db.models import Attachment, Category, Event, Message, Organisation, Place, Ticket, User
from core.domain.tickets import OPEN_STATUSES, Status, TransitionError
from core.i18n import LANGUAGES
from core.services import admin as admin_service
from core.services import audit, clusters, costs, stats
from core.services.classify import find_place, suggest_category
from core.services.duplicates import possible_duplicates
from core.services.tickets import Forbidden, NotFound, can_see, change_status, get_ticket

bp = Blueprint("console", __name__)

P = ParamSpec("P")
R = TypeVar("R")

DESK = ("operator", "supervisor", "admin")
OVERSIGHT = ("supervisor", "admin")
IDLE_SECONDS = 60 * 60  # an hour without a request ends the session (the 9-hour lifetime still applies)
SEEN_KEY = "seen"
MAX_SUGGEST = 4000
MAX_PHOTO = 8 * 1024 * 1024
DEADLINE_LIMIT = 100

_l = lazy_gettext

# Words the script shows; translated per request and handed to the page as JSON data (never code).
JS_STRINGS: dict[str, Any] = {
    "ringing": _l("Ringing"),
    "in_call": _l("In conversation"),
    "answered_elsewhere": _l("Answered by another operator"),
    "call_ended": _l("Call ended"),
    "unknown_caller": _l("Unknown caller"),
    "hidden_number": _l("Hidden number"),
    "none": _l("None"),
    "add_to": _l("Add to this ticket"),
    "adding_to": _l("Adding to ticket"),
    "saved_ticket": _l("Ticket saved"),
    "suggested": _l("Suggested"),
    "due_in": _l("due in"),
    "overdue": _l("overdue by"),
    "hours": _l("h"),
    "minutes": _l("min"),
    "days": _l("d"),
    "call_back": _l("Call back"),
    "callback_queued": _l("Your phone rings first, then the citizen's."),
    "low_words": _l("Underlined words were hard to hear: check them against the audio."),
    "transcript_pending": _l("Transcript not ready yet"),
    "transcript_failed": _l("Transcription failed: listen to the audio"),
    "nothing": _l("Nothing here."),
    "error": _l("Error"),
    "saved": _l("Saved"),
    "forbidden": _l("This ticket belongs to another organisation."),
    "live": _l("Live"),
    "offline": _l("Reconnecting…"),
    "up": _l("up"),
    "down": _l("down"),
    "reveal": _l("Show contact"),
    "public_note_required": _l("A public note is required for this status."),
    "reporters": _l("citizens reported this"),
    "linked": _l("Linked"),
    "total": _l("Total"),
    "work_order_sent": _l("Work order sent"),
    "quarantined": _l("Quarantined"),
    "release": _l("Make a ticket"),
    "open": _l("Open"),
    "waited": _l("waited"),
    "seconds": _l("s"),
    "not_enough": _l("too few tickets"),
    "primary": _l("Primary ticket"),
    "unlink": _l("Unlink"),
    "photo": _l("Photo"),
    "no_phone": _l("no number"),
    "auto": _l("(automatic)"),
    "status": {
        Status.NEW.value: _l("Received"),
        Status.ASSIGNED.value: _l("Forwarded"),
        Status.IN_PROGRESS.value: _l("In progress"),
        Status.WAITING.value: _l("Waiting for the citizen"),
        Status.RESOLVED.value: _l("Resolved"),
        Status.REFERRED.value: _l("Referred elsewhere"),
        Status.CLOSED.value: _l("Closed"),
        Status.REOPENED.value: _l("Reopened"),
    },
    "channel": {
        "phone": _l("phone"),
        "voicemail": _l("voicemail"),
        "sms": _l("SMS"),
        "email": _l("e-mail"),
        "walk-in": _l("in person"),
        "web": _l("web"),
        "open311": _l("Open311"),
    },  # fmt: skip
    "outcome": {
        "answered": _l("answered"),
        "missed": _l("missed"),
        "abandoned": _l("abandoned"),
        "voicemail": _l("voicemail"),
    },  # fmt: skip
}


ROLE_NAMES = {
    "operator": _l("Operator"),
    "department": _l("Department staff"),
    "supervisor": _l("Supervisor"),
    "admin": _l("Administrator"),
}


@bp.app_context_processor
def _role_names() -> dict[str, Any]:
    """Give every template the role names in the user's language."""
    return {"role_names": ROLE_NAMES}


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    """Wire Flask-Babel when the console is registered (idempotent if create_app also calls it)."""
    init_babel(cast("Flask", state.app))


def _translate(value: Any) -> Any:
    """Resolve lazy strings (recursively) in the current request's language."""
    if isinstance(value, dict):
        return {k: _translate(v) for k, v in value.items()}
    return str(value)


def _me() -> User:
    """Return the authenticated user (views are wrapped by ``require``)."""
    user = current_user()
    if user is None:  # pragma: no cover - require() answered 401 already
        raise PermissionError
    return user


def _actor() -> audit.Actor:
    """Describe who acts for the audit log."""
    user = _me()
    return audit.Actor(
        user_id=user.id, role=user.role, ip=request.remote_addr, user_agent=request.headers.get("User-Agent")
    )


def _audit(action: str, object_type: str, object_id: str | int | None, **kw: Any) -> None:
    """Write one audit row in its own transaction (a read is logged before its data leaves)."""
    core = get_core(current_app)
    with core.session_factory() as db:
        audit.record(db, _actor(), action, object_type, object_id, at=core.clock.now(), **kw)
        db.commit()


def _page(view: Callable[P, R]) -> Callable[P, R | BaseResponse]:
    """Send anonymous visitors of a page to the login form instead of a JSON 401."""

    @functools.wraps(view)
    def inner(*args: P.args, **kwargs: P.kwargs) -> R | BaseResponse:
        if current_user() is None:
            return redirect(url_for("auth.login"))
        return view(*args, **kwargs)

    return inner


@bp.before_app_request
def _idle_timeout() -> BaseResponse | None:
    """End a browser session after IDLE_SECONDS without a request (bearer-token calls have no session)."""
    if "uid" not in session or request.headers.get("Authorization", "").startswith("Bearer "):
        return None
    now = int(time.time())
    seen = session.get(SEEN_KEY)
    if isinstance(seen, int) and now - seen > IDLE_SECONDS:
        session.clear()
        return None  # the view now sees an anonymous request: 401 for the API, the login form for pages
    if not isinstance(seen, int) or now - seen >= 30:  # a fresh cookie at most every 30 s
        session[SEEN_KEY] = now
    return None


# -- pages --------------------------------------------------------------------------------------


@bp.get("/console")
@_page
def index() -> str | BaseResponse:
    """Render the console shell: tabs by role, the pop, the language switch; data arrives by script."""
    user = current_user()
    if user is None or user.role not in STAFF:
        return redirect(url_for("auth.login"))
    core = get_core(current_app)
    with core.session_factory() as db:
        last_seq = db.scalar(sa.select(sa.func.max(Event.seq))) or 0
        org = db.get(Organisation, user.organisation_id) if user.organisation_id else None
        categories = [
            {"code": c.code, "name": c.name, "organisation": c.organisation.code if c.organisation else None}
            for c in db.scalars(sa.select(Category).where(Category.active.is_(True)).order_by(Category.id)).unique()
        ]
        organisations = [
            {"code": o.code, "name": o.name, "duty": bool(o.duty_phone)}
            for o in db.scalars(
                sa.select(Organisation).where(Organisation.active.is_(True)).order_by(Organisation.code)
            )
        ]
    config = {
        "role": user.role,
        "user": user.username,
        "extension": user.extension,
        "organisation": org.code if org else None,
        "last_seq": int(last_seq),
        "server_now": core.clock.now().isoformat(),
        "language": user_language(),
        "categories": categories,
        "organisations": organisations,
        "strings": _translate(JS_STRINGS),
    }
    return render_template(
        "console/index.html",
        user=user,
        organisation=org,
        config=config,
        languages=LANGUAGES,
        statuses=[s.value for s in Status],
        categories=categories,
    )


@bp.post("/console/language")
def language() -> BaseResponse:
    """Remember the user's language (the visible switch); CSRF-checked like every form."""
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login"))
    chosen = request.form.get("language", "")
    if chosen in LANGUAGES:
        core = get_core(current_app)
        with core.session_factory() as db:
            admin_service.set_language(db, user.id, chosen)
            db.commit()
    target = request.form.get("next", "")
    # Only our own screens: never an open redirect.
    return redirect(target if target in ("/console", "/admin") else url_for("console.index"))


# -- operator helpers ---------------------------------------------------------------------------


@bp.get("/console/api/suggest")
@require(*STAFF)
def suggest() -> Response:
    """Suggest category, organisation and place for a description as it is typed, with possible duplicates."""
    text = request.args.get("text", "")[:MAX_SUGGEST]
    place_text = request.args.get("place", "")[:200]
    core = get_core(current_app)
    with core.session_factory() as db:
        found = suggest_category(db, text)
        category = db.get(Category, found.category_id) if found.category_id else None
        place = find_place(db, f"{place_text} {text}") if (place_text or text) else None
        duplicates = possible_duplicates(
            db,
            category_id=category.id if category else None,
            place_id=place.id if place else None,
            place=None if place else place_text,
            now=core.clock.now(),
        )
        return jsonify(
            {
                "category": {"code": category.code, "name": category.name} if category else None,
                "organisation": (
                    {"code": category.organisation.code, "name": category.organisation.name}
                    if category and category.organisation
                    else None
                ),
                "place": _place(place),
                "score": found.score,
                "matched": list(found.matched),
                "duplicates": duplicates,
            }
        )


def _place(place: Place | None) -> dict[str, Any] | None:
    """Render a place in the user's script."""
    if place is None:
        return None
    name = place.name_cyrl if user_language() == "sr-Cyrl" else place.name_latn
    return {"id": place.id, "name": name}


@bp.get("/console/api/deadlines")
@require(*STAFF)
def deadlines() -> Response:
    """Open tickets still waiting for their first answer, the nearest 48-hour deadline first."""
    user = _me()
    core = get_core(current_app)
    with core.session_factory() as db:
        query = (
            sa.select(Ticket)
            .where(Ticket.answered_at.is_(None), Ticket.status.in_([s.value for s in OPEN_STATUSES]))
            .order_by(Ticket.answer_due, Ticket.id)
            .limit(DEADLINE_LIMIT)
        )
        if user.role == "department":
            query = query.where(Ticket.organisation_id == (user.organisation_id or -1))
        rows = db.scalars(query).unique().all()
        from core.services.views import ticket_summary

        items = []
        for t in rows:
            item = ticket_summary(t)
            item["description"] = t.description[:160]
            items.append(item)
    return jsonify({"tickets": items, "now": core.clock.now().isoformat()})


@bp.get("/console/api/mail")
@require(*DESK)
def mail() -> Response:
    """Recent e-mails from citizens (the quarantine has its own list in the mail API)."""
    core = get_core(current_app)
    with core.session_factory() as db:
        rows = db.execute(
            sa.select(Message, Ticket.code)
            .outerjoin(Ticket, Ticket.id == Message.ticket_id)
            .where(Message.channel == "email", Message.direction == "in")
            .order_by(Message.at.desc(), Message.id.desc())
            .limit(50)
        ).all()
        items = [
            {"id": m.id, "at": m.at.isoformat(), "from": m.address, "body": m.body[:500], "ticket": code}
            for m, code in rows
        ]
    return jsonify({"messages": items})


# -- tickets ------------------------------------------------------------------------------------


def _ticket_for(db: Any, code: str, user: User) -> Ticket:
    """Load a ticket the user may see, or raise NotFound/Forbidden."""
    ticket = db.scalar(sa.select(Ticket).where(Ticket.code == code[:20]))
    if ticket is None:
        raise NotFound(code)
    if not can_see(user, ticket):
        raise Forbidden(code)
    return cast("Ticket", ticket)


def _mask(value: str | None) -> str | None:
    """Show only the end of a number or address (department staff reveal the rest by a logged action)."""
    if not value:
        return value
    return "•••" + value[-3:] if len(value) > 4 else "•••"


def _ticket_error(exc: Exception, code: str) -> tuple[Response, int]:
    """Map the ticket service's refusals to JSON errors."""
    if isinstance(exc, Forbidden):
        return error("forbidden", gettext("This ticket belongs to another organisation."), 403)
    return error("not_found", gettext("No ticket %(code)s.", code=code[:20]), 404)


@bp.get("/console/api/tickets/<code>")
@require(*STAFF)
def ticket(code: str) -> tuple[Response, int]:
    """One ticket with history, costs, cluster and photos; opening it is written to the audit log."""
    user = _me()
    core = get_core(current_app)
    try:
        with core.session_factory() as db:
            detail = get_ticket(db, code[:20], user)
            row = _ticket_for(db, code, user)
            detail["costs"] = costs.costs_of(db, row.id)
            detail["cluster"] = clusters.cluster_view(db, row)
            detail["attachments"] = [
                {"id": a.id, "filename": a.filename, "content_type": a.content_type}
                for a in db.scalars(sa.select(Attachment).where(Attachment.ticket_id == row.id).order_by(Attachment.id))
            ]
    except (NotFound, Forbidden) as exc:
        return _ticket_error(exc, code)
    citizen = detail.get("citizen")
    if citizen and user.role == "department":
        # ASVS 8.2.3: department staff see contact data only through the logged "show contact" action.
        citizen.update(
            phone=_mask(citizen["phone"]), phone_raw=_mask(citizen["phone_raw"]), email=_mask(citizen["email"])
        )
        citizen["masked"] = True
    _audit("ticket.view", "ticket", code[:20])
    return jsonify(detail), 200


@bp.post("/console/api/tickets/<code>/reveal")
@require(*STAFF)
def reveal(code: str) -> tuple[Response, int]:
    """Show a ticket's citizen contact in full (a logged PII read)."""
    user = _me()
    core = get_core(current_app)
    try:
        with core.session_factory() as db:
            row = _ticket_for(db, code, user)
            citizen = row.citizen
            data = {"phone": citizen.phone_e164 or citizen.phone_raw, "email": citizen.email} if citizen else {}
    except (NotFound, Forbidden) as exc:
        return _ticket_error(exc, code)
    _audit("ticket.reveal_contact", "ticket", code[:20])
    return jsonify(data), 200


def _store_photo(ticket_id: int, data: bytes, now: Any) -> Attachment:
    """Re-encode a photo without EXIF and store it under var/attachments (content-addressed name)."""
    from email_channel.images import clean_image

    clean = clean_image(data)
    digest = hashlib.sha256(clean.data).hexdigest()
    folder = Path(get_core(current_app).settings.var_dir) / "attachments"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}.{clean.extension}"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(clean.data)
        tmp.replace(path)  # never a half-written file under the final name
    return Attachment(
        ticket_id=ticket_id,
        filename=f"resolution-{ticket_id}.{clean.extension}",
        content_type=clean.content_type,
        size=len(clean.data),
        sha256=digest,
        storage_path=str(path),
        created_at=now,
    )


@bp.post("/console/api/tickets/<code>/status")
@require(*STAFF)
def status(code: str) -> tuple[Response, int]:
    """Change status with a public and an internal note, an optional photo; a primary answers its cluster."""
    form = request.form if request.files or request.form else (request.get_json(silent=True) or {})
    new_status = str(form.get("status") or "")
    public = str(form.get("public_note") or "") or None
    internal = str(form.get("internal_note") or "") or None
    user = _me()
    core = get_core(current_app)
    photo = request.files.get("photo")
    photo_bytes = photo.read(MAX_PHOTO + 1) if photo and photo.filename else None
    if photo_bytes is not None and len(photo_bytes) > MAX_PHOTO:
        return error("too_large", gettext("The photo is too large."), 413)
    try:
        with core.session_factory() as db:
            row = _ticket_for(db, code, user)
            has_members = bool(clusters.members_of(db, row.id))
        if has_members:
            result = clusters.change_cluster_status(
                core.uow(), code[:20], new_status, user, public_note=public, internal_note=internal
            )
            detail, members = result.detail, list(result.members_changed)
        else:
            detail = change_status(core.uow(), code[:20], new_status, user, public_note=public, internal_note=internal)
            members = []
    except (NotFound, Forbidden) as exc:
        return _ticket_error(exc, code)
    except TransitionError as exc:
        message = str(exc)
        if "public" in message.lower() or "note" in message.lower():
            return error("public_note_required", gettext("A public note is required for this status."), 409)
        return error("invalid_transition", message, 409)
    if photo_bytes:
        from email_channel.images import NotAnImage

        try:
            with core.session_factory() as db:
                attachment = _store_photo(int(detail["id"]), photo_bytes, core.clock.now())
                db.add(attachment)
                db.commit()
        except NotAnImage:
            return error("not_an_image", gettext("The file is not a photo."), 422)
    _audit("ticket.status", "ticket", code[:20], fields={"status": new_status, "cluster_members": members,
                                                         "photo": bool(photo_bytes)})  # fmt: skip
    detail["cluster_members_changed"] = members
    return jsonify(detail), 200


@bp.get("/console/api/attachments/<int:attachment_id>")
@require(*STAFF)
def attachment(attachment_id: int) -> Response | tuple[Response, int]:
    """Serve a stored photo by id → database → fixed directory (never a path from the request)."""
    user = _me()
    core = get_core(current_app)
    root = (Path(core.settings.var_dir) / "attachments").resolve()
    with core.session_factory() as db:
        att = db.get(Attachment, attachment_id)
        row = db.get(Ticket, att.ticket_id) if att and att.ticket_id else None
        if att is None or row is None:
            return error("not_found", gettext("No such file."), 404)
        if not can_see(user, row):
            return error("forbidden", gettext("This ticket belongs to another organisation."), 403)
        path = Path(att.storage_path).resolve()
        content_type = att.content_type
    if root not in path.parents or not path.is_file():
        return error("not_found", gettext("No such file."), 404)
    response = send_file(path, mimetype=content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/console/api/tickets/<code>/costs")
@require(*STAFF)
def add_cost(code: str) -> tuple[Response, int]:
    """Add hours, materials and an amount to a ticket."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error("bad_request", gettext("A JSON object is expected."), 400)
    values = {k: body.get(k) for k in ("hours", "materials", "amount", "note")}
    if any(v is not None and not isinstance(v, str | int | float) for v in values.values()):
        return error("bad_request", gettext("Invalid cost entry."), 400)
    data = costs.CostInput(**{k: None if v is None else str(v) for k, v in values.items()})
    user = _me()
    core = get_core(current_app)
    try:
        with core.session_factory() as db:
            row = _ticket_for(db, code, user)
            entry = costs.add_cost(db, row, user, data, at=core.clock.now())
            audit.record(db, _actor(), "ticket.cost", "ticket", row.code, at=core.clock.now(),
                         fields={"cost_id": entry.id, "hours": str(entry.hours), "amount": str(entry.amount)})  # fmt: skip
            db.commit()
            summary = costs.costs_of(db, row.id)
    except (NotFound, Forbidden) as exc:
        return _ticket_error(exc, code)
    except costs.CostError:
        return error("bad_request", gettext("Invalid cost entry."), 400)
    return jsonify(summary), 201


@bp.post("/console/api/tickets/<code>/cluster")
@require(*STAFF)
def link_cluster(code: str) -> tuple[Response, int]:
    """Link this ticket to the primary ticket of the same problem: ``{"primary": "48-…"}``."""
    body = request.get_json(silent=True)
    primary = body.get("primary") if isinstance(body, dict) else None
    if not isinstance(primary, str) or not primary.strip():
        return error("bad_request", gettext("A primary ticket code is expected."), 400)
    core = get_core(current_app)
    try:
        view = clusters.link(core.uow(), code[:20], primary.strip()[:20], _me())
    except (NotFound, Forbidden) as exc:
        return _ticket_error(exc, primary)
    except clusters.ClusterError:
        return error("bad_request", gettext("A ticket cannot be linked to itself."), 400)
    _audit("ticket.cluster", "ticket", code[:20], fields={"primary": view["primary"]})
    return jsonify(view), 200


@bp.delete("/console/api/tickets/<code>/cluster")
@require(*STAFF)
def unlink_cluster(code: str) -> tuple[Response, int]:
    """Take a ticket out of its cluster."""
    core = get_core(current_app)
    try:
        view = clusters.unlink(core.uow(), code[:20], _me())
    except (NotFound, Forbidden) as exc:
        return _ticket_error(exc, code)
    except clusters.ClusterError:
        return error("bad_request", gettext("The ticket is not linked."), 400)
    _audit("ticket.unlink", "ticket", code[:20])
    return jsonify(view), 200


# -- supervisors ----------------------------------------------------------------------------------


@bp.get("/console/api/supervisor")
@require(*OVERSIGHT)
def supervisor() -> Response:
    """Escalations, on-time rate per organisation, breaches and today's calls."""
    core = get_core(current_app)
    with core.session_factory() as db:
        return jsonify(stats.supervisor_overview(db, now=core.clock.now(), timezone=core.settings.timezone))


@bp.get("/console/api/audit")
@require(*OVERSIGHT)
def audit_log() -> Response:
    """Return the newest audit rows (reading the audit log is itself not a PII read)."""
    try:
        limit = int(request.args.get("limit", 100))
    except ValueError:
        limit = 100
    core = get_core(current_app)
    with core.session_factory() as db:
        rows = audit.recent(
            db,
            limit=limit,
            action=request.args.get("action") or None,
            object_id=(request.args.get("object") or "")[:80] or None,
        )
    return jsonify({"events": rows})


@bp.post("/console/api/tickets/<code>/work-order")
@require(*STAFF)
def work_order(code: str) -> tuple[Response, int]:
    """Send a work order SMS about a ticket to the duty team of the ticket's organisation."""
    body = request.get_json(silent=True)
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        return error("bad_request", gettext("The text of the work order is empty."), 400)
    user = _me()
    core = get_core(current_app)
    try:
        with core.session_factory() as db:
            row = _ticket_for(db, code, user)
            org_code = row.organisation.code if row.organisation else None
    except (NotFound, Forbidden) as exc:
        return _ticket_error(exc, code)
    if org_code is None:
        return error("no_organisation", gettext("The ticket has no organisation yet."), 409)
    from core.services import sms as sms_core

    try:
        view = sms_core.queue_work_order(core.uow(), org_code, text[:1000], user, code[:20])
    except sms_core.BlockedRecipient:
        return error("no_phone", gettext("The organisation has no duty phone."), 409)
    except (LookupError, ValueError):
        return error("bad_request", gettext("The work order could not be queued."), 400)
    _audit("ticket.work_order", "ticket", code[:20], fields={"organisation": org_code})
    return jsonify(view), 201
