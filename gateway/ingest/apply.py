"""Apply: write a run's decisions in committed chunks, each with its change-log events.

Each chunk is one write transaction. It reserves the chunk's sequence numbers
(the counter row lock orders commits) and the ids of its new records. Then it
writes records and crosswalk aliases with one statement each, appends one event
per insert, update or end carrying the record's state, and marks the staged rows
applied. A crash loses at most the chunk in flight, which rolls back whole.
Running again applies only what is left, so nothing is applied twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import peewee

from gateway.clock import utcnow
from gateway.ingest import runs
from gateway.ingest.compare import CHANGE_DECISIONS, KEPT_PLACE, SET_ALIAS_HASH, source_namespace
from gateway.logs import fields
from gateway.store.bulk import db_time, execute_many, in_lists, raw_rows, select_rows
from gateway.store.changelog import RECORD_IDS, reserve, reserve_sequences
from gateway.store.database import tuples, write_transaction
from gateway.store.models import Alias, ChangeEvent, Record, Run, SeenRecord, StagedRecord

log = logging.getLogger(__name__)

APPLIED_DECISIONS = (*CHANGE_DECISIONS, "alias", "outranked")


STAGED_COLUMNS = ("id", "entity", "local_id", "decision", "record_id", "data", "content_hash",
                  "mapping_version", "schema_version", "scope_school", "scope_period",
                  "ministry_id", "personal_id", "review", "row_hash")


def apply_run(db: peewee.Database, run: Run, chunk_size: int, progress: Any = None) -> Counter[str]:
    """Apply every staged decision of ``run`` not yet applied; return counts by decision."""
    applied: Counter[str] = Counter()
    columns = [getattr(StagedRecord, name) for name in STAGED_COLUMNS]
    # Chunks commit in id order, so the rows already applied are those up to the mark.
    last_id = Run.select(Run.applied_through).where(Run.id == run.id).scalar() or 0
    while True:
        # Walking by id keeps each chunk's query cheap; ordering the remaining rows
        # afresh for every chunk made apply quadratic in the run's size.
        query = (
            StagedRecord.select(*columns)
            .where((StagedRecord.run == run.id) & (StagedRecord.id > last_id)
                   & StagedRecord.decision.in_(APPLIED_DECISIONS))
            .order_by(StagedRecord.id)
            .limit(chunk_size)
        )
        _, rows = raw_rows(query)
        chunk = [dict(zip(STAGED_COLUMNS, row, strict=True)) for row in rows]
        if not chunk:
            return applied
        last_id = chunk[-1]["id"]
        with write_transaction(db):
            _apply_chunk(db, run, chunk, applied)
            runs.heartbeat(run, applied_through=last_id)
        if progress is not None:
            progress.update(len(chunk))
        log.debug("chunk applied", extra=fields(run_id=run.id, rows=len(chunk)))


def _apply_chunk(db: peewee.Database, run: Run, chunk: list[dict[str, Any]],
                 applied: Counter[str]) -> None:
    """Write one chunk: numbers first (taking the counter locks), then records, aliases, events."""
    changes = [s for s in chunk if s["decision"] in CHANGE_DECISIONS]
    inserts = [s for s in chunk if s["decision"] == "insert"]
    seq = reserve_sequences(len(changes)) if changes else 0
    next_id = reserve(RECORD_IDS, len(inserts)) if inserts else 0
    now = db_time(db, utcnow())
    for staged in inserts:
        staged["record_id"] = next_id
        next_id += 1
    for staged in changes:
        staged["seq"] = seq
        seq += 1
    ended = _ended_states(db, [s for s in changes if s["decision"] == "end"])
    _write_records(db, run, changes, now)
    _write_aliases(db, run, [s for s in chunk if s["decision"] not in ("end", "outranked")])
    _write_alias_hashes(db, run, [s for s in chunk if s["decision"] == "outranked"])
    _write_events(db, run, changes, ended, now)
    applied.update(f"{s['entity']}.{s['decision']}" for s in chunk)


# An insert or update writes the staged review too: a record written without one
# needs none, so an update clears the review of the data it replaces.
INSERT_RECORD = (
    f"INSERT INTO {Record._meta.table_name} (id, entity, source, local_id, schema_version, "
    "mapping_version, data, content_hash, state, scope_school, scope_period, review, row_hash, "
    "first_seq, last_seq, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?)"
)
UPDATE_RECORD = (
    f"UPDATE {Record._meta.table_name} SET source = ?, local_id = ?, schema_version = ?, "
    "mapping_version = ?, data = ?, content_hash = ?, state = 'active', scope_school = ?, "
    "scope_period = ?, review = ?, row_hash = ?, last_seq = ?, updated_at = ? WHERE id = ?"
)
END_RECORD = (
    f"UPDATE {Record._meta.table_name} SET state = 'ended', last_seq = ?, updated_at = ? WHERE id = ?"
)
# A local id that is already there keeps its record and takes the new content hash. An
# identifier (no content hash) that is already there stays as it is.
INSERT_ALIAS = (
    f"INSERT INTO {Alias._meta.table_name} (record_id, entity, namespace, value, content_hash) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (entity, namespace, value) "
    "DO UPDATE SET content_hash = excluded.content_hash WHERE excluded.content_hash IS NOT NULL"
)
INSERT_EVENT = (
    f"INSERT INTO {ChangeEvent._meta.table_name} (seq, record_id, entity, op, schema_version, data, "
    "content_hash, source, mapping_version, run_id, committed_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _write_records(db: peewee.Database, run: Run, changes: list[dict[str, Any]], now: Any) -> None:
    inserts, updates, ends = [], [], []
    for s in changes:
        if s["decision"] == "insert":
            inserts.append((s["record_id"], s["entity"], run.source, s["local_id"], s["schema_version"],
                            s["mapping_version"], s["data"], s["content_hash"], s["scope_school"],
                            s["scope_period"], s["review"], s["row_hash"], s["seq"], s["seq"], now,
                            now))
        elif s["decision"] == "update":
            updates.append((run.source, s["local_id"], _required(s["schema_version"]),
                            _required(s["mapping_version"]), _required(s["data"]),
                            _required(s["content_hash"]), s["scope_school"], s["scope_period"],
                            s["review"], s["row_hash"], s["seq"], now, _required(s["record_id"])))
        else:
            ends.append((s["seq"], now, _required(s["record_id"])))
    execute_many(db, INSERT_RECORD, inserts)
    execute_many(db, UPDATE_RECORD, updates)
    execute_many(db, END_RECORD, ends)


def _write_aliases(db: peewee.Database, run: Run, rows: list[dict[str, Any]]) -> None:
    """Add each row's local id with its content hash, and its Ministry and personal ids, to the crosswalk."""
    namespace = source_namespace(run.source)
    aliases = []
    for s in rows:
        record_id = _required(s["record_id"])
        aliases.append((record_id, s["entity"], namespace, s["local_id"], s["content_hash"]))
        for kind in ("ministry_id", "personal_id"):
            if s[kind]:
                aliases.append((record_id, s["entity"], kind, s[kind], None))
    execute_many(db, INSERT_ALIAS, aliases)


