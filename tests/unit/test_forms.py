"""Call-defined application forms: definitions, validation, normalisation."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from forms.defaults import STRATEGIC_TECHNOLOGIES, VOUCHER_FORM
from forms.schema import Field, FieldType, FormDefinitionError, parse_form
from forms.validation import (
    TEXT_MAX_CHARS,
    missing_required,
    normalise,
    parse_money,
    validate,
    word_count,
)


def one(field: dict) -> Field:
    base = {"name": "f", "label": "The field"}
    return parse_form([{**base, **field}])[0]


def check(field: dict, value: object) -> dict[str, str]:
    return validate([one(field)], {"f": value})


# -- definitions -------------------------------------------------------------------------------
def test_parse_form_builds_fields_with_defaults() -> None:
    fields = parse_form(
        [
            {"name": "summary", "label": "Project summary", "type": "long_text",
             "required": True, "max_words": 300, "help": " Tell us. "},
            {"name": "topic", "label": "Topic", "type": "choice", "options": ["A", "B"]},
            {"name": "amount", "label": "Amount", "type": "money", "max": "60000"},
        ]
    )  # fmt: skip

    assert fields == [
        Field("summary", "Project summary", FieldType.LONG_TEXT, True, "Tell us.", 300),
        Field("topic", "Topic", FieldType.CHOICE, options=("A", "B")),
        Field("amount", "Amount", FieldType.MONEY, max=Decimal("60000")),
    ]
    assert fields[0].type == "long_text"


def test_every_field_type_is_accepted() -> None:
    raw = [
        {"name": t.value, "label": t.value, "type": t.value}
        | ({"options": ["x"]} if t is FieldType.CHOICE else {})
        for t in FieldType
    ]
    assert [f.type for f in parse_form(raw)] == list(FieldType)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([{"name": "a", "label": "A", "type": "longtext"}], "unknown type 'longtext'"),
        ([{"name": "a", "label": "A"}], "unknown type None"),
        (
            [
                {"name": "a", "label": "A", "type": "text"},
                {"name": "a", "label": "B", "type": "text"},
            ],
            "duplicate name 'a'",
        ),
        ([{"name": "a", "label": "A", "type": "choice"}], "needs a non-empty list of options"),
        ([{"name": "a", "label": "A", "type": "choice", "options": []}], "non-empty list"),
        ([{"name": "a", "label": "A", "type": "choice", "options": ["x", "x"]}], "must not repeat"),
        ([{"name": "a", "label": "A", "type": "choice", "options": ["x", " "]}], "non-empty text"),
        ([{"name": "Project Summary", "label": "A", "type": "text"}], "name must be lower-case"),
        ([{"name": "a-b", "label": "A", "type": "text"}], "name must be lower-case"),
        ([{"name": "1st", "label": "A", "type": "text"}], "name must be lower-case"),
        ([{"name": "a<script>", "label": "A", "type": "text"}], "name must be lower-case"),
        ([{"name": "", "label": "A", "type": "text"}], "name must be lower-case"),
        ([{"name": "x" * 64, "label": "A", "type": "text"}], "name must be lower-case"),
        ([{"label": "A", "type": "text"}], "name must be lower-case"),
        ([{"name": "a", "type": "text"}], "a label is required"),
        ([{"name": "a", "label": "  ", "type": "text"}], "a label is required"),
        ([{"name": "a", "label": "A", "type": "text", "required": "yes"}], "true or false"),
        ([{"name": "a", "label": "A", "type": "text", "max_word": 3}], "unknown key(s) max_word"),
        ([{"name": "a", "label": "A", "type": "text", "max_words": 3}], "only applies to long"),
        ([{"name": "a", "label": "A", "type": "long_text", "max_words": 0}], "at least 1"),
        ([{"name": "a", "label": "A", "type": "long_text", "max_words": "3"}], "whole number"),
        ([{"name": "a", "label": "A", "type": "text", "options": ["x"]}], "only applies to choice"),
        ([{"name": "a", "label": "A", "type": "money", "max": "lots"}], "max must be a number"),
        ([{"name": "a", "label": "A", "type": "money", "max": -1}], "must not be negative"),
        ([{"name": "a", "label": "A", "type": "date", "max": 1}], "applies to money or number"),
        ([{"name": "a", "label": "A", "type": "date", "not_before": "b"}], "another date field"),
        ([{"name": "a", "label": "A", "type": "date", "not_before": "a"}], "another date field"),
        (["a"], "must be an object"),
    ],
)
def test_bad_definitions_are_refused(raw: list, expected: str) -> None:
    with pytest.raises(FormDefinitionError) as exc:
        parse_form(raw)
    assert expected in str(exc.value)


def test_a_definition_that_is_not_a_list_is_refused() -> None:
    with pytest.raises(FormDefinitionError, match="must be a list"):
        parse_form({"name": "a"})  # type: ignore[arg-type]


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(FormDefinitionError) as exc:
        parse_form(
            [
                {"name": "Bad Name", "label": "A", "type": "text"},
                {"name": "b", "label": "B", "type": "nope"},
                {"name": "c", "label": "C", "type": "choice"},
            ]
        )
    assert len(exc.value.problems) == 3
    assert isinstance(exc.value, ValueError)


# -- word counting -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("", 0),
        ("   \n\t ", 0),
        ("one", 1),
        ("two  words", 2),
        ("R&D well-known 5G", 3),
        ("lines\nand\r\nparagraphs\n\nhere", 4),
        ("a — b • c", 3),
        ("l'équipe navale", 2),
    ],
)
def test_word_count(text: str, count: int) -> None:
    assert word_count(text) == count


# -- validation per type -----------------------------------------------------------------------
def test_text() -> None:
    assert check({"type": "text"}, "  Ship hull sensors  ") == {}
    assert "one line" in check({"type": "text"}, "two\nlines")["f"]
    assert f"at most {TEXT_MAX_CHARS} characters" in check({"type": "text"}, "x" * 501)["f"]
    assert check({"type": "text"}, 12) == {"f": "Enter text."}


def test_long_text_word_limit() -> None:
    field = {"type": "long_text", "max_words": 5}
    assert check(field, "one two three four five") == {}
    assert check(field, "one two\n\nthree - four five ") == {}
    message = check(field, "one two three four five six seven")["f"]
    assert message == "Use at most 5 words; you have 7. Remove 2."
    assert check({"type": "long_text"}, "word " * 9000) == {}
    assert "characters" in check({"type": "long_text"}, "x" * 50_001)["f"]


@pytest.mark.parametrize("value", ["12", "-3", "2.5", "2,5", "0", " 7 ", 12, Decimal("2.5"), 2.5])
def test_number_valid(value: object) -> None:
    assert check({"type": "number"}, value) == {}


@pytest.mark.parametrize("value", ["twelve", "1,000", "1 000", "1.000,5", "2.", ".5", "1e3", True])
def test_number_invalid(value: object) -> None:
    assert "Enter a number" in check({"type": "number"}, value)["f"]


def test_number_max() -> None:
    assert check({"type": "number", "max": 9}, "9") == {}
    assert check({"type": "number", "max": 9}, "9.5") == {"f": "Enter a number no greater than 9."}


@pytest.mark.parametrize(
    ("value", "amount"),
    [
        ("8000", "8000.00"),
        ("8000.50", "8000.50"),
        ("8000,50", "8000.50"),
        ("8000.5", "8000.50"),
        ("8000,5", "8000.50"),
        (" 0 ", "0.00"),
        (8000, "8000.00"),
        (Decimal("8000.5"), "8000.50"),
        (8000.5, "8000.50"),
    ],
)
def test_money_valid(value: object, amount: str) -> None:
    field = one({"type": "money"})
    assert validate([field], {"f": value}) == {}
    assert normalise([field], {"f": value}) == {"f": amount}
    assert parse_money(value) == Decimal(amount)


@pytest.mark.parametrize(
    "value",
    ["8,000", "8,000.50", "8.000,50", "8 000", "€8000", "8000 EUR", "8000.505", "eight", "", True],
)
def test_money_invalid_formats_are_explained(value: object) -> None:
    field = one({"type": "money"})
    errors = validate([field], {"f": value})
    if value == "":
        assert errors == {}  # empty is not a format error; see missing_required
        return
    assert "digits only, for example 8000 or 8000.50" in errors["f"]
    with pytest.raises(ValueError, match="for example 8000"):
        parse_money(value)


def test_money_cannot_be_negative_or_above_max() -> None:
    assert check({"type": "money"}, "-5") == {"f": "The amount cannot be negative."}
    assert check({"type": "money", "max": 10000}, "10000.00") == {}
    assert check({"type": "money", "max": 10000}, "10000.01") == {
        "f": "The amount cannot be more than EUR 10000.00."
    }


@pytest.mark.parametrize("value", ["2026-03-31", " 2026-03-31 ", dt.date(2026, 3, 31)])
def test_date_valid(value: object) -> None:
    assert check({"type": "date"}, value) == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("31/03/2026", "as YYYY-MM-DD"),
        ("20260331", "as YYYY-MM-DD"),
        ("2026-3-31", "as YYYY-MM-DD"),
        ("2026-02-30", "2026-02-30 is not a real date"),
        (dt.datetime(2026, 3, 31, 12), "without a time"),
        (20260331, "as YYYY-MM-DD"),
    ],
)
def test_date_invalid(value: object, message: str) -> None:
    assert message in check({"type": "date"}, value)["f"]


def test_date_not_before_another_date() -> None:
    fields = parse_form(
        [
            {"name": "start", "label": "Start date", "type": "date"},
            {"name": "end", "label": "End date", "type": "date", "not_before": "start"},
        ]
    )
    assert validate(fields, {"start": "2026-03-01", "end": "2026-03-01"}) == {}
    assert validate(fields, {"start": "2026-03-01"}) == {}
    assert validate(fields, {"start": "2026-03-01", "end": "2026-02-28"}) == {
        "end": "End date cannot be before Start date (2026-03-01)."
    }
    # A broken start date is reported on its own, not twice.
    assert set(validate(fields, {"start": "soon", "end": "2026-02-28"})) == {"start"}


def test_choice() -> None:
    field = {"type": "choice", "options": ["Sensors and C4ISR", "Additive manufacturing"]}
    assert check(field, "Sensors and C4ISR") == {}
    assert check(field, " Additive manufacturing ") == {}
    assert check(field, "sensors and c4isr") == {
        "f": "Choose one of: Sensors and C4ISR; Additive manufacturing."
    }
    assert "Choose one of" in check(field, "Space")["f"]


@pytest.mark.parametrize("value", [True, False, "yes", "no", "on", "true", "FALSE", "1", "0", ""])
def test_yes_no_valid(value: object) -> None:
    assert check({"type": "yes_no"}, value) == {}


@pytest.mark.parametrize("value", ["maybe", 2, ["yes"]])
def test_yes_no_invalid(value: object) -> None:
    assert check({"type": "yes_no"}, value) == {"f": "Tick the box, or leave it unticked."}


def test_drafts_need_not_be_complete_and_unknown_answers_are_ignored() -> None:
    fields = parse_form(VOUCHER_FORM)
    assert validate(fields, {}) == {}
    assert validate(fields, {"summary": "  ", "not_a_field": "x" * 10_000}) == {}


def test_validate_complete_reports_required_fields() -> None:
    fields = parse_form(
        [
            {"name": "title", "label": "Title", "type": "text", "required": True},
            {
                "name": "topic",
                "label": "Topic",
                "type": "choice",
                "options": ["a"],
                "required": True,
            },
            {"name": "ok", "label": "I confirm", "type": "yes_no", "required": True},
            {"name": "note", "label": "Note", "type": "text"},
        ]
    )
    assert validate(fields, {"ok": "no"}, complete=True) == {
        "title": "Fill in Title.",
        "topic": "Choose an option for Topic.",
        "ok": "Tick this box to confirm: I confirm",
    }
    assert validate(fields, {"title": "T", "topic": "a", "ok": "on"}, complete=True) == {}


# -- required fields ---------------------------------------------------------------------------
def test_missing_required_lists_labels_in_form_order() -> None:
    fields = parse_form(
        [
            {"name": "title", "label": "Title", "type": "text", "required": True},
            {"name": "note", "label": "Note", "type": "text"},
            {"name": "amount", "label": "Amount", "type": "money", "required": True},
            {"name": "when", "label": "Start", "type": "date", "required": True},
        ]
    )
    assert missing_required(fields, {}) == ["Title", "Amount", "Start"]
    assert missing_required(fields, {"title": "   ", "amount": "0"}) == ["Title", "Start"]
    assert missing_required(fields, {"title": "T", "amount": "5", "when": "2026-01-01"}) == []


@pytest.mark.parametrize(
    ("value", "missing"),
    [
        (True, False),
        ("on", False),
        ("yes", False),
        (False, True),
        ("no", True),
        ("", True),
        (None, True),
        ("maybe", True),
    ],
)
def test_required_yes_no_must_be_true(value: object, missing: bool) -> None:
    fields = parse_form(
        [{"name": "ok", "label": "No double funding", "type": "yes_no", "required": True}]
    )
    answers = {} if value is None else {"ok": value}
    assert missing_required(fields, answers) == (["No double funding"] if missing else [])


def test_optional_yes_no_is_never_missing() -> None:
    fields = parse_form([{"name": "ok", "label": "Newsletter", "type": "yes_no"}])
    assert missing_required(fields, {"ok": False}) == []


# -- normalisation -----------------------------------------------------------------------------
def test_normalise_is_json_safe_and_drops_unknown_keys() -> None:
    fields = parse_form(
        [
            {"name": "title", "label": "Title", "type": "text"},
            {"name": "summary", "label": "Summary", "type": "long_text"},
            {"name": "staff", "label": "Staff", "type": "number"},
            {"name": "amount", "label": "Amount", "type": "money"},
            {"name": "start", "label": "Start", "type": "date"},
            {"name": "topic", "label": "Topic", "type": "choice", "options": ["A"]},
            {"name": "ok", "label": "OK", "type": "yes_no"},
            {"name": "news", "label": "News", "type": "yes_no"},
            {"name": "empty", "label": "Empty", "type": "text"},
        ]
    )
    answers = {
        "title": "  Hull  ",
        "summary": "  First.\r\n\r\nSecond.  ",
        "staff": "2,5",
        "amount": "8000,5",
        "start": dt.date(2026, 3, 1),
        "topic": " A ",
        "ok": "on",
        "news": False,
        "empty": "   ",
        "csrf_token": "abc",
        "is_admin": True,
    }
    clean = normalise(fields, answers)

    assert clean == {
        "title": "Hull",
        "summary": "First.\n\nSecond.",
        "staff": "2.5",
        "amount": "8000.50",
        "start": "2026-03-01",
        "topic": "A",
        "ok": True,
        "news": False,
    }
    assert json.loads(json.dumps(clean)) == clean
    # Normalised answers are stable: they validate and normalise to themselves.
    assert validate(fields, clean) == {}
    assert normalise(fields, clean) == clean


def test_normalise_keeps_invalid_draft_answers_as_typed() -> None:
    fields = parse_form([{"name": "amount", "label": "Amount", "type": "money"}])
    assert normalise(fields, {"amount": " 8,000 "}) == {"amount": "8,000"}
    assert normalise(fields, {"amount": 8000}) == {"amount": "8000.00"}


def test_normalise_numbers() -> None:
    fields = parse_form([{"name": "n", "label": "N", "type": "number"}])
    assert normalise(fields, {"n": "10"}) == {"n": "10"}
    assert normalise(fields, {"n": "-0"}) == {"n": "0"}
    assert normalise(fields, {"n": "2.50"}) == {"n": "2.5"}
    assert normalise(fields, {"n": 100}) == {"n": "100"}


# -- the default voucher form ------------------------------------------------------------------
def good_voucher_answers() -> dict[str, object]:
    return {
        "summary": "We will test two graphene-based coatings on hull panels with a technology "
        "centre and qualify the better one for our patrol boat customers.",
        "objectives": "Qualify one coating to the navy's salt-spray requirement.",
        "strategic_technology": "Advanced materials and coatings",
        "service_provider": "Centro Ricerche Navali S.r.l.",
        "work_plan": "M1-M2: lab tests by the provider. M3-M4: sea trials on our own boat.",
        "expected_impact": "A qualified coating opens two new tenders a year.",
        "start_date": "2026-04-01",
        "end_date": "2026-09-30",
        "no_double_funding": "on",
    }


def test_default_voucher_form_is_a_valid_definition() -> None:
    fields = parse_form(VOUCHER_FORM)
    by_name = {f.name: f for f in fields}

    assert {
        "summary",
        "objectives",
        "strategic_technology",
        "service_provider",
        "work_plan",
        "expected_impact",
        "start_date",
        "end_date",
        "no_double_funding",
    } <= set(by_name)
    # Title and amount are the application's own columns, never form fields.
    assert not {"project_title", "requested_amount"} & set(by_name)
    assert by_name["summary"].max_words == 300
    assert by_name["strategic_technology"].options == STRATEGIC_TECHNOLOGIES
    assert "Autonomous and unmanned systems" in STRATEGIC_TECHNOLOGIES
    assert by_name["end_date"].not_before == "start_date"
    assert fields[-1].type is FieldType.YES_NO and fields[-1].required
    assert all(f.required and f.help for f in fields)
    json.dumps(VOUCHER_FORM)  # stored as JSON on the call


def test_default_voucher_form_accepts_a_complete_application() -> None:
    fields = parse_form(VOUCHER_FORM)
    answers = good_voucher_answers()

    assert validate(fields, answers, complete=True) == {}
    assert missing_required(fields, answers) == []
    clean = normalise(fields, answers)
    assert clean["no_double_funding"] is True


def test_default_voucher_form_before_submission() -> None:
    fields = parse_form(VOUCHER_FORM)
    answers = good_voucher_answers() | {
        "no_double_funding": "",
        "summary": "word " * 301,
        "end_date": "2026-03-01",
    }

    assert missing_required(fields, answers) == [fields[-1].label]
    errors = validate(fields, answers)
    assert set(errors) == {"summary", "end_date"}
    assert errors["summary"].startswith("Use at most 300 words; you have 301.")
    assert missing_required(fields, {}) == [f.label for f in fields]
