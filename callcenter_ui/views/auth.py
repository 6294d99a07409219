"""Login and logout for staff."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from callcenter_ui import get_core
from core.services.accounts import authenticate

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | BaseResponse | tuple[str, int]:
    """Show the login form; on success start a fresh session and go to the console."""
    if request.method == "GET":
        return render_template("login.html", failed=False)
    core = get_core(current_app)
    username = request.form.get("username", "")[:80]
    password = request.form.get("password", "")[:200]
    with core.session_factory() as db:
        user = authenticate(db, username, password)
        user_id = user.id if user else None
    if user_id is None:
        return render_template("login.html", failed=True), 401
    session.clear()  # never carry anything from before the login
    session.permanent = True
    session["uid"] = user_id
    return redirect(url_for("console.index"))


@bp.post("/logout")
def logout() -> BaseResponse:
    """End the session."""
    session.clear()
    response: Response = redirect(url_for("public.portal"))  # type: ignore[assignment]
    return response
