"""A call as a YAML document: written and read back unchanged, and a broken document refused
with every mistake named by its path."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import pytest
import yaml

from forms.defaults import VOUCHER_FORM
from workflows.call_document import DocumentProblems, from_document, to_document
from workflows.call_rules import CallRules, CostBasis, EligibilityRules, VoucherType

RULES = CallRules(
    reference="LEV-INT-2027",
    title="Internationalisation voucher",
    purpose="Helps SMEs enter markets outside the EU.",
    guidance="Read the guide.\nAsk the helpdesk.",
    voucher_type=VoucherType.INTERNATIONALISATION,
    timezone="Europe/Rome",
    publication=datetime(2026, 9, 1, 9, 0),
    opening=datetime(2026, 9, 15, 9, 0),
    deadline=datetime(2026, 10, 25, 2, 30),
    who_can_apply="SMEs of the naval defence value chain.",
    batch_ranking=True,
    cutoffs=(datetime(2026, 10, 1, 17, 0),),
    budget=Decimal("200000.50"),
    reserve=Decimal("20000"),
    max_per_voucher=Decimal("2000"),
    cost_basis=CostBasis.LUMP_SUM,
    eligible_countries=("IT", "HR"),
    eligibility=EligibilityRules(
        min_registration_months=None, de_minimis_check=True, target_markets_outside_eu=True
    ),
    divergence_limit=Decimal("1.5"),
    folds={"deadline": 1},
)


def test_a_call_written_and_read_back_is_the_same_call_and_the_same_text() -> None:
    text = yaml.safe_dump(to_document(RULES, list(VOUCHER_FORM)), sort_keys=False)
    rules, form = from_document(yaml.safe_load(text))
    assert rules == RULES
    assert form == list(VOUCHER_FORM)
    assert yaml.safe_dump(to_document(rules, form), sort_keys=False) == text
    assert "deadline: 2026-10-25 02:30" in text and "budget: '200000.5'" in text


def test_every_mistake_is_named_by_its_path() -> None:
    document = to_document(replace(RULES, folds={}), [])
    document["budget"] = "lots"
    document["deadline"] = "30/11/2026 5pm"
    document["voucher_type"] = "holiday"
    document["eligibility"]["de_minimis_check"] = "yes"
    document["evaluation"]["experts_per_application"] = 2.5
    document["colour"] = "blue"
    del document["title"]
    with pytest.raises(DocumentProblems) as refused:
        from_document(document)
    problems = refused.value.problems
    assert set(problems) == {
        "budget",
        "deadline",
        "voucher_type",
        "eligibility.de_minimis_check",
        "evaluation.experts_per_application",
        "colour",
        "title",
    }
    assert "upskilling" in problems["voucher_type"]
    assert "2026-11-30 17:00" in problems["deadline"]
    assert problems["title"] == "missing"


def test_something_else_than_a_call_document_is_refused() -> None:
    with pytest.raises(DocumentProblems, match="format 1"):
        from_document({"reference": "X"})
    with pytest.raises(DocumentProblems):
        from_document(["not", "a", "mapping"])
