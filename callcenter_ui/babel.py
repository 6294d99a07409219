"""Flask-Babel set-up: the staff screens in Serbian Cyrillic (default), Serbian Latin or English.

The language is the user's own choice (``User.language``: ``sr-Cyrl``, ``sr-Latn``, ``en``), made with
the visible switch in the console and remembered in the database. Catalogues live in
``callcenter_ui/translations/<locale>/LC_MESSAGES/messages.{po,mo}``; the Latin catalogue is derived
from the Cyrillic one by ``callcenter_ui/translations/make_catalogues.py`` so the scripts never drift.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, has_request_context
from flask_babel import Babel

from core.i18n import DEFAULT_LANGUAGE, LANGUAGES

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
# User.language (BCP 47) → the Babel locale whose catalogue directory we ship.
LOCALES = {"sr-Cyrl": "sr_Cyrl", "sr-Latn": "sr_Latn", "en": "en"}
DEFAULT_LOCALE = LOCALES[DEFAULT_LANGUAGE]


def user_language() -> str:
    """Return the BCP 47 language of this request's user (the default for anonymous requests)."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    from callcenter_ui.auth import current_user

    user = current_user()
    language = user.language if user is not None else DEFAULT_LANGUAGE
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def select_locale() -> str:
    """Flask-Babel locale selector: the user's remembered choice."""
    return LOCALES[user_language()]


def init_babel(app: Flask) -> Babel:
    """Attach Flask-Babel to ``app`` once (calling it again returns the existing instance)."""
    existing = app.extensions.get("babel")
    if existing is not None:
        instance: Babel = existing.instance
        return instance
    from callcenter_ui import get_core

    babel = Babel(
        app,
        locale_selector=select_locale,
        default_locale=DEFAULT_LOCALE,
        default_translation_directories=str(TRANSLATIONS),
        default_timezone=get_core(app).settings.timezone,
    )

    @app.context_processor
    def _language() -> dict[str, str]:
        return {"html_lang": user_language()}

    return babel
