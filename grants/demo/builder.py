"""The demo loader: walks the demo's applications through the workflow via the services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from documents.storage import DocumentStorage
from grants.auth import hash_password
from grants.db import unit_of_work, utcnow
from grants.demo import finance
from grants.demo.call_specs import UPSKILLING, demo_calls
from grants.demo.content import TOPICS, demo_answers, quote_pdf
from grants.demo.partners import (
    DEMO_CALL_PARTNERS,
    DEMO_PARTNERS,
    PARTNER_ACCOUNT,
    PARTNER_PROFILE,
)
from grants.demo.people import (
    DEMO_PASSWORD,
    DEMO_SMES,
    DEMO_USERS,
    DUPLICATE_ACCOUNT,
    DUPLICATE_PROFILE,
    demo_profiles,
)
from grants.models import Application, Call, Organisation, User
from grants.services import (
    applications,
    attachments,
    awards,
    calls,
    eligibility,
    evaluation,
    organisations,
    partners,
    payments,
    redress,
    reporting,
)
from grants.services.actor import Actor
from workflows.eligibility import MANUAL_CHECKS
from workflows.roles import Role

T = TypeVar("T")


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
        self._applicant_account(session, DUPLICATE_ACCOUNT, DUPLICATE_PROFILE, password)
        self._applicant_account(session, PARTNER_ACCOUNT, PARTNER_PROFILE, password)

    def _applicant_account(
        self, session: Session, account: tuple[str, str], profile: dict[str, str], password: str
    ) -> None:
        """Someone who registered an organisation of their own on the site."""
        email, full_name = account
        user = User(
            email=email,
            full_name=full_name,
            password_hash=password,
            role=Role.APPLICANT,
            country=profile["country"],
            email_confirmed_at=utcnow(),
        )
        session.add(user)
        session.flush()
        organisations.create_organisation(session, Actor.of(user, request_id="demo"), profile)

    def actor(self, email: str) -> Actor:
        return self.actors[email]

    # -- the consortium -------------------------------------------------------------------
    def add_partners(self, officer: Actor) -> None:
        """The four clusters and the partners of each demo call, through the services.

        Only what is missing is added (partners by short name, a call's partners while it
        has no managing partner), so a demo loaded before partners were kept gets them too.
        """

        def add(session: Session) -> None:
            known = {p.short_name: p.id for p in partners.list_partners(session)}
            for data in DEMO_PARTNERS:
                if data["short_name"] not in known:
                    known[data["short_name"]] = partners.create_partner(session, officer, data).id
            for reference, (managing, working) in DEMO_CALL_PARTNERS.items():
                call = session.scalar(select(Call).where(Call.reference == reference))
                if call is None or call.managing_partner_id is not None:
                    continue
                partners.set_call_partners(
                    session, officer, call.id, known[managing], [known[s] for s in working]
                )

        self.step(add)

    def sme_actor(self, org_index: int) -> Actor:
        if org_index == 0:
            return self.actor("applicant@leviatad.example")
        return next(a for a in self.actors.values() if a.organisation_id == self.org_ids[org_index])

    # -- calls ----------------------------------------------------------------------------
    def create_calls(self) -> tuple[int, int]:
        now = utcnow().replace(second=0, microsecond=0)
        officer = self.actor("officer@leviatad.example")
        ups, intl = demo_calls(now)

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

    @staticmethod
    def _offer_deadline(session: Session, app_id: int) -> datetime:
        application = session.get(Application, app_id)
        assert application is not None and application.offer_deadline is not None
        return application.offer_deadline + timedelta(seconds=1)

    def submit(
        self, app_id: int, org_index: int, call_id: int, *, before_cutoff: bool = False
    ) -> None:
        actor = self.sme_actor(org_index)

        def go(session: Session) -> None:
            call = session.get(Call, call_id)
            assert call is not None
            # Submissions to the closed call happened before its deadline; ``before_cutoff``:
            # in time for the cut-off call's first batch.
            closes = datetime.fromisoformat(call.cutoffs[0]) if before_cutoff else call.deadline
            when = min(utcnow(), closes - timedelta(days=5))
            applications.submit(session, actor, app_id, now=when)

        self.step(go)

    def eligibility(self, app_id: int, *, passed: bool = True) -> None:
        officer = self.actor("officer@leviatad.example")
        # SME status is decided from the submitted profile; the ineligible one was funded.
        manual = {
            key: (
                passed,
                "Checked against the national register of state aid"
                if passed
                else "The same training is already funded by the regional voucher scheme (2026)",
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
        finance.accept_and_verify(self, app_id, org_index)

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

    def authorise_balance(self, app_id: int, *, until: str = "authorised") -> None:
        f1, f2 = self.actor("finance1@leviatad.example"), self.actor("finance2@leviatad.example")
        self.step(lambda s: payments.prepare_payment(s, f1, app_id))
        if until == "authorised":
            self.step(lambda s: payments.authorise_payment(s, f2, app_id))

    # -- the story ------------------------------------------------------------------------
    def run(self) -> None:
        self.org_ids = self.create_people()
        ups_id, int_id = self.create_calls()
        officer = self.actor("officer@leviatad.example")
        self.add_partners(officer)
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
        declined, terminated, _promoted, _reserve = app_ids[8:]
        prefinancings: list[int] = []
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
                prefinancings.append(finance.authorise_prefinancing(self, app_id))
        # The decline gave its budget to the first on the reserve list, automatically.
        finance.pay_by_sepa(self, prefinancings, "BNK-2026-PRE-0001")
        self.step(
            lambda s: payments.terminate(
                s, officer, terminated, reason="The SME entered liquidation before the training."
            )
        )
        # Its pre-financing is to be recovered: the first part came back already.
        finance.repay_in_part(self, terminated, "1500.00", utcnow().date())
        for i, app_id in enumerate((closed, paid, authorised, prepared, approved, reported)):
            self.report(app_id, i, "8150.00")
        for app_id in (closed, paid, authorised, prepared, approved):
            self.approve(app_id, "8000.00")
        for app_id in (closed, paid, authorised):
            self.authorise_balance(app_id)
        self.authorise_balance(prepared, until="prepared")
        balances = [finance.balance_payment_id(self, a) for a in (closed, paid)]
        finance.pay_by_sepa(self, balances, "BNK-2026-BAL-0001")
        self.step(lambda s: payments.close(s, officer, closed))
        finance.change_bank_details(self, reported, 5)

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
        expired = self.draft(call_id, 2, amount)
        excluded = self.draft(call_id, 5, amount)
        for app_id, org in (
            (submitted, 3),
            (eligible, 6),
            (ineligible, 9),
            (in_evaluation, 1),
            (evaluated, 4),
        ):
            self.submit(app_id, org, call_id)
        self.submit(rejected, 10, call_id, before_cutoff=True)
        self.submit(expired, 2, call_id, before_cutoff=True)
        self.submit(excluded, 5, call_id, before_cutoff=True)
        self.step(
            lambda s: applications.withdraw(
                s, self.sme_actor(7), withdrawn, reason="We will apply at the next cut-off."
            )
        )
        for app_id in (eligible, in_evaluation, evaluated, rejected, expired, excluded):
            self.eligibility(app_id)
        self.eligibility(ineligible, passed=False)
        self.evaluate(in_evaluation, ("4", "4", "4"))
        self._reopen(in_evaluation, "evaluator2@leviatad.example", officer)
        low = ("2.5", "3", "2.5")
        self.evaluate(rejected, low)
        self.close_evaluation(rejected, low)
        self.evaluate(expired, ("4.5", "4", "4"))
        self.close_evaluation(expired, ("4.5", "4", "4"))
        self.evaluate(excluded, ("4", "4", "4.5"))
        self.close_evaluation(excluded, ("4", "4", "4.5"))
        self.step(lambda s: awards.rank_call(s, officer, call_id))  # the first, past cut-off
        # Selected in the first batch, offered, never answered: `cascade remind` let it expire
        # (shown as if run once its acceptance deadline had passed).
        self.step(lambda s: awards.offer(s, officer, expired))
        self.step(lambda s: awards.expire_offer(s, expired, self._offer_deadline(s, expired)))
        # Selected in the first batch, then found to have the same fair funded by its region.
        self.step(
            lambda s: awards.exclude(
                s,
                officer,
                excluded,
                reason="The Euronaval 2026 stand in this proposal is already funded by the "
                "Région Sud export programme (grant of 14 March): double funding of the same "
                "activity.",
            )
        )
        self._redress(ineligible, 9, rejected, 10, officer)
        self.evaluate(evaluated, ("4", "3.5", "4"))
        self.close_evaluation(evaluated, ("4", "3.5", "4"))

    def _reopen(self, app_id: int, expert_email: str, officer: Actor) -> None:
        """An expert's submitted scores reopened by the officer, waiting to be submitted again."""
        expert = self.actor(expert_email)

        def reopen(session: Session) -> None:
            application = session.get_one(Application, app_id)
            own = next(e for e in application.evaluations if e.evaluator_id == expert.user_id)
            evaluation.reopen_scores(
                session,
                officer,
                own.id,
                reason="The comment on Impact refers to another proposal's market study; "
                "please check the score and the comment against this proposal.",
            )

        self.step(reopen)

    def _redress(
        self, ineligible: int, ineligible_org: int, rejected: int, rejected_org: int, officer: Actor
    ) -> None:
        """One request waiting for the officer, one already decided (rejected, with reasons)."""
        self.step(
            lambda s: redress.file_request(
                s,
                self.sme_actor(ineligible_org),
                ineligible,
                grounds="Our partner has never shared funding with us for this trade fair: the "
                "invoice we attached is for a different event in 2025.",
            )
        )
        request_id = self.step(
            lambda s: (
                redress.file_request(
                    s,
                    self.sme_actor(rejected_org),
                    rejected,
                    grounds="The experts wrote that we have no export licence, but the licence is "
                    "attached to section 4 of the application.",
                ).id
            )
        )
        self.step(
            lambda s: redress.decide(
                s,
                officer,
                request_id,
                upheld=False,
                reasons="The licence attached covers civil products only; the experts' remark "
                "on the defence export licence stands, so the evaluation is confirmed.",
            )
        )


def load_demo(factory: sessionmaker[Session], storage: DocumentStorage | None = None) -> bool:
    """Create the demo unless it is already there; True when it was created now.

    With ``storage`` the drafts also carry a provider's quote as a PDF attachment.
    """
    with unit_of_work(factory) as session:
        if session.scalar(select(Call.id).where(Call.reference == UPSKILLING)) is not None:
            _add_missing_partners(session)
            return False
        DemoBuilder(session, storage).run()
    return True


def _add_missing_partners(session: Session) -> None:
    """A demo loaded before partners were kept gets the four clusters and the calls' partners
    (nothing when they are there)."""
    officer = session.scalar(select(User).where(User.email == "officer@leviatad.example"))
    if officer is not None and officer.role == Role.OFFICER:
        DemoBuilder(session).add_partners(Actor.of(officer, request_id="demo"))
