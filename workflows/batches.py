"""Cut-off batches of a call: which applications are ranked together, and from when.

A cut-off call ranks the applications submitted by each cut-off date on their own, the last
batch being those submitted by the deadline; a call without cut-offs is one batch closing at
its deadline. A batch may be approved once its closing moment has passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Batch:
    number: int  # 1 for the first cut-off
    closes_at: datetime  # its cut-off date, or the call's deadline for the last batch
    opens_after: datetime | None  # the previous cut-off: submitted after it, by closes_at
    last: bool


def batches_of(cutoffs: Sequence[datetime], deadline: datetime) -> list[Batch]:
    """The call's batches in order; cut-offs on or after the deadline are ignored."""
    moments = [*sorted(c for c in cutoffs if c < deadline), deadline]
    return [
        Batch(
            number=index,
            closes_at=moment,
            opens_after=moments[index - 2] if index > 1 else None,
            last=index == len(moments),
        )
        for index, moment in enumerate(moments, start=1)
    ]


def batch_of(submitted_at: datetime, batches: Sequence[Batch]) -> Batch:
    """The batch an application submitted at that moment belongs to (late ones: the last)."""
    for batch in batches:
        if submitted_at <= batch.closes_at:
            return batch
    return batches[-1]
