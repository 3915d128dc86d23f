"""Workflows declared as data: states, transitions, roles, guards and documents."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from workflows.roles import Role
from workflows.states import Badge, StateFacts


@dataclass(frozen=True)
class TransitionDef:
    trigger: str
    sources: tuple[str, ...]
    dest: str
    roles: frozenset[Role]
    label: str
    guards: tuple[str, ...] = ()
    document: str | None = None

    def __post_init__(self) -> None:
        # Plain strings: `transitions` treats Enum members as Enum states by their *name*.
        object.__setattr__(self, "sources", tuple(str(s) for s in self.sources))
        object.__setattr__(self, "dest", str(self.dest))


@dataclass(frozen=True)
class WorkflowDefinition:
    name: str
    version: int
    initial: str
    states: tuple[str, ...]
    transitions: tuple[TransitionDef, ...]
    final_states: frozenset[str] = field(default_factory=frozenset)
    # Facts about each state (badge, budget, who sees it, what next); not part of the
    # machine, so they never change its identity.
    facts: Mapping[str, StateFacts] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "initial", str(self.initial))
        object.__setattr__(self, "states", tuple(str(s) for s in self.states))
        object.__setattr__(self, "final_states", frozenset(str(s) for s in self.final_states))
        known = set(self.states)
        for t in self.transitions:
            unknown = ({t.dest, *t.sources}) - known
            if unknown:
                raise ValueError(f"{self.key}: transition {t.trigger} names unknown {unknown}")
        if self.facts.keys() - known:
            raise ValueError(f"{self.key}: facts for unknown {set(self.facts) - known}")
        if self.initial not in known:
            raise ValueError(f"{self.key}: unknown initial state {self.initial}")

    def fact(self, state: str) -> StateFacts:
        """The facts of ``state``; a state without facts reads as itself, neutral."""
        found = self.facts.get(str(state))
        if found is not None:
            return found
        return StateFacts(label=str(state).replace("_", " ").capitalize(), badge=Badge.NEUTRAL)

    def states_where(self, predicate: str) -> tuple[str, ...]:
        """The states whose fact ``predicate`` (e.g. ``holds_budget``) is true, in order."""
        return tuple(s for s in self.states if getattr(self.fact(s), predicate))

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def triggers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.trigger for t in self.transitions))

    def transitions_for(self, trigger: str, source: str | None = None) -> list[TransitionDef]:
        return [
            t
            for t in self.transitions
            if t.trigger == trigger and (source is None or source in t.sources)
        ]

    def label(self, trigger: str) -> str:
        found = self.transitions_for(trigger)
        return found[0].label if found else trigger.replace("_", " ")
