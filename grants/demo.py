"""The LEVIATAD demo: two calls, one user per role, a dozen SMEs, every workflow state.

Everything is driven through the services, exactly as people would through the UI, so the
demo's audit trail, documents and states are real. Loading it twice changes nothing.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from weasyprint import HTML

from documents.storage import DocumentStorage
from forms.defaults import VOUCHER_FORM
from forms.schema import FieldType
from grants.auth import hash_password
from grants.db import unit_of_work, utcnow
from grants.models import Application, Call, Organisation, User
from grants.services import (
    applications,
    attachments,
    awards,
    calls,
    eligibility,
    evaluation,
    organisations,
    payments,
    reporting,
)
from grants.services.actor import Actor
from workflows.eligibility import MANUAL_CHECKS
from workflows.roles import Role

T = TypeVar("T")
DEMO_PASSWORD = "leviatad-demo"
UPSKILLING = "LEV-UPS-2026"
INTERNATIONALISATION = "LEV-INT-2026"

# (email, full name, role, country)
DEMO_USERS: list[tuple[str, str, str, str]] = [
    ("applicant@leviatad.example", "Giulia Parodi", Role.APPLICANT, "IT"),
    ("officer@leviatad.example", "Marco Bianchi", Role.OFFICER, "IT"),
    ("evaluator1@leviatad.example", "Pieter de Vries", Role.EVALUATOR, "NL"),
    ("evaluator2@leviatad.example", "Ivana Horvat", Role.EVALUATOR, "HR"),
    ("finance1@leviatad.example", "Claire Martin", Role.FINANCE, "FR"),
    ("finance2@leviatad.example", "Luca Ferrari", Role.FINANCE, "IT"),
    ("auditor@leviatad.example", "Sophie Janssens", Role.AUDITOR, "BE"),
    ("admin@leviatad.example", "Ana Kovač", Role.ADMIN, "HR"),
]

# (legal name, country, registration number, city, registered on, demo IBAN). The numbers
# are made up but valid for their country's scheme (check digits included): partita IVA,
# SIREN, KvK number, Belgian enterprise number, OIB.
DEMO_SMES: list[tuple[str, str, str, str, date, str]] = [
    (
        "Ligure Sonar Systems S.r.l.",
        "IT",
        "02654310107",
        "Genova",
        date(2015, 3, 2),
        "IT60X0542811101000000123456",
    ),
    (
        "Tigullio Composites S.r.l.",
        "IT",
        "01987650106",
        "Chiavari",
        date(2011, 6, 20),
        "IT22E0306909606100000063186",
    ),
    (
        "Spezia Naval Robotics S.r.l.",
        "IT",
        "01456780111",
        "La Spezia",
        date(2019, 9, 9),
        "IT40S0542811101000000123456",
    ),
    (
        "Var Hydrographie SAS",
        "FR",
        "803452127",
        "Toulon",
        date(2014, 1, 15),
        "FR1420041010050500013M02606",
    ),
    (
        "Rade Cyber Défense SAS",
        "FR",
        "844556670",
        "La Seyne-sur-Mer",
        date(2018, 11, 5),
        "FR7630006000011234567890189",
    ),
    (
        "Méditerranée Propulsion Verte SARL",
        "FR",
        "512345679",
        "Hyères",
        date(2012, 4, 30),
        "FR7630004000031234567890143",
    ),
    (
        "Den Helder Maritime Sensors B.V.",
        "NL",
        "64387215",
        "Den Helder",
        date(2016, 2, 1),
        "NL91ABNA0417164300",
    ),
    (
        "Vlissingen Digital Twin B.V.",
        "NL",
        "78120943",
        "Vlissingen",
        date(2020, 5, 18),
        "NL02ABNA0123456789",
    ),
    (
        "Antwerp Naval Coatings BV",
        "BE",
        "0456789034",
        "Antwerpen",
        date(2013, 8, 12),
        "BE68539007547034",
    ),
    (
        "Jadranski Autonomni Sustavi d.o.o.",
        "HR",
        "48573029164",
        "Split",
        date(2017, 3, 14),
        "HR1210010051863000160",
    ),
    (
        "Pula Brodogradnja Inženjering d.o.o.",
        "HR",
        "72618493054",
        "Pula",
        date(2010, 10, 1),
        "HR1723600001101234565",
    ),
    (
        "Rijeka Marine Electronics d.o.o.",
        "HR",
        "59382716403",
        "Rijeka",
        date(2021, 1, 11),
        "HR6924840081105234567",
    ),
]


def _aid(authority: str, amount: str, days_ago: int) -> dict[str, str]:
    granted = utcnow().date() - timedelta(days=days_ago)
    return {"granting_authority": authority, "amount": amount, "granted_on": granted.isoformat()}


def _related(
    name: str, relation: str, share: str, staff: str, turnover: str, balance: str
) -> dict[str, str]:
    return {
        "name": name,
        "relation": relation,
        "share_percent": share,
        "headcount": staff,
        "turnover": turnover,
        "balance_sheet": balance,
    }


def demo_profiles() -> list[dict[str, Any]]:
    """Each demo SME's profile (DEMO_SMES order): figures that make every SME category and
    every kind of enterprise appear, and de minimis aid granted some days before today."""
    return [
        {  # small, autonomous
            "vat_number": "IT02654310107",
            "address": "Via al Molo Giano 5, 16128 Genova GE",
            "contact_phone": "+39 010 246 8100",
            "headcount": "24",
            "turnover": "3800000",
            "balance_sheet": "2900000",
            "de_minimis_aid": [
                _aid("Regione Liguria (PR FESR 2021-2027)", "45000", 520),
                _aid("Camera di Commercio di Genova", "8000", 280),
            ],
        },
        {  # micro alone, small with its 30% partner (10.8 staff)
            "vat_number": "IT01987650106",
            "address": "Corso Dante 112, 16043 Chiavari GE",
            "contact_phone": "+39 0185 30 2211",
            "headcount": "9",
            "turnover": "1200000",
            "balance_sheet": "800000",
            "enterprise_type": "partner",
            "related_enterprises": [
                _related(
                    "Tigullio Partecipazioni S.r.l.", "partner", "30", "6", "900000", "2500000"
                )
            ],
        },
        {  # micro
            "vat_number": "IT01456780111",
            "address": "Viale San Bartolomeo 400, 19126 La Spezia SP",
            "contact_phone": "+39 0187 50 3344",
            "headcount": "7",
            "turnover": "950000",
            "balance_sheet": "600000",
            "de_minimis_aid": [_aid("Invitalia (Smart&Start Italia)", "120000", 700)],
        },
        {  # small alone, medium with its parent company counted in full
            "vat_number": "FR95803452127",
            "address": "Technopôle de la Mer, 83500 La Seyne-sur-Mer",
            "contact_phone": "+33 4 94 10 20 30",
            "headcount": "38",
            "turnover": "6500000",
            "balance_sheet": "4100000",
            "enterprise_type": "linked",
            "related_enterprises": [
                _related("Groupe Hydro Sud SAS", "linked", "100", "45", "7000000", "9000000")
            ],
        },
        {  # small
            "vat_number": "FR49844556670",
            "address": "12 avenue de l'Europe, 83500 La Seyne-sur-Mer",
            "contact_phone": "+33 4 94 55 66 77",
            "headcount": "15",
            "turnover": "2400000",
            "balance_sheet": "1100000",
        },
        {  # medium; de minimis close to the ceiling
            "vat_number": "FR75512345679",
            "address": "ZA Saint-Martin, 83400 Hyères",
            "contact_phone": "+33 4 94 12 34 56",
            "headcount": "62",
            "turnover": "11500000",
            "balance_sheet": "8200000",
            "de_minimis_aid": [
                _aid("Bpifrance", "200000", 610),
                _aid("Région Provence-Alpes-Côte d'Azur", "90000", 150),
            ],
        },
        {  # small alone (48 staff), medium with its 25% partner
            "vat_number": "NL859123455B01",
            "address": "Het Nieuwe Diep 21, 1781 AC Den Helder",
            "contact_phone": "+31 223 61 22 33",
            "headcount": "48",
            "turnover": "9200000",
            "balance_sheet": "7500000",
            "enterprise_type": "partner",
            "related_enterprises": [
                _related("Noordzee Ventures B.V.", "partner", "25", "20", "4000000", "3000000")
            ],
        },
        {  # micro
            "vat_number": "NL812345678B01",
            "address": "Edisonweg 2, 4382 NW Vlissingen",
            "contact_phone": "+31 118 42 10 00",
            "headcount": "6",
            "turnover": "700000",
            "balance_sheet": "400000",
        },
        {  # small
            "vat_number": "BE0456789034",
            "address": "Noorderlaan 139, 2030 Antwerpen",
            "contact_phone": "+32 3 545 12 12",
            "headcount": "31",
            "turnover": "5900000",
            "balance_sheet": "4400000",
            "de_minimis_aid": [_aid("VLAIO (Agentschap Innoveren & Ondernemen)", "60000", 400)],
        },
        {  # small
            "vat_number": "HR48573029164",
            "address": "Put Brodarice 6, 21000 Split",
            "contact_phone": "+385 21 555 010",
            "headcount": "12",
            "turnover": "1600000",
            "balance_sheet": "1300000",
        },
        {  # medium
            "vat_number": "HR72618493054",
            "address": "Flaciusova 1, 52100 Pula",
            "contact_phone": "+385 52 375 200",
            "headcount": "140",
            "turnover": "22000000",
            "balance_sheet": "18000000",
            "de_minimis_aid": [_aid("HAMAG-BICRO", "25000", 900)],
        },
        {  # micro
            "vat_number": "HR59382716403",
            "address": "Milutina Barača 26, 51000 Rijeka",
            "contact_phone": "+385 51 600 300",
            "headcount": "4",
            "turnover": "350000",
            "balance_sheet": "250000",
        },
    ]


# A second account registered Ligure Sonar Systems again, under another name: officers see
# the two flagged as possible duplicates on their dashboard.
DUPLICATE_ACCOUNT = ("acquisti@liguresonar.example", "Marco Repetto")
DUPLICATE_PROFILE = {
    "legal_name": "Ligure Sonar Sistemi S.r.l.",
    "country": "IT",
    "registration_number": "IT 026 543 101 07",
    "address": "Via al Molo Giano 5, 16128 Genova GE",
}

TOPICS = [
    "Training of engineers in autonomous underwater vehicle navigation",
    "Composite hull repair certification for naval patrol vessels",
    "Cyber-security hardening of shipboard control systems",
    "Hydrographic survey data processing with machine learning",
    "Hybrid-electric propulsion retrofit skills for small naval craft",
    "Digital twin of a coastal surveillance sensor network",
    "Anti-fouling coatings qualification for defence hulls",
    "Additive manufacturing of spare parts for naval platforms",
    "Sonar signal processing upskilling for system integrators",
    "Marine electronics EMC testing to military standards",
    "Unmanned surface vessel mission planning training",
    "Secure satellite communications for maritime patrol",
]


def brussels_five_pm(day: datetime) -> datetime:
    """Deadlines are stated as 17:00 Brussels time (DOMAIN.md), stored in UTC."""
    local = datetime.combine(day.date(), time(17, 0), tzinfo=ZoneInfo("Europe/Brussels"))
    return local.astimezone(UTC)


def _answer(field_type: str, name: str, topic: str, index: int, amount: Decimal) -> Any:
    """A plausible answer per field type, so the demo works whatever the form holds."""
    start = date(2027, 2, 1)
    match field_type:
        case FieldType.LONG_TEXT:
            return (
                f"{topic}. The company will build the capabilities its staff need to serve "
                "naval defence prime contractors, with an accredited provider from the "
                "LEVIATAD network, and will apply them in a pilot within six months."
            )
        case FieldType.TEXT:
            return f"{topic.split(' ')[0]} programme {index + 1}"
        case FieldType.MONEY:
            return str(amount)
        case FieldType.NUMBER:
            return "3"
        case FieldType.DATE:
            return (start + timedelta(days=180 if "end" in name else 0)).isoformat()
        case FieldType.YES_NO:
            return True
        case FieldType.COUNTRY:
            return "IT"
        case _:
            return None


def _answers_for(fields: Any, topic: str, amount: Decimal) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for index, field in enumerate(fields):
        if field.options:
            answers[field.name] = field.options[len(topic) % len(field.options)]
        elif field.type is FieldType.GROUP:
            # One line carrying the whole amount: budget lines add up to the request.
            answers[field.name] = [_answers_for(field.fields, topic, amount)]
        else:
            answers[field.name] = _answer(field.type, field.name, topic, index, amount)
    return answers


def demo_answers(application: Application, topic: str, amount: Decimal) -> dict[str, Any]:
    return _answers_for(applications.form_fields(application), topic, amount)


class DemoBuilder:
    """Drives the story through the services inside one transaction: all or nothing."""

    def __init__(self, session: Session, storage: DocumentStorage | None = None) -> None:
        self.session = session
        self.storage = storage
        self.actors: dict[str, Actor] = {}

    def step(self, action: Callable[[Session], T]) -> T:
        return action(self.session)

    # -- people and organisations ---------------------------------------------------------
    def create_people(self) -> list[int]:
        password = hash_password(DEMO_PASSWORD)

        def create(session: Session) -> list[int]:
            org_ids = []
            for name, country, number, city, registered_on, _iban in DEMO_SMES:
                org = Organisation(
                    legal_name=name,
                    country=country,
                    registration_number=number,
                    address=city,
                    registered_on=registered_on,
                )
                session.add(org)
                session.flush()
                org_ids.append(org.id)
            for email, full_name, role, country in DEMO_USERS:
                session.add(
                    User(
                        email=email,
                        full_name=full_name,
                        password_hash=password,
                        role=role,
                        country=country,
                        organisation_id=org_ids[0] if role == Role.APPLICANT else None,
                        is_org_manager=role == Role.APPLICANT,
                        email_confirmed_at=utcnow(),
                    )
                )
            for index, org_id in enumerate(org_ids[1:], start=1):
                name = DEMO_SMES[index][0]
                slug = "".join(ch for ch in name.lower().split(" ")[0] if ch.isalnum())
                session.add(
                    User(
                        email=f"staff@{slug}.example",
                        full_name=f"{name.split(' ')[0]} contact",
                        password_hash=password,
                        role=Role.APPLICANT,
                        country=DEMO_SMES[index][1],
                        organisation_id=org_id,
                        is_org_manager=True,
                        email_confirmed_at=utcnow(),
                    )
                )
            session.flush()
            for user in session.scalars(select(User).order_by(User.id)):
                self.actors[user.email] = Actor.of(user, request_id="demo")
            self.fill_profiles(session, org_ids, password)
            return org_ids

        return self.step(create)

    def fill_profiles(self, session: Session, org_ids: list[int], password: str) -> None:
        """Each manager completes the organisation profile, as they would on its page."""
        for org_id, extra in zip(org_ids, demo_profiles(), strict=True):
            manager = next(a for a in self.actors.values() if a.organisation_id == org_id)
            profile = {"contact_name": manager.name, **extra}
            profile["contact_email"] = next(
                email for email, a in self.actors.items() if a is manager
            )
            organisations.update_profile(session, manager, org_id, profile)
        email, full_name = DUPLICATE_ACCOUNT
        user = User(
            email=email,
            full_name=full_name,
            password_hash=password,
            role=Role.APPLICANT,
            country="IT",
            email_confirmed_at=utcnow(),
        )
        session.add(user)
        session.flush()
        organisations.create_organisation(
            session, Actor.of(user, request_id="demo"), DUPLICATE_PROFILE
        )

    def actor(self, email: str) -> Actor:
        return self.actors[email]

    def sme_actor(self, org_index: int) -> Actor:
        if org_index == 0:
            return self.actor("applicant@leviatad.example")
        return next(a for a in self.actors.values() if a.organisation_id == self.org_ids[org_index])

    # -- calls ----------------------------------------------------------------------------
    def create_calls(self) -> tuple[int, int]:
        now = utcnow().replace(second=0, microsecond=0)
        officer = self.actor("officer@leviatad.example")
        ups_open = now - timedelta(days=150)
        ups = calls.CallSpec(
            reference=UPSKILLING,
            title="Up-skilling voucher for strategic technologies",
            description=(
                "Vouchers for SMEs of the naval and aero-naval defence value chain to train "
                "their staff in strategic technologies (autonomy, cyber security, advanced "
                "materials, sensors, green propulsion, digital twins) with an accredited "
                "training provider. Lump sum of up to EUR 8,000 per SME, 100% funded; 50% "
                "pre-financing at signature, the balance after the final report."
            ),
            budget=Decimal("80000.00"),
            max_per_voucher=Decimal("8000.00"),
            eligible_applicants=(
                "SMEs of the naval and aero-naval defence value chain (shipyards, system "
                "integrators, sensor, software and materials suppliers) that want their "
                "staff trained in a strategic technology by an accredited provider."
            ),
            applicant_guide=(
                "Choose an accredited training provider from the LEVIATAD network and attach "
                "its quote. Describe the skills gap, who will be trained and how the new "
                "skills will be used in a defence project within a year. Budget lines must "
                "add up to the requested amount."
            ),
            opens_at=ups_open,
            deadline=brussels_five_pm(ups_open + timedelta(days=90)),
            form=list(VOUCHER_FORM),
        )
        int_open = now - timedelta(days=20)
        intl = calls.CallSpec(
            reference=INTERNATIONALISATION,
            title="Internationalisation voucher for third-country markets",
            description=(
                "Lump-sum vouchers of up to EUR 2,000 for SMEs to approach defence markets "
                "outside the EU (trade fairs, market studies, certification for export). "
                "A cut-off call: applications are evaluated and ranked in monthly batches "
                "until the budget is used or the deadline passes."
            ),
            budget=Decimal("30000.00"),
            max_per_voucher=Decimal("2000.00"),
            eligible_applicants=(
                "SMEs of the naval defence value chain with a product or service ready for "
                "export, targeting a defence market outside the European Union."
            ),
            applicant_guide=(
                "Name the target country and the event, study or certification the voucher "
                "pays for. Export-control obligations remain the applicant's responsibility."
            ),
            opens_at=int_open,
            deadline=brussels_five_pm(int_open + timedelta(days=100)),
            batch_ranking=True,
            form=list(VOUCHER_FORM),
        )

        def create(session: Session) -> tuple[int, int]:
            first = calls.create_call(session, officer, ups)
            second = calls.create_call(session, officer, intl)
            calls.publish(session, officer, first.id, now=ups.opens_at)
            calls.publish(session, officer, second.id, now=intl.opens_at)
            return first.id, second.id

        return self.step(create)

    # -- the application steps ------------------------------------------------------------
    def draft(self, call_id: int, org_index: int, amount: Decimal, *, sign: bool = True) -> int:
        actor = self.sme_actor(org_index)
        topic = TOPICS[org_index]

        def create(session: Session) -> int:
            call = session.get(Call, call_id)
            assert call is not None
            # Drafts of the closed call were started while it was open.
            when = min(utcnow(), call.deadline - timedelta(days=10))
            app = applications.create_draft(session, actor, call_id, title=topic, now=when)
            applications.save_draft(
                session,
                actor,
                app.id,
                title=topic,
                requested_amount=str(amount),
                answers=demo_answers(app, topic, amount),
                declaration_signed=sign,
            )
            if self.storage is not None and any(
                f.name == "provider_quote" for f in applications.form_fields(app)
            ):
                attachments.upload(
                    session,
                    actor,
                    self.storage,
                    app.id,
                    "provider_quote",
                    filename="provider-quote.pdf",
                    data=quote_pdf(DEMO_SMES[org_index][0], topic, amount),
                )
            return app.id

        return self.step(create)

    def submit(self, app_id: int, org_index: int, call_id: int) -> None:
        actor = self.sme_actor(org_index)

        def go(session: Session) -> None:
            call = session.get(Call, call_id)
            assert call is not None
            # Submissions to the closed call happened before its deadline.
            when = min(utcnow(), call.deadline - timedelta(days=5))
            applications.submit(session, actor, app_id, now=when)

        self.step(go)

    def eligibility(self, app_id: int, *, passed: bool = True) -> None:
        officer = self.actor("officer@leviatad.example")
        manual = {
            key: (
                passed or key != "sme_status",
                "Checked against the business register and the SME declaration"
                if passed or key != "sme_status"
                else "Linked to a large group: 320 staff after aggregation",
            )
            for key, _name in MANUAL_CHECKS
        }
        self.step(lambda s: eligibility.record_eligibility(s, officer, app_id, manual=manual))

    def evaluate(self, app_id: int, scores: tuple[str, str, str]) -> None:
        officer = self.actor("officer@leviatad.example")
        experts = [
            self.actor("evaluator1@leviatad.example"),
            self.actor("evaluator2@leviatad.example"),
        ]
        self.step(
            lambda s: evaluation.assign_evaluators(
                s, officer, app_id, [e.user_id for e in experts if e.user_id]
            )
        )
        keys = ("excellence", "impact", "implementation")
        for offset, expert in zip((Decimal("0"), Decimal("0.5")), experts, strict=True):

            def score(session: Session, expert: Actor = expert, offset: Decimal = offset) -> None:
                evaluation_id = next(
                    e.id
                    for e in session.get(Application, app_id).evaluations  # type: ignore[union-attr]
                    if e.evaluator_id == expert.user_id
                )
                evaluation.declare_interest(
                    session, expert, evaluation_id, conflict=False, statement=""
                )
                evaluation.submit_scores(
                    session,
                    expert,
                    evaluation_id,
                    scores={
                        k: str(max(Decimal(0), Decimal(v) - offset))
                        for k, v in zip(keys, scores, strict=True)
                    },
                    comments={k: f"Assessment of {k} by {expert.name}." for k in keys},
                )

            self.step(score)

    def close_evaluation(self, app_id: int, scores: tuple[str, str, str]) -> None:
        officer = self.actor("officer@leviatad.example")
        keys = ("excellence", "impact", "implementation")
        self.step(
            lambda s: evaluation.close_evaluation(
                s,
                officer,
                app_id,
                scores=dict(zip(keys, scores, strict=True)),
                comments={k: f"Consensus of the two experts on {k}." for k in keys},
            )
        )

    def offer_and_accept(self, app_id: int, org_index: int) -> None:
        officer = self.actor("officer@leviatad.example")
        self.step(lambda s: awards.offer(s, officer, app_id))
        actor = self.sme_actor(org_index)
        iban = DEMO_SMES[org_index][5]
        holder = DEMO_SMES[org_index][0]
        self.step(
            lambda s: awards.accept(s, actor, app_id, iban=iban, account_holder=holder, signed=True)
        )

    def prefinancing(self, app_id: int) -> None:
        f1, f2 = self.actor("finance1@leviatad.example"), self.actor("finance2@leviatad.example")
        payment_id = self.step(lambda s: payments.prepare_prefinancing(s, f1, app_id).id)
        self.step(lambda s: payments.authorise_instalment(s, f2, payment_id))
        self.step(
            lambda s: payments.mark_instalment_paid(
                s, f1, payment_id, payment_reference=f"SEPA-PRE-{app_id:05d}"
            )
        )

    def report(self, app_id: int, org_index: int, claimed: str) -> None:
        actor = self.sme_actor(org_index)
        self.step(
            lambda s: reporting.submit_report(
                s,
                actor,
                app_id,
                summary=(
                    "Training delivered by the accredited provider to four engineers; "
                    "certificates and attendance sheets attached to the invoice."
                ),
                claimed_costs=claimed,
                subcontracted_costs="0",
            )
        )

    def approve(self, app_id: int, approved: str) -> None:
        officer = self.actor("officer@leviatad.example")
        self.step(
            lambda s: reporting.approve_report(
                s, officer, app_id, approved_costs=approved, comments="Costs and evidence in order."
            )
        )

    def pay_balance(self, app_id: int, *, until: str) -> None:
        f1, f2 = self.actor("finance1@leviatad.example"), self.actor("finance2@leviatad.example")
        self.step(lambda s: payments.prepare_payment(s, f1, app_id))
        if until == "prepared":
            return
        self.step(lambda s: payments.authorise_payment(s, f2, app_id))
        if until == "authorised":
            return
        self.step(
            lambda s: payments.mark_paid(s, f1, app_id, payment_reference=f"SEPA-BAL-{app_id:05d}")
        )

    # -- the story ------------------------------------------------------------------------
    def run(self) -> None:
        self.org_ids = self.create_people()
        ups_id, int_id = self.create_calls()
        officer = self.actor("officer@leviatad.example")
        self._upskilling(ups_id, officer)
        self._internationalisation(int_id, officer)

    def _upskilling(self, call_id: int, officer: Actor) -> None:
        amount = Decimal("8000.00")
        # Scores give the intended ranking: SMEs 0..9 funded, 10 and 11 on the reserve list.
        scores = [
            ("5", "4.5", "4.5"),
            ("5", "4.5", "4"),
            ("4.5", "4.5", "4.5"),
            ("4.5", "4.5", "4"),
            ("4.5", "4", "4"),
            ("4", "4", "4.5"),
            ("4", "4", "4"),
            ("4", "4", "3.5"),
            ("4", "3.5", "3.5"),
            ("3.5", "3.5", "3.5"),
            ("3.5", "3.5", "3"),
            ("3.5", "3", "3.5"),
        ]
        app_ids = [self.draft(call_id, i, amount) for i in range(12)]
        for i, app_id in enumerate(app_ids):
            self.submit(app_id, i, call_id)
        self.step(lambda s: calls.close_call(s, officer, call_id))
        self.step(lambda s: calls.start_evaluation(s, officer, call_id))
        for i, app_id in enumerate(app_ids):
            self.eligibility(app_id)
            self.evaluate(app_id, scores[i])
            self.close_evaluation(app_id, scores[i])
        self.step(lambda s: awards.rank_call(s, officer, call_id))

        # The seventh stays contracted (pre-financing paid), waiting for its final report.
        closed, paid, authorised, prepared, approved, reported, _contracted, offered = app_ids[:8]
        declined, terminated, promoted, _reserve = app_ids[8:]
        for i, app_id in enumerate(app_ids[:10]):
            if app_id == offered:
                self.step(lambda s, a=app_id: awards.offer(s, officer, a))
            elif app_id == declined:
                self.step(lambda s, a=app_id: awards.offer(s, officer, a))
                actor = self.sme_actor(i)
                self.step(
                    lambda s, a=app_id, actor=actor: awards.decline(
                        s, actor, a, reason="The training provider cannot deliver this year."
                    )
                )
            else:
                self.offer_and_accept(app_id, i)
                self.prefinancing(app_id)
        # The declined voucher's budget goes to the first on the reserve list.
        self.step(lambda s: awards.promote(s, officer, promoted))
        self.step(
            lambda s: payments.terminate(
                s, officer, terminated, reason="The SME entered liquidation before the training."
            )
        )
        for i, app_id in enumerate((closed, paid, authorised, prepared, approved, reported)):
            self.report(app_id, i, "8150.00")
        for app_id in (closed, paid, authorised, prepared, approved):
            self.approve(app_id, "8000.00")
        self.pay_balance(closed, until="paid")
        self.step(lambda s: payments.close(s, officer, closed))
        self.pay_balance(paid, until="paid")
        self.pay_balance(authorised, until="authorised")
        self.pay_balance(prepared, until="prepared")

    def _internationalisation(self, call_id: int, officer: Actor) -> None:
        amount = Decimal("2000.00")
        # The demo applicant's own draft, ready for a person to complete and submit.
        self.draft(call_id, 0, amount, sign=False)
        submitted = self.draft(call_id, 3, amount)
        eligible = self.draft(call_id, 6, amount)
        ineligible = self.draft(call_id, 9, amount)
        in_evaluation = self.draft(call_id, 1, amount)
        evaluated = self.draft(call_id, 4, amount)
        withdrawn = self.draft(call_id, 7, amount)
        rejected = self.draft(call_id, 10, amount)
        for app_id, org in (
            (submitted, 3),
            (eligible, 6),
            (ineligible, 9),
            (in_evaluation, 1),
            (evaluated, 4),
            (rejected, 10),
        ):
            self.submit(app_id, org, call_id)
        self.step(
            lambda s: applications.withdraw(
                s, self.sme_actor(7), withdrawn, reason="We will apply at the next cut-off."
            )
        )
        for app_id in (eligible, in_evaluation, evaluated, rejected):
            self.eligibility(app_id)
        self.eligibility(ineligible, passed=False)
        self.evaluate(in_evaluation, ("4", "4", "4"))
        low = ("2.5", "3", "2.5")
        self.evaluate(rejected, low)
        self.close_evaluation(rejected, low)
        self.step(lambda s: awards.rank_call(s, officer, call_id))  # the first cut-off batch
        self.evaluate(evaluated, ("4", "3.5", "4"))
        self.close_evaluation(evaluated, ("4", "3.5", "4"))


def quote_pdf(sme: str, topic: str, amount: Decimal) -> bytes:
    """A provider's quote as a real one-page PDF, so the demo's attachments open."""
    html = f"""<html><body style="font-family: 'DejaVu Sans'; font-size: 11pt">
    <h1 style="font-size: 16pt">Quote Q-2026-{zlib.crc32(sme.encode()) % 10000:04d}</h1>
    <p>Centro Formazione Navale S.r.l., Via del Molo 3, 19121 La Spezia, Italy</p>
    <p>To: {escape(sme)}</p><p>Subject: {escape(topic)}</p>
    <p>Price, all included: EUR {amount:,.2f} (VAT excluded).</p>
    <p>Valid 90 days. Delivery within six months of the order.</p></body></html>"""
    return HTML(string=html).write_pdf()


def load_demo(factory: sessionmaker[Session], storage: DocumentStorage | None = None) -> bool:
    """Create the demo unless it is already there; True when it was created now.

    With ``storage`` the drafts also carry a provider's quote as a PDF attachment.
    """
    with unit_of_work(factory) as session:
        if session.scalar(select(Call.id).where(Call.reference == UPSKILLING)) is not None:
            return False
        DemoBuilder(session, storage).run()
    return True
