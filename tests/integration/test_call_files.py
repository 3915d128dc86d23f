"""Calls kept as YAML files: `cascade call export` and `cascade call import` round-trip a
call unchanged; a broken file is refused naming every mistake and makes nothing."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import Result
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from forms.defaults import INTERNATIONALISATION_FORM
from grants.models import AuditEvent, Call
from tests.scenario import Scenario

Invoke = Callable[..., Result]


@pytest.fixture
def cascade(app: Flask) -> Invoke:
    runner = app.test_cli_runner()

    def invoke(*args: str) -> Result:
        return runner.invoke(args=list(args))

    return invoke


def calls_named(sessions: sessionmaker[Session], reference: str) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).where(Call.reference == reference)) or 0


def test_a_call_exported_and_imported_is_the_same_call(
    cascade: Invoke, scenario: Scenario, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    source = scenario.add_call(
        form=list(INTERNATIONALISATION_FORM),
        reserve=Decimal("15000"),
        divergence_limit=Decimal("1.5"),
        redress_days=7,
        eligibility_rules={"min_registration_months": None, "de_minimis_check": True},
    )
    with sessions() as session:
        reference = session.get(Call, source).reference  # type: ignore[union-attr]
    exported = cascade("call", "export", reference)
    assert exported.exit_code == 0, exported.output
    text = exported.output
    assert f"reference: {reference}" in text and "reserve: '15000'" in text
    assert "type: country_list" in text

    path = tmp_path / "call.yaml"
    path.write_text(text, encoding="utf-8")
    copy = f"{reference}-COPY"
    imported = cascade("call", "import", str(path), "--reference", copy)
    assert imported.exit_code == 0, imported.output
    assert f"draft call {copy} imported" in imported.output

    again = cascade("call", "export", copy)
    assert again.exit_code == 0
    assert again.output == text.replace(f"reference: {reference}", f"reference: {copy}")
    with sessions() as session:
        made = session.scalars(select(Call).where(Call.reference == copy)).one()
        assert made.status == "draft" and made.reserve == Decimal("15000.00")
        assert made.form == list(INTERNATIONALISATION_FORM)
        created = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "create_call", AuditEvent.entity_id == copy
            )
        ).one()
        assert created.actor_name == "cascade command line"


def test_importing_the_same_reference_twice_is_refused(
    cascade: Invoke, scenario: Scenario, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions() as session:
        reference = session.get(Call, scenario.call_id).reference  # type: ignore[union-attr]
    path = tmp_path / "call.yaml"
    path.write_text(cascade("call", "export", reference).output, encoding="utf-8")
    refused = cascade("call", "import", str(path))
    assert refused.exit_code == 1 and "already exists" in refused.output
    assert calls_named(sessions, reference) == 1


def test_a_broken_file_names_every_mistake_and_makes_nothing(
    cascade: Invoke, scenario: Scenario, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions() as session:
        reference = session.get(Call, scenario.call_id).reference  # type: ignore[union-attr]
    document = yaml.safe_load(cascade("call", "export", reference).output)
    document["reference"] = f"{reference}-BROKEN"
    document["budget"] = "a lot"
    document["deadline"] = "next Friday"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    refused = cascade("call", "import", str(path))
    assert refused.exit_code == 1
    assert "budget:" in refused.output and "deadline:" in refused.output
    assert calls_named(sessions, f"{reference}-BROKEN") == 0

    path.write_text("reference: [unclosed", encoding="utf-8")
    assert "not readable as YAML" in cascade("call", "import", str(path)).output


def test_a_deadline_in_the_autumn_hour_round_trips_as_the_instant_it_was(
    cascade: Invoke, scenario: Scenario, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions() as session:
        reference = session.get(Call, scenario.call_id).reference  # type: ignore[union-attr]
    document = yaml.safe_load(cascade("call", "export", reference).output)
    document["reference"] = f"{reference}-AUTUMN"
    document["timezone"] = "Europe/Rome"
    document["opening"] = "2030-09-01 09:00"
    document["deadline"] = "2030-10-27 02:30"  # the clocks go back at 03:00 that night
    path = tmp_path / "autumn.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    refused = cascade("call", "import", str(path))
    assert refused.exit_code == 1 and "happens twice" in refused.output
    assert "00:30 UTC" in refused.output and "01:30 UTC" in refused.output

    document["folds"] = {"deadline": 1}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert cascade("call", "import", str(path)).exit_code == 0
    with sessions() as session:
        made = session.scalars(select(Call).where(Call.reference == f"{reference}-AUTUMN")).one()
        assert made.deadline.isoformat() == "2030-10-27T01:30:00+00:00"
    back = yaml.safe_load(cascade("call", "export", f"{reference}-AUTUMN").output)
    assert back["deadline"] == "2030-10-27 02:30" and back["folds"] == {"deadline": 1}
