"""HTML pages: the landing page and the operators' first console (the full console comes later)."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, url_for
from werkzeug.wrappers import Response as BaseResponse

from callcenter_ui import get_core
from callcenter_ui.auth import current_user
from core.services.tickets import TicketFilter, list_tickets

bp = Blueprint("pages", __name__)


@bp.get("/console")
def console() -> str | BaseResponse:
    """List the newest tickets for a logged-in member of staff."""
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login"))
    core = get_core(current_app)
    with core.session_factory() as db:
        tickets = list_tickets(db, TicketFilter(limit=50), user)
    return render_template("console.html", user=user, tickets=tickets)
