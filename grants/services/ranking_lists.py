"""Ranking a call's batch: the preview an officer reads, and its approval.

The preview computes the ranking of the batch without changing anything. Approving it
locks the call row, computes the same ranking again, refuses if it differs from the one the
officer saw (or was approved already), then in one transaction stores the approved list
(``ranked_lists``), writes the approval's audit event with the list's sha256, and applies
each application's ``rank`` step: only then are the result letters and notices queued.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from documents.kinds import TITLES, DocumentKind
from documents.render import render_pdf
from grants import programme
from grants.db import utcnow
from grants.errors import NotFound
from grants.formatting import format_eur, local_time, utc_time
from grants.models import Application, Call, Organisation, RankedList
from grants.services import audit
from grants.services.actor import Actor
from grants.services.applications import require_role
from grants.services.awards import PENDING_STATES, budget_remaining
from grants.services.snapshots import call_facts
from grants.services.workflow import PlannedStep, apply_many, load_call
from workflows import batches, ranking, scoring
from workflows.call import CallState
from workflows.errors import TransitionRefused
from workflows.i18n import _
from workflows.money import quantize
from workflows.roles import Role
from workflows.voucher import AppState

# Applications applied a batch at a time: a few statements each, whatever the list's size.
RANKING_BATCH = 500
TIE_BREAK_KEYS = ("excellence", "impact")
UNDECIDED = frozenset({*PENDING_STATES, str(AppState.EVALUATED)})


@dataclass(frozen=True)
class Row:
    """One application of the preview, as the page and the ranked list show it."""

    application: Application
    placement: ranking.Placement
    total: str
    reasons: list[str]


@dataclass
class RankingPreview:
    call: Call
    batch: batches.Batch | None
    batch_count: int
    rows: list[Row]
    ties: list[ranking.TieBreak]
    budget_available: Decimal
    selected_total: Decimal
    pending: int
    # Why it cannot be approved now, in words; empty when it can.
    blockers: list[str] = field(default_factory=list)
    fingerprint: str = ""
    approved: list[RankedList] = field(default_factory=list)

    @property
    def left_at_line(self) -> Decimal:
        return quantize(self.budget_available - self.selected_total)

    @property
    def approvable(self) -> bool:
        return not self.blockers

    def reference(self, application_id: int) -> str:
        return next(
            (r.application.reference for r in self.rows if r.application.id == application_id), ""
        )

    def batch_label(self) -> str:
        if self.batch is None or self.batch_count == 1:
            return _("the call")
        return _("batch %(number)s of %(count)s", number=self.batch.number, count=self.batch_count)


@dataclass(frozen=True)
class Approved:
    ranked_list: RankedList
    placements: list[ranking.Placement]


def _call_batches(call: Call) -> list[batches.Batch]:
    cutoffs = [datetime.fromisoformat(c) for c in call.cutoffs] if call.batch_ranking else []
    return batches.batches_of(cutoffs, call.deadline)


def _current_batch(
    session: Session, call: Call, all_batches: list[batches.Batch]
) -> batches.Batch | None:
    """The earliest batch with an application still undecided (None: nothing to rank)."""
    submitted = session.scalars(
        select(Application.submitted_at)
        .where(Application.call_id == call.id, Application.status.in_(UNDECIDED))
        .order_by(Application.submitted_at)
        .limit(1)
    ).first()
    return None if submitted is None else batches.batch_of(submitted, all_batches)


def _in_batch(batch: batches.Batch, last: bool) -> Any:
    condition = Application.submitted_at <= batch.closes_at
    if last:
        condition = Application.submitted_at.is_not(None)  # late ones belong to the last
    if batch.opens_after is not None:
        condition = condition & (Application.submitted_at > batch.opens_after)
    return condition


def _candidate(application: Application) -> ranking.Candidate:
    consensus = application.consensus or {}
    assert application.submitted_at is not None and application.requested_amount is not None
    return ranking.Candidate(
        application_id=application.id,
        scores={k: Decimal(v["score"]) for k, v in consensus["criteria"].items()},
        ranking_total=Decimal(consensus["ranking_total"]),
        passed=bool(consensus["passed"]),
        submitted_at=application.submitted_at,
        amount=application.requested_amount,
    )


def _status_blockers(call: Call) -> list[str]:
    batch_call = call.batch_ranking and call.status == CallState.PUBLISHED
    if call.status == CallState.EVALUATING or batch_call:
        return []
    if call.batch_ranking:
        return [_("ranking happens once the call is closed and in evaluation")]
    return [
        _(
            "ranking happens once the call is closed and in evaluation "
            "(this call has no cut-off batches)"
        )
    ]


def build_preview(
    session: Session, call: Call, now: datetime, *, lock: bool = False
) -> RankingPreview:
    """The ranking of the call's current batch, computed and not applied. ``lock``: the
    evaluated applications are locked (approval)."""
    all_batches = _call_batches(call)
    batch = _current_batch(session, call, all_batches)
    approved = list(
        session.scalars(
            select(RankedList).where(RankedList.call_id == call.id).order_by(RankedList.id)
        )
    )
    available = budget_remaining(session, call)
    preview = RankingPreview(
        call, batch, len(all_batches), [], [], available, Decimal(0), 0, approved=approved
    )
    preview.blockers = _status_blockers(call)
    if batch is None:
        preview.blockers.append(_("no evaluated application is waiting to be ranked"))
        return preview
    in_batch = _in_batch(batch, batch.last)
    preview.pending = (
        session.scalar(
            select(func.count(Application.id)).where(
                Application.call_id == call.id, Application.status.in_(PENDING_STATES), in_batch
            )
        )
        or 0
    )
    query = (
        select(Application)
        .where(
            Application.call_id == call.id,
            Application.status == AppState.EVALUATED,
            in_batch,
        )
        .order_by(Application.id)
        # What the result letters and notices read, loaded for all in a few queries.
        .options(selectinload(Application.organisation).selectinload(Organisation.users))
    )
    evaluated = list(session.scalars(query.with_for_update(of=Application) if lock else query))
    candidates = [_candidate(a) for a in evaluated]
    placements = ranking.rank(candidates, max(available, Decimal(0)))
    by_id = {a.id: a for a in evaluated}
    for placement in placements:
        application = by_id[placement.application_id]
        consensus = application.consensus or {}
        rejected = placement.outcome == ranking.REJECTED
        reasons = list(consensus.get("reasons", [])) if rejected else []
        preview.rows.append(Row(application, placement, str(consensus.get("total", "")), reasons))
        if placement.outcome == ranking.SELECTED:
            preview.selected_total += application.requested_amount or Decimal(0)
    labels = {c.key: c.name for c in scoring.criteria_from_config(call.criteria)}
    preview.ties = ranking.explain_ties(candidates, tie_break_keys=TIE_BREAK_KEYS, labels=labels)
    preview.blockers += _batch_blockers(preview, now)
    preview.fingerprint = _sha256(_entries(preview))
    return preview


def _batch_blockers(preview: RankingPreview, now: datetime) -> list[str]:
    batch, call = preview.batch, preview.call
    assert batch is not None
    blockers = []
    if now <= batch.closes_at:
        blockers.append(
            _(
                "%(batch)s takes the applications submitted until %(moment)s: it can be "
                "approved once that moment has passed",
                batch=preview.batch_label().capitalize(),
                moment=local_time(batch.closes_at, call.timezone),
            )
        )
    if preview.pending:
        blockers.append(
            _(
                "%(count)s application(s) are still in eligibility or evaluation; "
                "finish them first",
                count=preview.pending,
            )
        )
    if not preview.rows:
        blockers.append(_("no evaluated application is waiting to be ranked"))
    return blockers


def preview(
    session: Session, actor: Actor, call_id: int, *, now: datetime | None = None
) -> RankingPreview:
    """What approving would do now; nothing is written or sent."""
    require_role(actor, Role.OFFICER, Role.AUDITOR)
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound(f"no call {call_id}")
    return build_preview(session, call, now or utcnow())


def _entries(preview: RankingPreview) -> dict[str, Any]:
    """The list as approved: what its hash covers and the PDF prints."""
    batch = preview.batch
    return {
        "call": preview.call.reference,
        "batch": batch.number if batch else None,
        "batch_closes_at": batch.closes_at.isoformat() if batch else None,
        "budget_available": str(preview.budget_available),
        "selected_total": str(preview.selected_total),
        "entries": [
            {
                "application_id": row.application.id,
                "reference": row.application.reference,
                "outcome": row.placement.outcome,
                "rank": row.placement.rank,
                "reserve_position": row.placement.reserve_position,
                "total": row.total,
                "amount": str(row.application.requested_amount),
                "reasons": row.reasons,
            }
            for row in preview.rows
        ],
        "ties": [
            {"ahead": t.ahead, "behind": t.behind, "total": str(t.total), "reason": t.reason}
            for t in preview.ties
        ],
    }


def _sha256(content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _refuse_if_approved(session: Session, call: Call, fingerprint: str | None) -> None:
    if not fingerprint:
        return
    done = session.scalars(
        select(RankedList).where(
            RankedList.call_id == call.id, RankedList.list_sha256 == fingerprint
        )
    ).first()
    if done is not None:
        raise TransitionRefused(
            _(
                "this ranked list was already approved by %(name)s on %(at)s",
                name=done.approved_by_name,
                at=local_time(done.approved_at, call.timezone),
            )
        )


def approve(
    session: Session,
    actor: Actor,
    call_id: int,
    *,
    fingerprint: str | None = None,
    now: datetime | None = None,
) -> Approved:
    """Apply the batch's ranking as previewed (``fingerprint``: the list the officer saw;
    None applies the ranking as it stands, for commands and the demo)."""
    require_role(actor, Role.OFFICER)
    # Two approvals of one call queue here: the second sees the first's result.
    call = load_call(session, call_id)
    _refuse_if_approved(session, call, fingerprint)
    current = build_preview(session, call, now or utcnow(), lock=True)
    if current.blockers:
        raise TransitionRefused(current.blockers[0])
    if fingerprint and fingerprint != current.fingerprint:
        raise TransitionRefused(
            _(
                "the ranking changed since the preview was opened (an application was "
                "evaluated, withdrawn or the budget moved); look at it again before approving"
            )
        )
    ranked = _store(session, actor, current)
    steps = [_rank_step(row, ranked.id) for row in current.rows]
    # One transaction (a ranking is all or nothing), written a batch at a time.
    for start in range(0, len(steps), RANKING_BATCH):
        apply_many(session, actor, steps[start : start + RANKING_BATCH])
    return Approved(ranked, [row.placement for row in current.rows])


def _store(session: Session, actor: Actor, current: RankingPreview) -> RankedList:
    call, batch = current.call, current.batch
    assert batch is not None
    content = _entries(current)
    digest = current.fingerprint
    counts = {o: sum(r.placement.outcome == o for r in current.rows) for o in _OUTCOMES}
    event = audit.record(
        session,
        actor,
        "approve_ranking",
        entity_type="call",
        entity_id=call.reference,
        after={
            "batch": batch.number,
            "batch_closes_at": batch.closes_at,
            "list_sha256": digest,
            "budget_available": current.budget_available,
            "selected_total": current.selected_total,
            **counts,
        },
    )
    approved_at = utcnow()
    ranked = RankedList(
        call_id=call.id,
        batch=batch.number,
        batch_closes_at=batch.closes_at,
        approved_by_id=actor.user_id,
        approved_by_name=actor.name,
        approved_at=approved_at,
        entries=content["entries"],
        list_sha256=digest,
        document_id=str(uuid.uuid4()),
        snapshot={},
        audit_event_id=event.id,
    )
    ranked.snapshot = _snapshot(current, ranked, event.id, content)
    session.add(ranked)
    session.flush()
    return ranked


_OUTCOMES = (ranking.SELECTED, ranking.RESERVE, ranking.REJECTED)
_RESULT_WORDS = {
    ranking.SELECTED: "Selected",
    ranking.RESERVE: "Reserve list",
    ranking.REJECTED: "Not selected",
}


def _snapshot(
    current: RankingPreview, ranked: RankedList, event_id: int, content: dict[str, Any]
) -> dict[str, Any]:
    """The ranked list document's frozen data: rendering it again gives the same PDF."""
    call = current.call
    rows = []
    line_drawn = False
    for row in current.rows:
        placement = row.placement
        below = placement.outcome != ranking.SELECTED
        rows.append(
            {
                "rank": placement.rank or "",
                "reference": row.application.reference,
                "organisation": row.application.organisation.legal_name,
                "total": row.total,
                "amount": format_eur(row.application.requested_amount),
                "outcome": placement.outcome,
                "result": _RESULT_WORDS[placement.outcome]
                + (f" ({placement.reserve_position})" if placement.reserve_position else ""),
                "reasons": "; ".join(row.reasons),
                "line_before": below and not line_drawn,
            }
        )
        line_drawn = line_drawn or below
    references = {row.application.id: row.application.reference for row in current.rows}
    counts = [sum(r.placement.outcome == o for r in current.rows) for o in _OUTCOMES]
    return {
        "document": {
            "id": ranked.document_id,
            "kind": str(DocumentKind.RANKED_LIST),
            "title": TITLES[DocumentKind.RANKED_LIST],
            "generated_at": utc_time(ranked.approved_at),
        },
        "programme": {
            "name": programme.PROGRAMME_NAME,
            "funding_statement": programme.FUNDING_STATEMENT,
            "disclaimer": programme.DISCLAIMER,
        },
        "call": call_facts(call),
        "application": {},
        "organisation": {},
        "event": {"id": event_id},
        "details": {
            "batch_label": current.batch_label(),
            "approved_by": ranked.approved_by_name,
            "approved_at": local_time(ranked.approved_at, call.timezone),
            "list_sha256": ranked.list_sha256,
            "budget_available": format_eur(current.budget_available),
            "selected_total": format_eur(current.selected_total),
            "left_at_line": format_eur(current.left_at_line),
            "counts": " / ".join(str(n) for n in counts),
            "rows": rows,
            "ties": [
                {**t, "ahead": references[t["ahead"]], "behind": references[t["behind"]]}
                for t in content["ties"]
            ],
        },
    }


