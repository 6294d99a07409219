"""A deterministic year of tickets, histories, costs and budgets, written through the models for speed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.db.models import BudgetLine, Category, CostEntry, Organisation, Place, StatusChange, Ticket

YEAR = 2025
NOW = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
CHANNELS = ["phone", "sms", "email", "voicemail", "walk-in", "web"]
INJECTION = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)"]


@dataclass
class Seeded:
    """What was written, for tests that want known totals without a query."""

    tickets: dict[str, int] = field(default_factory=dict)  # organisation code → tickets in the year
    amount: dict[str, Decimal] = field(default_factory=dict)  # organisation code → BAM booked in the year
    hot_place_id: int = 0
    hot_category: str = "voda"


def seed_year(session: so.Session, *, seed: int = 48) -> Seeded:
    """Write a year of activity for vodovod, komunalno and prostorno; return the known totals."""
    rnd = random.Random(seed)
    orgs = {o.code: o for o in session.scalars(sa.select(Organisation))}
    cats = list(session.scalars(sa.select(Category).order_by(Category.id)))
    places = list(session.scalars(sa.select(Place).order_by(Place.id)))[:8]
    by_org: dict[str, list[Category]] = {}
    for cat in cats:
        for code, org in orgs.items():
            if cat.organisation_id == org.id:
                by_org.setdefault(code, []).append(cat)
    plan = [("vodovod", 260), ("komunalno", 140), ("prostorno", 60)]
    out = Seeded(hot_place_id=places[0].id)
    start = datetime(YEAR, 1, 1, tzinfo=UTC)
    number = 0
    for org_code, count in plan:
        org = orgs[org_code]
        out.tickets[org_code] = 0
        out.amount[org_code] = Decimal("0.00")
        for _ in range(count):
            number += 1
            created = start + timedelta(minutes=rnd.randrange(0, 364 * 24 * 60 - 60 * 24 * 20))
            cat = rnd.choice(by_org[org_code])
            place = places[0] if (org_code == "vodovod" and number % 9 == 0) else rnd.choice(places + [None])
            if place is places[0] and org_code == "vodovod":
                cat = next(c for c in by_org["vodovod"] if c.code == "voda")
            ticket = Ticket(
                code=f"48-{YEAR}-{number:06d}",
                channel=CHANNELS[number % len(CHANNELS)],
                category_id=cat.id,
                organisation_id=org.id,
                description="опис",
                place=place.name_cyrl if place else None,
                place_id=place.id if place else None,
                status="new",
                priority="normal",
                search_text="",
                created_at=created,
                updated_at=created,
                answer_due=created + timedelta(hours=48),
                resolve_due=created + timedelta(hours=cat.resolve_hours),
            )
            session.add(ticket)
            session.flush()
            out.tickets[org_code] += 1
            history: list[tuple[datetime, str, int | None]] = [(created, "new", None)]
            t = created + timedelta(minutes=rnd.randrange(0, 600))
            first_org = org
            if number % 23 == 0 and org_code == "vodovod":
                first_org = orgs["komunalno"]  # misrouted first, then moved: the clock goes to both
            history.append((t, "assigned", first_org.id))
            fate = rnd.random()
            if fate < 0.05:
                t += timedelta(hours=rnd.randrange(1, 30))
                history.append((t, "referred", first_org.id))
                ticket.answered_at = t
            else:
                if first_org is not org:
                    t += timedelta(hours=rnd.randrange(2, 20))
                    history.append((t, "assigned", org.id))
                t += timedelta(hours=rnd.randrange(1, 70))
                history.append((t, "in_progress", org.id))
                ticket.answered_at = t
                if rnd.random() < 0.2:
                    t += timedelta(hours=rnd.randrange(5, 60))
                    history.append((t, "waiting", org.id))
                    t += timedelta(hours=rnd.randrange(5, 60))
                    history.append((t, "in_progress", org.id))
                if fate < 0.85:
                    t += timedelta(hours=rnd.randrange(2, cat.resolve_hours + 60))
                    history.append((t, "resolved", org.id))
                    ticket.resolved_at = t
                    if rnd.random() < 0.08:
                        t += timedelta(hours=rnd.randrange(5, 40))
                        history.append((t, "reopened", org.id))
                        ticket.reopened_count = 1
                        t += timedelta(hours=rnd.randrange(5, 40))
                        history.append((t, "resolved", org.id))
                        ticket.resolved_at = t
                    roll = rnd.random()
                    if roll < 0.4:
                        ticket.feedback, ticket.feedback_at = "yes", t + timedelta(hours=3)
                    elif roll < 0.55:
                        ticket.feedback, ticket.feedback_at = "no", t + timedelta(hours=3)
            ticket.status = history[-1][1]
            ticket.updated_at = history[-1][0]
            for at, status, org_id in history:
                session.add(
                    StatusChange(
                        ticket_id=ticket.id,
                        at=at,
                        kind="status",
                        actor_label="test",
                        from_status=None,
                        to_status=status,
                        organisation_id=org_id,
                    )
                )
            if ticket.status in ("in_progress", "resolved", "waiting") and rnd.random() < 0.7:
                for k in range(rnd.randrange(1, 3)):
                    amount = Decimal(rnd.randrange(2000, 15000)) / 100
                    at = min(created + timedelta(hours=rnd.randrange(1, 200)), NOW - timedelta(days=1))
                    materials = None
                    if rnd.random() < 0.4:
                        materials = rnd.choice(["цијев 2 м", "2 m² асфалта", "сијалица LED", *INJECTION])
                    session.add(
                        CostEntry(
                            ticket_id=ticket.id,
                            organisation_id=None if k == 1 else org.id,
                            at=at,
                            hours=Decimal(rnd.randrange(1, 17)) / 2,
                            materials=materials,
                            amount=amount,
                            currency="BAM",
                        )
                    )
                    if at < datetime(YEAR + 1, 1, 1, tzinfo=UTC) - timedelta(hours=1):
                        out.amount[org_code] += amount
            session.flush()
    # Duplicates: every 11th vodovod ticket at the hot place is reported again by a neighbour.
    heads = session.scalars(sa.select(Ticket).where(Ticket.place_id == places[0].id).order_by(Ticket.id).limit(4)).all()
    for head in heads:
        number += 1
        at = head.created_at + timedelta(hours=1)
        dup = Ticket(
            code=f"48-{YEAR}-{number:06d}", channel="sms", category_id=head.category_id,
            organisation_id=head.organisation_id, description="исто", place=head.place, place_id=head.place_id,
            status="new", priority="normal", search_text="", created_at=at, updated_at=at,
            answer_due=head.answer_due + timedelta(hours=1), resolve_due=head.resolve_due + timedelta(hours=1),
            cluster_id=head.id,
        )  # fmt: skip
        session.add(dup)
        session.flush()
        session.add(StatusChange(ticket_id=dup.id, at=at, kind="status", actor_label="test", to_status="new"))
        code = next(c for c, o in orgs.items() if o.id == head.organisation_id)
        out.tickets[code] += 1
    session.add(CostEntry(ticket_id=heads[0].id, organisation_id=orgs["vodovod"].id, at=heads[0].created_at,
                          hours=Decimal(1), amount=Decimal("99.00"), currency="EUR"))  # fmt: skip
    voda = next(c for c in cats if c.code == "voda")
    kanal = next(c for c in cats if c.code == "kanalizacija")
    rasvjeta = next(c for c in cats if c.code == "rasvjeta")
    session.add_all(
        [
            BudgetLine(organisation_id=orgs["vodovod"].id, year=YEAR, category_id=None, label="ЈП Водовод",
                       amount=Decimal("25000.00"), currency="BAM"),
            BudgetLine(organisation_id=orgs["vodovod"].id, year=YEAR, category_id=voda.id, label="Вода",
                       amount=Decimal("15000.00"), currency="BAM"),
            BudgetLine(organisation_id=orgs["vodovod"].id, year=YEAR, category_id=kanal.id, label="Канализација",
                       amount=Decimal("5000.00"), currency="BAM"),
            BudgetLine(organisation_id=orgs["komunalno"].id, year=YEAR, category_id=rasvjeta.id, label="Расвјета",
                       amount=Decimal("4000.00"), currency="BAM"),
        ]
    )  # fmt: skip
    session.flush()
    return out
