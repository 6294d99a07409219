"""Who is asking: a logged-in session or an API bearer token, and what their role allows."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar, cast

import sqlalchemy as sa
from flask import current_app, g, request, session

from core.db.models import User
from core.services.accounts import user_for_token

P = ParamSpec("P")
R = TypeVar("R")

STAFF = ("operator", "department", "supervisor", "admin")


def current_user() -> User | None:
    """Return the user of this request (bearer token first, then the session), cached on ``g``."""
    if "s48_user" in g:
        return cast("User | None", g.s48_user)
    from callcenter_ui import get_core

    core = get_core(current_app)
    user: User | None = None
    header = request.headers.get("Authorization", "")
    with core.session_factory() as db:
        if header.startswith("Bearer "):
            user = user_for_token(db, header.removeprefix("Bearer ").strip(), core.clock.now())
            db.commit()
        elif "uid" in session:
            user = db.scalar(sa.select(User).where(User.id == session["uid"], User.active.is_(True)))
            if user is None:
                session.clear()  # a disabled user loses the session at once
    g.s48_user = user
    return user


def require(*roles: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Allow a view only to staff with one of ``roles`` (401 when anonymous, 403 when not allowed)."""

    def wrap(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            from callcenter_ui import error

            user = current_user()
            if user is None:
                return cast("R", error("unauthorized", "Пријавите се.", 401))
            if roles and user.role not in roles:
                return cast("R", error("forbidden", "Немате овлашћење за ову радњу.", 403))
            return view(*args, **kwargs)

        return inner

    return wrap
