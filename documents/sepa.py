"""SEPA credit transfer files (ISO 20022 pain.001.001.03), built with sepaxml.

``build_credit_transfer`` writes the file, ``validate`` checks it against the
pain.001.001.03 schema shipped inside the sepaxml package, and ``summarise`` reads back
what a bank would read (number of transactions, control sum, each transaction), so the
caller can compare the file with what it meant to send before storing it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from sepaxml import SepaTransfer

SCHEMA = "pain.001.001.03"
NAMESPACE = f"urn:iso:std:iso:20022:tech:xsd:{SCHEMA}"
CENT = Decimal("0.01")
#: ISO 20022 Max35Text (message and end-to-end ids) and Max140Text (remittance text).
MAX_ID = 35
MAX_REMITTANCE = 140


class SepaFileError(ValueError):
    """The file could not be built, or what was built is not what was meant."""


@dataclass(frozen=True)
class Debtor:
    name: str
    iban: str
    bic: str


@dataclass(frozen=True)
class Transfer:
    end_to_end_id: str
    name: str
    iban: str
    amount: Decimal
    remittance: str


@dataclass(frozen=True)
class FileSummary:
    message_id: str
    count: int
    control_sum: Decimal
    execution_date: str
    end_to_end_ids: tuple[str, ...]
    amounts: tuple[Decimal, ...]


def cents(amount: Decimal) -> int:
    """Whole cents of a Decimal amount; refuses anything finer than a cent (never rounds)."""
    if not isinstance(amount, Decimal):
        raise SepaFileError(f"amount {amount!r} is not a Decimal")
    exact = amount.quantize(CENT)
    if exact != amount:
        raise SepaFileError(f"amount {amount} has fractions of a cent")
    return int(exact * 100)


def schema_path() -> Any:
    """The pain.001.001.03 XSD inside the installed sepaxml package."""
    return resources.files("sepaxml") / "schemas" / f"{SCHEMA}.xsd"


@cache
def _schema() -> Any:
    # Imported here: xmlschema patches ElementTree on import (see sepaxml.validation).
    import xmlschema

    with resources.as_file(schema_path()) as path:
        return xmlschema.XMLSchema(str(path))


def validate(xml: bytes) -> None:
    """Raise SepaFileError naming the first reason ``xml`` is not a valid pain.001.001.03."""
    errors = list(_schema().iter_errors(xml.decode("utf-8")))
    if errors:
        first = errors[0]
        raise SepaFileError(f"not a valid {SCHEMA} file: {first.reason} at {first.path}")


def build_credit_transfer(
    debtor: Debtor,
    transfers: list[Transfer],
    *,
    execution_date: date,
    message_id: str,
) -> bytes:
    """One payment information block (batch booking) with a transaction per transfer."""
    if not transfers:
        raise SepaFileError("no transfer to put in the file")
    if not message_id or len(message_id) > MAX_ID:
        raise SepaFileError(f"message id {message_id!r} is empty or longer than {MAX_ID}")
    sepa = SepaTransfer(
        {
            "name": debtor.name,
            "IBAN": debtor.iban,
            "BIC": debtor.bic,
            "batch": True,
            "currency": "EUR",
        },
        schema=SCHEMA,
        clean=True,
    )
    # sepaxml draws a random message id; the bank's status reports quote it back, so it is
    # the batch's reference instead.
    header = sepa._xml.find("CstmrCdtTrfInitn/GrpHdr/MsgId")
    if header is None:
        raise SepaFileError("sepaxml wrote no group header")
    header.text = message_id
    sepa.msg_id = message_id
    for transfer in transfers:
        if len(transfer.end_to_end_id) > MAX_ID:
            raise SepaFileError(f"end-to-end id {transfer.end_to_end_id!r} is too long")
        amount = cents(transfer.amount)
        if amount <= 0:
            raise SepaFileError(f"{transfer.end_to_end_id}: the amount must be positive")
        sepa.add_payment(
            {
                "name": transfer.name,
                "IBAN": transfer.iban,
                "amount": amount,
                "execution_date": execution_date,
                "description": transfer.remittance[:MAX_REMITTANCE],
                "endtoend_id": transfer.end_to_end_id,
            }
        )
    return sepa.export(validate=False)


def _text(node: ET.Element, path: str) -> str:
    found = node.find(path, {"p": NAMESPACE})
    if found is None or found.text is None:
        raise SepaFileError(f"the file has no {path}")
    return found.text


def summarise(xml: bytes) -> FileSummary:
    """What the file says, read back from its bytes as a bank would."""
    try:
        root = ET.fromstring(xml)  # our own file, just written
    except ET.ParseError as exc:
        raise SepaFileError(f"the file is not well-formed XML: {exc}") from exc
    initiation = root.find("p:CstmrCdtTrfInitn", {"p": NAMESPACE})
    if initiation is None:
        raise SepaFileError(f"the file is not a {SCHEMA} credit transfer")
    transactions = initiation.findall("p:PmtInf/p:CdtTrfTxInf", {"p": NAMESPACE})
    dates = {
        _text(block, "p:ReqdExctnDt") for block in initiation.findall("p:PmtInf", {"p": NAMESPACE})
    }
    if len(dates) != 1:
        raise SepaFileError("the file does not have exactly one requested execution date")
    return FileSummary(
        message_id=_text(initiation, "p:GrpHdr/p:MsgId"),
        count=int(_text(initiation, "p:GrpHdr/p:NbOfTxs")),
        control_sum=Decimal(_text(initiation, "p:GrpHdr/p:CtrlSum")),
        execution_date=dates.pop(),
        end_to_end_ids=tuple(_text(tx, "p:PmtId/p:EndToEndId") for tx in transactions),
        amounts=tuple(Decimal(_text(tx, "p:Amt/p:InstdAmt")) for tx in transactions),
    )


def check_matches(
    xml: bytes, transfers: list[Transfer], *, execution_date: date, message_id: str
) -> FileSummary:
    """Validate the file and compare it with the transfers it was built from: the number of
    transactions and the control sum (header and transactions), every end-to-end id and
    amount, the date and the message id. SepaFileError at the first difference."""
    validate(xml)
    summary = summarise(xml)
    expected_sum = sum((t.amount for t in transfers), Decimal(0))
    expected_ids = sorted(t.end_to_end_id for t in transfers)
    problems = []
    if summary.count != len(transfers) or len(summary.end_to_end_ids) != len(transfers):
        problems.append(f"{summary.count} transactions instead of {len(transfers)}")
    if summary.control_sum != expected_sum or sum(summary.amounts, Decimal(0)) != expected_sum:
        problems.append(f"control sum {summary.control_sum} instead of {expected_sum}")
    if sorted(summary.end_to_end_ids) != expected_ids:
        problems.append("the end-to-end ids differ from the instalments chosen")
    expected_amounts = {t.end_to_end_id: t.amount for t in transfers}
    if dict(zip(summary.end_to_end_ids, summary.amounts, strict=False)) != expected_amounts:
        problems.append("an amount differs from its instalment")
    if summary.execution_date != execution_date.isoformat():
        problems.append(f"execution date {summary.execution_date} instead of {execution_date}")
    if summary.message_id != message_id:
        problems.append(f"message id {summary.message_id} instead of {message_id}")
    if problems:
        raise SepaFileError("the file does not match the selection: " + "; ".join(problems))
    return summary
