"""The step registry covers every transition of every workflow, and what it names exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from grants import steps
from grants.services import notifications
from grants.steps import REGISTRY, Step
from workflows.registry import all_workflows
from workflows.states import Badge

TEMPLATES = Path(__file__).resolve().parents[2] / "grants" / "templates"
TRANSITIONS = sorted({(d.name, t.trigger) for d in all_workflows() for t in d.transitions})
ENTRIES = sorted(REGISTRY.values(), key=lambda s: (s.workflow, s.trigger))


def _id(step: Step) -> str:
    return f"{step.workflow}.{step.trigger}"


@pytest.mark.parametrize(("workflow", "trigger"), TRANSITIONS, ids=lambda v: str(v))
def test_every_transition_has_a_registry_entry(workflow: str, trigger: str) -> None:
    assert steps.find(workflow, trigger) is not None, (
        f"{workflow}.{trigger} has no entry in grants/steps: add one (see README, "
        "'Adding a workflow step')"
    )


def test_every_entry_is_a_transition_of_its_workflow() -> None:
    assert {(s.workflow, s.trigger) for s in ENTRIES} <= set(TRANSITIONS)


@pytest.mark.parametrize("step", ENTRIES, ids=_id)
def test_an_entry_says_how_people_perform_it_and_read_it(step: Step) -> None:
    assert step.done_label and "_" not in step.done_label and step.done_label != step.trigger
    if step.panel:
        assert (TEMPLATES / step.panel).is_file(), f"{step.panel} does not exist"
        assert step.perform is not None and step.title and step.button and step.done
    else:
        assert step.performed_in, "a step without a panel must say where it is performed"
    if step.danger:
        assert step.confirm, "an irreversible step asks before it acts"


@pytest.mark.parametrize("step", [s for s in ENTRIES if s.notify], ids=_id)
def test_every_notice_names_a_mail_template_that_exists(step: Step) -> None:
    for notice in step.notify:
        template = notifications.template(notice.mail)
        assert "subject" in template.blocks, f"{notice.mail} has no subject block"


@pytest.mark.parametrize("definition", all_workflows(), ids=lambda d: d.key)
def test_every_state_has_its_facts(definition: object) -> None:
    from workflows.definition import WorkflowDefinition

    assert isinstance(definition, WorkflowDefinition)
    missing = set(definition.states) - set(definition.facts)
    assert not missing, f"{definition.key}: no facts for {sorted(missing)}"
    for state in definition.states:
        facts = definition.fact(state)
        assert facts.label and "_" not in facts.label
        assert facts.badge in Badge
        if facts.deadline is not None:
            assert facts.applicant_acts and facts.after_deadline


def test_an_unregistered_step_is_refused_by_name() -> None:
    with pytest.raises(LookupError, match=r"no registry entry for voucher\.teleport"):
        steps.step("voucher", "teleport")
