"""A test scenario: its own call, SMEs and one user per role, driven through the services.

Every scenario uses fresh, unique names, so tests share one database per run without
seeing each other's data, and never rely on what another test left behind.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from documents.storage import DocumentStorage
from forms.defaults import VOUCHER_FORM
from grants.auth import hash_password
from grants.db import unit_of_work, utcnow
from grants.models import (
    Application,
    AuditEvent,
    Call,
    Document,
    DocumentStatus,
    Organisation,
    Payment,
    User,
)
from grants.services import (
    applications,
    attachments,
    awards,
    bank_details,
    calls,
    eligibility,
    evaluation,
    payments,
    ranking_lists,
    redress,
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
    "provider_country": "IT",
    # Adds up to the requested amount of `Scenario.draft` (EUR 8000.00).
    "budget_lines": [
        {"item": "Sonar course", "category": "Training and certification", "cost": "6500"},
        {"item": "Pilot support", "category": "Service provider fees", "cost": "1500.00"},
    ],
    "no_double_funding": True,
}


# A small enterprise: eligibility runs the SME test on the profile kept at submission.
SMALL_ENTERPRISE: dict[str, Any] = {
    "headcount": Decimal("14"),
    "turnover": Decimal("1800000.00"),
    "balance_sheet": Decimal("1200000.00"),
}


def pdf_bytes(size: int = 0, marker: bytes = b"") -> bytes:
    """A file that is a PDF by its content, padded to ``size`` bytes when asked."""
    head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n" + marker
    tail = b"\ntrailer <<>>\n%%EOF\n"
    return head + b"0" * max(0, size - len(head) - len(tail)) + tail


def form_data(answers: dict[str, Any]) -> dict[str, Any]:
    """Answers as the draft form posts them: a group's items as ``name[i].sub`` fields,
    declarations as ``yes``, multiple choices as lists (the test client repeats the key)."""
    data: dict[str, Any] = {}
    for name, value in answers.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for index, row in enumerate(value):
                for sub, sub_value in row.items():
                    data[f"{name}[{index}].{sub}"] = str(sub_value)
        elif value is True:
            data[name] = "yes"
        elif isinstance(value, list):
            data[name] = [str(v) for v in value]
        else:
            data[name] = str(value)
    return data


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


_STORAGE: DocumentStorage | None = None


def scenario_storage() -> DocumentStorage:
    """Where the scenario's own uploads (bank confirmations) are kept: a directory of the
    test run's (files are content-addressed, so runs may share it)."""
    global _STORAGE
    if _STORAGE is None:
        _STORAGE = DocumentStorage(Path(tempfile.gettempdir()) / "cascade-scenario-files")
    return _STORAGE


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
        cumulative_cap: Decimal = Decimal("60000.00"),
    ) -> None:
        self.sessions = sessions
        self.tag = uuid.uuid4().hex[:8]
        self.people = self._create_people(smes)
        self._calls = 0
        self.call_id = self.add_call(
            budget=budget,
            max_per_voucher=max_per_voucher,
            batch_ranking=batch_ranking,
            cumulative_cap=cumulative_cap,
        )

    def add_call(self, **overrides: Any) -> int:
        """Another published call for the same people (``overrides`` go to the CallSpec)."""
        self._calls += 1
        suffix = "" if self._calls == 1 else f"-{self._calls}"
        now = utcnow().replace(microsecond=0)
        fields: dict[str, Any] = {
            "reference": f"T-{self.tag.upper()}{suffix}",
            "title": f"Test call {self.tag}{suffix}",
            "description": "A call made by a test.",
            "budget": Decimal("100000.00"),
            "max_per_voucher": Decimal("10000.00"),
            "opens_at": now - timedelta(days=1),
            "deadline": now + timedelta(days=45),
            "batch_ranking": True,
            "form": list(VOUCHER_FORM),
        }
        fields.update(overrides)
        spec = calls.CallSpec(**fields)
        officer = self.people.officer

        def make_call(s: Session) -> int:
            call = calls.create_call(s, officer, spec)
            calls.publish(s, officer, call.id, now=spec.opens_at)
            return call.id

        return self.run(make_call)

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
                # Made by an administrator, as it were: confirmed, so it can log in.
                email_confirmed_at=utcnow(),
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
                    **SMALL_ENTERPRISE,
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

    def retire_finance(self) -> None:
        ids = [a.user_id for a in self.people.finance]

        def retire(s: Session) -> None:
            for user in s.scalars(select(User).where(User.id.in_(ids))):
                user.active = False

        self.run(retire)

    # -- building blocks ------------------------------------------------------------------
    def draft(
        self,
        sme: int = 0,
        *,
        amount: str = "8000.00",
        answers: dict[str, Any] | None = None,
        sign: bool = True,
        call_id: int | None = None,
    ) -> int:
        actor = self.people.applicants[sme]

        def create(s: Session) -> int:
            app = applications.create_draft(
                s, actor, call_id or self.call_id, title=f"Project {sme}"
            )
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

    def attach(
        self,
        app_id: int,
        storage: DocumentStorage,
        *,
        field: str = "provider_quote",
        filename: str = "quote.pdf",
        data: bytes | None = None,
    ) -> int:
        """Upload a file (a small PDF unless ``data`` is given) as the owner; its id."""
        owner = self.owner(app_id)
        return self.run(
            lambda s: (
                attachments.upload(
                    s,
                    owner,
                    storage,
                    app_id,
                    field,
                    filename=filename,
                    data=pdf_bytes() if data is None else data,
                ).id
            )
        )

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

    def rank(self, call_id: int | None = None) -> None:
        """Preview and approve the ranking of the call's current batch, acting as if its
        cut-off (or the deadline) had passed: tests rank while the call is still open."""
        wanted = call_id or self.call_id

        def approve(s: Session) -> None:
            call = s.get(Call, wanted)
            assert call is not None
            later = call.deadline + timedelta(seconds=1)
            shown = ranking_lists.preview(s, self.people.officer, wanted, now=later)
            ranking_lists.approve(
                s, self.people.officer, wanted, fingerprint=shown.fingerprint, now=later
            )

        self.run(approve)

    def accept(self, app_id: int) -> None:
        owner = self.owner(app_id)
        iban = IBANS[self.people.applicants.index(owner) % len(IBANS)]
        self.run(
            lambda s: awards.accept(
                s, owner, app_id, iban=iban, account_holder="SME account", signed=True
            )
        )

    def verify_bank_details(self, app_id: int, *, verifier: Actor | None = None) -> int:
        """The SME uploads the bank's confirmation of the details it accepted with (unless
        one is there), and a finance officer verifies them: payments may then go ahead.
        Returns the verified bank account's id."""
        owner = self.owner(app_id)
        finance = verifier or self.people.finance[0]

        def upload(s: Session) -> int:
            account = bank_details.current(s, app_id)
            assert account is not None, "no bank details entered"
            if account.confirmation_key is None:
                account = bank_details.change(
                    s,
                    owner,
                    scenario_storage(),
                    app_id,
                    iban=account.iban,
                    bic=account.bic or "",
                    holder=account.holder,
                    confirmation=bank_details.Upload("bank-letter.pdf", pdf_bytes(marker=b"bank")),
                )
            return account.id

        account_id = self.run(upload)
        self.run(lambda s: bank_details.verify(s, finance, account_id))
        return account_id

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
            AppState.EVALUATED: lambda: self.rank(self.application(app_id).call_id),
            AppState.SELECTED: lambda: self.run(lambda s: awards.offer(s, officer, app_id)),
            AppState.OFFERED: lambda: (self.accept(app_id), self.verify_bank_details(app_id)),
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

    # -- more building blocks -------------------------------------------------------------
    def redress(
        self,
        app_id: int,
        grounds: str = "Please look again.",
        *,
        upheld: bool | None = None,
        reasons: str = "Reviewed.",
    ) -> int:
        """The applicant files a redress request; an officer decides it when ``upheld`` is
        given. Returns the request's id."""
        owner = self.owner(app_id)
        request_id = self.run(lambda s: redress.file_request(s, owner, app_id, grounds=grounds).id)
        if upheld is not None:
            officer = self.people.officer
            self.run(
                lambda s: redress.decide(s, officer, request_id, upheld=upheld, reasons=reasons)
            )
        return request_id

    def prefinancing(self, app_id: int, *, until: str = "paid") -> int:
        """The pre-financing instalment of a contracted voucher: prepared, authorised, paid."""
        f1, f2 = self.people.finance
        payment_id = self.run(lambda s: payments.prepare_prefinancing(s, f1, app_id).id)
        if until in ("authorised", "paid"):
            self.run(lambda s: payments.authorise_instalment(s, f2, payment_id))
        if until == "paid":
            self.run(
                lambda s: payments.mark_instalment_paid(
                    s, f1, payment_id, payment_reference=f"SEPA-PRE-{payment_id}"
                )
            )
        return payment_id

    def payments_of(self, app_id: int) -> list[Payment]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(Payment).where(Payment.application_id == app_id).order_by(Payment.id)
                )
            )

    def documents_of(self, app_id: int) -> list[Document]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(Document)
                    .where(Document.application_id == app_id)
                    .order_by(Document.created_at, Document.id)
                )
            )

    def events_of(self, app_id: int) -> list[AuditEvent]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.application_id == app_id)
                    .order_by(AuditEvent.id)
                )
            )

    def totals(self) -> tuple[int, int]:
        """(audit events, documents) in the whole database: a step that was refused adds none."""
        with self.sessions() as session:
            return (
                session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
                session.scalar(select(func.count()).select_from(Document)) or 0,
            )


