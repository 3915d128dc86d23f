"""The expert pool: the keyword list, expert profiles and each call's pool, through the
services and through the pages.

Keywords are global to the run's database: each test names its own with the scenario's tag,
so filters and duplicates only ever meet the test's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from grants.errors import NotFound, ValidationFailed
from grants.models import (
    AuditEvent,
    CallPoolMembership,
    ExpertiseKeyword,
    MailMessage,
    PoolStatus,
    User,
)
from grants.services import expert_pool, experts
from grants.services.actor import Actor
from tests.scenario import Scenario
from tests.typed_numbers import field_error
from workflows.errors import TransitionRefused

Login = Callable[[FlaskClient, str], None]
LINK = "https://cascade.example/experts/invitations"


def keyword(scenario: Scenario, label: str) -> ExpertiseKeyword:
    officer = scenario.people.officer
    return scenario.run(lambda s: experts.add_keyword(s, officer, f"{label} {scenario.tag}"))


def good_profile(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "country": "NL",
        "organisation": "Maritime Research Institute Netherlands",
        "organisation_domain": "marin.example",
        "languages": ["nl", "en"],
        "other_languages": "",
        "keyword_ids": [],
        "bio": "Twenty years of naval hydrodynamics.",
    }
    data.update(overrides)
    return data


def save(scenario: Scenario, actor: Actor, user_id: int | None, **data: object) -> list[str]:
    assert user_id is not None
    return scenario.run(lambda s: experts.save_profile(s, actor, user_id, good_profile(**data))[1])


def events(sessions: sessionmaker[Session], entity_type: str, entity_id: int) -> list[AuditEvent]:
    with sessions() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id)
                )
                .order_by(AuditEvent.id)
            )
        )


def membership(
    sessions: sessionmaker[Session], call_id: int, user_id: int | None
) -> CallPoolMembership:
    with sessions() as session:
        found = session.scalar(
            select(CallPoolMembership).where(
                CallPoolMembership.call_id == call_id, CallPoolMembership.user_id == user_id
            )
        )
        assert found is not None
        return found


def invitations_mailed(sessions: sessionmaker[Session], email: str) -> list[MailMessage]:
    with sessions() as session:
        return list(
            session.scalars(
                select(MailMessage)
                .where(
                    MailMessage.to_address == email,
                    MailMessage.purpose == "expert_pool_invitation",
                )
                .order_by(MailMessage.id)
            )
        )


def invite(scenario: Scenario, *experts_: Actor, call_id: int | None = None) -> expert_pool.Invited:
    officer = scenario.people.officer
    ids = [e.user_id for e in experts_ if e.user_id]
    return scenario.run(
        lambda s: expert_pool.invite_to_pool(
            s, officer, call_id or scenario.call_id, ids, link=LINK
        )
    )


# -- the keyword list ------------------------------------------------------------------------
def test_keywords_are_added_renamed_withdrawn_and_audited(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    officer = scenario.people.officer
    sonar = keyword(scenario, "Sonar")
    with pytest.raises(ValidationFailed) as refused:  # unique whatever the case
        scenario.run(lambda s: experts.add_keyword(s, officer, sonar.label.upper()))
    assert "already on the list" in refused.value.errors["label"]
    with pytest.raises(ValidationFailed) as refused:
        scenario.run(lambda s: experts.add_keyword(s, officer, "   "))
    assert list(refused.value.errors) == ["label"]

    renamed, changed = scenario.run(
        lambda s: experts.rename_keyword(
            s, officer, sonar.id, f"Underwater acoustics {scenario.tag}"
        )
    )
    assert changed and renamed.label.startswith("Underwater acoustics")
    scenario.run(lambda s: experts.set_keyword_active(s, officer, sonar.id, active=False))
    with sessions() as session:
        offered = {k.id for k in experts.list_keywords(session, active_only=True)}
    assert sonar.id not in offered

    trail = events(sessions, "expertise_keyword", sonar.id)
    assert [e.action for e in trail] == [
        "add_expertise_keyword",
        "rename_expertise_keyword",
        "deactivate_expertise_keyword",
    ]
    assert trail[1].before == {"label": sonar.label}
    assert trail[2].after == {"active": False}
    assert all(e.actor_id == officer.user_id for e in trail)


def test_only_officers_keep_the_keyword_list(scenario: Scenario) -> None:
    for who in (scenario.people.evaluators[0], scenario.people.admin, scenario.people.auditor):
        with pytest.raises(TransitionRefused):
            scenario.run(lambda s, who=who: experts.add_keyword(s, who, f"Radar {scenario.tag}"))


# -- profiles --------------------------------------------------------------------------------
def test_a_profile_reports_every_problem_at_once_and_stores_nothing(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    expert = scenario.people.evaluators[0]
    withdrawn = keyword(scenario, "Withdrawn")
    scenario.run(
        lambda s: experts.set_keyword_active(s, scenario.people.officer, withdrawn.id, active=False)
    )
    bad = good_profile(
        country="ZZ",
        organisation=" ",
        organisation_domain="expert@marin.example",
        other_languages="en, Klingonese",
        keyword_ids=[str(withdrawn.id)],
    )
    with pytest.raises(ValidationFailed) as refused:
        scenario.run(lambda s: experts.save_profile(s, expert, expert.user_id or 0, bad))
    errors = refused.value.errors
    assert set(errors) == {
        "country",
        "organisation",
        "organisation_domain",
        "other_languages",
        "keyword_ids",
    }
    assert "Klingonese" in errors["other_languages"]
    assert "no longer offered" in errors["keyword_ids"]

    # A ticked code that is not a language, no language at all, a public mail provider.
    with pytest.raises(ValidationFailed) as refused:
        save(scenario, expert, expert.user_id, languages=["xx"], organisation_domain="gmail.com")
    assert set(refused.value.errors) == {"languages", "organisation_domain"}
    assert "public mail provider" in refused.value.errors["organisation_domain"]
    with pytest.raises(ValidationFailed) as refused:
        save(scenario, expert, expert.user_id, languages=[])
    assert "at least one language" in refused.value.errors["languages"]

    with sessions() as session:
        assert experts.profile_of(session, expert.user_id or 0) is None
    assert events(sessions, "expert_profile", 0) == []


def test_an_expert_keeps_a_profile_and_each_change_is_audited(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    expert = scenario.people.evaluators[0]
    acoustics, materials = keyword(scenario, "Acoustics"), keyword(scenario, "Materials")
    data = good_profile(
        languages=["nl", "en", "nl"],
        other_languages="Ukrainian; hrv",
        keyword_ids=[str(materials.id), str(acoustics.id)],
    )
    del data["organisation_domain"]  # not given: the domain of the person's own address
    profile, changed = scenario.run(
        lambda s: experts.save_profile(s, expert, expert.user_id or 0, data)
    )
    assert profile.languages == ["en", "hr", "nl", "uk"]
    assert profile.organisation_domain == "test.example"
    assert [k.id for k in profile.keywords] == [acoustics.id, materials.id]
    assert "keywords" in changed
    (created,) = events(sessions, "expert_profile", profile.id)
    assert created.action == "create_expert_profile" and created.actor_id == expert.user_id
    assert created.after["country"] == "NL"
    assert created.after["keywords"] == [acoustics.label, materials.label]

    # A keyword withdrawn later stays on the profile that carries it, and saving again
    # with it ticked is no problem; only what changed is audited.
    officer = scenario.people.officer
    scenario.run(lambda s: experts.set_keyword_active(s, officer, acoustics.id, active=False))
    same = save(
        scenario,
        expert,
        expert.user_id,
        languages=["nl", "en"],
        other_languages="uk, hr",
        organisation_domain="test.example",
        keyword_ids=[str(acoustics.id), str(materials.id)],
    )
    assert same == []
    changed = save(
        scenario,
        expert,
        expert.user_id,
        country="BE",
        languages=["nl", "en", "hr"],
        other_languages="uk",
        organisation_domain="test.example",
        keyword_ids=[str(acoustics.id), str(materials.id)],
    )
    assert changed == ["country"]
    updated = events(sessions, "expert_profile", profile.id)[-1]
    assert updated.action == "update_expert_profile"
    assert updated.before == {"country": "NL"}
    assert updated.after == {"expert": scenario.people.emails["evaluator1"], "country": "BE"}


def test_an_expert_edits_only_their_own_profile_an_officer_any(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    first, second = scenario.people.evaluators[:2]
    with pytest.raises(TransitionRefused):
        save(scenario, first, second.user_id)
    for who in (scenario.people.finance[0], scenario.people.applicants[0]):
        with pytest.raises(TransitionRefused):
            save(scenario, who, second.user_id)
    assert save(scenario, scenario.people.officer, second.user_id)
    with sessions() as session:
        profile = experts.profile_of(session, second.user_id or 0)
    assert profile is not None and profile.organisation.startswith("Maritime")
    (created,) = events(sessions, "expert_profile", profile.id)
    assert created.actor_id == scenario.people.officer.user_id
    # Only evaluators have an expert profile.
    with pytest.raises(NotFound):
        save(scenario, scenario.people.officer, scenario.people.applicants[0].user_id)


# -- the pool of a call ----------------------------------------------------------------------
def test_the_pool_invites_mails_and_records_each_answer(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    first, second = scenario.people.evaluators[:2]
    sonar = keyword(scenario, "Sonar")
    save(scenario, first, first.user_id, keyword_ids=[str(sonar.id)])
    done = invite(scenario, first, second)
    assert sorted(u.id for u in done.invited) == sorted([first.user_id, second.user_id])
    assert done.already == []

    (mailed,) = invitations_mailed(sessions, scenario.people.emails["evaluator1"])
    assert LINK in mailed.body_text
    assert f"T-{scenario.tag.upper()}" in mailed.subject
    assert len(invitations_mailed(sessions, scenario.people.emails["evaluator2"])) == 1

    invited = membership(sessions, scenario.call_id, first.user_id)
    assert invited.status == PoolStatus.INVITED
    assert invited.invited_by_id == scenario.people.officer.user_id
    (event,) = events(sessions, "call_pool_membership", invited.id)
    assert event.action == "invite_to_pool"
    assert event.after["status"] == "invited"

    accepted, changed = scenario.run(
        lambda s: expert_pool.answer_invitation(
            s, first, scenario.call_id, True, "3", "", note="not in August"
        )
    )
    assert changed and accepted.max_applications == 3
    assert accepted.answered_at is not None
    scenario.run(
        lambda s: expert_pool.answer_invitation(
            s, second, scenario.call_id, False, None, "too many applicants I know"
        )
    )
    answer = events(sessions, "call_pool_membership", invited.id)[-1]
    assert answer.action == "accept_pool_invitation" and answer.actor_id == first.user_id
    assert answer.before["status"] == "invited"
    assert answer.after["status"] == "accepted" and answer.after["max_applications"] == 3

    with sessions() as session:
        pool = expert_pool.pool_of(session, scenario.call_id)
        counts = expert_pool.pool_counts(pool)
        suggested = expert_pool.suggested_experts(session, scenario.call_id)
    assert [(e.user.id, e.membership.status) for e in pool] == [
        (first.user_id, "accepted"),
        (second.user_id, "declined"),
    ]
    assert pool[1].membership.decline_reason == "too many applicants I know"
    assert counts == {"invited": 0, "accepted": 1, "declined": 1, "capacity": 3}
    (card,) = suggested
    assert (card.user_id, card.country, card.organisation_domain) == (
        first.user_id,
        "NL",
        "marin.example",
    )
    assert card.keywords == (sonar.label,) and card.max_applications == 3

    # An answer may change; the same answer again writes nothing.
    before = len(events(sessions, "call_pool_membership", invited.id))
    _same, changed = scenario.run(
        lambda s: expert_pool.answer_invitation(
            s, first, scenario.call_id, True, 3, "", note="not in August"
        )
    )
    assert not changed
    assert len(events(sessions, "call_pool_membership", invited.id)) == before
    scenario.run(
        lambda s: expert_pool.answer_invitation(s, first, scenario.call_id, False, None, "ill")
    )
    with sessions() as session:
        assert expert_pool.suggested_experts(session, scenario.call_id) == []


def test_inviting_again_changes_nothing_and_mails_nobody_twice(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    first, second, third = scenario.people.evaluators
    invite(scenario, first, second)
    scenario.run(
        lambda s: expert_pool.answer_invitation(s, second, scenario.call_id, False, None, "busy")
    )
    again = invite(scenario, first, second, third, first)
    assert [u.id for u in again.invited] == [third.user_id]
    assert sorted(e.user.id for e in again.already) == sorted([first.user_id, second.user_id])
    assert membership(sessions, scenario.call_id, second.user_id).status == "declined"
    assert len(invitations_mailed(sessions, scenario.people.emails["evaluator1"])) == 1
    with sessions() as session:
        rows = session.scalars(
            select(CallPoolMembership).where(CallPoolMembership.call_id == scenario.call_id)
        ).all()
    assert len(rows) == 3
    # Each pool is the call's own: another call invites the same expert afresh.
    other_call = scenario.add_call()
    assert [u.id for u in invite(scenario, first, call_id=other_call).invited] == [first.user_id]


def test_only_active_evaluators_can_be_invited(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    third = scenario.people.evaluators[2]
    scenario.run(
        lambda s: s.execute(
            User.__table__.update().where(User.id == third.user_id).values(active=False)
        )
    )
    for nobody in (
        scenario.people.applicants[0],
        scenario.people.officer,
        scenario.people.finance[0],
        third,
    ):
        with pytest.raises(ValidationFailed) as refused:
            invite(scenario, scenario.people.evaluators[0], nobody)
        assert "evaluator role" in refused.value.errors["user_ids"]
    with pytest.raises(ValidationFailed):
        invite(scenario)
    with pytest.raises(TransitionRefused):
        scenario.run(
            lambda s: expert_pool.invite_to_pool(
                s,
                scenario.people.evaluators[0],
                scenario.call_id,
                [scenario.people.evaluators[1].user_id or 0],
                link=LINK,
            )
        )
    with sessions() as session:
        assert expert_pool.pool_of(session, scenario.call_id) == []


def test_an_answer_is_checked_and_only_ones_own(
    scenario: Scenario, sessions: sessionmaker[Session]
) -> None:
    first, second = scenario.people.evaluators[:2]
    invite(scenario, first)
    for typed, message in (("none", "must be written with digits"), ("0", "at least 1")):
        with pytest.raises(ValidationFailed) as refused:
            scenario.run(
                lambda s, typed=typed: expert_pool.answer_invitation(
                    s, first, scenario.call_id, True, typed, ""
                )
            )
        assert message in refused.value.errors["max_applications"], refused.value.errors
    with pytest.raises(ValidationFailed) as refused:
        scenario.run(
            lambda s: expert_pool.answer_invitation(s, first, scenario.call_id, False, None, "  ")
        )
    assert list(refused.value.errors) == ["decline_reason"]
    # The second expert was not invited: answering "for" the call finds nothing of theirs,
    # and the first one's invitation is untouched.
    with pytest.raises(NotFound):
        scenario.run(
            lambda s: expert_pool.answer_invitation(s, second, scenario.call_id, True, None, "")
        )
    with pytest.raises(TransitionRefused):
        scenario.run(
            lambda s: expert_pool.answer_invitation(
                s, scenario.people.officer, scenario.call_id, True, None, ""
            )
        )
    assert membership(sessions, scenario.call_id, first.user_id).status == "invited"


# -- the pages -------------------------------------------------------------------------------
def test_the_profile_page_keeps_what_was_typed_and_names_each_problem(
    scenario: Scenario, client: FlaskClient, login: Login, sessions: sessionmaker[Session]
) -> None:
    sonar = keyword(scenario, "Sonar")
    login(client, scenario.people.emails["evaluator1"])
    page = client.get("/experts/profile").get_data(as_text=True)
    assert sonar.label in page
    assert 'value="test.example"' in page  # the domain of the expert's own address
    typed = {
        "country": "ZZ",
        "organisation": "Naval Lab Split",
        "organisation_domain": "not a domain",
        "languages": ["hr"],
        "other_languages": "Elvish",
        "keyword_ids": [str(sonar.id)],
        "bio": "Sonar arrays.",
    }
    refused = client.post("/experts/profile", data=typed)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert 'class="error-summary"' in page and "3 things to correct" in page
    assert "choose the country where you work" in field_error(page, "country")
    assert "Elvish" in field_error(page, "other_languages")
    assert "give the domain only" in field_error(page, "organisation_domain")
    assert 'id="languages-error"' not in page
    assert 'value="Naval Lab Split"' in page and 'value="Elvish"' in page
    assert re.search(rf'value="{sonar.id}" checked', page)
    assert re.search(r'value="hr" checked', page)

    typed.update(country="HR", organisation_domain="", other_languages="")
    saved = client.post("/experts/profile", data=typed, follow_redirects=True)
    assert saved.status_code == 200
    assert "Your expert profile is saved." in saved.get_data(as_text=True)
    with sessions() as session:
        profile = experts.profile_of(session, scenario.people.evaluators[0].user_id or 0)
    assert profile is not None
    assert (profile.country, profile.organisation_domain, profile.languages) == ("HR", None, ["hr"])


def test_the_pool_pages_from_invitation_to_answer(
    scenario: Scenario, client: FlaskClient, login: Login, sessions: sessionmaker[Session]
) -> None:
    first, second = scenario.people.evaluators[:2]
    call_id = scenario.call_id
    login(client, scenario.people.emails["officer"])
    page = client.get(f"/calls/{call_id}/pool").get_data(as_text=True)
    assert "Nobody is invited yet." in page and scenario.people.emails["evaluator1"] not in page
    assert first.name in page  # offered to invite
    refused = client.post(f"/calls/{call_id}/pool", data={})
    assert refused.status_code == 422
    assert "choose at least one expert" in field_error(refused.get_data(as_text=True), "user_ids")
    sent = client.post(
        f"/calls/{call_id}/pool", data={"user_ids": [str(first.user_id), str(second.user_id)]}
    )
    assert sent.status_code == 302
    (mailed,) = invitations_mailed(sessions, scenario.people.emails["evaluator1"])
    assert f"/experts/invitations#call-{call_id}" in mailed.body_text
    client.post("/logout")

    login(client, scenario.people.emails["evaluator1"])
    page = client.get("/experts/invitations").get_data(as_text=True)
    assert f'id="call-{call_id}"' in page and "Awaiting answer" in page
    assert "Your expert profile is empty" in page
    for name in ("max_applications", "availability_note", "decline_reason"):
        assert f'name="{name}-{call_id}"' in page  # what the answer's routes read
    refused = client.post(
        f"/experts/invitations/{call_id}/accept",
        data={f"max_applications-{call_id}": "lots", f"availability_note-{call_id}": "from March"},
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "must be written with digits" in field_error(page, f"max_applications-{call_id}")
    assert f'href="#max_applications-{call_id}"' in page and "from March" in page
    accepted = client.post(
        f"/experts/invitations/{call_id}/accept",
        data={f"max_applications-{call_id}": "4", f"availability_note-{call_id}": "from March"},
        follow_redirects=True,
    )
    assert "You are in the pool of experts" in accepted.get_data(as_text=True)
    # Nobody answers another's invitation: the URL names a call, the person is the login.
    assert client.post("/experts/invitations/999999999/accept", data={}).status_code == 404
    client.post("/logout")

    login(client, scenario.people.emails["evaluator2"])
    refused = client.post(
        f"/experts/invitations/{call_id}/decline", data={f"decline_reason-{call_id}": ""}
    )
    assert refused.status_code == 422
    assert "say briefly why" in field_error(
        refused.get_data(as_text=True), f"decline_reason-{call_id}"
    )
    assert (
        client.post(
            f"/experts/invitations/{call_id}/decline",
            data={f"decline_reason-{call_id}": "on leave"},
        ).status_code
        == 302
    )
    client.post("/logout")

    login(client, scenario.people.emails["officer"])
    page = client.get(f"/calls/{call_id}/pool").get_data(as_text=True)
    assert "Up to 4 applications" in page and "from March" in page and "on leave" in page
    assert membership(sessions, call_id, first.user_id).status == "accepted"
    assert membership(sessions, call_id, second.user_id).status == "declined"
    again = client.post(
        f"/calls/{call_id}/pool", data={"user_ids": [str(first.user_id)]}, follow_redirects=True
    )
    assert "Already in the pool" in again.get_data(as_text=True)
    assert len(invitations_mailed(sessions, scenario.people.emails["evaluator1"])) == 1


def test_the_officer_keeps_keywords_and_filters_experts(
    scenario: Scenario, client: FlaskClient, login: Login
) -> None:
    first, second = scenario.people.evaluators[:2]
    sonar = keyword(scenario, "Sonar")
    save(scenario, first, first.user_id, keyword_ids=[str(sonar.id)], languages=["it"])
    save(scenario, second, second.user_id, country="HR", languages=["hr"])
    login(client, scenario.people.emails["officer"])

    added = client.post("/experts/keywords", data={"label": f"Radar {scenario.tag}"})
    assert added.status_code == 302
    refused = client.post("/experts/keywords", data={"label": sonar.label.lower()})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "already on the list" in field_error(page, "label")
    assert f'value="{sonar.label.lower()}"' in page
    refused = client.post(f"/experts/keywords/{sonar.id}/rename", data={"label": ""})
    assert refused.status_code == 422
    assert "give the keyword" in field_error(refused.get_data(as_text=True), f"label-{sonar.id}")
    assert client.post(f"/experts/keywords/{sonar.id}/deactivate").status_code == 302
    assert "No longer offered" in client.get("/experts/keywords").get_data(as_text=True)
    assert client.post(f"/experts/keywords/{sonar.id}/reactivate").status_code == 302

    by_keyword = client.get(f"/experts?keyword={sonar.id}").get_data(as_text=True)
    assert first.name in by_keyword and second.name not in by_keyword
    by_language = client.get("/experts?language=hr&country=hr").get_data(as_text=True)
    assert second.name in by_language and first.name not in by_language
    listed = client.get("/experts").get_data(as_text=True)
    assert f"/calls/{scenario.call_id}/pool" in listed
    assert client.get(f"/experts/{second.user_id}/profile").status_code == 200
    assert (
        client.get(f"/experts/{scenario.people.applicants[0].user_id}/profile").status_code == 404
    )


@pytest.mark.parametrize("who", ["evaluator1", "applicant0", "finance1", "auditor", "admin"])
def test_only_officers_open_the_officers_pages(
    who: str, scenario: Scenario, client: FlaskClient, login: Login
) -> None:
    login(client, scenario.people.emails[who])
    evaluator_id = scenario.people.evaluators[1].user_id
    for url in (
        "/experts",
        "/experts/keywords",
        f"/calls/{scenario.call_id}/pool",
        f"/experts/{evaluator_id}/profile",
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/calls/{scenario.call_id}/pool", data={}).status_code == 403
    assert client.post("/experts/keywords", data={"label": "x"}).status_code == 403


def test_the_experts_own_pages_are_theirs_only(
    scenario: Scenario, client: FlaskClient, login: Login
) -> None:
    login(client, scenario.people.emails["officer"])
    assert client.get("/experts/profile").status_code == 403
    assert client.get("/experts/invitations").status_code == 403
    assert client.post(f"/experts/invitations/{scenario.call_id}/accept").status_code == 403
