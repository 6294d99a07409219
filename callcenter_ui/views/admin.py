"""Administration screens: users, organisations, categories and keyword rules (server-rendered forms).

Every form carries the CSRF token; every change is written to the audit log with what changed.
Admins manage configuration, not ticket content (ASVS role table): nothing here shows a ticket.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy.orm as so
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from callcenter_ui import get_core
from callcenter_ui.auth import current_user
from core.db.models import User
from core.i18n import LANGUAGES
from core.services import admin as admin_service
from core.services import audit
from core.services.accounts import ROLES, AccountError, add_user

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _admin() -> User | None:
    """Return the current user when an admin, else None."""
    user = current_user()
    return user if user is not None and user.role == "admin" else None


def _actor(user: User) -> audit.Actor:
    """Describe the admin for the audit log."""
    return audit.Actor(user_id=user.id, role=user.role, ip=request.remote_addr,
                       user_agent=request.headers.get("User-Agent"))  # fmt: skip


def _guard() -> BaseResponse | None:
    """Send non-admins away: anonymous to the login form, other staff to their console."""
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login"))
    if user.role != "admin":
        return redirect(url_for("console.index"))
    return None


@bp.get("")
def index() -> str | BaseResponse:
    """Show the administration page."""
    refused = _guard()
    if refused is not None:
        return refused
    core = get_core(current_app)
    with core.session_factory() as db:
        data = {
            "users": admin_service.users(db),
            "organisations": admin_service.organisations(db),
            "categories": admin_service.categories(db),
        }
    return render_template("admin/index.html", user=current_user(), roles=ROLES, languages=LANGUAGES, **data)


def _done(action: str, object_type: str, object_id: str | int | None, fields: dict[str, object] | None) -> None:
    """Audit an admin change (in its own transaction, after the change committed)."""
    user = _admin()
    if user is None:  # pragma: no cover - every caller passed _guard()
        return
    core = get_core(current_app)
    with core.session_factory() as db:
        audit.record(db, _actor(user), action, object_type, object_id, at=core.clock.now(), fields=fields)
        db.commit()


def _back(anchor: str) -> BaseResponse:
    return redirect(url_for("admin.index") + f"#{anchor}")


Audit = tuple[str, str, str | int | None, dict[str, object] | None]


def _save(anchor: str, work: Callable[[so.Session], Audit], refused_by: tuple[type[Exception], ...]) -> BaseResponse:
    """Run one admin change for an admin: commit ``work``, audit what it returns, report, go back.

    ``work`` returns the audit entry (action, object type, object id, fields); an exception of
    ``refused_by`` is the admin's mistake and is shown as "not saved" instead of committed.
    """
    refused = _guard()
    if refused is not None:
        return refused
    core = get_core(current_app)
    try:
        with core.session_factory() as db:
            entry = work(db)
            db.commit()
    except refused_by as exc:
        flash(gettext("Not saved: %(reason)s", reason=str(exc)), "error")
        return _back(anchor)
    _done(*entry)
    flash(gettext("Saved"), "ok")
    return _back(anchor)


@bp.post("/users")
def create_user() -> BaseResponse:
    """Create a staff account."""
    f = request.form

    def work(db: so.Session) -> Audit:
        user = add_user(
            db, f.get("username", ""), f.get("role", ""), f.get("password", ""), get_core(current_app).clock.now(),
            organisation_code=f.get("organisation") or None, display_name=f.get("display_name") or None,
            extension=f.get("extension") or None,
        )  # fmt: skip
        db.flush()
        return "user.create", "user", user.id, {"role": f.get("role"), "username": f.get("username")}

    return _save("users", work, (AccountError,))


@bp.post("/users/<int:user_id>")
def update_user(user_id: int) -> BaseResponse:
    """Change a staff account (role, organisation, extension, activity, password)."""
    f = request.form

    def work(db: so.Session) -> Audit:
        changed = admin_service.update_user(
            db, user_id, role=f.get("role", ""), organisation=f.get("organisation") or None,
            extension=f.get("extension"), display_name=f.get("display_name"), active=f.get("active") == "1",
            password=f.get("password") or None,
        )  # fmt: skip
        return "user.update", "user", user_id, changed

    return _save("users", work, (admin_service.AdminError,))


@bp.post("/organisations/<code>")
def update_organisation(code: str) -> BaseResponse:
    """Edit an organisation's contacts and duty phone."""
    f = request.form
    values = {k: f.get(k) for k in ("name", "email", "phone", "duty_phone", "duty_team")}

    def work(db: so.Session) -> Audit:
        changed = admin_service.update_organisation(db, code[:40], values, active=f.get("active") == "1")
        return "organisation.update", "organisation", code[:40], changed

    return _save("organisations", work, (admin_service.AdminError,))


@bp.post("/categories/<code>")
def update_category(code: str) -> BaseResponse:
    """Edit a category's routing and resolution time."""
    f = request.form

    def work(db: so.Session) -> Audit:
        changed = admin_service.update_category(
            db, code[:40], name=f.get("name", ""), organisation=f.get("organisation") or None,
            resolve_hours=int(f.get("resolve_hours", "0")), priority=f.get("priority", ""),
            active=f.get("active") == "1",
        )  # fmt: skip
        return "category.update", "category", code[:40], changed

    return _save("categories", work, (admin_service.AdminError, ValueError))


@bp.post("/categories/<code>/rules")
def add_rule(code: str) -> BaseResponse:
    """Add a keyword rule to a category (the classifier picks it up at once)."""
    f = request.form

    def work(db: so.Session) -> Audit:
        rule = admin_service.add_rule(db, code[:40], f.get("pattern", ""), int(f.get("weight", "1") or 1))
        return "rule.create", "keyword_rule", rule.id, {"category": code[:40], "pattern": rule.pattern}

    return _save("categories", work, (admin_service.AdminError, ValueError))


@bp.post("/rules/<int:rule_id>/delete")
def delete_rule(rule_id: int) -> BaseResponse:
    """Delete a keyword rule."""

    def work(db: so.Session) -> Audit:
        return "rule.delete", "keyword_rule", rule_id, {"pattern": admin_service.delete_rule(db, rule_id)}

    return _save("categories", work, (admin_service.AdminError,))
