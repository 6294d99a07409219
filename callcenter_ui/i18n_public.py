"""Words of the public pages in Serbian Cyrillic (written once), Serbian Latin (derived) and English.

A small dictionary catalogue until the UI-wide Flask-Babel catalogues exist; Latin is always derived
from the Cyrillic with ``core.text.to_latin`` so the two scripts never drift apart.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from core.i18n import channel_label, status_label
from core.services.public import RECEIVED
from core.text import to_latin

LANGUAGES = ("sr-Cyrl", "sr-Latn", "en")
DEFAULT = "sr-Cyrl"
# ?pismo=lat|cir (the Banja Luka convention) and ?lang=en select a language for one request.
PISMO = {"cir": "sr-Cyrl", "lat": "sr-Latn", "en": "en"}

STRINGS: dict[str, tuple[str, str]] = {
    "site": ("Систем 48 — општина Котор Варош", "Sistem 48 — Municipality of Kotor Varoš"),
    "promise": (
        "Сваки грађанин добија одговор о статусу своје пријаве у року од 48 сати.",
        "Every citizen hears about the status of their report within 48 hours.",
    ),
    "recent": ("Недавне пријаве", "Recent reports"),
    "staff_login": ("Пријава за запослене", "Staff login"),
    "how_to": (
        "Како пријавити проблем — 24 часа, 365 дана годишње",
        "How to report a problem — 24 hours, 365 days a year",
    ),
    "how_phone": ("телефоном на број 051/785 266 — од 07 до 15 часова", "by phone, 051/785 266 — 07:00 to 15:00"),
    "how_mobile": (
        "мобилни телефон 065/435-411 — СМС поруке и позиви, нон-стоп",
        "mobile 065/435-411 — SMS and calls, around the clock",
    ),
    "how_email": (
        "електронском поштом: sistem48@opstinakotorvaros.com — нон-стоп",
        "by e-mail: sistem48@opstinakotorvaros.com — around the clock",
    ),
    "how_person": (
        "лично, у просторијама Центра за културу и информисање у Котор Вароши",
        "in person, at the Centre for Culture and Information in Kotor Varoš",
    ),
    "search": ("Пронађи пријаву по броју", "Find a report by its code"),
    "code_label": ("Број пријаве (нпр. 48-2026-000123)", "Report code (e.g. 48-2026-000123)"),
    "find": ("Пронађи", "Find"),
    "filters": ("Филтери", "Filters"),
    "category": ("Категорија", "Category"),
    "status": ("Статус", "Status"),
    "settlement": ("Мјесто", "Place"),
    "all": ("Све", "All"),
    "apply": ("Прикажи", "Show"),
    "code": ("Број", "Code"),
    "received_at": ("Примљена", "Received"),
    "first_answer": ("Први одговор", "First answer"),
    "no_answer_yet": ("још нема", "not yet"),
    "none_found": ("Нема пријава за изабране филтере.", "No reports match these filters."),
    "tracking_title": ("Пријава {code}", "Report {code}"),
    "organisation": ("Прослијеђена", "Forwarded to"),
    "place": ("Мјесто", "Place"),
    "trail": ("Ток пријаве", "Progress"),
    "answer_deadline": ("Одговор у року од 48 сати", "Answer within 48 hours"),
    "resolve_deadline": ("Рок за рјешавање", "Resolution deadline"),
    "met": ("испоштован", "met"),
    "missed": ("пробијен", "missed"),
    "pending": ("рок тече до {due}", "due by {due}"),
    "not_applicable": ("није примјењиво", "not applicable"),
    "cluster": ("Исти проблем пријавило је грађана: {n}.", "Citizens who reported this problem: {n}."),
    "transcript": ("Порука (без личних података)", "Message (personal data removed)"),
    "not_found_title": ("Пријава није пронађена", "Report not found"),
    "not_found": (
        "Нема пријаве са тим бројем. Провјерите број из поруке коју сте добили.",
        "There is no report with that code. Check the code in the message you received.",
    ),
    "too_many": (
        "Превише неуспјелих претрага. Покушајте поново за неколико минута.",
        "Too many failed searches. Try again in a few minutes.",
    ),
    "weekly": ("Седмични преглед", "Weekly overview"),
    "this_week": ("Ова седмица", "This week"),
    "week_title": ("Седмица {label}: од {first} до {last}", "Week {label}: {first} to {last}"),
    "running": ("Седмица још траје; бројеви се мијењају.", "The week is still running; figures will change."),
    "received_n": ("Примљено", "Received"),
    "by_channel": ("Према начину пријаве", "By channel"),
    "by_category": ("Према категорији", "By category"),
    "by_organisation": ("Према надлежнима", "By organisation"),
    "answered_on_time": ("Одговорено у року", "Answered on time"),
    "decided": ("Рок истекао или одговорено", "Deadline passed or answered"),
    "pending_n": ("Још у року", "Still within 48 h"),
    "resolved_n": ("Ријешено ове седмице", "Resolved this week"),
    "overdue_n": ("Након рока за рјешавање", "Past the resolution deadline"),
    "rate": ("Удио у року", "On-time share"),
    "small_sample": (
        "Удио се објављује тек од {n} пријава; до тада приказујемо бројеве.",
        "A share is published only from {n} reports up; below that we show the counts.",
    ),
    "of": ("{a} од {b}", "{a} of {b}"),
    "pdf": ("Преузми PDF", "Download PDF"),
    "radio": ("Текст за радио", "Radio script"),
    "previous": ("Претходна седмица", "Previous week"),
    "next": ("Сљедећа седмица", "Next week"),
    "uncategorised": ("Неразврстано", "Uncategorised"),
    "unassigned": ("Још није прослијеђено", "Not yet forwarded"),
    "feed": ("Атом канал измјена", "Atom feed of updates"),
    "language": ("Језик и писмо", "Language and script"),
    "skip": ("Прескочи на садржај", "Skip to content"),
    "privacy": (
        "На овим страницама нема личних података: не објављујемо име, број телефона, адресу, е-пошту ни глас.",
        "These pages carry no personal data: we never publish a name, phone number, address, e-mail or voice.",
    ),
    "hours": ("{n} ч", "{n} h"),
    "bad_week": ("Непозната седмица.", "Unknown week."),
    "received_status": ("Примљена", "Received"),
    "state_open": ("отворена", "open"),
    "state_closed": ("затворена", "closed"),
    "service_notice": ("Одговор о статусу у року од 48 сати.", "A status answer within 48 hours."),
}


def language_of(value: str | None) -> str:
    """Return a supported language code for a query/cookie value (default Cyrillic)."""
    if value in LANGUAGES:
        return value
    return PISMO.get(value or "", DEFAULT)


def t(key: str, lang: str, **values: object) -> str:
    """Return a UI string in ``lang`` with ``values`` filled in."""
    cyr, en = STRINGS[key]
    text = en if lang == "en" else cyr
    text = text.format(**values) if values else text
    return to_latin(text) if lang == "sr-Latn" else text


def name(text: str | None, lang: str) -> str:
    """Render a Serbian name from the database (written in Cyrillic) in the page's script."""
    if not text:
        return ""
    return text if lang == "sr-Cyrl" else to_latin(text)


def status_text(status: str, lang: str) -> str:
    """Return the public label of a (public) status."""
    if status == RECEIVED:
        return t("received_status", lang)
    return status_label(status, lang)


def channel_text(channel: str, lang: str) -> str:
    """Return how a channel is named."""
    return channel_label(channel, lang)


def local_time(moment: datetime | None, timezone: str) -> str:
    """Format a UTC instant in local time, e.g. ``12. 01. 2026. 14:05``."""
    if moment is None:
        return ""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local.day:02d}. {local.month:02d}. {local.year}. {local.hour:02d}:{local.minute:02d}"
