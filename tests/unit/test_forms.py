"""Call-defined application forms: definitions, validation, normalisation."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pycountry
import pytest

from forms import display
from forms.countries import COUNTRY_SETS, EU_COUNTRIES
from forms.defaults import (
    INTERNATIONALISATION_BUDGET_CATEGORIES,
    INTERNATIONALISATION_FORM,
    STRATEGIC_TECHNOLOGIES,
    VOUCHER_FORM,
)
from forms.schema import (
    Field,
    FieldType,
    FormDefinitionError,
    country_choices,
    dump_form,
    parse_form,
)
from forms.validation import (
    TEXT_MAX_CHARS,
    describe,
    group_rows,
    group_totals,
    missing_required,
    normalise,
    validate,
    word_count,
)
from workflows.registration_numbers import EU_MEMBER_STATES


def one(field: dict) -> Field:
    base = {"name": "f", "label": "The field"}
    return parse_form([{**base, **field}])[0]


def check(field: dict, value: object) -> dict[str, str]:
    return validate([one(field)], {"f": value})


def by_name(fields: list[Field]) -> dict[str, Field]:
    return {f.name: f for f in fields}


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
    extra: dict[FieldType, dict] = {
        FieldType.CHOICE: {"options": ["x"]},
        FieldType.MULTI_CHOICE: {"options": ["x"]},
        FieldType.GROUP: {"fields": [{"name": "a", "label": "A", "type": "text"}]},
    }
    raw = [
        {"name": t.value, "label": t.value, "type": t.value} | extra.get(t, {}) for t in FieldType
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
        ([{"name": "a", "label": "A", "type": "money", "max": "lots"}], "max must be written"),
        ([{"name": "a", "label": "A", "type": "money", "max": -1}], "max cannot be negative"),
        ([{"name": "a", "label": "A", "type": "money", "max": "1e309"}], "exponents"),
        ([{"name": "a", "label": "A", "type": "money", "max": "8,000"}], "could mean 8000"),
        ([{"name": "a", "label": "A", "type": "money", "max": 0.001}], "at most 2 decimals"),
        ([{"name": "a", "label": "A", "type": "number", "max": float("inf")}], "with digits"),
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


@pytest.mark.parametrize(
    "value",
    ["12", "-3", "2.5", "2,5", "0", " 7 ", "1 000", "1.000,5", 12, Decimal("2.5"), 2.5],
)
def test_number_valid(value: object) -> None:
    assert check({"type": "number"}, value) == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("twelve", "must be written with digits"),
        ("1,000", "could mean 1000 or 1"),
        ("2.", "cannot be read for sure"),
        (".5", "cannot be read for sure"),
        ("1e3", "exponents such as 1e3 are not accepted"),
        ("NaN", "must be written with digits"),
        ("2,255", "could mean 2255 or 2,255"),
        ("0,125", "at most 2 decimals"),
        ("9" * 60, "cannot be more than 9999999999999.99"),
        (True, "must be written with digits"),
    ],
)
def test_number_invalid(value: object, message: str) -> None:
    assert message in check({"type": "number"}, value)["f"]


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
        ("8 000", "8000.00"),
        ("8.000,50", "8000.50"),
        ("8,000.50", "8000.50"),
        ("€8000", "8000.00"),
        ("8000 EUR", "8000.00"),
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


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("8,000", "could mean 8000 or 8,00"),
        ("8.000", "could mean 8000 or 8.00"),
        ("8.00.0", "cannot be read for sure"),
        ("8000.505", "at most 2 decimals (cents)"),
        ("1e309", "exponents such as 1e3 are not accepted"),
        ("Infinity", "must be written with digits"),
        ("9" * 60, "cannot be more than EUR 9,999,999,999.99"),
        ("eight", "must be written with digits"),
        (True, "must be written with digits"),
    ],
)
def test_money_invalid_formats_are_explained(value: object, message: str) -> None:
    field = one({"type": "money"})
    assert message in validate([field], {"f": value})["f"]
    assert normalise([field], {"f": value}) == {"f": value if value is True else str(value)}


def test_empty_money_is_not_a_format_error() -> None:
    assert validate([one({"type": "money"})], {"f": ""}) == {}  # see missing_required


def test_money_cannot_be_negative_or_above_max() -> None:
    assert check({"type": "money"}, "-5") == {"f": "The amount cannot be negative."}
    assert check({"type": "money", "max": 10000}, "10000.00") == {}
    assert check({"type": "money", "max": 10000}, "10000.01") == {
        "f": "The amount cannot be more than EUR 10,000.00."
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
        "provider_country": "it",
        "start_date": "2026-04-01",
        "end_date": "2026-09-30",
        "budget_lines": [
            {"item": "Salt-spray tests", "category": "Testing and qualification", "cost": "6000"},
            {"item": "Sea trials support", "category": "Service provider fees", "cost": "2000,00"},
            {"item": "", "category": "", "cost": ""},  # the blank line a web form adds
        ],
        "no_double_funding": "on",
    }


AMOUNT = {"requested_amount": Decimal("8000.00")}


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
        "budget_lines",
        "provider_quote",
        "no_double_funding",
    } <= set(by_name)
    # Title and amount are the application's own columns, never form fields.
    assert not {"project_title", "requested_amount"} & set(by_name)
    assert by_name["summary"].max_words == 300
    assert by_name["strategic_technology"].options == STRATEGIC_TECHNOLOGIES
    assert "Autonomous and unmanned systems" in STRATEGIC_TECHNOLOGIES
    assert by_name["end_date"].not_before == "start_date"
    assert fields[-1].type is FieldType.YES_NO and fields[-1].required
    assert all(f.help for f in fields)
    optional = {f.name for f in fields if not f.required}
    assert optional == {"other_technologies", "provider_quote"}
    budget = by_name["budget_lines"]
    assert budget.type is FieldType.GROUP and budget.totals == ("cost",)
    assert budget.must_equal == "requested_amount" and budget.item_minimum == 1
    quote = by_name["provider_quote"]
    assert quote.accept == ("pdf",) and quote.file_max_bytes == 10 * 1024 * 1024
    json.dumps(VOUCHER_FORM)  # stored as JSON on the call
    assert dump_form(fields) == json.loads(json.dumps(dump_form(fields)))


def test_default_voucher_form_accepts_a_complete_application() -> None:
    fields = parse_form(VOUCHER_FORM)
    answers = good_voucher_answers()

    assert validate(fields, answers, complete=True, references=AMOUNT) == {}
    assert missing_required(fields, answers) == []
    clean = normalise(fields, answers)
    assert clean["no_double_funding"] is True
    assert clean["provider_country"] == "IT"
    assert clean["budget_lines"] == [
        {"item": "Salt-spray tests", "category": "Testing and qualification", "cost": "6000.00"},
        {"item": "Sea trials support", "category": "Service provider fees", "cost": "2000.00"},
    ]
    assert group_totals(by_name(fields)["budget_lines"], clean["budget_lines"]) == {
        "cost": Decimal("8000.00")
    }
    # The lines must add up to the requested amount.
    errors = validate(fields, answers, references={"requested_amount": Decimal("7500")})
    assert errors == {
        "budget_lines.total.cost": "The total of Cost (EUR) is EUR 8,000.00; it must equal "
        "the requested amount (EUR 7,500.00)."
    }


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
    assert missing_required(fields, {}) == [f.label for f in fields if f.required]


# -- multiple choice ---------------------------------------------------------------------------
MULTI = {"type": "multi_choice", "options": ["Sonar", "Radar", "Lidar"], "max_choices": 2}


def test_multi_choice_answers_are_lists_in_option_order() -> None:
    field = one(MULTI)
    assert check(MULTI, ["Radar", "Sonar"]) == {}
    assert check(MULTI, "Radar") == {}  # a single option as text is a list of one
    assert normalise([field], {"f": ["Radar", " Sonar ", "Radar"]}) == {"f": ["Sonar", "Radar"]}
    assert normalise([field], {"f": "Lidar"}) == {"f": ["Lidar"]}
    assert normalise([field], {"f": []}) == {}
    assert normalise([field], {"f": ["", " "]}) == {}


def test_multi_choice_refuses_unknown_options_and_too_many() -> None:
    assert check(MULTI, ["Sonar", "Sonnar"]) == {
        "f": "Sonnar is not an option. Choose from: Sonar; Radar; Lidar."
    }
    assert check(MULTI, ["Sonar", "Radar", "Lidar"]) == {"f": "Choose at most 2; you chose 3."}
    assert "Choose from" in check(MULTI, 5)["f"]
    # Kept as typed in a draft, never lost.
    assert normalise([one(MULTI)], {"f": ["Sonnar"]}) == {"f": ["Sonnar"]}


def test_required_multi_choice_needs_one_option() -> None:
    fields = [one({**MULTI, "required": True})]
    assert validate(fields, {"f": []}, complete=True) == {
        "f": "Choose at least one option for The field."
    }
    assert missing_required(fields, {"f": [""]}) == ["The field"]
    assert missing_required(fields, {"f": ["Lidar"]}) == []


# -- country -----------------------------------------------------------------------------------
def test_country_is_an_iso_code_stored_upper_case() -> None:
    field = one({"type": "country"})
    assert check({"type": "country"}, "IT") == {}
    assert normalise([field], {"f": " hr "}) == {"f": "HR"}
    for bad in ("Italy", "XX", "ITA", 39):
        assert check({"type": "country"}, bad) == {"f": "Choose a country from the list."}
    codes = [code for code, _name in country_choices(field)]
    assert len(codes) > 240 and {"IT", "FR", "NL", "BE", "HR"} <= set(codes)


def test_country_restricted_to_a_list() -> None:
    field = {"type": "country", "countries": ["it", "FR", "NL", "BE", "HR"]}
    assert one(field).countries == ("IT", "FR", "NL", "BE", "HR")
    assert check(field, "be") == {}
    message = check(field, "DE")["f"]
    assert message.startswith("Germany is not eligible here. Choose one of: Italy, France")
    assert [name for _code, name in country_choices(one(field))] == [
        "Belgium",
        "Croatia",
        "France",
        "Italy",
        "Netherlands",
    ]


def test_required_country() -> None:
    fields = [one({"type": "country", "required": True})]
    assert validate(fields, {}, complete=True) == {"f": "Choose a country for The field."}


# -- file --------------------------------------------------------------------------------------
def test_file_answers_are_attachment_ids() -> None:
    field = one({"type": "file", "accept": ["PDF", "jpg"], "max_mb": 5})
    assert field.accept == ("pdf", "jpeg")
    assert field.file_max_bytes == 5 * 1024 * 1024
    assert one({"type": "file"}).file_max_bytes == 10 * 1024 * 1024
    assert one({"type": "file"}).accepted_kinds == ("pdf", "docx", "xlsx", "png", "jpeg")
    assert check({"type": "file"}, 12) == {}
    assert normalise([field], {"f": "12"}) == {"f": 12}
    for bad in ("quote.pdf", 0, -1, True, "²", "1" * 40):
        assert check({"type": "file"}, bad) == {"f": "Upload the file again."}
    assert validate([one({"type": "file", "required": True})], {}, complete=True) == {
        "f": "Upload The field."
    }


# -- groups ------------------------------------------------------------------------------------
WORK_PACKAGES = {
    "name": "work_packages",
    "label": "Work packages",
    "type": "group",
    "required": True,
    "min_items": 2,
    "max_items": 3,
    "fields": [
        {"name": "title", "label": "Title", "type": "text", "required": True},
        {"name": "start", "label": "Start", "type": "date"},
        {"name": "end", "label": "End", "type": "date", "not_before": "start"},
        {"name": "months", "label": "Person-months", "type": "number"},
        {"name": "cost", "label": "Cost", "type": "money", "required": True},
    ],
    "totals": ["cost", "months"],
    "total_max": 10000,
}


def wp(title: str = "Training", cost: object = "1000", **more: object) -> dict[str, object]:
    return {"title": title, "cost": cost, **more}


def test_group_items_are_validated_with_paths() -> None:
    fields = parse_form([WORK_PACKAGES])
    answers = {
        "work_packages": [
            wp(),
            wp("Pilot", "lots", start="2026-05-01", end="2026-04-01", months="1,000"),
        ]
    }
    assert validate(fields, answers) == {
        "work_packages[1].cost": validate([one({"type": "money"})], {"f": "lots"})["f"],
        "work_packages[1].end": "End cannot be before Start (2026-05-01).",
        "work_packages[1].months": validate([one({"type": "number"})], {"f": "1,000"})["f"],
    }
    assert describe(fields, "work_packages[1].cost") == "Work packages, line 2: Cost"
    assert describe(fields, "work_packages") == "Work packages"
    assert describe(fields, "work_packages.total.cost") == "Work packages: total of Cost"
    assert describe(fields, "unknown[0].x") == "unknown[0].x"


def test_group_required_sub_fields_and_item_counts_when_complete() -> None:
    fields = parse_form([WORK_PACKAGES])
    # A draft may be half-filled.
    assert validate(fields, {"work_packages": [{"title": "Only a title"}]}) == {}
    errors = validate(fields, {"work_packages": [{"title": "Only a title"}]}, complete=True)
    assert errors == {
        "work_packages[0].cost": "Fill in Cost.",
        "work_packages": "Give at least 2 lines; you have 1.",
    }
    assert validate(fields, {}, complete=True) == {
        "work_packages": "Add at least 2 lines to Work packages."
    }
    assert missing_required(fields, {"work_packages": [{"title": "T"}]}) == [
        "Work packages (at least 2 lines)",
        "Work packages, line 1: Cost",
    ]
    assert missing_required(fields, {}) == ["Work packages"]
    too_many = {"work_packages": [wp(str(i), "1") for i in range(4)]}
    assert validate(fields, too_many) == {"work_packages": "Give at most 3 lines; you have 4."}


def test_empty_lines_are_dropped_and_indices_count_the_kept_ones() -> None:
    fields = parse_form([WORK_PACKAGES])
    blank = {"title": " ", "cost": "", "start": ""}
    answers = {"work_packages": [blank, wp("A"), blank, wp("B", "x")]}
    assert set(validate(fields, answers)) == {"work_packages[1].cost"}
    assert group_rows(answers["work_packages"]) == [wp("A"), wp("B", "x")]
    clean = normalise(fields, answers)
    assert clean == {
        "work_packages": [{"title": "A", "cost": "1000.00"}, {"title": "B", "cost": "x"}]
    }
    assert normalise(fields, {"work_packages": [blank]}) == {}
    assert normalise(fields, {"work_packages": "garbage"}) == {"work_packages": "garbage"}
    assert validate(fields, {"work_packages": "garbage"}) == {
        "work_packages": "These answers could not be read; fill in the lines again."
    }
    assert validate(fields, {"work_packages": [wp(), "x"]}) == {
        "work_packages[1]": "Line 2 could not be read; fill it in again."
    }


def test_group_totals_are_computed_and_capped() -> None:
    fields = parse_form([WORK_PACKAGES])
    group = fields[0]
    answers = {"work_packages": [wp(cost="6000", months="2.5"), wp(cost="4000,50", months="1")]}
    assert group_totals(group, answers["work_packages"]) == {
        "cost": Decimal("10000.50"),
        "months": Decimal("3.5"),
    }
    assert validate(fields, answers) == {
        "work_packages.total.cost": "The total of Cost is EUR 10,000.50; it cannot be more "
        "than EUR 10,000.00."
    }
    # A line whose amount does not read: that is reported, not a misleading total.
    answers["work_packages"][1]["cost"] = "4,000"  # 4 or 4000?
    assert set(validate(fields, answers)) == {"work_packages[1].cost"}
    assert group_totals(group, answers["work_packages"])["cost"] == Decimal("6000.00")


def test_group_total_must_equal_another_field_or_the_requested_amount() -> None:
    fields = parse_form(
        [
            {"name": "budget", "label": "Total budget", "type": "money"},
            {
                "name": "lines",
                "label": "Budget lines",
                "type": "group",
                "fields": [{"name": "cost", "label": "Cost", "type": "money"}],
                "totals": ["cost"],
                "must_equal": "budget",
            },
            {
                "name": "asked",
                "label": "Asked",
                "type": "group",
                "fields": [{"name": "cost", "label": "Cost", "type": "money"}],
                "totals": ["cost"],
                "must_equal": "requested_amount",
            },
        ]
    )
    lines = [{"cost": "500"}, {"cost": "250"}]
    assert validate(fields, {"budget": "750", "lines": lines}) == {}
    assert validate(fields, {"budget": "700", "lines": lines}) == {
        "lines.total.cost": "The total of Cost is EUR 750.00; it must equal Total budget "
        "(EUR 700.00)."
    }
    # Nothing to compare with yet (a draft): no complaint.
    assert validate(fields, {"lines": lines, "asked": lines}) == {}
    assert (
        validate(fields, {"asked": lines}, references={"requested_amount": Decimal("750.00")}) == {}
    )
    assert (
        "it must equal the requested amount (EUR 800.00)"
        in validate(fields, {"asked": lines}, references={"requested_amount": Decimal("800")})[
            "asked.total.cost"
        ]
    )
    # No items: nothing to add up.
    assert validate(fields, {"budget": "700", "lines": []}) == {}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"fields": []}, "a group needs a non-empty list of fields"),
        ({"fields": None}, "a group needs a non-empty list of fields"),
        (
            {"fields": [{"name": "q", "label": "Q", "type": "file"}]},
            "a group's sub-field must be one of",
        ),
        (
            {"fields": [{"name": "q", "label": "Q", "type": "group", "fields": []}]},
            "a group's sub-field must be one of",
        ),
        (
            {"fields": [{"name": "a", "label": "A", "type": "text"}] * 2},
            "duplicate name 'a'",
        ),
        (
            {"fields": [{"name": "a", "label": "A", "type": "date", "not_before": "zz"}]},
            "not_before must name another date field",
        ),
        ({"totals": ["title"]}, "totals must name money or number sub-fields"),
        ({"totals": ["nope"]}, "totals must name money or number sub-fields"),
        ({"totals": "cost"}, "totals must be a list"),
        ({"totals": [], "total_max": 5}, "total_max needs totals"),
        ({"totals": [], "must_equal": "requested_amount"}, "must_equal needs totals"),
        ({"total_max": "lots"}, "total_max must be written with digits"),
        ({"total_max": -1}, "total_max cannot be negative"),
        ({"must_equal": "title"}, "must_equal must name a money or number field"),
        ({"must_equal": "nothing"}, "or one of: requested_amount"),
        ({"min_items": 4}, "min_items cannot be more than max_items"),
        ({"min_items": -1}, "min_items must be a whole number"),
        ({"max_items": 0}, "max_items must be a whole number from 1"),
        ({"max_items": 51}, "max_items must be a whole number from 1 to 50"),
    ],
)
def test_bad_group_definitions_are_refused(change: dict, expected: str) -> None:
    with pytest.raises(FormDefinitionError) as exc:
        parse_form([{**WORK_PACKAGES, **change}])
    assert expected in str(exc.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"type": "multi_choice"}, "a multi_choice field needs a non-empty list of options"),
        ({"type": "multi_choice", "options": ["a"], "max_choices": 0}, "max_choices must be"),
        (
            {"type": "choice", "options": ["a"], "max_choices": 1},
            "max_choices only applies to country_list or multi_choice fields",
        ),
        ({"type": "choice", "options": [True, False]}, "quote options such as 'yes'"),
        ({"type": "country", "countries": ["IT", "XX"]}, "'XX' is not an ISO 3166-1 alpha-2"),
        ({"type": "country", "countries": ["IT", False]}, "write 'NO' for Norway in quotes"),
        ({"type": "country", "countries": "IT"}, "countries must be a list"),
        (
            {"type": "text", "countries": ["IT"]},
            "countries only applies to country or country_list fields",
        ),
        ({"type": "file", "accept": ["exe"]}, "accept 'exe' is not one of: pdf, docx"),
        ({"type": "file", "accept": "pdf"}, "accept must be a list"),
        ({"type": "file", "max_mb": 0}, "max_mb must be a whole number from 1 to 25"),
        ({"type": "file", "max_mb": 26}, "max_mb must be a whole number from 1 to 25"),
        ({"type": "text", "max_mb": 2}, "max_mb only applies to file fields"),
        ({"type": "text", "fields": [{}]}, "fields only applies to group fields"),
    ],
)
def test_bad_definitions_of_the_new_types_are_refused(raw: dict, expected: str) -> None:
    with pytest.raises(FormDefinitionError) as exc:
        parse_form([{"name": "f", "label": "F", **raw}])
    assert expected in str(exc.value)


def test_dump_form_round_trips() -> None:
    raw = [
        WORK_PACKAGES,
        {"name": "quote", "label": "Quote", "type": "file", "accept": ["pdf"], "max_mb": 2},
        {"name": "where", "label": "Where", "type": "country", "countries": ["it"]},
        {"name": "m", "label": "M", "type": "money", "max": "1500.50", "help": " h "},
        *VOUCHER_FORM,
    ]
    fields = parse_form(raw)
    dumped = dump_form(fields)
    assert parse_form(dumped) == fields
    assert dumped[0]["total_max"] == 10000 and dumped[3]["max"] == "1500.50"
    assert dumped[2]["countries"] == ["IT"] and dumped[3]["help"] == "h"
    assert json.loads(json.dumps(dumped)) == dumped


# -- country lists -----------------------------------------------------------------------------
OUTSIDE_EU = {"type": "country_list", "exclude_countries": ["EU"], "max_choices": 5}


def test_the_eu_set_is_the_member_states_and_their_parts_with_codes_of_their_own() -> None:
    assert len(EU_MEMBER_STATES) == 27 and EU_MEMBER_STATES <= EU_COUNTRIES
    parts = EU_COUNTRIES - EU_MEMBER_STATES
    assert parts == {"AX", "GF", "GP", "MF", "MQ", "RE", "YT"}
    assert {"DE", "GR", "HR", "RE"} <= EU_COUNTRIES
    assert not {"GB", "NO", "CH", "GL", "NC", "BL"} & EU_COUNTRIES
    assert COUNTRY_SETS["EU"].codes == EU_COUNTRIES


def test_country_list_outside_the_eu_is_parsed_with_the_set_kept_by_name() -> None:
    field = one(OUTSIDE_EU)
    assert field.type is FieldType.COUNTRY_LIST and field.exclude_countries == ("EU",)
    assert {"CN", "BR", "US", "NO", "GB"} <= field.allowed_countries
    assert not field.allowed_countries & EU_COUNTRIES
    codes = {code for code, _name in country_choices(field)}
    assert codes == field.allowed_countries and "DE" not in codes
    # One set may be written alone, in any case (YAML: `exclude_countries: EU`).
    assert one({"type": "country_list", "exclude_countries": "eu"}).exclude_countries == ("EU",)
    # The definition keeps the name, so it reads back as it was written.
    assert dump_form([field]) == [
        {
            "name": "f",
            "label": "The field",
            "type": "country_list",
            "max_choices": 5,
            "exclude_countries": ["EU"],
        }
    ]
    assert parse_form(dump_form([field])) == [field]
    restricted = one({"type": "country", "countries": ["eu", "no", "IS", "LI"]})
    assert restricted.countries == ("EU", "NO", "IS", "LI")
    assert restricted.allowed_countries == EU_COUNTRIES | {"NO", "IS", "LI"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"type": "country_list", "exclude_countries": ["EU", "XX"]},
            "'XX' is not an ISO 3166-1 alpha-2 country code or a set of countries (EU)",
        ),
        (
            {"type": "country_list", "exclude_countries": "Europe"},
            "exclude_countries must be a list of ISO alpha-2 codes such as [IT, FR], or the "
            "name of a set of countries (EU)",
        ),
        ({"type": "country_list", "countries": ["EU", False]}, "write 'NO' for Norway in quotes"),
        (
            {"type": "country_list", "countries": ["US"], "exclude_countries": ["EU"]},
            "give countries (only these) or exclude_countries (every country but these), not both",
        ),
        (
            {
                "type": "country",
                "exclude_countries": sorted(c.alpha_2 for c in pycountry.countries),
            },
            "exclude_countries leaves no country to choose",
        ),
        (
            {"type": "country_list", "min_choices": 3, "max_choices": 2},
            "min_choices cannot be more than max_choices",
        ),
        (
            {"type": "country_list", "countries": ["IT", "FR"], "min_choices": 3},
            "min_choices is 3, but there are only 2 to choose from",
        ),
        (
            {"type": "multi_choice", "options": ["a", "b"], "min_choices": 3},
            "min_choices is 3, but there are only 2 to choose from",
        ),
        ({"type": "country_list", "min_choices": 0}, "min_choices must be a whole number of at"),
        ({"type": "country_list", "max_choices": "5"}, "max_choices must be a whole number"),
        (
            {"type": "text", "exclude_countries": ["EU"]},
            "exclude_countries only applies to country or country_list fields",
        ),
        (
            {"type": "choice", "options": ["a"], "min_choices": 1},
            "min_choices only applies to country_list or multi_choice fields",
        ),
        (
            {"type": "group", "fields": [{"name": "m", "label": "M", "type": "country_list"}]},
            "a group's sub-field must be one of",
        ),
    ],
)
def test_bad_country_list_definitions_are_refused(raw: dict, expected: str) -> None:
    with pytest.raises(FormDefinitionError) as exc:
        parse_form([{"name": "f", "label": "F", **raw}])
    assert expected in str(exc.value)


def test_country_list_answers_are_codes_in_the_order_chosen_each_once() -> None:
    field = one(OUTSIDE_EU)
    assert check(OUTSIDE_EU, ["CN", "BR"]) == {}
    # The dropdowns left at "none" post blanks; a code twice counts once.
    assert normalise([field], {"f": ["cn", " BR ", "", "CN", ""]}) == {"f": ["CN", "BR"]}
    assert normalise([field], {"f": "us"}) == {"f": ["US"]}  # a single code is a list of one
    assert normalise([field], {"f": ["", ""]}) == {}
    assert display.display_value(field, ["CN", "BR", "VG"]) == (
        "China (CN); Brazil (BR); Virgin Islands, British (VG)"
    )


def test_country_list_refuses_eu_countries_by_name() -> None:
    assert check(OUTSIDE_EU, ["DE", "CN"]) == {
        "f": "Germany is in the EU: choose countries outside the EU."
    }
    assert check(OUTSIDE_EU, ["US", "FR", "DE"]) == {
        "f": "France, Germany are in the EU: choose countries outside the EU."
    }
    # Parts of member states with codes of their own are in the EU too.
    assert check(OUTSIDE_EU, ["RE"]) == {
        "f": "Réunion is in the EU: choose countries outside the EU."
    }
    # A draft keeps what was chosen, refused or not, without the blanks.
    assert normalise([one(OUTSIDE_EU)], {"f": ["DE", "", "CN"]}) == {"f": ["DE", "CN"]}
    single = {"type": "country", "exclude_countries": "EU"}
    assert check(single, "de") == {"f": "Germany is in the EU: choose a country outside the EU."}
    assert check(single, "NO") == {}


def test_country_list_refuses_unknown_codes_restricted_and_excluded_countries() -> None:
    assert check(OUTSIDE_EU, ["CN", "XX", "ZZ"]) == {
        "f": "XX, ZZ: not a country code. Choose the countries from the list."
    }
    for bad in (5, [5], {"CN": True}):
        assert check(OUTSIDE_EU, bad) == {"f": "Choose the countries from the list."}
    eea = {"type": "country_list", "countries": ["EU", "NO", "IS", "LI"]}
    assert check(eea, ["IT", "NO"]) == {}
    assert check(eea, ["CN"]) == {
        "f": "China is not eligible here. Choose one of: the EU, Norway, Iceland, Liechtenstein."
    }
    assert check(eea, ["CN", "US", "IT"]) == {
        "f": "China, United States are not eligible here. Choose from: the EU, Norway, Iceland, "
        "Liechtenstein."
    }
    assert check({"type": "country_list", "exclude_countries": ["CU"]}, ["CU"]) == {
        "f": "Cuba cannot be chosen here."
    }


def test_country_list_minimum_and_maximum() -> None:
    assert check(OUTSIDE_EU, ["US", "CA", "MX", "BR", "AR"]) == {}
    assert check(OUTSIDE_EU, ["US", "CA", "MX", "BR", "AR", "CL"]) == {
        "f": "Choose at most 5 countries; you chose 6."
    }
    assert check(OUTSIDE_EU, ["US", "CA", "MX", "BR", "AR", "US"]) == {}  # repeats count once
    fields = [one({**OUTSIDE_EU, "required": True, "min_choices": 2})]
    # A draft may hold fewer; a complete answer may not.
    assert validate(fields, {"f": ["CN"]}) == {}
    assert validate(fields, {"f": ["CN", ""]}, complete=True) == {
        "f": "Choose at least 2; you chose 1."
    }
    assert validate(fields, {"f": ["", ""]}, complete=True) == {
        "f": "Choose at least one country for The field."
    }
    assert missing_required(fields, {"f": ["CN", "cn"]}) == ["The field (at least 2)"]
    assert missing_required(fields, {"f": ["", ""]}) == ["The field"]
    assert missing_required(fields, {"f": ["CN", "BR"]}) == []
    assert validate(fields, {"f": ["CN", "BR"]}, complete=True) == {}
    # Optional without a minimum: nothing is missing.
    assert missing_required([one(OUTSIDE_EU)], {}) == []
    assert validate([one(OUTSIDE_EU)], {}, complete=True) == {}


def test_multi_choice_minimum_when_complete() -> None:
    fields = [one({**MULTI, "min_choices": 2})]
    assert validate(fields, {"f": ["Sonar"]}) == {}
    assert validate(fields, {"f": ["Sonar"]}, complete=True) == {
        "f": "Choose at least 2; you chose 1."
    }
    # Like a group's min_items, the minimum holds even when the field is optional.
    assert validate(fields, {}, complete=True) == {"f": "Choose at least 2; you chose 0."}
    assert missing_required(fields, {"f": ["Sonar"]}) == ["The field (at least 2)"]
    assert missing_required(fields, {"f": ["Sonar", "Radar"]}) == []


def test_country_slots_show_what_was_chosen_then_empty_dropdowns() -> None:
    field = one(OUTSIDE_EU)
    slots = field.country_slots(["DE", "", "cn"])
    assert [(s.code, s.name, s.offered) for s in slots] == [
        ("DE", "Germany", False),  # refused, still shown until changed
        ("CN", "China", True),
        ("", "", True),
        ("", "", True),
        ("", "", True),
    ]
    assert len(field.country_slots(None)) == 5
    assert len(field.country_slots("['CN', 'BR']")) == 5  # never fails on a stray value
    # Over the maximum (a draft): every country chosen is shown.
    assert len(field.country_slots(["US", "CA", "MX", "BR", "AR", "CL"])) == 6
    unlimited = one({"type": "country_list"})
    assert len(unlimited.country_slots([])) == 5
    assert len(unlimited.country_slots(["US", "CA", "MX", "BR", "AR"])) == 6  # one spare
    assert len(one({"type": "country_list", "countries": ["IT", "FR"]}).country_slots([])) == 2


# -- the internationalisation voucher form -----------------------------------------------------
def good_internationalisation_answers() -> dict[str, object]:
    return {
        "summary": "We will approach navies and shipyards in Brazil and Chile with an export "
        "consultancy to sell our composite patrol-boat hulls.",
        "target_markets": ["BR", "CL", "", "", ""],
        "market_analysis": "Both navies are renewing coastal patrol fleets within five years.",
        "market_entry_plan": "M1-M2 market study; M3 stand at LAAD; M4-M6 meetings, offers.",
        "service_provider": "Export Naval Consulting S.r.l.",
        "provider_country": "IT",
        "provider_expertise": "Ten defence export projects in South America since 2016.",
        "expected_results": "Fifteen meetings with buyers, two offers, one local agent.",
        "start_date": "2026-04-01",
        "end_date": "2026-09-30",
        "budget_lines": [
            {"item": "Market study", "category": "Market study", "cost": "1200"},
            {"item": "LAAD stand", "category": "Trade fair or business mission", "cost": "800"},
        ],
        "no_double_funding": True,
    }


def test_internationalisation_form_is_a_valid_definition() -> None:
    fields = parse_form(INTERNATIONALISATION_FORM)
    named = by_name(fields)
    markets = named["target_markets"]
    assert markets.type is FieldType.COUNTRY_LIST and markets.required
    assert markets.exclude_countries == ("EU",) and markets.max_choices == 5
    assert markets.choice_minimum == 1
    for name in ("market_analysis", "market_entry_plan", "provider_expertise"):
        assert named[name].type is FieldType.LONG_TEXT and named[name].required
        assert named[name].max_words
    assert all(f.help for f in fields)
    assert not {"project_title", "requested_amount"} & set(named)
    assert {f.name for f in fields if not f.required} == {"provider_quote"}
    budget = named["budget_lines"]
    assert budget.must_equal == "requested_amount" and budget.totals == ("cost",)
    assert budget.sub("category").options == INTERNATIONALISATION_BUDGET_CATEGORIES
    # The questions both vouchers ask are the same questions.
    upskilling = by_name(parse_form(VOUCHER_FORM))
    for name in ("summary", "provider_country", "start_date", "end_date", "provider_quote"):
        assert named[name] == upskilling[name]
    assert fields[-1] == upskilling["no_double_funding"]
    assert named["service_provider"].label == upskilling["service_provider"].label
    assert INTERNATIONALISATION_FORM[0] is not VOUCHER_FORM[0]  # copies, never shared
    json.dumps(INTERNATIONALISATION_FORM)  # stored as JSON on the call
    assert parse_form(dump_form(fields)) == fields


def test_internationalisation_form_accepts_a_complete_application() -> None:
    fields = parse_form(INTERNATIONALISATION_FORM)
    answers = good_internationalisation_answers()
    amount = {"requested_amount": Decimal("2000.00")}

    assert validate(fields, answers, complete=True, references=amount) == {}
    assert missing_required(fields, answers) == []
    assert normalise(fields, answers)["target_markets"] == ["BR", "CL"]
    # An EU market is refused by name; none at all is missing.
    with_germany = answers | {"target_markets": ["DE", "BR"]}
    assert validate(fields, with_germany, complete=True, references=amount) == {
        "target_markets": "Germany is in the EU: choose countries outside the EU."
    }
    assert missing_required(fields, answers | {"target_markets": ["", ""]}) == [
        "Target markets outside the EU"
    ]
    # The budget still adds up to the requested amount.
    assert validate(fields, answers, references={"requested_amount": Decimal("1500")}) == {
        "budget_lines.total.cost": "The total of Cost (EUR) is EUR 2,000.00; it must equal "
        "the requested amount (EUR 1,500.00)."
    }