def _result_details(application: Application, placement: ranking.Placement) -> dict[str, Any]:
    consensus = application.consensus or {}
    reasons = "; ".join(consensus.get("reasons", [])) if placement.outcome == "rejected" else ""
    return {
        "outcome": placement.outcome,
        "rank": placement.rank or "",
        "reserve_position": placement.reserve_position or "",
        "total": consensus.get("total", ""),
        "amount": format_eur(application.requested_amount),
        "reasons": reasons,
    }


def _rank_step(row: Row, ranked_list_id: int) -> PlannedStep:
    application, placement = row.application, row.placement
    return PlannedStep(
        application,
        "rank",
        facts={"ranking_outcome": placement.outcome},
        changes={
            "rank": placement.rank,
            "awarded_amount": application.requested_amount
            if placement.outcome == ranking.SELECTED
            else None,
        },
        audit_extra={
            "reserve_position": placement.reserve_position,
            "ranked_list": ranked_list_id,
        },
        details=_result_details(application, placement),
    )


def ranked_list(session: Session, call_id: int, list_id: int) -> RankedList:
    found = session.get(RankedList, list_id)
    if found is None or found.call_id != call_id:
        raise NotFound(f"no ranked list {list_id} for call {call_id}")
    return found


def ranked_list_pdf(found: RankedList) -> bytes:
    """The approved list's PDF, rendered from its stored snapshot (same bytes every time)."""
    return render_pdf(str(DocumentKind.RANKED_LIST), found.snapshot)
