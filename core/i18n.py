"""Words the core says to people: status labels and message templates, in Serbian and English.

Serbian is written once, in Cyrillic; the Latin form is derived by transliteration so the two
scripts can never drift apart. The web UI's own catalogues (Flask-Babel) live in callcenter_ui/.
"""

from __future__ import annotations

from core.text import to_latin

LANGUAGES = ("sr-Cyrl", "sr-Latn", "en")
DEFAULT_LANGUAGE = "sr-Cyrl"

STATUS_LABELS: dict[str, tuple[str, str]] = {
    # status: (Serbian Cyrillic, English)
    "new": ("Примљена", "Received"),
    "assigned": ("Прослијеђена надлежнима", "Forwarded to the responsible service"),
    "in_progress": ("У раду", "In progress"),
    "waiting": ("Чека се одговор грађанина", "Waiting for the citizen"),
    "resolved": ("Ријешена", "Resolved"),
    "referred": ("Упућена другој надлежности", "Referred to the competent body"),
    "closed": ("Затворена", "Closed"),
    "reopened": ("Поново отворена", "Reopened"),
}

TEMPLATES: dict[str, tuple[str, str]] = {
    "ack": (
        "Систем 48: пријава је примљена под бројем {code}. Одговор о статусу добићете у року од 48 сати.",
        "Sistem 48: your report was received as {code}. You will hear about its status within 48 hours.",
    ),
    "status": (
        "Систем 48, {code}: {status}. {note}",
        "Sistem 48, {code}: {status}. {note}",
    ),
    "resolved": (
        "Систем 48, {code}: {status}. {note} Да ли је проблем ријешен? Одговорите 1 (да) или 0 (не).",
        "Sistem 48, {code}: {status}. {note} Is the problem fixed? Reply 1 (yes) or 0 (no).",
    ),
    "referred": (
        "Систем 48, {code}: ово није у надлежности општине. Пријаву смо прослиједили: {organisation}. {note}",
        "Sistem 48, {code}: this is outside the municipality's competence. We forwarded it to: {organisation}. {note}",
    ),
    "org_new": (
        "Систем 48: нова пријава {code} ({category}), мјесто: {place}. Рок за одговор: {answer_due}.",
        "Sistem 48: new report {code} ({category}), place: {place}. Answer due: {answer_due}.",
    ),
    "org_warning": (
        "Систем 48: пријава {code} чека одговор 24 сата. Рок од 48 сати истиче {answer_due}.",
        "Sistem 48: report {code} has waited 24 hours for an answer. The 48-hour limit ends {answer_due}.",
    ),
    "escalation": (
        "Систем 48: пријава {code} ({organisation}) без одговора 40 сати. Рок истиче {answer_due}.",
        "Sistem 48: report {code} ({organisation}) unanswered for 40 hours. The limit ends {answer_due}.",
    ),
    "breach": (
        "Систем 48: рок од 48 сати за пријаву {code} је истекао без одговора.",
        "Sistem 48: the 48-hour limit for report {code} passed without an answer.",
    ),
}

CHANNEL_LABELS: dict[str, tuple[str, str]] = {
    "phone": ("телефон", "phone"),
    "voicemail": ("говорна пошта", "voicemail"),
    "sms": ("СМС", "SMS"),
    "email": ("е-пошта", "e-mail"),
    "walk-in": ("лично", "in person"),
    "web": ("веб", "web"),
    "open311": ("Open311", "Open311"),
}

HISTORY_NOTES: dict[str, str] = {
    "received": "Пријава примљена ({channel}).",
    "routed": "Прослијеђена: {organisation}.",
    "referred": "Ово није у надлежности општине. Пријава је прослијеђена надлежнима: {organisation}.",
    "warning": "Упозорење организацији: 24 сата без одговора.",
    "escalation": "Ескалација супервизору: 40 сати без одговора.",
    "breach": "Рок од 48 сати за одговор је пробијен.",
    "resolve_breach": "Рок за рјешавање је истекао.",
    "message": "Нова порука грађанина ({channel}).",
}


def status_label(status: str, language: str = DEFAULT_LANGUAGE) -> str:
    """Return a status label in the given language (``sr-Cyrl``, ``sr-Latn`` or ``en``)."""
    cyr, en = STATUS_LABELS.get(status, (status, status))
    return _pick(cyr, en, language)


def channel_label(channel: str, language: str = DEFAULT_LANGUAGE) -> str:
    """Return how a channel is named for people."""
    cyr, en = CHANNEL_LABELS.get(channel, (channel, channel))
    return _pick(cyr, en, language)


def render(template: str, language: str = DEFAULT_LANGUAGE, **values: str) -> str:
    """Render a message template in the given language; values are inserted as given."""
    cyr, en = TEMPLATES[template]
    text = _pick(cyr, en, language).format(**values)
    return " ".join(text.split())


def _pick(cyr: str, en: str, language: str) -> str:
    """Choose the English or the Serbian text in the right script."""
    if language == "en":
        return en
    return to_latin(cyr) if language == "sr-Latn" else cyr
