from datetime import UTC, datetime, timedelta

from workflows.batches import Batch, batch_of, batches_of

T0 = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def test_a_call_without_cutoffs_is_one_batch_closing_at_the_deadline() -> None:
    assert batches_of([], T0) == [Batch(1, T0, None, True)]


def test_each_cutoff_closes_a_batch_and_the_deadline_the_last() -> None:
    first, second = T0 - 60 * DAY, T0 - 30 * DAY
    batches = batches_of([second, first, T0 + DAY], T0)  # unsorted; one after the deadline
    assert batches == [
        Batch(1, first, None, False),
        Batch(2, second, first, False),
        Batch(3, T0, second, True),
    ]
    assert batch_of(first, batches).number == 1  # on the cut-off itself: still in time
    assert batch_of(first + timedelta(seconds=1), batches).number == 2
    assert batch_of(T0 - DAY, batches).number == 3
    assert batch_of(T0 + DAY, batches).number == 3  # late: the last batch
