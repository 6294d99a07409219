"""Administration: users, organisations, categories and keyword rules (the classifier's editable routing)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import Category, KeywordRule, Organisation, User
from core.i18n import LANGUAGES
from core.services import classify
from core.services.accounts import MIN_PASSWORD, ROLES, hash_password

PRIORITIES = ("low", "normal", "high")


class AdminError(ValueError):
    """An edit the rules refuse (unknown organisation, short password, empty pattern)."""


def users(session: so.Session) -> list[dict[str, Any]]:
    """List staff accounts (never their password hashes or TOTP secrets)."""
    rows = session.execute(
        sa.select(User, Organisation.code)
        .outerjoin(Organisation, Organisation.id == User.organisation_id)
        .order_by(User.username)
    ).all()
    return [
        {
            "id": u.id,
            "username": u.username,
            "display_name": u.display_name,
            "role": u.role,
            "organisation": org,
            "extension": u.extension,
            "language": u.language,
            "active": u.active,
            "mfa": u.totp_secret is not None,
        }
        for u, org in rows
    ]


def _org_id(session: so.Session, code: str | None) -> int | None:
    if not code:
        return None
    org_id = session.scalar(sa.select(Organisation.id).where(Organisation.code == code))
    if org_id is None:
        raise AdminError(f"no organisation {code!r}")
    return int(org_id)


def update_user(
    session: so.Session,
    user_id: int,
    *,
    role: str,
    organisation: str | None,
    extension: str | None,
    display_name: str | None,
    active: bool,
    password: str | None = None,
) -> dict[str, Any]:
    """Change a user's role, organisation, extension, name, activity and optionally password."""
    user = session.get(User, user_id)
    if user is None:
        raise AdminError("no such user")
    if role not in ROLES:
        raise AdminError(f"role must be one of {', '.join(ROLES)}")
    org_id = _org_id(session, organisation)
    if role == "department" and org_id is None:
        raise AdminError("department users need an organisation")
    before = {
        "role": user.role,
        "organisation_id": user.organisation_id,
        "extension": user.extension,
        "active": user.active,
    }
    user.role = role
    user.organisation_id = org_id
    user.extension = (extension or "").strip()[:20] or None
    user.display_name = (display_name or "").strip()[:200] or None
    user.active = active
    if password:
        if len(password) < MIN_PASSWORD:
            raise AdminError(f"password must have at least {MIN_PASSWORD} characters")
        user.password_hash = hash_password(password)
    after = {
        "role": user.role,
        "organisation_id": user.organisation_id,
        "extension": user.extension,
        "active": user.active,
    }
    changed = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if password:
        changed["password"] = ["***", "***"]
    return changed


def set_language(session: so.Session, user_id: int, language: str) -> None:
    """Remember a user's interface language."""
    if language not in LANGUAGES:
        raise AdminError(f"language must be one of {', '.join(LANGUAGES)}")
    user = session.get(User, user_id)
    if user is None:
        raise AdminError("no such user")
    user.language = language


def organisations(session: so.Session) -> list[dict[str, Any]]:
    """List organisations with their contact and duty data."""
    return [
        {
            "id": o.id,
            "code": o.code,
            "name": o.name,
            "kind": o.kind,
            "email": o.email,
            "phone": o.phone,
            "duty_phone": o.duty_phone,
            "duty_team": o.duty_team,
            "active": o.active,
        }
        for o in session.scalars(sa.select(Organisation).order_by(Organisation.code))
    ]


def update_organisation(
    session: so.Session, code: str, values: dict[str, str | None], *, active: bool
) -> dict[str, Any]:
    """Edit an organisation's name and contacts (the code is its stable key and does not change)."""
    org = session.scalar(sa.select(Organisation).where(Organisation.code == code))
    if org is None:
        raise AdminError(f"no organisation {code!r}")
    changed: dict[str, Any] = {}
    limits = {"name": 200, "email": 200, "phone": 40, "duty_phone": 40, "duty_team": 200}
    for field, limit in limits.items():
        if field not in values:
            continue
        new = (values[field] or "").strip()[:limit] or None
        if field == "name" and new is None:
            raise AdminError("name is required")
        if getattr(org, field) != new:
            changed[field] = [getattr(org, field), new]
            setattr(org, field, new)
    if org.active != active:
        changed["active"] = [org.active, active]
        org.active = active
    return changed


def categories(session: so.Session) -> list[dict[str, Any]]:
    """List categories with their routing target and keyword rules."""
    rules: dict[int, list[dict[str, Any]]] = {}
    for r in session.scalars(sa.select(KeywordRule).order_by(KeywordRule.id)):
        rules.setdefault(r.category_id, []).append({"id": r.id, "pattern": r.pattern, "weight": r.weight})
    return [
        {
            "id": c.id,
            "code": c.code,
            "name": c.name,
            "organisation": c.organisation.code if c.organisation else None,
            "resolve_hours": c.resolve_hours,
            "priority": c.priority,
            "active": c.active,
            "rules": rules.get(c.id, []),
        }
        for c in session.scalars(sa.select(Category).order_by(Category.id)).unique()
    ]


def update_category(
    session: so.Session,
    code: str,
    *,
    name: str,
    organisation: str | None,
    resolve_hours: int,
    priority: str,
    active: bool,
) -> dict[str, Any]:
    """Edit a category's name, routing target, resolution time, priority and activity."""
    cat = session.scalar(sa.select(Category).where(Category.code == code))
    if cat is None:
        raise AdminError(f"no category {code!r}")
    if priority not in PRIORITIES:
        raise AdminError("priority must be low, normal or high")
    if not 1 <= resolve_hours <= 24 * 365:
        raise AdminError("resolve_hours out of range")
    if not name.strip():
        raise AdminError("name is required")
    before = {"name": cat.name, "organisation_id": cat.organisation_id, "resolve_hours": cat.resolve_hours,
              "priority": cat.priority, "active": cat.active}  # fmt: skip
    cat.name = name.strip()[:200]
    cat.organisation_id = _org_id(session, organisation)
    cat.resolve_hours = resolve_hours
    cat.priority = priority
    cat.active = active
    after = {"name": cat.name, "organisation_id": cat.organisation_id, "resolve_hours": cat.resolve_hours,
             "priority": cat.priority, "active": cat.active}  # fmt: skip
    classify.invalidate()  # an inactive category must stop matching in this process at once
    return {k: [before[k], after[k]] for k in before if before[k] != after[k]}


def add_rule(session: so.Session, category_code: str, pattern: str, weight: int) -> KeywordRule:
    """Add a keyword rule (a stem, or a phrase) to a category, in either script."""
    cat_id = session.scalar(sa.select(Category.id).where(Category.code == category_code))
    if cat_id is None:
        raise AdminError(f"no category {category_code!r}")
    folded = classify.fold_pattern(pattern)[:100]
    if not folded:
        raise AdminError("empty pattern")
    if not 1 <= weight <= 10:
        raise AdminError("weight must be 1–10")
    rule = KeywordRule(category_id=cat_id, pattern=pattern.strip()[:100], folded=folded, weight=weight)
    session.add(rule)
    session.flush()
    classify.invalidate()
    return rule


def delete_rule(session: so.Session, rule_id: int) -> str:
    """Delete a keyword rule; return its pattern."""
    rule = session.get(KeywordRule, rule_id)
    if rule is None:
        raise AdminError("no such rule")
    pattern = rule.pattern
    session.delete(rule)
    session.flush()
    classify.invalidate()
    return pattern
