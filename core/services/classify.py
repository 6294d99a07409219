"""Classification by editable keyword rules and place recognition, alike for Cyrillic and Latin."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import Category, KeywordRule, Place
from core.text import fold, words

# Serbian inflects nouns ("Масловаре" → "у Масловарама"): a place matches when a word starts with its
# name minus the last letter, for names long enough that the stem stays unambiguous.
_MIN_STEM = 5


@dataclass(frozen=True)
class Suggestion:
    """The best category for a text, with the score and the rules that matched."""

    category_id: int | None
    score: int
    matched: tuple[str, ...]


def fold_pattern(pattern: str) -> str:
    """Fold a rule pattern the way texts are folded (so rules can be written in either script)."""
    return " ".join(words(pattern))


def _matches(rule: str, tokens: list[str], folded_text: str) -> bool:
    """Match a rule: a single word is a stem (prefix of any word), a phrase must occur whole."""
    if " " in rule:
        return f" {rule}" in f" {folded_text}"
    return any(token.startswith(rule) for token in tokens)


# Rules and places change rarely (an admin edits them) but are read on every report: keep them per
# database for a short while. Edits take effect within CACHE_SECONDS in every process.
CACHE_SECONDS = 30.0
_cache: dict[tuple[str, str], tuple[float, list[Any]]] = {}


def _cached(session: so.Session, name: str, load: Callable[[], list[Any]]) -> list[Any]:
    """Return a cached list for this database, reloading it when stale."""
    key = (str(session.get_bind().engine.url), name)
    hit = _cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    value = load()
    _cache[key] = (now, value)
    return value


def invalidate() -> None:
    """Forget cached rules and places (after an admin edit in this process)."""
    _cache.clear()


def _rules(session: so.Session) -> list[tuple[int, str, int]]:
    """Return (category id, folded rule, weight) of every active category."""
    return _cached(
        session,
        "rules",
        lambda: [
            (int(r[0]), str(r[1]), int(r[2]))
            for r in session.execute(
                sa.select(KeywordRule.category_id, KeywordRule.folded, KeywordRule.weight)
                .join(Category, Category.id == KeywordRule.category_id)
                .where(Category.active.is_(True))
            ).all()
        ],
    )


def _places(session: so.Session) -> list[tuple[int, str]]:
    """Return (place id, folded name) of every known place."""
    return _cached(
        session, "places", lambda: [(int(r[0]), str(r[1])) for r in session.execute(sa.select(Place.id, Place.folded))]
    )


def suggest_category(session: so.Session, text: str) -> Suggestion:
    """Score every active category's rules against the text; highest total weight wins."""
    tokens = words(text)
    folded_text = " ".join(tokens)
    rows = _rules(session)
    scores: dict[int, int] = {}
    matched: dict[int, list[str]] = {}
    for category_id, rule, weight in rows:
        if rule and _matches(rule, tokens, folded_text):
            scores[category_id] = scores.get(category_id, 0) + weight
            matched.setdefault(category_id, []).append(rule)
    if not scores:
        return Suggestion(None, 0, ())
    # Ties go to the lower id: seed order puts the more specific categories first.
    best = min(scores, key=lambda cid: (-scores[cid], cid))
    return Suggestion(best, scores[best], tuple(matched[best]))


def find_place(session: so.Session, text: str) -> Place | None:
    """Find the first known settlement or street named in the text, in either script."""
    tokens = words(text)
    if not tokens:
        return None
    best: tuple[int, int] | None = None
    for place_id, folded in _places(session):
        position = _place_position(folded, tokens)
        if position is not None and (best is None or position < best[0]):
            best = (position, place_id)
    return session.get(Place, best[1]) if best else None


def _place_position(name: str, tokens: list[str]) -> int | None:
    """Return where a folded place name occurs in the text (word index), or None."""
    parts = name.split()
    stems = [p[:-1] if len(p) >= _MIN_STEM else p for p in parts]
    for i in range(len(tokens) - len(parts) + 1):
        window = tokens[i : i + len(parts)]
        if all(
            tok == part or (len(part) >= _MIN_STEM and tok.startswith(stem))
            for tok, part, stem in zip(window, parts, stems, strict=True)
        ):
            return i
    return None


def search_key(*parts: str | None) -> str:
    """Return the folded text stored for script-insensitive search."""
    return fold(" ".join(p for p in parts if p))[:4000]
