"""Reference check: a record's required references must name records of the same source.

Runs after compare. A required reference (``class.school_ref``,
``enrollment.class_ref``, ``enrollment.person_ref`` by role, ...) is satisfied
by a record of the target entity that this run stages, or that the store holds
for this source and this run does not end. A row whose reference is dangling is
quarantined and kept as ``seen``: it is not written, and a record it already
has in the store is neither changed nor ended. Entities are checked in
dependency order, so a rejected class also rejects the enrollments naming it.
Optional references (a parent organisation, say) are not checked against the store, because
exports routinely name parents outside their scope. The school reference that bounds a record's
snapshot scope (``student.school_ref``) is the exception in one case: when this run rejected the
row of the school it names, the record is rejected too (``ingest.reference_rejected``), because
it would otherwise be stored under a school that the store does not have.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import peewee

from gateway.clock import utcnow
from gateway.entities import Entity, load_entities
from gateway.errors import table_label
from gateway.ingest.compare import source_namespace
from gateway.ingest.stage import KeyColumns, UnreadEntities, staged_entities
from gateway.mapping.spec import canonical_json
from gateway.store.bulk import execute_counted, in_lists, insert_dicts, raw_rows, select_rows
from gateway.store.database import write_transaction
from gateway.store.models import Alias, Quarantine, Record, Run, StagedRecord
from gateway.validation import get_registry

ORDER = ("organization", "academic_session", "class", "student", "staff", "enrollment", "result")
PRESENT = ("insert", "update", "unchanged", "alias", "outranked")
# Rows whose references are checked: an unchanged record is not judged again.
CHECKED = ("insert", "update", "alias")
REASON = "ingest.reference_unknown"
TARGET_REJECTED_REASON = "ingest.reference_rejected"
TARGET_NOT_READ_REASON = "ingest.reference_not_read"
TARGET_UNREAD_REASON = "ingest.reference_file_unread"


def check_references(db: peewee.Database, run: Run, chunk_size: int = 5000,
                     columns: KeyColumns | None = None,
                     unread: UnreadEntities | None = None,
                     unread_files: dict[str, str] | None = None) -> Counter[str]:
    """Quarantine rows whose required references are dangling; return counts by reason.

    A reference to a record whose own row this run rejected is ``ingest.reference_rejected``,
    with the place of that row, because fixing that row is what lets this one through. A
    reference to an entity that the row's own table could not give, because the table lacks
    a column of that entity's mapping (``unread``), is ``ingest.reference_not_read``, naming
    those columns. A reference to an entity of which the run staged nothing because its file
    could not be read or mapped (``unread_files`` maps such entities to the file) is
    ``ingest.reference_file_unread``, naming the file, so that every such row shows the one
    cause that a file notice explains. Any other dangling reference is
    ``ingest.reference_unknown``. ``columns`` names the header that gave each reference, for
    the rejection's place.
    """
    entities = load_entities()
    rejected: Counter[str] = Counter()
    staged = staged_entities(db, run.id)
    # An entity that some other file of the run gave records of may lack a record for
    # another reason, so the file is blamed only where the run has no record of it at all.
    files = {entity: file for entity, file in (unread_files or {}).items() if entity not in staged}
    for name in sorted(staged, key=dependency_order):
        required = required_reference_fields(entities[name])
        school = _optional_school_field(entities[name], required)
        if school and not _any_rejected(db, run, entities[name].references[school[0]]):
            # An optional school reference is dangling only when it names a school row that this
            # run rejected, so without such rows there is nothing to check.
            school = []
        fields = sorted({*required, *school})
        if fields:
            rejected.update(_check_entity(db, run, entities[name], fields, chunk_size,
                                          columns or {}, unread or {}, files,
                                          optional=frozenset(school)))
    return +rejected


def dependency_order(entity: str) -> int:
    """Return the place of ``entity`` in ``ORDER``, after every listed entity when it is not listed."""
    return ORDER.index(entity) if entity in ORDER else len(ORDER)


def required_reference_fields(entity: Entity) -> list[str]:
    """Return the reference fields that ``entity``'s current schema requires."""
    schema = get_registry().schema(entity.name, entity.current_version)
    candidates = set(entity.references) | set(entity.references_by_role)
    return sorted(candidates & set(schema.get("required", [])))


