"""Ranking previewed, approved once, per cut-off batch; reserves promoted automatically."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from documents.storage import sha256_hex
from grants import background
from grants.db import utcnow
from grants.models import Application, AuditEvent, Call, MailMessage, RankedList
from grants.services import awards, ranking_lists
from grants.services.audit import verify_chain
from tests.integration.test_documents_outbox import pdf_text, squeeze
from tests.integration.test_services_concurrency import race
from tests.scenario import GOOD_ANSWERS, Scenario, pending_documents_discarded
from workflows.errors import TransitionRefused
from workflows.voucher import AppState

TOP = ("5", "5", "5")  # 15
GOOD = ("4", "4", "4")  # 12
GOOD_ON_EXCELLENCE = ("4.5", "4", "3.5")  # 12: ahead of GOOD on Excellence
LOW = ("2", "2", "2")  # below every threshold


@pytest.fixture(autouse=True)
def _discard_unrendered_documents(sessions: sessionmaker[Session]) -> Iterator[None]:
    with pending_documents_discarded(sessions):
        yield


def answers(amount: str) -> dict[str, Any]:
    """The good answers, their budget adding up to ``amount``."""
    line = {"item": "Course", "category": "Training and certification", "cost": amount}
    return {**GOOD_ANSWERS, "budget_lines": [line]}


def draft(scenario: Scenario, sme: int, amount: str) -> int:
    return scenario.draft(sme, amount=amount, answers=answers(amount))


def evaluated(scenario: Scenario, scores: tuple[str, str, str], amount: str, sme: int) -> int:
    app_id = draft(scenario, sme, amount)
    scenario.advance(app_id, AppState.EVALUATED, scores)
    return app_id


def mails(sessions: sessionmaker[Session], app_id: int, purpose: str) -> int:
    with sessions() as session:
        return (
            session.scalar(
                select(func.count(MailMessage.id)).where(
                    MailMessage.application_id == app_id, MailMessage.purpose == purpose
                )
            )
            or 0
        )


def statuses(scenario: Scenario, *app_ids: int) -> list[str]:
    return [scenario.status(a) for a in app_ids]


def later(scenario: Scenario, call_id: int | None = None) -> object:
    with scenario.sessions() as session:
        call = session.get(Call, call_id or scenario.call_id)
        assert call is not None
        return call.deadline + timedelta(seconds=1)


def preview(scenario: Scenario, **kw: object) -> ranking_lists.RankingPreview:
    return scenario.run(
        lambda s: ranking_lists.preview(s, scenario.people.officer, scenario.call_id, **kw)  # type: ignore[arg-type]
    )


def four_applications(sessions: sessionmaker[Session]) -> tuple[Scenario, list[int]]:
    """Budget 20,000: two of 8,000 fit, the third (tied on the total) holds the line."""
    scenario = Scenario(sessions, smes=5, budget=Decimal("20000.00"))
    ids = [
        evaluated(scenario, GOOD, "8000.00", 0),
        evaluated(scenario, GOOD_ON_EXCELLENCE, "8000.00", 1),
        evaluated(scenario, TOP, "8000.00", 2),
        evaluated(scenario, LOW, "3000.00", 3),
    ]
    return scenario, ids


def test_the_preview_explains_the_ranking_and_changes_nothing(
    sessions: sessionmaker[Session],
) -> None:
    scenario, (good, good_e, top, low) = four_applications(sessions)
    with sessions() as session:
        events_before = session.scalar(select(func.count(AuditEvent.id)))

    shown = preview(scenario)
    assert [(r.application.id, r.placement.outcome) for r in shown.rows] == [
        (top, "selected"),
        (good_e, "selected"),
        (good, "reserve"),
        (low, "rejected"),
    ]
    assert shown.rows[2].placement.reserve_position == 1
    assert shown.rows[3].reasons  # the thresholds it failed
    assert shown.budget_available == Decimal("20000.00")
    assert shown.selected_total == Decimal("16000.00")
    assert shown.left_at_line == Decimal("4000.00")
    [tie] = shown.ties
    assert (tie.ahead, tie.behind) == (good_e, good)
    assert tie.reason == "higher Excellence score (4.5 against 4)"
    # The call is open: its one batch closes at the deadline.
    assert not shown.approvable and "once that moment has passed" in shown.blockers[0]
    assert preview(scenario, now=later(scenario)).approvable

    assert statuses(scenario, good, good_e, top, low) == ["evaluated"] * 4
    assert all(mails(sessions, a, "result_letter") == 0 for a in (good, good_e, top, low))
    with sessions() as session:
        assert session.scalar(select(func.count(AuditEvent.id))) == events_before
        assert (
            session.scalar(select(RankedList.id).where(RankedList.call_id == scenario.call_id))
            is None
        )


def test_approval_stores_the_list_signs_it_off_and_only_then_sends_the_letters(
    sessions: sessionmaker[Session],
) -> None:
    scenario, (good, good_e, top, low) = four_applications(sessions)
    officer = scenario.people.officer
    good_reference = scenario.application(good).reference
    moment = later(scenario)
    shown = preview(scenario, now=moment)
    assert mails(sessions, top, "result_letter") == 0

    approved = scenario.run(
        lambda s: ranking_lists.approve(
            s,
            officer,
            scenario.call_id,
            fingerprint=shown.fingerprint,
            now=moment,  # type: ignore[arg-type]
        )
    )
    assert statuses(scenario, top, good_e, good, low) == [
        "selected",
        "selected",
        "reserve",
        "rejected",
    ]
    assert all(mails(sessions, a, "result_letter") == 1 for a in (good, good_e, top, low))
    with sessions() as session:
        ranked = session.get(RankedList, approved.ranked_list.id)
        assert ranked is not None
        assert ranked.batch == 1 and ranked.approved_by_name == officer.name
        assert ranked.list_sha256 == shown.fingerprint
        assert [e["application_id"] for e in ranked.entries] == [top, good_e, good, low]
        event = session.get(AuditEvent, ranked.audit_event_id)
        assert event is not None and event.action == "approve_ranking"
        assert event.after["list_sha256"] == ranked.list_sha256
        assert event.after["selected"] == 2 and event.after["reserve"] == 1
        rank_events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "rank", AuditEvent.application_id == top)
        ).all()
        assert [e.after["ranked_list"] for e in rank_events] == [ranked.id]
        pdf = ranking_lists.ranked_list_pdf(ranked)
        assert pdf == ranking_lists.ranked_list_pdf(ranked)  # the same bytes every time
        text = squeeze(pdf_text(pdf))
        assert squeeze(ranked.list_sha256) in text
        assert "Fundingline" in text and "higherExcellencescore" in text
        assert squeeze(good_reference) in text
    assert sha256_hex(pdf)

    # The same list again (a second click after the first went through): refused.
    with pytest.raises(TransitionRefused, match="already approved"):
        scenario.run(
            lambda s: ranking_lists.approve(
                s,
                officer,
                scenario.call_id,
                fingerprint=shown.fingerprint,
                now=moment,  # type: ignore[arg-type]
            )
        )


def test_an_outdated_preview_is_not_approved(sessions: sessionmaker[Session]) -> None:
    scenario, _ids = four_applications(sessions)
    moment = later(scenario)
    shown = preview(scenario, now=moment)
    evaluated(scenario, TOP, "8000.00", 4)  # another SME evaluated since: the list changed
    with pytest.raises(TransitionRefused, match="changed since the preview"):
        scenario.run(
            lambda s: ranking_lists.approve(
                s,
                scenario.people.officer,
                scenario.call_id,
                fingerprint=shown.fingerprint,
                now=moment,  # type: ignore[arg-type]
            )
        )


def test_a_double_click_approves_the_list_once(sessions: sessionmaker[Session]) -> None:
    scenario, ids = four_applications(sessions)
    moment = later(scenario)
    shown = preview(scenario, now=moment)
    attempts = race(
        sessions,
        [
            lambda s: ranking_lists.approve(
                s,
                scenario.people.officer,
                scenario.call_id,
                fingerprint=shown.fingerprint,
                now=moment,  # type: ignore[arg-type]
            )
            for _ in range(2)
        ],
    )
    assert sum(a.ok for a in attempts) == 1
    loser = next(a for a in attempts if not a.ok)
    assert isinstance(loser.error, TransitionRefused), repr(loser.error)
    with sessions() as session:
        lists = session.scalars(
            select(RankedList).where(RankedList.call_id == scenario.call_id)
        ).all()
        assert len(lists) == 1
        assert verify_chain(session).ok
    assert all(mails(sessions, a, "result_letter") == 1 for a in ids)


# -- cut-off batches -------------------------------------------------------------------------


def submitted_before(scenario: Scenario, app_id: int, moment: object) -> None:
    """As if the application had been submitted at ``moment`` (before a past cut-off)."""
    scenario.run(
        lambda s: s.execute(
            update(Application).where(Application.id == app_id).values(submitted_at=moment)
        )
    )


def test_each_cutoff_batch_is_ranked_and_approved_on_its_own(
    sessions: sessionmaker[Session],
) -> None:
    now = utcnow().replace(microsecond=0)
    cutoff = now - timedelta(days=5)
    scenario = Scenario(sessions, smes=4)
    scenario.call_id = scenario.add_call(
        budget=Decimal("10000.00"),
        opens_at=now - timedelta(days=10),
        cutoffs=[cutoff],
    )
    first = draft(scenario, 0, "8000.00")
    second = draft(scenario, 1, "8000.00")
    waiting = draft(scenario, 2, "2000.00")
    straggler = draft(scenario, 3, "2000.00")
    for app_id in (first, second, waiting):
        scenario.submit(app_id)
        submitted_before(scenario, app_id, cutoff - timedelta(days=1))
    scenario.advance(first, AppState.EVALUATED, TOP)
    scenario.advance(second, AppState.EVALUATED, GOOD)
    scenario.submit(straggler)  # after the cut-off: the second batch

    shown = preview(scenario)
    assert shown.batch is not None and (shown.batch.number, shown.batch_count) == (1, 2)
    # One application of the first batch is still being checked: not yet.
    assert shown.blockers == [
        "1 application(s) are still in eligibility or evaluation; finish them first"
    ]
    with pytest.raises(TransitionRefused, match="still in eligibility"):
        scenario.run(lambda s: ranking_lists.approve(s, scenario.people.officer, scenario.call_id))
    scenario.advance(waiting, AppState.EVALUATED, LOW)

    scenario.run(lambda s: ranking_lists.approve(s, scenario.people.officer, scenario.call_id))
    assert statuses(scenario, first, second, waiting) == ["selected", "reserve", "rejected"]
    assert scenario.status(straggler) == "submitted"  # not part of the first batch

    scenario.advance(straggler, AppState.EVALUATED, GOOD)
    shown = preview(scenario)
    assert shown.batch is not None and shown.batch.number == 2
    assert shown.budget_available == Decimal("2000.00")  # what the first batch left
    assert "once that moment has passed" in shown.blockers[0]  # the deadline is ahead
    with pytest.raises(TransitionRefused, match="once that moment has passed"):
        scenario.run(lambda s: ranking_lists.approve(s, scenario.people.officer, scenario.call_id))
    moment = later(scenario)
    approved = scenario.run(
        lambda s: ranking_lists.approve(s, scenario.people.officer, scenario.call_id, now=moment)  # type: ignore[arg-type]
    )
    assert [p.rank for p in approved.placements] == [1]  # ranked among its own batch
    assert scenario.status(straggler) == "selected"
    with sessions() as session:
        batches = session.scalars(
            select(RankedList.batch)
            .where(RankedList.call_id == scenario.call_id)
            .order_by(RankedList.id)
        ).all()
    assert batches == [1, 2]


# -- automatic promotion from the reserve list ----------------------------------------------


def six_of_eight_thousand(sessions: sessionmaker[Session]) -> tuple[Scenario, list[int], list[int]]:
    """Budget 24,000: three selected and offered, three on the reserve list in order."""
    scenario = Scenario(sessions, smes=6, budget=Decimal("24000.00"))
    scores = [
        ("5", "5", "5"),
        ("5", "5", "4.5"),
        ("5", "5", "4"),
        ("5", "4.5", "4"),
        ("4.5", "4.5", "4"),
        GOOD,
    ]
    ids = [evaluated(scenario, s, "8000.00", i) for i, s in enumerate(scores)]
    scenario.rank()
    selected, reserves = ids[:3], ids[3:]
    assert statuses(scenario, *ids) == ["selected"] * 3 + ["reserve"] * 3
    for app_id in selected:
        scenario.advance(app_id, AppState.OFFERED)
    return scenario, selected, reserves


def promotions(sessions: sessionmaker[Session], app_id: int) -> list[AuditEvent]:
    with sessions() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.application_id == app_id, AuditEvent.action == "promote")
                .order_by(AuditEvent.id)
            )
        )


def decline(scenario: Scenario, app_id: int) -> None:
    owner = scenario.owner(app_id)
    scenario.run(lambda s: awards.decline(s, owner, app_id, reason="We cannot do it this year."))


def test_a_promotion_chain_after_two_declines_and_an_expiry(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    scenario, (s1, s2, s3), (r1, r2, r3) = six_of_eight_thousand(sessions)
    decline(scenario, s1)
    assert statuses(scenario, r1, r2, r3) == ["selected", "reserve", "reserve"]
    decline(scenario, s2)
    assert statuses(scenario, r1, r2, r3) == ["selected", "selected", "reserve"]

    deadline = scenario.application(s3).offer_deadline
    assert deadline is not None
    runner = app.test_cli_runner()

    def at(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S%z")

    early = runner.invoke(args=["remind", "--at", at(deadline - timedelta(hours=1))])
    assert early.exit_code == 0 and scenario.status(s3) == "offered"
    result = runner.invoke(args=["remind", "--at", at(deadline + timedelta(minutes=1))])
    assert result.exit_code == 0, result.output
    reference = scenario.application(s3).reference
    assert f"{reference}: offer expired" in result.output
    assert scenario.status(s3) == "expired"
    assert statuses(scenario, r1, r2, r3) == ["selected", "selected", "selected"]
    assert mails(sessions, s3, "offer_expiry_notice") == 1
    assert any(d.kind == "offer_expiry_notice" for d in scenario.documents_of(s3))
    again = runner.invoke(args=["remind", "--at", at(deadline + timedelta(hours=2))])
    assert reference not in again.output  # expired once

    causes = []
    for reserve in (r1, r2, r3):
        [event] = promotions(sessions, reserve)  # each promoted and told exactly once
        assert event.actor_id is None and event.actor_name == awards.SYSTEM_NAME
        assert event.after["automatic"] is True
        causes.append(event.after["cause"])
        assert mails(sessions, reserve, "result_letter") == 2  # reserve, then selected
    refs = [scenario.application(a).reference for a in (s1, s2, s3)]
    assert causes == [
        f"{refs[0]} declined the voucher",
        f"{refs[1]} declined the voucher",
        f"the offer to {refs[2]} expired",
    ]
    with sessions() as session:
        assert verify_chain(session).ok


def test_the_worker_lets_a_lapsed_offer_expire_and_promotes_the_first_reserve(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    scenario, (s1, s2, s3), (r1, r2, r3) = six_of_eight_thousand(sessions)
    # Days went by: the third offer's acceptance deadline passed a minute ago.
    with sessions.begin() as session:
        session.execute(
            update(Application)
            .where(Application.id == s3)
            .values(offer_deadline=utcnow() - timedelta(minutes=1))
        )
    # What each pass of the worker does first (not the whole pass: it would also render
    # every document the run's other tests left pending).
    runtime = app.extensions["cascade"]
    expired = background.expire_lapsed_offers(runtime)
    reference = scenario.application(s3).reference
    assert reference in expired
    assert scenario.status(s3) == "expired"
    assert [scenario.status(a) for a in (s1, s2)] == ["offered", "offered"]
    assert statuses(scenario, r1, r2, r3) == ["selected", "reserve", "reserve"]
    assert any(d.kind == "offer_expiry_notice" for d in scenario.documents_of(s3))
    assert mails(sessions, s3, "offer_expiry_notice") == 1
    assert reference not in background.expire_lapsed_offers(runtime)  # once


def test_the_first_reserve_that_fits_the_freed_budget_is_promoted(
    sessions: sessionmaker[Session],
) -> None:
    scenario = Scenario(sessions, smes=4, budget=Decimal("10000.00"))
    kept = evaluated(scenario, TOP, "5000.00", 0)
    offered = evaluated(scenario, ("5", "5", "4.5"), "4000.00", 1)
    large = evaluated(scenario, ("5", "4.5", "4.5"), "9000.00", 2)  # reserve 1
    small = evaluated(scenario, GOOD, "1500.00", 3)  # reserve 2
    scenario.rank()
    assert statuses(scenario, kept, offered, large, small) == [
        "selected",
        "selected",
        "reserve",
        "reserve",
    ]
    scenario.advance(offered, AppState.OFFERED)
    decline(scenario, offered)  # 5,000 free: not enough for 9,000, enough for 1,500
    assert statuses(scenario, large, small) == ["reserve", "selected"]


def test_concurrent_declines_promote_each_reserve_once(sessions: sessionmaker[Session]) -> None:
    scenario, (s1, s2, _s3), (r1, r2, r3) = six_of_eight_thousand(sessions)
    owners = {a: scenario.owner(a) for a in (s1, s2)}
    attempts = race(
        sessions,
        [
            lambda s, a=a: awards.decline(s, owners[a], a, reason="Not this year.")  # type: ignore[misc]
            for a in (s1, s2)
        ],
    )
    assert all(a.ok for a in attempts), [repr(a.error) for a in attempts]
    assert statuses(scenario, s1, s2) == ["declined", "declined"]
    assert statuses(scenario, r1, r2, r3) == ["selected", "selected", "reserve"]
    assert [len(promotions(sessions, r)) for r in (r1, r2, r3)] == [1, 1, 0]
    with sessions() as session:
        assert verify_chain(session).ok


# -- through the web -------------------------------------------------------------------------


def test_the_officer_previews_then_approves_once_through_the_web(
    client: FlaskClient, login: object, sessions: sessionmaker[Session]
) -> None:
    scenario, (good, good_e, top, low) = four_applications(sessions)
    # The call's deadline passes (its one batch closes).
    scenario.run(
        lambda s: s.execute(
            update(Call)
            .where(Call.id == scenario.call_id)
            .values(deadline=utcnow() - timedelta(minutes=1))
        )
    )
    login(client, scenario.people.emails["officer"])  # type: ignore[operator]
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert f"/calls/{scenario.call_id}/ranking" in dashboard
    assert "Rank evaluated applications" not in dashboard

    url = f"/calls/{scenario.call_id}/ranking"
    page = client.get(url).get_data(as_text=True)
    assert "Funding line" in page and "higher Excellence score (4.5 against 4)" in page
    assert "data-confirm=" in page and "Approve the ranked list" in page
    assert scenario.status(top) == "evaluated"
    fingerprint = preview(scenario).fingerprint
    assert f'value="{fingerprint}"' in page

    response = client.post(f"{url}/approve", data={"fingerprint": fingerprint})
    assert response.status_code == 302
    assert statuses(scenario, top, good_e, good, low) == [
        "selected",
        "selected",
        "reserve",
        "rejected",
    ]
    again = client.post(f"{url}/approve", data={"fingerprint": fingerprint}, follow_redirects=True)
    assert "already approved" in again.get_data(as_text=True)
    with sessions() as session:
        list_id = session.scalar(
            select(RankedList.id).where(RankedList.call_id == scenario.call_id)
        )
    pdf = client.get(f"{url}/{list_id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")

    client.post("/logout")
    login(client, scenario.people.emails["auditor"])  # type: ignore[operator]
    assert client.get(url).status_code == 200
    assert client.post(f"{url}/approve", data={"fingerprint": fingerprint}).status_code == 403
