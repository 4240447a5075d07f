"""Classes that only rejected rows gave are not stored, and the run warns about them.

A pupil row of a school export gives its class as well as its pupil and enrollment. The class
mapping reads no pupil data, so a row whose pupil is rejected still gives a valid class. A
hidden sheet with last year's list, whose rows all repeat pupils of the current sheets, would
thus store last year's class without a pupil. After the reference check, a class that the run
would insert or update is left out (decision ``rows_rejected``) when every row that gave
it had a rejection of another record, and no record that the run keeps names the class. A
stored class keeps its record and is not ended, as with a rejected row. The run warns once
(``ingest.class_rows_rejected``) with the count and up to three classes with a row of each.

A row counts as rejected when any record it gave was rejected: its pupil, or only its
enrollment (a second homeroom class). A class of a list without pupils, such as OneRoster's
``classes.csv``, is never left out, because its rows give no other record to reject.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from typing import Any

import peewee

from gateway.entities import load_entities
from gateway.errors import InputError, Place, row_label
from gateway.logs import fields
from gateway.mapping.spec import canonical_json
from gateway.store.bulk import execute_counted, in_lists, json_text, select_rows
from gateway.store.database import write_transaction
from gateway.store.models import Quarantine, Record, Run, SeenRecord, StagedRecord

log = logging.getLogger(__name__)

ENTITY = "class"
DECISION = "rows_rejected"
KEY = "ingest.class_rows_rejected"
# Decisions that would write the class; an unchanged class writes nothing anyway.
_WRITING = ("insert", "update")
# Decisions of staged rows whose records the run keeps, as the reference check counts them.
_KEPT = ("insert", "update", "unchanged", "alias", "outranked")
# Classes listed in the warning; the others are only counted.
LISTED_CLASSES = 3
# Quarantine rows read per step, so that memory does not grow with the rejections of a run.
_CHUNK = 500

_Place = tuple[str | None, str | None, int]
"""A row's file, sheet and row number."""


def leave_out_rejected_classes(db: peewee.Database, run: Run) -> InputError | None:
    """Leave out the classes of ``run`` that only rejected rows gave; return the run's warning.

    Returns ``None`` when every class has a row without a rejection, or is named by a record
    that the run keeps. Runs after the reference check, which rejects the enrollments of
    rejected pupils, and before the guard and apply.
    """
    touched = _classes_at_rejected_rows(db, run)
    if not touched:
        return None
    left_out: list[tuple[str, int, _Place]] = []
    for marks, class_ids in in_lists(sorted(touched)):
        candidates = _writing_rows(db, run, marks, class_ids)
        if not candidates:
            continue
        places = _places_of(db, run, sorted(candidates))
        rejected = _rejected(db, run, {place for found in places.values() for place in found})
        named = _named_by_kept_records(db, run, sorted(candidates))
        for class_id, staged_id in sorted(candidates.items()):
            if class_id not in named and places[class_id] <= rejected:
                left_out.append((class_id, staged_id, min(places[class_id], key=_order)))
    if not left_out:
        return None

    with write_transaction(db):
        for marks, ids in in_lists([staged_id for _, staged_id, _ in left_out]):
            execute_counted(db, f"UPDATE {StagedRecord._meta.table_name} SET decision = ? "
                                f"WHERE id IN ({marks})", [DECISION, *ids])
    log.info("classes of rejected rows left out", extra=fields(run_id=run.id, count=len(left_out)))
    listed = [f"{class_id} ({row_label(*place)})" for class_id, _, place in left_out[:LISTED_CLASSES]]
    file, sheet, _ = left_out[0][2]
    return InputError(KEY, place=Place(file=file, sheet=sheet), count=len(left_out),
                      classes="; ".join(listed))


def _classes_at_rejected_rows(db: peewee.Database, run: Run) -> set[str]:
    """Return the local ids of the classes that a row with a rejection of another record gave."""
    table = StagedRecord._meta.table_name
    touched: set[str] = set()
    last_id = 0
    while True:
        sql = (f"SELECT id, file, sheet, row FROM {Quarantine._meta.table_name} "
               f"WHERE run_id = ? AND entity <> ? AND row IS NOT NULL AND id > ? "
               f"ORDER BY id LIMIT {_CHUNK}")
        rows = select_rows(db, sql, [run.id, ENTITY, last_id])
        if not rows:
            return touched
        last_id = rows[-1][0]
        places = sorted({_place_json((file, sheet, row)) for _, file, sheet, row in rows})
        for marks, values in in_lists(places):
            found = select_rows(db, f"SELECT DISTINCT local_id FROM {table} WHERE run_id = ? "
                                    f"AND entity = ? AND action IN ('upsert', 'repeat') "
                                    f"AND place IN ({marks})", [run.id, ENTITY, *values])
            touched.update(str(local_id) for (local_id,) in found)


