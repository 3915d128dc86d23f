"""The SEPA credit transfer file: valid pain.001.001.03, exact sums, tampering caught."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from documents.sepa import (
    Debtor,
    SepaFileError,
    Transfer,
    build_credit_transfer,
    check_matches,
    schema_path,
    summarise,
    validate,
)
from workflows.sepa_batch import easter_sunday, next_business_day, target_closed

DEBTOR = Debtor("Cascade demo debtor", "DE89370400440532013000", "COBADEFFXXX")
DAY = date(2026, 12, 4)


def transfers(*amounts: str) -> list[Transfer]:
    ibans = ["IT60X0542811101000000123456", "FR1420041010050500013M02606", "NL91ABNA0417164300"]
    return [
        Transfer(
            f"T-0001-{i}", f"SME {i} Société", ibans[i % 3], Decimal(a), f"Voucher T-{i} balance"
        )
        for i, a in enumerate(amounts)
    ]


def test_the_schema_is_the_one_shipped_inside_sepaxml() -> None:
    path = str(schema_path())
    assert "sepaxml" in path and path.endswith("pain.001.001.03.xsd")


def test_ten_and_twenty_cents_make_thirty_exactly() -> None:
    chosen = transfers("0.10", "0.20")
    xml = build_credit_transfer(DEBTOR, chosen, execution_date=DAY, message_id="SEPA-2026-00001")
    validate(xml)
    summary = check_matches(xml, chosen, execution_date=DAY, message_id="SEPA-2026-00001")
    assert summary.count == 2
    assert summary.control_sum == Decimal("0.30")
    assert b"<CtrlSum>0.30</CtrlSum>" in xml
    assert summary.end_to_end_ids == ("T-0001-0", "T-0001-1")


def test_many_amounts_add_up_without_float_error() -> None:
    chosen = transfers(*["0.10"] * 7, "1234567.89", "0.01")
    xml = build_credit_transfer(DEBTOR, chosen, execution_date=DAY, message_id="M-1")
    assert summarise(xml).control_sum == Decimal("1234568.60")
    check_matches(xml, chosen, execution_date=DAY, message_id="M-1")


def test_a_fraction_of_a_cent_is_refused_not_rounded() -> None:
    with pytest.raises(SepaFileError, match="fractions of a cent"):
        build_credit_transfer(DEBTOR, transfers("10.005"), execution_date=DAY, message_id="M-1")


def test_a_file_changed_after_it_was_built_fails_the_check() -> None:
    chosen = transfers("100.00", "200.00")
    xml = build_credit_transfer(DEBTOR, chosen, execution_date=DAY, message_id="M-1")
    tampered = xml.replace(b">200.00<", b">201.00<", 1)
    with pytest.raises(SepaFileError, match="does not match"):
        check_matches(tampered, chosen, execution_date=DAY, message_id="M-1")
    with pytest.raises(SepaFileError, match="does not match"):
        check_matches(xml, chosen[:1], execution_date=DAY, message_id="M-1")


def test_an_invalid_file_fails_the_schema() -> None:
    chosen = [Transfer("E2E-1", "SME", "NOT AN IBAN", Decimal("1.00"), "Voucher")]
    xml = build_credit_transfer(DEBTOR, chosen, execution_date=DAY, message_id="M-1")
    with pytest.raises(SepaFileError, match=r"not a valid pain\.001\.001\.03"):
        validate(xml)


def test_the_next_business_day_skips_weekends_and_target_holidays() -> None:
    assert easter_sunday(2027) == date(2027, 3, 28)
    assert next_business_day(date(2026, 12, 4)) == date(2026, 12, 7)  # Friday -> Monday
    assert next_business_day(date(2026, 12, 24)) == date(2026, 12, 28)  # Christmas
    assert next_business_day(date(2027, 3, 25)) == date(2027, 3, 30)  # Good Friday, Easter
    assert target_closed(date(2027, 1, 1)) and not target_closed(date(2027, 1, 4))
