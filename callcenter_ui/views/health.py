"""Liveness, readiness and metrics.

``live`` (liveness) is served by every node; ``bp`` (readiness and metrics: device states, ticket and
outbox counts, whole-table counts) is for operations and is not served by the internet-facing public
node (``sistem48 public``).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify

from callcenter_ui import get_core
from core.db.models import OutboxItem, Ticket
from core.services.health import component_states

bp = Blueprint("health", __name__)
live = Blueprint("live", __name__)


@live.get("/healthz")
def healthz() -> Response:
    """Answer 200 whenever the process serves."""
    return jsonify({"status": "ok"})


def broker_state() -> str:
    """Tell whether the broker answers (Redis PING; the embedded SQLite broker is always there)."""
    core = get_core(current_app)
    url = core.settings.broker_url
    if not url.startswith("redis"):
        return "ok"
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        client.close()
    except redis.RedisError:
        return "down"
    return "ok"


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Report database, broker and each device daemon: ok, down or not configured."""
    core = get_core(current_app)
    states: dict[str, str] = {"database": "ok", "broker": broker_state()}
    try:
        with core.session_factory() as session:
            session.execute(sa.select(1))
    except sa.exc.SQLAlchemyError:
        states["database"] = "down"
    try:
        with core.session_factory() as session:
            states.update(component_states(session, core.clock.now()))
    except sa.exc.SQLAlchemyError:
        # Without the database nobody can tell how the devices are; say so rather than guess.
        states.update(dict.fromkeys(("ami", "modem", "transcription", "mail"), "unknown"))
    ready = states["database"] == "ok" and states["broker"] == "ok"
    return jsonify({"status": "ok" if ready else "down", "components": states}), 200 if ready else 503


@bp.get("/metrics")
def metrics() -> Response:
    """Expose ticket and outbox gauges in the Prometheus text format."""
    core = get_core(current_app)
    lines = [
        "# HELP s48_tickets Tickets by status.",
        "# TYPE s48_tickets gauge",
    ]
    with core.session_factory() as session:
        for status, count in session.execute(sa.select(Ticket.status, sa.func.count()).group_by(Ticket.status)):
            lines.append(f's48_tickets{{status="{status}"}} {count}')
        lines += ["# HELP s48_outbox Outbox items by state.", "# TYPE s48_outbox gauge"]
        for state, count in session.execute(sa.select(OutboxItem.state, sa.func.count()).group_by(OutboxItem.state)):
            lines.append(f's48_outbox{{state="{state}"}} {count}')
        breached = session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(Ticket.breached_at.is_not(None)))
        lines += ["# HELP s48_sla_breaches Tickets whose 48-hour answer came late.", "# TYPE s48_sla_breaches gauge"]
        lines.append(f"s48_sla_breaches {breached or 0}")
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
