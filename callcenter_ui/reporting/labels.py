"""Words of the reports, written once in Serbian Cyrillic; the Latin form is derived (core.text.to_latin)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from core.i18n import channel_label
from core.text import to_latin

Script = Literal["cyrl", "latn"]
SCRIPTS: tuple[Script, ...] = ("cyrl", "latn")

L: dict[str, str] = {
    "pack_title": "Извјештај за јавни састанак",
    "planning_title": "План и буџет",
    "comparison_title": "Поређење организација",
    "organisation": "Организација",
    "period": "Период",
    "generated": "Стање на дан",
    "summary": "Сажетак за начелника",
    "received": "Примљено захтјева",
    "answered_48": "Одговорено у року од 48 сати",
    "resolved_on_time": "Ријешено у року категорије",
    "median_answer": "Медијан времена до одговора (сати)",
    "p90_answer": "90. перцентил времена до одговора (сати)",
    "median_resolve": "Медијан времена до рјешења (сати)",
    "p90_resolve": "90. перцентил времена до рјешења (сати)",
    "overdue": "Захтјеви послије рока",
    "overdue_total": "Отворено послије рока",
    "reopened": "Поново отворени захтјеви",
    "reopened_times": "Поновних отварања",
    "feedback": "Повратна информација грађана (1 = ријешено, 0 = није)",
    "feedback_yes": "Одговор 1 (ријешено)",
    "feedback_no": "Одговор 0 (није ријешено)",
    "feedback_rate": "Удио одговора 1 (%)",
    "costs": "Трошкови",
    "cost_total": "Укупно потрошено (КМ)",
    "cost_per_request": "Просјечно по захтјеву с трошком (КМ)",
    "cost_per_resolved": "По ријешеном захтјеву (КМ)",
    "budget": "Буџет (КМ)",
    "budget_used": "Искоришћено од буџета (%)",
    "spent_period": "Потрошено у периоду (КМ)",
    "spent_ytd": "Потрошено од почетка године (КМ)",
    "year": "Година",
    "channels": "Захтјеви по каналу",
    "channel": "Канал",
    "categories": "Захтјеви по категорији",
    "category": "Категорија",
    "months": "Захтјеви по мјесецу",
    "month": "Мјесец",
    "count": "Број",
    "clocks": "Рокови",
    "clock": "Рок",
    "answer_clock": "Одговор о статусу (48 сати)",
    "resolve_clock": "Рјешење (рок категорије)",
    "on_time": "У року",
    "late": "Послије рока",
    "pending": "Рок још тече",
    "rate": "У року (%)",
    "median_h": "Медијан (сати)",
    "p90_h": "90. перцентил (сати)",
    "ended_unresolved": "Упућено другој надлежности или затворено без рјешења",
    "holders": "Ко је држао захтјев (сати)",
    "holder": "Носилац",
    "hours_total": "Укупно сати",
    "hours_mean": "Просјечно по захтјеву (сати)",
    "call_centre": "Позивни центар (прије усмјеравања)",
    "with_organisation": "Организација (прослијеђено, у раду)",
    "other_organisation": "Друга организација",
    "citizen": "Чека се грађанин",
    "code": "Број захтјева",
    "status": "Статус",
    "days_overdue": "Дана послије рока",
    "costs_by_category": "Трошкови по категорији",
    "costs_by_request": "Трошкови по захтјеву",
    "entries": "Уноса",
    "requests": "Захтјева",
    "hours": "Радних сати",
    "amount": "Износ (КМ)",
    "materials": "Материјал",
    "material_entries": "Уноса с материјалом",
    "per_request": "По захтјеву (КМ)",
    "listed_of": "приказано {shown} од {total}",
    "other_currency": "Уноса у другој валути (нису урачунати)",
    "total": "Укупно",
    "none": "—",
    "small_sample": "мали узорак",
    "hotspots": "Мјеста гдје се проблеми понављају",
    "place": "Мјесто",
    "reports": "Пријава",
    "problems": "Проблема",
    "top_categories": "Најчешће категорије",
    "repeats": "Поновљени проблеми на истом мјесту (3 и више за 12 мјесеци)",
    "first": "Први пут",
    "last": "Посљедњи пут",
    "codes": "Бројеви захтјева",
    "seasonality": "Сезонски ток (захтјеви по мјесецу године)",
    "mean_per_year": "Просјек по години",
    "budget_vs_actual": "Буџет и извршење",
    "actual": "Извршено (КМ)",
    "variance": "Разлика (КМ)",
    "resolved": "Ријешено",
    "projected": "Процјена за цијелу годину (КМ)",
    "proposal": "Приједлог за наредну годину (КМ)",
    "whole_organisation": "цијела организација",
    "answer_rate": "Одговор у 48 сати (%)",
    "resolve_rate": "Рјешење у року (%)",
    "cost_month": "Трошак (КМ)",
    "backlog": "Отворено на крају мјесеца",
    "hours_call_centre": "Сати у позивном центру",
    "hours_organisation": "Сати у организацији",
    "hours_citizen": "Сати чекања на грађанина",
    "schedule": "Распоред састанака",
    "date": "Датум",
    "min_sample_note": "Стопа се не објављује када је мање од {n} одлучених захтјева у мјесецу.",
    "page": "Страна",
    "no_data": "Нема података за овај период.",
    "pack": "Пакет за састанак",
    "download": "Преузми",
    "from": "Од",
    "to": "До",
    "script": "Писмо",
    "show": "Прикажи",
    "reports_title": "Извјештаји",
    "comparison": "Поређење организација по мјесецима",
    "planning": "Планирање",
}

MONTHS = [
    "јануар",
    "фебруар",
    "март",
    "април",
    "мај",
    "јун",
    "јул",
    "август",
    "септембар",
    "октобар",
    "новембар",
    "децембар",
]


def tr(text: str, script: Script) -> str:
    """Return Cyrillic text in the requested script."""
    return to_latin(text) if script == "latn" else text


def label(key: str, script: Script, **values: object) -> str:
    """Return a report label in the requested script."""
    text = L[key].format(**values) if values else L[key]
    return tr(text, script)


def channel(key: str, script: Script) -> str:
    """Return a channel's name in the requested script."""
    return tr(channel_label(key), script)


def month_name(month: int, script: Script) -> str:
    """Return a month's name."""
    return tr(MONTHS[month - 1], script)


def fmt_date(day: date, script: Script) -> str:
    """Format a date the way it is written in BiH (31. 12. 2025.)."""
    return f"{day.day}. {day.month}. {day.year}."


def fmt_moment(moment: datetime, tz: str) -> str:
    """Format an instant in local time."""
    local = moment.astimezone(ZoneInfo(tz))
    return f"{local.day}. {local.month}. {local.year}. {local:%H:%M}"


def fmt_number(value: float | Decimal | int | None, places: int = 1) -> str:
    """Format a number for people: decimal comma, thin grouping by dots (1.234,5)."""
    if value is None:
        return "—"
    text = f"{float(value):,.{places}f}" if not isinstance(value, int) else f"{value:,d}"
    return text.replace(",", "\u00a0").replace(".", ",").replace("\u00a0", ".")


def fmt_share(value: float | None) -> str:
    """Format a share as a percentage."""
    return "—" if value is None else fmt_number(value * 100, 1) + " %"
