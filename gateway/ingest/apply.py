"""Apply: write a run's decisions in committed chunks, each with its change-log events.

Each chunk is one write transaction: reserve the chunk's sequence numbers (the
counter row lock orders commits), write records and crosswalk aliases, append
one event per insert, update or end carrying the record's state, and mark the
staged rows applied. A crash loses at most the chunk in flight, which rolls back
whole; running again applies only what is left, so nothing is applied twice.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

import peewee

from gateway.clock import utcnow
from gateway.ingest import runs
from gateway.ingest.compare import CHANGE_DECISIONS, source_namespace
from gateway.logs import fields
from gateway.store.changelog import reserve_sequences
from gateway.store.database import tuples, write_transaction
from gateway.store.models import Alias, ChangeEvent, Record, Run, StagedRecord

log = logging.getLogger(__name__)

APPLIED_DECISIONS = (*CHANGE_DECISIONS, "alias")


def apply_run(db: peewee.Database, run: Run, chunk_size: int, progress: Any = None) -> Counter[str]:
    """Apply every staged decision of ``run`` not yet applied; return counts by decision."""
    applied: Counter[str] = Counter()
    while True:
        chunk = list(
            StagedRecord.select()
            .where((StagedRecord.run == run.id) & StagedRecord.decision.in_(APPLIED_DECISIONS)
                   & (StagedRecord.applied == False))  # noqa: E712 (peewee expression)
            .order_by(StagedRecord.id)
            .limit(chunk_size)
        )
        if not chunk:
            return applied
        with write_transaction(db):
            _apply_chunk(run, chunk, applied)
        runs.heartbeat(run)
        if progress is not None:
            progress.update(len(chunk))
        log.debug("chunk applied", extra=fields(run_id=run.id, rows=len(chunk)))


def _apply_chunk(run: Run, chunk: list[StagedRecord], applied: Counter[str]) -> None:
    changes = sum(1 for s in chunk if s.decision in CHANGE_DECISIONS)
    seq = reserve_sequences(changes) if changes else 0
    now = utcnow()
    events = []
    for staged in chunk:
        if staged.decision == "alias":
            _add_aliases(_required(staged.record_id), staged, run.source)
        elif staged.decision == "insert":
            record = _insert(staged, run, seq, now)
            events.append(_event(record, "insert", seq, run, now))
            seq += 1
        elif staged.decision == "update":
            record = _update(staged, run, seq, now)
            events.append(_event(record, "update", seq, run, now))
            seq += 1
        elif staged.decision == "end":
            record = _end(staged, seq, now)
            events.append(_event(record, "end", seq, run, now))
            seq += 1
        applied[f"{staged.entity}.{staged.decision}"] += 1
    if events:
        ChangeEvent.insert_many(events).execute()
    ids = [s.id for s in chunk]
    StagedRecord.update(applied=True).where(StagedRecord.id.in_(ids)).execute()


def _insert(staged: StagedRecord, run: Run, seq: int, now: Any) -> Record:
    record = Record.create(
        entity=staged.entity, source=run.source, local_id=staged.local_id,
        schema_version=staged.schema_version, mapping_version=staged.mapping_version,
        data=staged.data, content_hash=staged.content_hash, state="active",
        scope_school=staged.scope_school, scope_period=staged.scope_period,
        first_seq=seq, last_seq=seq, created_at=now, updated_at=now,
    )
    _add_aliases(record.id, staged, run.source)
    return record


def _required(value: Any) -> Any:
    """Narrow a staged column that the decision guarantees is set."""
    if value is None:
        raise RuntimeError("staged row lacks a value its decision requires")
    return value


def _update(staged: StagedRecord, run: Run, seq: int, now: Any) -> Record:
    record = Record.get_by_id(staged.record_id)
    record.source = run.source
    record.local_id = staged.local_id
    record.schema_version = _required(staged.schema_version)
    record.mapping_version = _required(staged.mapping_version)
    record.data = _required(staged.data)
    record.content_hash = _required(staged.content_hash)
    record.state = "active"
    record.scope_school = staged.scope_school
    record.scope_period = staged.scope_period
    record.last_seq = seq
    record.updated_at = now
    record.save()
    _add_aliases(record.id, staged, run.source)
    return record


def _end(staged: StagedRecord, seq: int, now: Any) -> Record:
    record = Record.get_by_id(staged.record_id)
    record.state = "ended"
    record.last_seq = seq
    record.updated_at = now
    record.save()
    return record


def _add_aliases(record_id: int, staged: StagedRecord, source: str) -> None:
    rows = [{"record": record_id, "entity": staged.entity, "namespace": source_namespace(source),
             "value": staged.local_id}]
    for namespace in ("ministry_id", "personal_id"):
        value = getattr(staged, namespace)
        if value:
            rows.append({"record": record_id, "entity": staged.entity, "namespace": namespace,
                         "value": value})
    Alias.insert_many(rows).on_conflict_ignore().execute()


def _event(record: Record, op: str, seq: int, run: Run, now: Any) -> dict[str, Any]:
    return {
        "seq": seq, "record_id": record.id, "entity": record.entity, "op": op,
        "schema_version": record.schema_version, "data": record.data,
        "content_hash": record.content_hash, "source": record.source,
        "mapping_version": record.mapping_version, "run_id": run.id, "committed_at": now,
    }


def counts_by_decision(run: Run) -> dict[str, dict[str, int]]:
    """Return, per entity, how many staged rows of ``run`` have each decision."""
    query = (
        StagedRecord.select(StagedRecord.entity, StagedRecord.decision,
                            peewee.fn.COUNT(StagedRecord.id).alias("n"))
        .where(StagedRecord.run == run.id)
        .group_by(StagedRecord.entity, StagedRecord.decision)
    )
    result: dict[str, dict[str, int]] = {}
    for entity, decision, count in tuples(query):
        result.setdefault(str(entity), {})[str(decision or "undecided")] = int(count)
    return result


def load_counts(run: Run) -> dict[str, Any]:
    return json.loads(run.counts or "{}")
