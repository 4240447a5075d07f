"""Records that follow a record to its new id: a pupil's enrollments when the pupil's code changed.

Compare lets a row take over a stored record of its source under a new local id when the row's
Ministry id or personal number names that record. That is how a grade-1 pupil's temporary code
gives way to the official one. But the pupil's enrollment is keyed by the pupil code too, so
its row comes with a new id as well. Compare inserts it and ends the stored enrollment for its
absence, and the guard holds the run as if the class had lost every pupil.

So, after compare, an inserted row whose required reference names the new id of such a pupil
takes over the stored record that names the old id. The stored record's other required
references and role must agree with the row, and the run must end that record for its absence.
The row
becomes an update of the record, under the row's id, and the record's end is dropped. Codes
that differ only in leading zeros need none of this: compare's zero probe takes such
enrollments over itself.

The run also warns once per entity about the records that took a new id this way, with an
example, so that the admin learns why the codes changed (``ingest.ids_rekeyed``).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import peewee

from gateway.entities import load_entities
from gateway.ingest.cascade import fields_naming
from gateway.ingest.references import required_reference_fields
from gateway.logs import fields
from gateway.store.bulk import execute_counted, in_lists, json_text, select_rows
from gateway.store.database import write_transaction
from gateway.store.models import Run

log = logging.getLogger(__name__)


@dataclass
class Rekeyed:
    """The records of one entity that took a new id in a run: how many, and one example."""

    count: int
    old: str
    new: str


@dataclass
class RekeyResult:
    """The findings of ``follow_new_ids``: records that took a new id, and records that followed them."""

    rekeyed: dict[str, Rekeyed]
    followed: Counter[str]


def follow_new_ids(db: peewee.Database, run: Run) -> RekeyResult:
    """Let inserted rows that name a re-keyed record take over the records that named its old id."""
    new_ids = _new_ids(db, run)
    followed: Counter[str] = Counter()
    if not new_ids:
        return RekeyResult({}, followed)
    entities = load_entities()
    for target, renamed in new_ids.items():
        for name, entity in entities.items():
            for field_name, roles in fields_naming(entity, target):
                others = [other for other in required_reference_fields(entity)
                          if other != field_name and other not in entity.references_by_role]
                count = _take_over(db, run, name, field_name, roles, others, renamed)
                if count:
                    followed[name] += count
                    log.info("records follow a new id", extra=fields(
                        run_id=run.id, entity=name, target=target, count=count))
    rekeyed: dict[str, Rekeyed] = {}
    for target, renamed in new_ids.items():
        # Ids that differ only in leading zeros have compare's own notices.
        pairs = sorted((old, new) for new, old in renamed.items() if new.lstrip("0") != old.lstrip("0"))
        if pairs:
            rekeyed[target] = Rekeyed(len(pairs), *pairs[0])
    return RekeyResult(rekeyed, followed)


def _new_ids(db: peewee.Database, run: Run) -> dict[str, dict[str, str]]:
    """Return, per entity, the new local ids of records of the source that rows took over."""
    rows = select_rows(db, (
        "SELECT s.entity, s.local_id, r.local_id FROM staged_record s "
        "JOIN record r ON r.id = s.record_id "
        "WHERE s.run_id = ? AND s.decision = 'update' AND r.source = ? AND r.local_id <> s.local_id"
    ), [run.id, run.source])
    found: dict[str, dict[str, str]] = {}
    for entity, new, old in rows:
        found.setdefault(str(entity), {})[str(new)] = str(old)
    return found


def _take_over(db: peewee.Database, run: Run, entity: str, field_name: str,
               roles: list[str] | None, others: list[str], renamed: dict[str, str]) -> int:
    """Turn inserted rows of ``entity`` that name a new id into updates of the old id's records."""
    followed = 0
    for staged_id, data in _inserted_naming(db, run, entity, field_name, sorted(renamed)):
        record = json.loads(data or "{}")
        old = renamed.get(str(record.get(field_name)))
        if old is None or (roles is not None and record.get("role") not in roles):
            continue
        conditions = [f"{json_text(db, 'r.data', field_name)} = ?"]
        params: list[object] = [entity, run.source, old]
        for other in others:
            conditions.append(f"{json_text(db, 'r.data', other)} = ?")
            params.append(str(record.get(other)))
        if "role" in record:
            conditions.append(f"{json_text(db, 'r.data', 'role')} = ?")
            params.append(str(record["role"]))
        params.append(run.id)
        candidates = select_rows(db, (
            "SELECT r.id FROM record r WHERE r.entity = ? AND r.source = ? AND r.state = 'active' "
            f"AND {' AND '.join(conditions)} "
            "AND EXISTS (SELECT 1 FROM staged_record e WHERE e.run_id = ? AND e.record_id = r.id "
            "AND e.decision = 'end' AND e.action = 'end') LIMIT 2"
        ), params)
        if len(candidates) != 1:
            continue
        record_id = candidates[0][0]
        with write_transaction(db):
            execute_counted(db, "DELETE FROM staged_record WHERE run_id = ? AND record_id = ? "
                                "AND decision = 'end'", [run.id, record_id])
            execute_counted(db, "UPDATE staged_record SET decision = 'update', record_id = ? "
                                "WHERE id = ?", [record_id, staged_id])
        followed += 1
    return followed


def _inserted_naming(db: peewee.Database, run: Run, entity: str, field_name: str,
                     new_ids: list[str]) -> Iterator[tuple[int, str]]:
    """Yield the id and data of each inserted row of ``entity`` whose ``field_name`` is a new id.

    Only those rows are read, so memory does not grow with the run's other inserts.
    """
    for marks, params in in_lists(new_ids):
        yield from select_rows(db, (
            "SELECT s.id, s.data FROM staged_record s WHERE s.run_id = ? AND s.entity = ? "
            f"AND s.decision = 'insert' AND {json_text(db, 's.data', field_name)} IN ({marks}) "
            "ORDER BY s.id"
        ), [run.id, entity, *params])
