"""Retention: prune quarantine rows and leftover staging past their configured age, and compact
the change log.

Compaction deletes an event of the change log when a later event of the same record was also
committed before the cutoff (``retention.change_log_days``). A pull reads the latest event per
record in its range, so every pull whose bound is at or above the last event before the cutoff
reads the same records in the same states. Only a pull pinned at an older bound would miss
records, and a pull is expected to finish within days, not months.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import peewee
from peewee import fn

from gateway.clock import utcnow
from gateway.ingest.runs import FINAL_STATES, discard_staged
from gateway.logs import fields
from gateway.settings import Settings
from gateway.store.bulk import db_time, execute_counted
from gateway.store.database import write_transaction
from gateway.store.models import ChangeEvent, Quarantine, Run

log = logging.getLogger(__name__)

# Events compacted per write transaction, so that a long log never holds the write lock for long.
COMPACT_BATCH = 20_000

_COMPACT = (
    f"DELETE FROM {ChangeEvent._meta.table_name} WHERE seq > ? AND seq <= ? AND EXISTS ("
    f"SELECT 1 FROM {ChangeEvent._meta.table_name} later "
    f"WHERE later.record_id = {ChangeEvent._meta.table_name}.record_id "
    f"AND later.seq > {ChangeEvent._meta.table_name}.seq AND later.seq <= ?)"
)


def prune(settings: Settings) -> dict[str, int]:
    """Delete quarantine rows older than ``quarantine_days`` and staged rows of old finished runs."""
    section = settings.section("retention")
    now = utcnow()
    quarantine_cutoff = now - timedelta(days=section["quarantine_days"])
    staging_cutoff = now - timedelta(days=section["staging_days"])
    quarantine = Quarantine.delete().where(Quarantine.created_at < quarantine_cutoff).execute()
    old_runs = Run.select(Run.id).where(
        Run.state.in_(FINAL_STATES)
        & (Run.heartbeat_at < staging_cutoff)
    )
    staged = discard_staged(old_runs)
    return {"quarantine": quarantine, "staged": staged}


def compact_change_log(db: peewee.Database, settings: Settings) -> int:
    """Delete the events that a later event of the same record replaced before the cutoff.

    Return how many events were deleted. The latest event of every record stays, so the
    change feed still gives every record, and an end stays known.
    """
    cutoff = utcnow() - timedelta(days=settings.section("retention")["change_log_days"])
    old = (ChangeEvent.select(fn.MIN(ChangeEvent.seq), fn.MAX(ChangeEvent.seq))
           .where(ChangeEvent.committed_at < db_time(db, cutoff)).tuples().first())
    if not old or old[1] is None:
        return 0
    first, last = int(old[0]), int(old[1])
    deleted = 0
    for start in range(first - 1, last, COMPACT_BATCH):
        with write_transaction(db):
            deleted += execute_counted(db, _COMPACT, [start, min(start + COMPACT_BATCH, last), last])
    log.info("change log compacted", extra=fields(deleted=deleted, through_seq=last))
    return deleted