def _optional_school_field(entity: Entity, required: list[str]) -> list[str]:
    """Return the entity's scope school field when it is an optional reference, else nothing."""
    school = entity.scope_school
    if school is None or school in required or school not in entity.references:
        return []
    return [school]


@dataclass
class _Checked:
    """A staged row whose references are checked: its id, place, data and (field, target, value)s."""

    id: int
    entity: str
    place: str
    data: str | None
    targets: list[tuple[str, str, str]]


def _check_entity(db: peewee.Database, run: Run, entity: Entity, fields: list[str],
                  chunk_size: int, columns: KeyColumns, unread: UnreadEntities,
                  unread_files: dict[str, str], optional: frozenset[str] = frozenset()
                  ) -> Counter[str]:
    """Quarantine the rows of ``entity`` whose references in ``fields`` are dangling.

    A field of ``optional`` is dangling only when this run rejected the row of the record it
    names: a record that the source never sent may lie outside the export.
    """
    rejected: Counter[str] = Counter()
    last_id = 0
    while True:
        query = (
            StagedRecord.select(StagedRecord.id, StagedRecord.place, StagedRecord.data)
            .where((StagedRecord.run == run.id) & (StagedRecord.entity == entity.name)
                   & (StagedRecord.action == "upsert") & StagedRecord.decision.in_(CHECKED)
                   & (StagedRecord.id > last_id))
            .order_by(StagedRecord.id).limit(chunk_size)
        )
        _, rows = raw_rows(query)
        if not rows:
            return rejected
        last_id = rows[-1][0]
        chunk = [_Checked(row_id, entity.name, place, data, _targets(data, entity, fields))
                 for row_id, place, data in rows]
        wanted: defaultdict[str, set[str]] = defaultdict(set)
        for staged in chunk:
            for _, target, value in staged.targets:
                wanted[target].add(value)
        present = _present(db, run, wanted)
        absent = [(staged, [(field, target, value) for field, target, value in staged.targets
                            if (target, value) not in present]) for staged in chunk]
        missing_targets: defaultdict[str, set[str]] = defaultdict(set)
        for _, dangling in absent:
            for _, target, value in dangling:
                missing_targets[target].add(value)
        rejected_targets = _rejected_in_run(db, run, missing_targets)
        missing_rows = []
        for staged, dangling in absent:
            missing = next(((field, target, value) for field, target, value in dangling
                            if field not in optional or (target, value) in rejected_targets),
                           None)
            if missing is not None:
                missing_rows.append((staged, missing))
        quarantined = [_rejection(run, staged, field, target, value, columns,
                                  rejected_targets.get((target, value)), unread,
                                  unread_files.get(target))
                       for staged, (field, target, value) in missing_rows]
        with write_transaction(db):
            insert_dicts(db, Quarantine, quarantined)
            seen = [staged.id for staged, _ in missing_rows]
            for marks, ids in in_lists(seen):
                execute_counted(db, f"UPDATE {StagedRecord._meta.table_name} SET decision = 'seen' "
                                    f"WHERE id IN ({marks})", ids)
        rejected.update(row["reason"] for row in quarantined)


def _targets(data: str | None, entity: Entity, fields: list[str]) -> list[tuple[str, str, str]]:
    """Return the (field, target entity, value) of each required reference that ``data`` gives."""
    record = json.loads(data or "{}")
    targets = []
    for field in fields:
        target = entity.reference_target(field, record.get("role"))
        value = record.get(field)
        if target is None or value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            targets.append((field, target, str(item)))
    return targets


def _present(db: peewee.Database, run: Run, wanted: dict[str, set[str]]) -> set[tuple[str, str]]:
    """Return the (target entity, local id) pairs of ``wanted`` that this run stages or the store has."""
    decisions = ", ".join(f"'{d}'" for d in PRESENT)
    present: set[tuple[str, str]] = set()
    for target, values in wanted.items():
        for marks, ids in in_lists(sorted(values)):
            present.update(_present_batch(db, run, target, marks, ids, decisions))
    return present


