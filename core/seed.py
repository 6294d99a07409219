"""Seed data for Kotor Varoš: organisations, categories, keyword rules and settlements.

These are editable examples (admins change them), not claims about who does what in the municipality.
Running the seed twice changes nothing: rows are matched by code.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import Category, KeywordRule, Organisation, Place
from core.services.classify import fold_pattern
from core.text import fold

# code, name, kind, e-mail, phone
ORGANISATIONS: list[tuple[str, str, str, str | None, str | None]] = [
    ("s48", "Систем 48 — позивни центар (Центар за културу и информисање)", "call_centre",
     "sistem48@opstinakotorvaros.com", "051785266"),
    ("vodovod", "ЈП „Водовод“ Котор Варош", "public_company", None, None),
    ("komunalno", "Комунално предузеће Котор Варош", "public_company", None, None),
    ("prostorno", "Одјељење за просторно уређење и стамбено-комуналне послове", "department", None, None),
    ("privreda", "Одјељење за привреду и пољопривреду", "department", None, None),
    ("inspekcija", "Инспекцијске службе (комунална, грађевинска, тржишна)", "inspection", None, None),
    ("saobracajna", "Саобраћајна инспекција", "inspection", None, None),
    ("elektro", "Електродистрибуција — радна јединица Котор Варош", "external", None, None),
    ("putevi", "ЈП „Путеви Републике Српске“ (магистрални и регионални путеви)", "external", None, None),
]  # fmt: skip

# code, name, organisation, resolution hours, priority, keyword stems (either script)
CATEGORIES: list[tuple[str, str, str, int, str, list[str]]] = [
    ("voda", "Водоснабдијевање (нестанак воде, квар, цијеви)", "vodovod", 72, "high",
     ["вод", "цијев", "цев", "пукл", "хидрант", "шахт", "водомјер", "притисак воде", "нема воде"]),
    ("kanalizacija", "Канализација и оборинске воде", "vodovod", 120, "normal",
     ["канализ", "фекал", "септич", "одвод", "сливник", "изливањ"]),
    ("rasvjeta", "Јавна расвјета", "komunalno", 240, "normal",
     ["расвјет", "расвет", "сијалиц", "бандер", "лампа", "свјетиљк", "мрак"]),
    ("smece", "Одвоз смећа и чистоћа", "komunalno", 72, "normal",
     ["смећ", "смец", "отпад", "контејнер", "канте", "депониј", "ђубр", "дивља депонија"]),
    ("putevi", "Локални путеви и улице (ударне рупе, асфалт, снијег)", "prostorno", 336, "normal",
     ["рупа", "рупе", "ударн", "асфалт", "пут", "улиц", "тротоар", "снијег", "снег", "чишћење снијега", "мост",
      "клизишт", "банкин"]),
    ("zelene", "Зелене површине, паркови и гробља", "komunalno", 240, "low",
     ["парк", "трава", "кошењ", "дрво", "дрвећ", "гробљ", "клупа"]),
    ("psi", "Напуштени пси и животиње", "komunalno", 120, "normal", ["пас", "пси", "паса", "луталиц", "чопор"]),
    ("inspekcija", "Инспекција (бесправна градња, бука, пијаца)", "inspekcija", 240, "normal",
     ["инспекц", "бесправн", "бука", "пијац", "градња"]),
    ("saobracaj", "Саобраћај и паркирање", "saobracajna", 240, "normal",
     ["паркир", "семафор", "знак", "саобраћ", "саобрац"]),
    ("struja", "Електрична енергија (ван надлежности општине)", "elektro", 72, "normal",
     ["струј", "струја", "електри", "нестанак струје", "далековод", "трафо"]),
    ("magistralni", "Магистрални и регионални путеви (ван надлежности општине)", "putevi", 336, "normal",
     ["магистрал", "регионални пут"]),
    ("ostalo", "Остало", "s48", 240, "normal", []),
]  # fmt: skip

SETTLEMENTS: list[tuple[str, str]] = [
    ("Baština", "Баштина"), ("Bilice", "Билице"), ("Boljanići", "Бољанићи"), ("Borci Donji", "Борци Доњи"),
    ("Borci Gornji", "Борци Горњи"), ("Ćorkovići", "Ћорковићи"), ("Duratovci", "Дуратовци"), ("Garići", "Гарићи"),
    ("Grabovica", "Грабовица"), ("Hadrovci", "Хадровци"), ("Hrvaćani", "Хрваћани"), ("Jakotina", "Јакотина"),
    ("Kotor Varoš", "Котор Варош"), ("Kruševo Brdo I", "Крушево Брдо I"), ("Kruševo Brdo II", "Крушево Брдо II"),
    ("Liplje", "Липље"), ("Maljeva", "Маљева"), ("Maslovare", "Масловаре"), ("Obodnik", "Ободник"),
    ("Orahova", "Орахова"), ("Palivuk", "Паливук"), ("Plitska", "Плитска"), ("Podbrđe", "Подбрђе"),
    ("Podosoje", "Подосоје"), ("Postoje", "Постоје"), ("Prisočka", "Присочка"), ("Radohova", "Радохова"),
    ("Ravne", "Равне"), ("Selačka", "Селачка"), ("Sokoline", "Соколине"), ("Stopan", "Стопан"), ("Šibovi", "Шибови"),
    ("Šiprage", "Шипраге"), ("Tovladić", "Товладић"), ("Vagani", "Вагани"), ("Varjače", "Варјаче"),
    ("Večići", "Вечићи"), ("Viševice", "Вишевице"), ("Vranić", "Вранић"), ("Vrbanjci", "Врбањци"),
    ("Zabrđe", "Забрђе"), ("Zaselje", "Засеље"), ("Čaršija", "Чаршија"),
]  # fmt: skip


def seed(session: so.Session) -> dict[str, int]:
    """Insert what is missing; return how many rows of each kind were added."""
    added = {"organisations": 0, "categories": 0, "rules": 0, "places": 0}
    orgs: dict[str, Organisation] = {o.code: o for o in session.scalars(sa.select(Organisation))}
    for code, name, kind, email, phone in ORGANISATIONS:
        if code not in orgs:
            orgs[code] = Organisation(code=code, name=name, kind=kind, email=email, phone=phone, active=True)
            session.add(orgs[code])
            added["organisations"] += 1
    session.flush()
    existing = {c.code for c in session.scalars(sa.select(Category))}
    for code, name, org_code, hours, priority, stems in CATEGORIES:
        if code in existing:
            continue
        category = Category(
            code=code, name=name, organisation_id=orgs[org_code].id, resolve_hours=hours, priority=priority, active=True
        )
        session.add(category)
        session.flush()
        added["categories"] += 1
        for stem in stems:
            weight = 2 if " " in stem else 1  # a phrase is stronger evidence than a stem
            session.add(KeywordRule(category_id=category.id, pattern=stem, folded=fold_pattern(stem), weight=weight))
            added["rules"] += 1
    places = {p.folded for p in session.scalars(sa.select(Place))}
    for latin, cyrillic in SETTLEMENTS:
        key = fold(latin)
        if key not in places:
            session.add(Place(name_latn=latin, name_cyrl=cyrillic, folded=key, kind="settlement"))
            places.add(key)
            added["places"] += 1
    session.flush()
    return added
