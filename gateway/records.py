"""Stored records across schema versions: migrate them, list those waiting for review, read one.

``migrate_records`` upgrades every active record below its entity's current
schema version in committed chunks. Each chunk is one write transaction. It
takes the change-log counter lock first, as apply chunks do before they write
records, so the two take locks in the same order and no record changes under
the chunk. Then it reads the chunk, converts it, reserves its sequence
numbers, rewrites the records and appends one ``update`` event per record. A
killed migration loses at most its chunk in flight, and a second run finds
nothing left to do.

Ended records are left at their version: an ``update`` event would tell
readers of the change feed that the record lives again. They are converted on
read like any other record.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import peewee

from gateway.clock import utcnow
from gateway.entities import get_entity, load_entities
from gateway.errors import PermanentError
from gateway.ingest.apply import INSERT_EVENT
from gateway.ingest.compare import source_namespace
from gateway.ingest.stage import content_hash
from gateway.logs import fields
from gateway.mapping.spec import canonical_json
from gateway.schema_versions import Converted, Review, convert, upgrade
from gateway.store.bulk import db_time, execute_many, select_rows
from gateway.store.changelog import CHANGE_LOG, reserve_sequences
from gateway.store.database import is_sqlite, write_transaction
from gateway.store.models import Alias, Record, SequenceState, Source
from gateway.validation import get_registry

log = logging.getLogger(__name__)

# A migrated record no longer is what its source row maps to, so its row hash is cleared.
MIGRATE_RECORD = (
    f"UPDATE {Record._meta.table_name} SET schema_version = ?, data = ?, content_hash = ?, "
    "review = ?, row_hash = NULL, last_seq = ?, updated_at = ? WHERE id = ?"
)


@dataclass
class MigrationResult:
    """Counts of one ``migrate_records`` call, by entity and by review reason."""

    migrated: Counter[str] = field(default_factory=Counter)
    review: Counter[str] = field(default_factory=Counter)
    invalid: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"migrated": dict(self.migrated), "review": dict(self.review),
                "invalid": dict(self.invalid)}


def migrate_records(db: peewee.Database, entity: str | None = None, chunk_size: int = 2000,
                    progress: Any = None) -> MigrationResult:
    """Upgrade active records of ``entity`` (default: every entity) to the current schema version.

    A converted record that breaks the current schema is left as it is, counted
    in ``invalid`` and logged with its id, so a later run tries it again.
    Raises ``ConfigurationError`` for an unknown entity or a missing step.
    """
    names = [get_entity(entity).name] if entity else sorted(load_entities())
    result = MigrationResult()
    for name in names:
        current = get_entity(name).current_version
        last_id = 0
        while True:
            with write_transaction(db):
                last_id, count = _migrate_chunk(db, name, current, last_id, chunk_size, result)
            if count == 0:
                break
            if progress is not None:
                progress.update(count)
            log.debug("records migrated", extra=fields(entity=name, records=count, last_id=last_id))
    log.info("record migration finished", extra=fields(**result.as_dict()))
    return result


def _migrate_chunk(db: peewee.Database, entity: str, current: int, after_id: int, chunk_size: int,
                   result: MigrationResult) -> tuple[int, int]:
    """Migrate the next chunk after ``after_id``; return the last id read and the records read."""
    _lock_change_log(db)
    sql = (f"SELECT id, schema_version, data, source, mapping_version FROM {Record._meta.table_name} "
           "WHERE entity = ? AND state = 'active' AND schema_version < ? AND id > ? "
           "ORDER BY id LIMIT ?")
    rows = select_rows(db, sql, [entity, current, after_id, chunk_size])
    if not rows:
        return after_id, 0
    changes = []
    for record_id, version, data, source, mapping_version in rows:
        converted = upgrade(entity, json.loads(data), int(version))
        if not _valid(entity, record_id, converted, result):
            continue
        changes.append((record_id, converted, source, mapping_version))
    if changes:
        _write(db, entity, changes, result)
    return int(rows[-1][0]), len(rows)


def _valid(entity: str, record_id: int, converted: Converted, result: MigrationResult) -> bool:
    problems = get_registry().validator(entity, converted.version).problems(converted.record)
    if not problems:
        return True
    result.invalid[entity] += 1
    log.warning("migrated record invalid, left at its version",
                extra=fields(entity=entity, record_id=record_id, problem=problems[0].key,
                             field=problems[0].place.field))
    return False


def _write(db: peewee.Database, entity: str, changes: list[tuple[int, Converted, str, str]],
           result: MigrationResult) -> None:
    seq = reserve_sequences(len(changes))
    now = db_time(db, utcnow())
    updates, events = [], []
    for record_id, converted, source, mapping_version in changes:
        document = canonical_json(converted.record)
        digest = content_hash(converted.version, document)
        review = converted.review.to_json() if converted.review else None
        updates.append((converted.version, document, digest, review, seq, now, record_id))
        events.append((seq, record_id, entity, "update", converted.version, document, digest,
                       source, mapping_version, None, now))
        seq += 1
        result.migrated[entity] += 1
        if converted.review:
            result.review[converted.review.reason] += 1
    execute_many(db, MIGRATE_RECORD, updates)
    execute_many(db, INSERT_EVENT, events)


def _lock_change_log(db: peewee.Database) -> None:
    """Take the change-log counter's row lock before reading records, as apply chunks do.

    Apply takes this lock before it writes records, so once a chunk holds it no
    record has uncommitted changes, and taking locks in the same order rules out a
    deadlock. On SQLite the write transaction's ``BEGIN IMMEDIATE`` already holds
    the one write lock.
    """
    if is_sqlite(db):
        return
    select_rows(db, f"SELECT value FROM {SequenceState._meta.table_name} WHERE name = ? FOR UPDATE",
                [CHANGE_LOG])


# -- reading -------------------------------------------------------------------------------------


def records_for_review(entity: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Return active records waiting for review, oldest id first: ids, version and reason.

    Names and other personal fields are never included.
    """
    query = (Record.select(Record.id, Record.entity, Record.source, Record.local_id,
                           Record.schema_version, Record.review)
             .where(Record.review.is_null(False) & (Record.state == "active"))
             .order_by(Record.id).limit(limit))
    if entity:
        query = query.where(Record.entity == get_entity(entity).name)
    found = []
    for record in query:
        review = Review.from_json(record.review)
        if review is None:
            continue
        found.append({"record_id": record.id, "entity": record.entity, "source": record.source,
                      "local_id": record.local_id, "schema_version": record.schema_version,
                      "reason": review.reason, "params": review.params, "message": review.message()})
    return found