def _writing_rows(db: peewee.Database, run: Run, marks: str, class_ids: list[Any]) -> dict[str, int]:
    """Return the staged row id of each class of ``class_ids`` that the run would insert or update."""
    decisions = ", ".join(f"'{decision}'" for decision in _WRITING)
    sql = (f"SELECT local_id, id FROM {StagedRecord._meta.table_name} WHERE run_id = ? "
           f"AND entity = ? AND action = 'upsert' AND decision IN ({decisions}) "
           f"AND local_id IN ({marks})")
    return {str(local_id): int(staged_id)
            for local_id, staged_id in select_rows(db, sql, [run.id, ENTITY, *class_ids])}


def _places_of(db: peewee.Database, run: Run, class_ids: list[str]) -> dict[str, set[_Place]]:
    """Return the places of the rows of the run that gave each class, first and repeated."""
    places: defaultdict[str, set[_Place]] = defaultdict(set)
    for marks, values in in_lists(class_ids):
        sql = (f"SELECT local_id, place FROM {StagedRecord._meta.table_name} WHERE run_id = ? "
               f"AND entity = ? AND action IN ('upsert', 'repeat') AND local_id IN ({marks})")
        for local_id, place in select_rows(db, sql, [run.id, ENTITY, *values]):
            found = json.loads(place or "{}")
            places[str(local_id)].add((found.get("file"), found.get("sheet"), int(found.get("row") or 0)))
    return places


def _rejected(db: peewee.Database, run: Run, places: set[_Place]) -> set[_Place]:
    """Return the places of ``places`` that have a rejection of a record other than a class."""
    rejected: set[_Place] = set()
    for marks, rows in in_lists(sorted({row for _, _, row in places})):
        sql = (f"SELECT DISTINCT file, sheet, row FROM {Quarantine._meta.table_name} "
               f"WHERE run_id = ? AND entity <> ? AND row IN ({marks})")
        for file, sheet, row in select_rows(db, sql, [run.id, ENTITY, *rows]):
            if (file, sheet, row) in places:
                rejected.add((file, sheet, row))
    return rejected


def _named_by_kept_records(db: peewee.Database, run: Run, class_ids: list[str]) -> set[str]:
    """Return the classes of ``class_ids`` that a record the run keeps names (an enrollment).

    A field that names a class only for some roles counts for every role, so a class is kept
    rather than left out under a record that names it.
    """
    staged, seen, records = (StagedRecord._meta.table_name, SeenRecord._meta.table_name,
                             Record._meta.table_name)
    kept_decisions = ", ".join(f"'{decision}'" for decision in _KEPT)
    named: set[str] = set()
    for entity, field in _class_reference_fields():
        for marks, values in in_lists(class_ids):
            sql = (f"SELECT {json_text(db, 'data', field)} FROM {staged} WHERE run_id = ? "
                   f"AND entity = ? AND action = 'upsert' AND decision IN ({kept_decisions}) "
                   f"AND {json_text(db, 'data', field)} IN ({marks})")
            named.update(str(value) for (value,) in select_rows(db, sql, [run.id, entity, *values]))
            sql = (f"SELECT {json_text(db, 'r.data', field)} FROM {seen} v "
                   f"JOIN {records} r ON r.id = v.record_id WHERE v.run_id = ? AND v.entity = ? "
                   f"AND {json_text(db, 'r.data', field)} IN ({marks})")
            named.update(str(value) for (value,) in select_rows(db, sql, [run.id, entity, *values]))
    return named


def _class_reference_fields() -> list[tuple[str, str]]:
    """Return the (entity, field) pairs whose field contains the local id of a class."""
    found = []
    for name, entity in sorted(load_entities().items()):
        for field, target in entity.references.items():
            if target == ENTITY:
                found.append((name, field))
        for field, targets in entity.references_by_role.items():
            if ENTITY in targets.values():
                found.append((name, field))
    return found


def _place_json(place: _Place) -> str:
    """Return the place as a staged row stores it (``StagedRecord.place``)."""
    file, sheet, row = place
    return canonical_json(Place(file=file, sheet=sheet, row=row).as_dict())


def _order(place: _Place) -> tuple[str, str, int]:
    file, sheet, row = place
    return (file or "", sheet or "", row)
