"""The replay rules: which event sets which field of which row."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from workflows.reconcile import (
    NO_EVENT,
    NO_ROW,
    EventView,
    Replay,
    iban_digest,
    normalise,
)

IBAN = "IT60X0542811101000000123456"


def event(
    event_id: int,
    action: str,
    after: dict[str, Any],
    *,
    entity_type: str = "application",
    entity_id: str = "REF-1",
    actor_id: int | None = 7,
) -> EventView:
    return EventView(event_id, action, entity_type, entity_id, 1, actor_id, after)


def application(**values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "status": "draft",
        "requested_amount": None,
        "content_sha256": None,
        "eligibility": None,
        "consensus": None,
        "total_score": None,
        "rank": None,
        "awarded_amount": None,
    }
    return row | values


def test_a_draft_is_created_empty_and_a_saved_draft_does_not_set_the_submitted_hash() -> None:
    replay = Replay()
    replay.add(event(1, "create_draft", {"status": "draft", "title": "T"}))
    replay.add(event(2, "save_draft", {"requested_amount": "8000.00", "content_sha256": "a" * 64}))
    assert replay.compare("applications", 1, application(requested_amount=Decimal("8000"))) == []
    replay.add(event(1, "create_draft", {"status": "draft"}))
    replay.add(event(3, "submit", {"status": "submitted", "content_sha256": "b" * 64}))
    found = replay.compare("applications", 1, application(status="submitted"))
    assert [(m.field, m.trail) for m in found] == [("content_sha256", "'" + "b" * 64 + "'")]


def test_amounts_compare_as_money_and_documents_by_their_digest() -> None:
    assert normalise("money", "8000") == normalise("money", Decimal("8000.00"))
    assert normalise("json", {"a": 1, "b": [1]}) == normalise("json", {"b": [1], "a": 1})
    replay = Replay()
    replay.add(event(1, "create_draft", {"status": "draft"}))
    replay.add(event(2, "rank", {"status": "selected", "rank": 2, "awarded_amount": "8000.00"}))
    row = application(status="selected", rank=2, awarded_amount=Decimal("8000.01"))
    [mismatch] = replay.compare("applications", 1, row)
    assert str(mismatch) == (
        "applications 1 awarded_amount: the trail says 8000.00, the database holds 8000.01"
    )


def test_payments_take_their_authoriser_and_payer_from_the_events_actors() -> None:
    replay = Replay()
    replay.add(
        event(
            1,
            "prepare_payment",
            {
                "status": "payment_prepared",
                "payment_id": 5,
                "amount": "4000.00",
                "payee_name": "SME",
                "payee_iban_sha256": iban_digest(IBAN),
            },
        )
    )
    replay.add(
        event(
            2,
            "authorise",
            {"status": "authorised"},
            entity_type="payment",
            entity_id="5",
            actor_id=8,
        )
    )
    replay.add(
        event(
            3,
            "mark_paid",
            {"status": "paid", "payment_reference": "BNK-1"},
            entity_type="payment",
            entity_id="5",
            actor_id=9,
        )
    )
    row = {
        "status": "paid",
        "amount": Decimal("4000.00"),
        "payee_name": "SME",
        "iban": IBAN,
        "authorised_by_id": 8,
        "paid_by_id": 9,
        "payment_reference": "BNK-1",
    }
    assert replay.compare("payments", 5, row) == []
    replay.add(
        event(1, "prepare_payment", {"payment_id": 5, "payee_iban_sha256": iban_digest(IBAN)})
    )
    found = replay.compare("payments", 5, row | {"iban": "NL91ABNA0417164300"})
    [mismatch] = [m for m in found if m.field == "iban"]
    assert mismatch.field == "iban" and "NL91 **** **** 4300" in mismatch.database
    assert IBAN not in str(mismatch)


def test_bank_accounts_an_empty_bic_and_rows_without_events_or_without_rows() -> None:
    replay = Replay()
    facts = {"bank_account_id": 3, "iban_sha256": iban_digest(IBAN), "bic": "", "holder": "H"}
    replay.add(event(1, "bank_details_entered", facts | {"bank_status": "entered"}))
    replay.add(event(2, "bank_details_verified", facts | {"bank_status": "verified"}))
    row = {"iban": IBAN, "bic": None, "holder": "H", "status": "verified"}
    assert replay.compare("bank_accounts", 3, row) == []
    [created] = replay.compare("bank_accounts", 4, row)
    assert (created.field, created.trail) == ("row", NO_EVENT)
    replay.add(
        event(5, "request_redress", {"status": "requested"}, entity_type="redress", entity_id="9")
    )
    [gone] = replay.leftovers(("redress_requests",))
    assert (gone.table, gone.row_id, gone.database) == ("redress_requests", 9, NO_ROW)


def test_reopened_scores_clear_the_total_even_in_events_that_did_not_say_so() -> None:
    replay = Replay()
    replay.add(
        event(1, "assign_evaluator", {"evaluator_id": 4}, entity_type="evaluation", entity_id="2")
    )
    scores = {"impact": {"score": "4.0", "comment": "c"}}
    replay.add(
        event(
            2,
            "submit_scores",
            {"status": "submitted", "scores": scores, "total": "4.0"},
            entity_type="evaluation",
            entity_id="2",
        )
    )
    replay.add(
        event(3, "reopen_scores", {"status": "accepted"}, entity_type="evaluation", entity_id="2")
    )
    assert (
        replay.compare("evaluations", 2, {"status": "accepted", "scores": scores, "total": None})
        == []
    )
