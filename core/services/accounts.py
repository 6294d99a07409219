"""Staff accounts and API tokens. Passwords are scrypt-hashed; tokens are stored as SHA-256 only."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import ApiToken, Organisation, User

ROLES = ("operator", "department", "supervisor", "admin")
MIN_PASSWORD = 8
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
TOKEN_PREFIX = "s48_"  # noqa: S105  a recognisable prefix, not a secret


class AccountError(ValueError):
    """A user or token request that cannot be honoured (message says why)."""


def hash_password(password: str) -> str:
    """Hash a password with scrypt and a random salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Check a password against its stored hash in constant time."""
    if not stored or not stored.startswith("scrypt$"):
        return False
    try:
        _, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def add_user(
    session: so.Session,
    username: str,
    role: str,
    password: str,
    now: datetime,
    *,
    organisation_code: str | None = None,
    display_name: str | None = None,
    extension: str | None = None,
) -> User:
    """Create a staff user; department staff must belong to an organisation."""
    username = username.strip()
    if not username or len(username) > 80:
        raise AccountError("username must be 1–80 characters")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password must have at least {MIN_PASSWORD} characters")
    if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"user {username!r} exists")
    org_id = None
    if organisation_code:
        org_id = session.scalar(sa.select(Organisation.id).where(Organisation.code == organisation_code))
        if org_id is None:
            raise AccountError(f"no organisation {organisation_code!r}")
    if role == "department" and org_id is None:
        raise AccountError("department users need --organisation")
    user = User(
        username=username,
        role=role,
        password_hash=hash_password(password),
        organisation_id=org_id,
        display_name=display_name,
        extension=extension,
        created_at=now,
        active=True,
        language="sr-Cyrl",
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: so.Session, username: str, password: str) -> User | None:
    """Return the active user for these credentials, or None."""
    user = session.scalar(sa.select(User).where(User.username == username.strip()))
    if user is None or not user.active:
        # Spend the same time as a real check so usernames cannot be probed by timing.
        verify_password(password, hash_password("x" * MIN_PASSWORD))
        return None
    return user if verify_password(password, user.password_hash) else None


def _token_hash(token: str) -> str:
    """Return the stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: so.Session, username: str, name: str, now: datetime) -> str:
    """Create an API token for a user and return it; only its hash is kept."""
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise AccountError(f"no user {username!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name[:100], token_hash=_token_hash(token), created_at=now))
    session.flush()
    return token


def user_for_token(session: so.Session, token: str, now: datetime) -> User | None:
    """Return the active user owning a valid token, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalar(
        sa.select(ApiToken).where(ApiToken.token_hash == _token_hash(token), ApiToken.revoked_at.is_(None))
    )
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    row.last_used_at = now
    return user
