"""A test scenario: its own call, SMEs and one user per role, driven through the services.

Every scenario uses fresh, unique names, so tests share one database per run without
seeing each other's data, and never rely on what another test left behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from forms.defaults import VOUCHER_FORM
from grants.auth import hash_password
from grants.db import unit_of_work, utcnow
from grants.models import Application, Organisation, User
from grants.services import (
    applications,
    awards,
    calls,
    eligibility,
    evaluation,
    payments,
    reporting,
)
from grants.services.actor import Actor
from workflows.eligibility import MANUAL_CHECKS
from workflows.roles import Role
from workflows.voucher import AppState

T = TypeVar("T")
_PASSWORD_HASH: str | None = None

GOOD_ANSWERS: dict[str, Any] = {
    "summary": "We will train four engineers in sonar signal processing with an accredited "
    "provider and apply it in a pilot for a naval prime contractor.",
    "objectives": "Two engineers certified; one pilot delivered.",
    "strategic_technology": "Sensors and C4ISR",
    "service_provider": "Centro Formazione Navale S.r.l.",
    "work_plan": "M1-M3 training; M4-M6 pilot.",
    "expected_impact": "Access to two new defence tenders a year.",
    "start_date": "2027-02-01",
    "end_date": "2027-07-31",
    "no_double_funding": True,
}
KEYS = ("excellence", "impact", "implementation")
IBANS = ["IT60X0542811101000000123456", "FR1420041010050500013M02606", "NL91ABNA0417164300"]

# The happy path, in order; `advance` walks it.
HAPPY_PATH = [
    AppState.DRAFT,
    AppState.SUBMITTED,
    AppState.ELIGIBLE,
    AppState.IN_EVALUATION,
    AppState.EVALUATED,
    AppState.SELECTED,
    AppState.OFFERED,
    AppState.CONTRACTED,
    AppState.REPORT_SUBMITTED,
    AppState.REPORT_APPROVED,
    AppState.PAYMENT_PREPARED,
    AppState.PAYMENT_AUTHORISED,
    AppState.PAID,
    AppState.CLOSED,
]


def password_hash() -> str:
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:  # argon2 is slow on purpose: hash the shared test password once
        _PASSWORD_HASH = hash_password(Scenario.PASSWORD)
    return _PASSWORD_HASH


@dataclass
class People:
    officer: Actor
    evaluators: list[Actor]
    finance: list[Actor]
    auditor: Actor
    admin: Actor
    applicants: list[Actor]
    emails: dict[str, str]


class Scenario:
    PASSWORD = "correct horse battery staple"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        smes: int = 3,
        budget: Decimal = Decimal("100000.00"),
        max_per_voucher: Decimal = Decimal("10000.00"),
        batch_ranking: bool = True,
    ) -> None:
        self.sessions = sessions
        self.tag = uuid.uuid4().hex[:8]
        self.people = self._create_people(smes)
        now = utcnow().replace(microsecond=0)
        spec = calls.CallSpec(
            reference=f"T-{self.tag.upper()}",
            title=f"Test call {self.tag}",
            description="A call made by a test.",
            budget=budget,
            max_per_voucher=max_per_voucher,
            opens_at=now - timedelta(days=1),
            deadline=now + timedelta(days=45),
            batch_ranking=batch_ranking,
            form=list(VOUCHER_FORM),
        )
        officer = self.people.officer

        def make_call(s: Session) -> int:
            call = calls.create_call(s, officer, spec)
            calls.publish(s, officer, call.id, now=spec.opens_at)
            return call.id

        self.call_id = self.run(make_call)

    # -- plumbing -------------------------------------------------------------------------
    def run(self, action: Callable[[Session], T]) -> T:
        """One committed business transaction, as a request or command would run it."""
        with unit_of_work(self.sessions) as session:
            return action(session)

    def application(self, app_id: int) -> Application:
        with self.sessions() as session:
            app = session.get(Application, app_id)
            assert app is not None
            # Load what tests commonly read before the session closes.
            _ = (app.evaluations, app.payments, app.reports, app.documents, app.call)
            return app

    def status(self, app_id: int) -> str:
        return self.application(app_id).status

    def _create_people(self, smes: int) -> People:
        emails: dict[str, str] = {}

        def user(s: Session, key: str, role: Role, org: Organisation | None = None) -> Actor:
            email = f"{key}.{self.tag}@test.example"
            row = User(
                email=email,
                full_name=f"{key.replace('_', ' ').title()} {self.tag}",
                password_hash=password_hash(),
                role=role,
                organisation_id=org.id if org else None,
            )
            s.add(row)
            s.flush()
            emails[key] = email
            return Actor.of(row, request_id=f"test-{self.tag}")

        def create(s: Session) -> People:
            orgs = []
            for index in range(smes):
                org = Organisation(
                    legal_name=f"SME {index} {self.tag} S.r.l.",
                    country=["IT", "FR", "NL", "HR"][index % 4],
                    registration_number=f"{self.tag}{index:03d}",
                    address="Via del Porto 1, Genova",
                    registered_on=date(2015, 1, 1),
                )
                s.add(org)
                orgs.append(org)
            s.flush()
            return People(
                officer=user(s, "officer", Role.OFFICER),
                evaluators=[user(s, f"evaluator{i}", Role.EVALUATOR) for i in (1, 2, 3)],
                finance=[user(s, f"finance{i}", Role.FINANCE) for i in (1, 2)],
                auditor=user(s, "auditor", Role.AUDITOR),
                admin=user(s, "admin", Role.ADMIN),
                applicants=[
                    user(s, f"applicant{i}", Role.APPLICANT, o) for i, o in enumerate(orgs)
                ],
                emails=emails,
            )

        return self.run(create)

    # -- building blocks ------------------------------------------------------------------
    def draft(
        self,
        sme: int = 0,
        *,
        amount: str = "8000.00",
        answers: dict[str, Any] | None = None,
        sign: bool = True,
    ) -> int:
        actor = self.people.applicants[sme]

        def create(s: Session) -> int:
            app = applications.create_draft(s, actor, self.call_id, title=f"Project {sme}")
            applications.save_draft(
                s,
                actor,
                app.id,
                title=f"Project {sme} {self.tag}",
                requested_amount=amount,
                answers=GOOD_ANSWERS if answers is None else answers,
                declaration_signed=sign,
            )
            return app.id

        return self.run(create)

    def owner(self, app_id: int) -> Actor:
        org_id = self.application(app_id).organisation_id
        return next(a for a in self.people.applicants if a.organisation_id == org_id)

    def submit(self, app_id: int) -> None:
        self.run(lambda s: applications.submit(s, self.owner(app_id), app_id))

    def check_eligibility(self, app_id: int, *, passed: bool = True) -> None:
        manual = {key: (passed, "checked in the register") for key, _ in MANUAL_CHECKS}
        self.run(
            lambda s: eligibility.record_eligibility(s, self.people.officer, app_id, manual=manual)
        )

    def assign(self, app_id: int, evaluators: list[Actor] | None = None) -> None:
        chosen = evaluators or self.people.evaluators[:2]
        self.run(
            lambda s: evaluation.assign_evaluators(
                s, self.people.officer, app_id, [e.user_id for e in chosen if e.user_id]
            )
        )

    def evaluation_id(self, app_id: int, evaluator: Actor) -> int:
        return next(
            e.id
            for e in self.application(app_id).evaluations
            if e.evaluator_id == evaluator.user_id
        )

    def score(self, app_id: int, evaluator: Actor, scores: tuple[str, str, str]) -> None:
        evaluation_id = self.evaluation_id(app_id, evaluator)

        def go(s: Session) -> None:
            evaluation.declare_interest(s, evaluator, evaluation_id, conflict=False, statement="")
            evaluation.submit_scores(
                s,
                evaluator,
                evaluation_id,
                scores=dict(zip(KEYS, scores, strict=True)),
                comments={k: "well argued" for k in KEYS},
            )

        self.run(go)

    def close_evaluation(self, app_id: int, scores: tuple[str, str, str]) -> None:
        self.run(
            lambda s: evaluation.close_evaluation(
                s,
                self.people.officer,
                app_id,
                scores=dict(zip(KEYS, scores, strict=True)),
                comments={k: "consensus" for k in KEYS},
            )
        )

    def rank(self) -> None:
        self.run(lambda s: awards.rank_call(s, self.people.officer, self.call_id))

    def accept(self, app_id: int) -> None:
        owner = self.owner(app_id)
        iban = IBANS[self.people.applicants.index(owner) % len(IBANS)]
        self.run(
            lambda s: awards.accept(
                s, owner, app_id, iban=iban, account_holder="SME account", signed=True
            )
        )

    # -- walking the happy path -----------------------------------------------------------
    def advance(
        self, app_id: int, target: AppState, scores: tuple[str, str, str] = ("4", "4", "4")
    ) -> None:
        """Drive the application along the happy path until it reaches ``target``."""
        officer = self.people.officer
        f1, f2 = self.people.finance
        steps: dict[str, Callable[[], None]] = {
            AppState.DRAFT: lambda: self.submit(app_id),
            AppState.SUBMITTED: lambda: self.check_eligibility(app_id),
            AppState.ELIGIBLE: lambda: self.assign(app_id),
            AppState.IN_EVALUATION: lambda: (
                self.score(app_id, self.people.evaluators[0], scores),
                self.score(app_id, self.people.evaluators[1], scores),
                self.close_evaluation(app_id, scores),
            ),
            AppState.EVALUATED: self.rank,
            AppState.SELECTED: lambda: self.run(lambda s: awards.offer(s, officer, app_id)),
            AppState.OFFERED: lambda: self.accept(app_id),
            AppState.CONTRACTED: lambda: self.run(
                lambda s: reporting.submit_report(
                    s,
                    self.owner(app_id),
                    app_id,
                    summary="Training delivered; certificates attached.",
                    claimed_costs="8200.00",
                )
            ),
            AppState.REPORT_SUBMITTED: lambda: self.run(
                lambda s: reporting.approve_report(
                    s, officer, app_id, approved_costs="8000.00", comments="in order"
                )
            ),
            AppState.REPORT_APPROVED: lambda: self.run(
                lambda s: payments.prepare_payment(s, f1, app_id)
            ),
            AppState.PAYMENT_PREPARED: lambda: self.run(
                lambda s: payments.authorise_payment(s, f2, app_id)
            ),
            AppState.PAYMENT_AUTHORISED: lambda: self.run(
                lambda s: payments.mark_paid(s, f1, app_id, payment_reference="SEPA-0001")
            ),
            AppState.PAID: lambda: self.run(lambda s: payments.close(s, officer, app_id)),
        }
        target_index = HAPPY_PATH.index(target)
        while True:
            current = AppState(self.status(app_id))
            if current == target:
                return
            if current not in steps or HAPPY_PATH.index(current) > target_index:
                raise AssertionError(f"cannot advance from {current} to {target}")
            steps[current]()
