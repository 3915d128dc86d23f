"""What one workflow step is, declared once: the registry entries are built from these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flask_babel.speaklater import LazyString
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from grants.models import Application
from grants.services.actor import Actor


class Recipient(StrEnum):
    """Who a step's notice goes to; resolved to addresses by the notifications service."""

    APPLICANT = "applicant"  # the SME's people and its contact address
    EVALUATORS = "evaluators"  # the experts assigned and not yet declared
    FINANCE = "finance"  # the other active finance officers


@dataclass(frozen=True)
class Notice:
    to: Recipient
    # The mail template (grants/templates/mail/<mail>.txt); also the outbox's purpose.
    mail: str
    # Only when the step ends in one of these states (empty: always).
    when: frozenset[str] = frozenset()
    # Attach the step's PDF (the SME's letters); experts and finance get none.
    attach: bool = True


# What people read: translated when shown, in the reader's language (flask_babel.lazy_gettext).
Words = str | LazyString
# Parse the posted form and call the step's service; raise ValidationFailed on bad input.
Perform = Callable[[Session, Actor, int, MultiDict[str, str]], object]
# What a step's panel needs to show besides the application (choices, proposals, sums).
PanelContext = Callable[[Session, Application, Actor], dict[str, Any]]


@dataclass(frozen=True)
class Step:
    workflow: str
    trigger: str
    # How the timeline, the audit trail and mails name what happened.
    done_label: Words
    # Shown to the person after the step; ``{state}`` is the state it ended in.
    done: Words = ""
    perform: Perform | None = None
    # The panel on the application page that asks for the step's input.
    panel: str | None = None
    title: Words = ""
    button: Words = ""
    danger: bool = False
    # Irreversible steps ask first, with this question.
    confirm: Words | None = None
    context: PanelContext | None = None
    notify: tuple[Notice, ...] = ()
    # For a step without a panel: where people perform it (a maintainer's pointer).
    performed_in: str = ""
    # Its panel has a file input: the form is posted as multipart/form-data.
    uploads: bool = False
    # The endpoint its panel posts to, when not the generic step action (a step whose view
    # does more than the step: the final report saves its draft and files first).
    endpoint: str = ""

    def notices_for(self, dest: str) -> tuple[Notice, ...]:
        return tuple(n for n in self.notify if not n.when or dest in n.when)
