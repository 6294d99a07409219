"""Citizens: found by phone (E.164, else raw sender) or e-mail, created once even under concurrency."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
import sqlalchemy.orm as so

from core.db.models import Citizen
from core.phones import Phone
from core.text import strip_invisible

MAX_NAME = 200
MAX_EMAIL = 320


def normalise_email(email: str | None) -> str | None:
    """Lower-case and trim an address; anything without an @ is not an address."""
    if not email:
        return None
    cleaned = strip_invisible(email).strip().lower()
    return cleaned[:MAX_EMAIL] if "@" in cleaned else None


def find_or_create(
    session: so.Session, *, phone: Phone | None, email: str | None, name: str | None, now: datetime
) -> Citizen | None:
    """Return the citizen for this phone/e-mail, creating one if needed; None for an anonymous reporter."""
    return find_or_create_ex(session, phone=phone, email=email, name=name, now=now)[0]


def find_or_create_ex(
    session: so.Session, *, phone: Phone | None, email: str | None, name: str | None, now: datetime
) -> tuple[Citizen | None, bool]:
    """Like ``find_or_create``, and also tell whether the citizen was created just now."""
    email = normalise_email(email)
    key = phone.key if phone else None
    if key is None and email is None:
        return None, False
    citizen = _lookup(session, key, email)
    created = False
    if citizen is None:
        citizen = Citizen(
            phone_key=key,
            phone_e164=phone.e164 if phone else None,
            phone_raw=phone.raw if phone else None,
            phone_valid=phone.valid if phone else False,
            email=email,
            created_at=now,
            script="sr-Cyrl",
        )
        try:
            # A savepoint (only when creating): if another transaction created the same citizen a
            # moment ago, only this insert is undone and we read theirs.
            with session.begin_nested():
                session.add(citizen)
            created = True
        except sa_exc.IntegrityError:
            citizen = _lookup(session, key, email)
            if citizen is None:
                raise
    if name and not citizen.name:
        citizen.name = strip_invisible(name).strip()[:MAX_NAME] or None
    if email and not citizen.email and _lookup(session, None, email) is None:
        citizen.email = email
    return citizen, created


def _lookup(session: so.Session, key: str | None, email: str | None) -> Citizen | None:
    """Find a citizen by phone key first, then by e-mail."""
    if key is not None:
        found = session.scalar(sa.select(Citizen).where(Citizen.phone_key == key))
        if found is not None:
            return found
    if email is not None:
        return session.scalar(sa.select(Citizen).where(Citizen.email == email))
    return None
