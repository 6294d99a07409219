"""Classification by editable keyword rules and place recognition, alike for Cyrillic and Latin."""

from __future__ import annotations

from dataclasses import dataclass

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


def suggest_category(session: so.Session, text: str) -> Suggestion:
    """Score every active category's rules against the text; highest total weight wins."""
    tokens = words(text)
    folded_text = " ".join(tokens)
    rows = session.execute(
        sa.select(KeywordRule.category_id, KeywordRule.folded, KeywordRule.weight)
        .join(Category, Category.id == KeywordRule.category_id)
        .where(Category.active.is_(True))
    ).all()
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
    best: tuple[int, Place] | None = None
    for place in session.scalars(sa.select(Place)):
        position = _place_position(place.folded, tokens)
        if position is not None and (best is None or position < best[0]):
            best = (position, place)
    return best[1] if best else None


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