def _write_alias_hashes(db: peewee.Database, run: Run, rows: list[dict[str, Any]]) -> None:
    """Keep the content an outranked row gave on its local id, so the same change counts once."""
    namespace = source_namespace(run.source)
    execute_many(db, SET_ALIAS_HASH,
                 [(s["content_hash"], s["entity"], namespace, s["local_id"]) for s in rows])


def _ended_states(db: peewee.Database, ends: list[dict[str, Any]]) -> dict[int, tuple[Any, ...]]:
    """Read the stored state of records about to end: an end event carries the last state."""
    if not ends:
        return {}
    states = {}
    for marks, ids in in_lists([s["record_id"] for s in ends]):
        sql = (f"SELECT id, schema_version, data, content_hash, source, mapping_version "
               f"FROM {Record._meta.table_name} WHERE id IN ({marks})")
        states.update({row[0]: row[1:] for row in select_rows(db, sql, ids)})
    return states


def _write_events(db: peewee.Database, run: Run, changes: list[dict[str, Any]],
                  ended: dict[int, tuple[Any, ...]], now: Any) -> None:
    events = []
    for s in changes:
        if s["decision"] == "end":
            schema_version, data, content_hash, source, mapping_version = ended[s["record_id"]]
        else:
            schema_version, data, content_hash = s["schema_version"], s["data"], s["content_hash"]
            source, mapping_version = run.source, s["mapping_version"]
        events.append((s["seq"], s["record_id"], s["entity"], s["decision"], schema_version, data,
                       content_hash, source, mapping_version, run.id, now))
    execute_many(db, INSERT_EVENT, events)


def _required(value: Any) -> Any:
    """Narrow a staged column that the decision guarantees is set."""
    if value is None:
        raise RuntimeError("staged row lacks a value its decision requires")
    return value


def counts_by_decision(run: Run) -> dict[str, dict[str, int]]:
    """Return, per entity, how many rows of ``run`` have each decision.

    The records that rows gave unchanged count as ``unchanged`` once and as
    ``repeat`` for each further row, as staged rows would.
    """
    query = (
        StagedRecord.select(StagedRecord.entity, StagedRecord.decision,
                            peewee.fn.COUNT(StagedRecord.id).alias("n"))
        .where(StagedRecord.run == run.id)
        .group_by(StagedRecord.entity, StagedRecord.decision)
    )
    result: dict[str, dict[str, int]] = {}
    for entity, decision, count in tuples(query):
        result.setdefault(str(entity), {})[str(decision or "undecided")] = int(count)
    seen = (
        SeenRecord.select(SeenRecord.entity, peewee.fn.COUNT(SeenRecord.record_id),
                          peewee.fn.SUM(SeenRecord.repeats))
        .where((SeenRecord.run == run.id) & (SeenRecord.place != KEPT_PLACE))
        .group_by(SeenRecord.entity)
    )
    for entity, count, repeats in tuples(seen):
        counts = result.setdefault(str(entity), {})
        for decision, number in (("unchanged", int(count)), ("repeat", int(repeats or 0))):
            if number:
                counts[decision] = counts.get(decision, 0) + number
    return result