@contextmanager
def pending_documents_discarded(sessions: sessionmaker[Session]) -> Iterator[None]:
    """Mark the PDF jobs left pending by the enclosed code as failed, unrendered, afterwards.

    Rendering costs ~0.15 s a document and ``drain`` renders every pending job in the
    database; tests that do not look at documents use this so that the next test that
    drains does not pay for theirs.
    """
    start = utcnow()
    try:
        yield
    finally:
        with unit_of_work(sessions) as session:
            session.execute(
                update(Document)
                .where(Document.status == DocumentStatus.PENDING, Document.created_at >= start)
                .values(status=DocumentStatus.FAILED, last_error="not rendered: discarded by test")
            )


# -- raw access to the audit trail, around the application (for tamper tests) -------------
APPEND_ONLY_TRIGGER = "audit_events_append_only"


def _column(name: str) -> str:
    return f'"{name}"'  # `before`, `after` and `hash` are keywords in some dialects


def audit_row(engine: Engine, event_id: int) -> dict[str, Any]:
    table = AuditEvent.__table__
    with engine.connect() as conn:
        return dict(conn.execute(select(table).where(table.c.id == event_id)).mappings().one())


def behind_the_append_only_trigger(engine: Engine, change: Callable[[Connection], Any]) -> None:
    """Run ``change(conn)`` in one transaction; on PostgreSQL with the trigger switched off
    for that transaction only (it is enabled again before the commit)."""
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        if postgres:
            conn.execute(text(f"ALTER TABLE audit_events DISABLE TRIGGER {APPEND_ONLY_TRIGGER}"))
        change(conn)
        if postgres:
            conn.execute(text(f"ALTER TABLE audit_events ENABLE TRIGGER {APPEND_ONLY_TRIGGER}"))


def update_audit_event(conn: Connection, event_id: int, values: dict[str, Any]) -> None:
    table = AuditEvent.__table__
    assignments = ", ".join(f"{_column(k)} = :{k}" for k in values)
    statement = text(f"UPDATE audit_events SET {assignments} WHERE id = :event_id").bindparams(
        *(bindparam(k, type_=table.c[k].type) for k in values)
    )
    assert conn.execute(statement, {**values, "event_id": event_id}).rowcount == 1


def insert_audit_event(conn: Connection, row: dict[str, Any]) -> None:
    table = AuditEvent.__table__
    names = list(row)
    statement = text(
        f"INSERT INTO audit_events ({', '.join(map(_column, names))}) "
        f"VALUES ({', '.join(f':{n}' for n in names)})"
    ).bindparams(*(bindparam(n, type_=table.c[n].type) for n in names))
    conn.execute(statement, row)


def rewrite_audit_events(engine: Engine, rows: list[tuple[int, dict[str, Any]]]) -> None:
    """Apply several audit row updates, in order, in one transaction behind the trigger."""

    def change(conn: Connection) -> None:
        for event_id, values in rows:
            update_audit_event(conn, event_id, values)

    behind_the_append_only_trigger(engine, change)
