"""The web face: Flask app factory, JSON API, login, health, and the operators' Socket.IO namespace."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy.exc as sa_exc
from flask import Flask, Response, jsonify, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from itsdangerous import URLSafeTimedSerializer
from typing_extensions import override

from core.bootstrap import Core
from core.config import Settings, load_settings

log = logging.getLogger(__name__)
csrf = CSRFProtect()
EXTENSION = "s48"


# What the public node serves (``sistem48 public``): the pages and APIs anyone may read, and liveness.
PUBLIC_FEATURES = ("public", "open311")
# Headers every response carries unless a view set its own (see ``_headers``).
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    (
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    ),
)


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signer built once per key instead of on every request.

    Flask opens the session on every request, the public pages' too, and building the serializer
    (key derivation set-up included) was a measurable share of a tracking page.
    """

    def __init__(self) -> None:
        self._signers: dict[tuple[Any, ...], URLSafeTimedSerializer] = {}

    @override
    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        key = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        signer = self._signers.get(key)
        if signer is None:
            signer = super().get_signing_serializer(app)
            if signer is None:
                return None
            self._signers = {key: signer}  # a changed key replaces the old signer
        return signer


def create_app(settings: Settings | None = None, *, core: Core | None = None, public_only: bool = False) -> Flask:
    """Build the Flask app; ``core`` is injected by tests and ``sistem48 web``, else bootstrapped here.

    ``public_only`` builds the public node's app (``sistem48 public``): the portal, tracking pages,
    weekly overview, feed, Open311 and ``/healthz``; nothing a member of staff logs in to, and not the
    operations endpoints (``/readyz``, ``/metrics``).
    """
    from sistem48.runtime import build_core

    settings = settings or (core.settings if core else load_settings())
    core = core or build_core(settings)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=9),  # one shift, then log in again
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in before_request unless a bearer token is used
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=8 * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.session_interface = _SessionInterface()
    app.extensions[EXTENSION] = core
    csrf.init_app(app)

    from callcenter_ui.views import FEATURE_BLUEPRINTS, api, auth, health

    app.register_blueprint(health.live)
    if public_only:
        for blueprint in FEATURE_BLUEPRINTS(PUBLIC_FEATURES):
            app.register_blueprint(blueprint)
    else:
        app.register_blueprint(health.bp)
        app.register_blueprint(auth.bp)
        app.register_blueprint(api.bp)
        for blueprint in FEATURE_BLUEPRINTS():
            app.register_blueprint(blueprint)

    @app.before_request
    def _csrf() -> None:
        """Protect session-authenticated writes; bearer-token API calls carry no cookie to forge."""
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        if request.headers.get("Authorization", "").startswith("Bearer "):
            return
        csrf.protect(apply_exemptions=True)  # Open311 partners post with an api_key, not a cookie

    @app.after_request
    def _headers(response: Response) -> Response:
        """Set the security headers every page needs (one pass over the headers, not one per header)."""
        present = {name.lower() for name in response.headers.keys()}  # noqa: SIM118  Headers has no cheaper view
        for name, value in SECURITY_HEADERS:
            if name.lower() not in present:
                response.headers.add(name, value)
        return response

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> tuple[Response, int]:
        return error("csrf", str(exc.description), 400)

    @app.errorhandler(sa_exc.OperationalError)
    @app.errorhandler(sa_exc.InterfaceError)
    @app.errorhandler(sa_exc.DBAPIError)
    def _db_down(exc: Exception) -> tuple[Response, int]:
        # F3: the database is down or too slow. Nothing was committed, so no acknowledgement leaves
        # for a ticket that does not exist; the client is told to retry.
        log.error("database unavailable: %s", type(exc).__name__)
        response, status = error("database_unavailable", "База података тренутно није доступна. Покушајте поново.", 503)
        response.headers["Retry-After"] = "30"
        return response, status

    return app


def get_core(app: Flask) -> Core:
    """Return the core wired into this app."""
    core: Core = app.extensions[EXTENSION]
    return core


def error(code: str, message: str, status: int, **extra: Any) -> tuple[Response, int]:
    """Return a JSON error body in one shape for the whole API."""
    return jsonify({"error": {"code": code, "message": message, **extra}}), status