def _present_batch(db: peewee.Database, run: Run, target: str, marks: str, ids: list[Any],
                   decisions: str) -> set[tuple[str, str]]:
    staged_table, alias_table = StagedRecord._meta.table_name, Alias._meta.table_name
    present: set[tuple[str, str]] = set()
    # COALESCE keeps the planner on the (run, entity, local_id) index: an index on
    # the decision matches nearly every row of a first load.
    staged = (f"SELECT local_id FROM {staged_table} WHERE run_id = ? AND entity = ? "
              f"AND local_id IN ({marks}) AND action = 'upsert' "
              f"AND COALESCE(decision, '') IN ({decisions})")
    present.update((target, row[0]) for row in select_rows(db, staged, [run.id, target, *ids]))
    # An end of this run carries the local id of its record in this source, so the check
    # stays on the (run, entity, local_id) index. A NOT IN list of the run's ends was read
    # again for every batch, which made the check quadratic in the size of the run.
    stored = (f"SELECT a.value FROM {alias_table} a JOIN {Record._meta.table_name} r "
              f"ON r.id = a.record_id WHERE a.entity = ? AND a.namespace = ? "
              f"AND a.value IN ({marks}) AND r.state = 'active' AND NOT EXISTS "
              f"(SELECT 1 FROM {staged_table} e WHERE e.run_id = ? AND e.entity = ? "
              f"AND e.local_id = a.value AND e.decision = 'end')")
    params = [target, source_namespace(run.source), *ids, run.id, target]
    present.update((target, row[0]) for row in select_rows(db, stored, params))
    return present


def _any_rejected(db: peewee.Database, run: Run, entity: str) -> bool:
    """Return whether this run rejected a row of ``entity``, as ``_rejected_in_run`` finds them."""
    sql = (f"SELECT 1 FROM {StagedRecord._meta.table_name} WHERE run_id = ? AND entity = ? "
           f"AND (action = 'seen' OR COALESCE(decision, '') IN ('seen', 'conflict')) LIMIT 1")
    return bool(select_rows(db, sql, [run.id, entity]))


def _rejected_in_run(db: peewee.Database, run: Run,
                     wanted: dict[str, set[str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Return the place of the first row of this run that was rejected, for each local id of ``wanted``."""
    first: dict[tuple[str, str], tuple[int, str]] = {}
    table = StagedRecord._meta.table_name
    for target, values in wanted.items():
        for marks, ids in in_lists(sorted(values)):
            # No ORDER BY: sorting by id let the planner walk the whole run in id order
            # for every batch, so the first row is picked here instead.
            sql = (f"SELECT id, local_id, place FROM {table} WHERE run_id = ? AND entity = ? "
                   f"AND local_id IN ({marks}) AND (action = 'seen' "
                   f"OR COALESCE(decision, '') IN ('seen', 'conflict'))")
            for row_id, local_id, place in select_rows(db, sql, [run.id, target, *ids]):
                key = (target, local_id)
                if key not in first or row_id < first[key][0]:
                    first[key] = (row_id, place)
    return {key: json.loads(place) for key, (_, place) in first.items()}


def _rejection(run: Run, staged: _Checked, field: str, target: str, value: str,
               columns: KeyColumns, target_place: dict[str, Any] | None,
               unread: UnreadEntities, unread_file: str | None = None) -> dict[str, Any]:
    """Return the quarantine row of ``staged`` for its dangling reference."""
    place: dict[str, Any] = json.loads(staged.place)
    params: dict[str, Any] = {"field": field, "value": value, "target": target}
    reason = REASON
    missing_columns = unread.get((place.get("file"), place.get("sheet")), {}).get(target)
    if target_place is None and missing_columns:
        # The row's own table could have given the target but for a missing column: that
        # column, not the reference, is what the admin must fix.
        reason = TARGET_NOT_READ_REASON
        params["columns"] = missing_columns
    elif unread_file is not None:
        reason = TARGET_UNREAD_REASON
        params.update(target_file=unread_file)
    elif target_place is not None:
        reason = TARGET_REJECTED_REASON
        # The sheet too: a workbook with several sheets has a row of that number in each.
        target_file, target_sheet = target_place.get("file", ""), target_place.get("sheet")
        params.update(target_file=target_file, target_sheet=target_sheet,
                      target_table=table_label(target_file, target_sheet),
                      target_row=target_place.get("row", ""))
    return {
        "run": run.id, "source": run.source, "stream": None, "entity": staged.entity,
        "file": place.get("file"), "sheet": place.get("sheet"), "row": place.get("row"),
        "column": columns.get((place.get("file"), staged.entity, field)),
        "field": field, "reason": reason, "params": canonical_json(params),
        "cells": staged.data, "created_at": utcnow(),
    }