def count_for_review(entity: str | None = None) -> int:
    """Return how many active records wait for review."""
    query = Record.select().where(Record.review.is_null(False) & (Record.state == "active"))
    if entity:
        query = query.where(Record.entity == entity)
    return int(query.count())


def find_records(value: str, entity: str | None = None, source: str | None = None,
                 limit: int = 20) -> list[dict[str, Any]]:
    """Return the records whose local id, Ministry id or personal number is ``value``.

    The crosswalk is searched, so a record found by the local id of one source also shows
    the ids that other sources gave it. ``source`` limits local ids to that source's. Each
    result names how it matched; names and other personal fields are never included.
    """
    entities = [get_entity(entity).name] if entity else sorted(load_entities())
    sources = [source] if source else [str(s.name) for s in Source.select(Source.name)]
    namespaces = [source_namespace(name) for name in sources]
    if not source:
        namespaces += ["ministry_id", "personal_id"]
    # Entity and namespace lists keep the lookup on the (entity, namespace, value) index.
    query = (Alias.select(Alias.record, Alias.namespace)
             .where(Alias.entity.in_(entities) & Alias.namespace.in_(namespaces)
                    & (Alias.value == value))
             .order_by(Alias.record, Alias.namespace))
    matched: dict[int, list[str]] = {}
    for alias in query:
        matched.setdefault(alias.record_id, []).append(alias.namespace)
    found = []
    for record_id in sorted(matched)[:limit]:
        record = Record.get_by_id(record_id)
        links = [{"namespace": a.namespace, "value": a.value}
                 for a in Alias.select().where(Alias.record == record_id).order_by(Alias.namespace)
                 if a.namespace.startswith("src:")]
        found.append({"record_id": record.id, "entity": record.entity, "source": record.source,
                      "local_id": record.local_id, "state": record.state,
                      "schema_version": record.schema_version, "matched": matched[record_id],
                      "local_ids": links})
    return found


def reference_targets(entity: str, source: str,
                      data: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Return (field, value, target) for each reference of ``data`` that names a stored record.

    The target is the record's id and entity, and the name of a school, class or school year
    (``name`` or ``title``). A person's name is not given, only the id.
    """
    definition = get_entity(entity)
    found = []
    for field_name in sorted(set(definition.references) | set(definition.references_by_role)):
        target_entity = definition.reference_target(field_name, data.get("role"))
        value = data.get(field_name)
        if target_entity is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            if item in (None, ""):
                continue
            alias = (Alias.select(Alias.record)
                     .where((Alias.entity == target_entity)
                            & (Alias.namespace == source_namespace(source))
                            & (Alias.value == str(item))).first())
            if alias is None:
                continue
            target = Record.get_by_id(alias.record_id)
            name = ""
            if target_entity not in ("student", "staff"):
                target_data = json.loads(target.data)
                name = str(target_data.get("name") or target_data.get("title") or "")
            found.append((field_name, str(item), {"record_id": target.id, "entity": target.entity,
                                                  "state": target.state, "name": name}))
    return found


def read_record(record_id: int, version: int | None = None) -> dict[str, Any]:
    """Return one record as stored and converted to ``version`` (default: the current one).

    Raises ``PermanentError`` when no record has that id, and
    ``ConfigurationError`` when no conversion reaches ``version``.
    """
    record = Record.get_or_none(Record.id == record_id)
    if record is None:
        raise PermanentError("schema.record_not_found", record_id=record_id)
    target = version or get_entity(record.entity).current_version
    data = json.loads(record.data)
    converted = convert(record.entity, data, record.schema_version, target)
    stored_review = Review.from_json(record.review)
    return {
        "record_id": record.id, "entity": record.entity, "source": record.source,
        "local_id": record.local_id, "state": record.state,
        "created_at": record.created_at, "updated_at": record.updated_at,
        "first_seq": record.first_seq, "last_seq": record.last_seq,
        "stored": {"schema_version": record.schema_version, "data": data,
                   "review": _review_dict(stored_review)},
        "requested": {"schema_version": converted.version, "data": converted.record,
                      "review": _review_dict(converted.review)},
    }


def _review_dict(review: Review | None) -> dict[str, Any] | None:
    if review is None:
        return None
    return {"reason": review.reason, "params": review.params, "message": review.message()}
