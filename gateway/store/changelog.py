"""Sequence numbers in commit order, the horizon, and the change feed.

A writer reserves its sequence numbers with one ``UPDATE ... RETURNING`` on the
``change_log`` counter row *inside* its write transaction. The row lock that the
update takes is held until commit, so a second writer's reservation waits for
the first commit and gets higher numbers: sequence order is commit order. The
committed counter value is therefore a horizon below which no transaction is
still in flight, and a reader that stops at the horizon never skips a change
that commits late.
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import fn

from gateway.store.models import ChangeEvent, SequenceState

CHANGE_LOG = "change_log"
# Internal record ids are reserved like sequence numbers, so a chunk can insert
# its records with one statement and know their ids.
RECORD_IDS = "record_id"


def reserve_sequences(count: int) -> int:
    """Reserve ``count`` numbers and return the first; call inside a write transaction."""
    return reserve(CHANGE_LOG, count)


def reserve(counter: str, count: int) -> int:
    """Advance ``counter`` by ``count`` under its row lock and return the first number reserved."""
    if count <= 0:
        raise ValueError("count must be positive")
    query = (
        SequenceState.update(value=SequenceState.value + count)
        .where(SequenceState.name == counter)
        .returning(SequenceState.value)
    )
    rows = list(query.execute())
    last = rows[0].value if rows else None
    if last is None:
        raise RuntimeError(f"counter {counter} is missing: run `gateway migrate`")
    return int(last) - count + 1


def horizon() -> int:
    """Return the highest sequence number below which every change is committed."""
    row = SequenceState.get_or_none(SequenceState.name == CHANGE_LOG)
    return int(row.value) if row else 0


@dataclass(frozen=True)
class FeedPage:
    """One page of the change feed: events after ``after`` up to ``bound``."""

    events: list[ChangeEvent]
    bound: int
    next_after: int
    complete: bool


def read_changes(after: int = 0, limit: int = 1000, bound: int | None = None) -> FeedPage:
    """Return the latest event of each record changed in (``after``, ``bound``].

    ``bound`` defaults to the horizon. Pass the same bound on every page of one
    pull, so that each record comes at most once, in its state as of the bound.
    Later changes come in the next pull. Pages follow sequence order.
    """
    bound = horizon() if bound is None else min(bound, horizon())
    latest = (
        ChangeEvent.select(fn.MAX(ChangeEvent.seq))
        .where((ChangeEvent.seq > after) & (ChangeEvent.seq <= bound))
        .group_by(ChangeEvent.record_id)
    )
    events = list(
        ChangeEvent.select()
        .where(ChangeEvent.seq.in_(latest))
        .order_by(ChangeEvent.seq)
        .limit(limit)
    )
    complete = len(events) < limit
    next_after = max(after, bound) if complete else events[-1].seq
    return FeedPage(events=events, bound=bound, next_after=next_after, complete=complete)
